"""Sign-in users from flags and files, the exposure warning, and who owns what."""

import pytest

from gradio_app.auth import AuthError, credentials, exposure_warning, read_auth_file
from gradio_app.discussions.ownership import Ownership, browser_id_or_new, browser_state_secret
from gradio_app.discussions.titles import title_from


def test_auth_flags_and_file(tmp_path):
    f = tmp_path / "users.txt"
    f.write_text("# team\nalice:s3cret\n\n  bob : pass:with:colons\n", encoding="utf-8")
    assert credentials(["carol:pw"], f) == [("carol", "pw"), ("alice", "s3cret"), ("bob", " pass:with:colons")]


def test_users_from_the_space_secret_variable():
    text = "# PWEBUI_AUTH\r\ndave:one two\r\n\nerin:x:y\n"
    assert credentials(["carol:pw"], None, text) == [("carol", "pw"), ("dave", "one two"), ("erin", "x:y")]
    with pytest.raises(AuthError, match="PWEBUI_AUTH, line 1"):
        credentials([], None, "just-a-name")
    with pytest.raises(AuthError, match="more than once"):
        credentials(["dave:1"], None, "dave:2")


def test_api_access_rule():
    import base64

    from gradio_app.api.access import ApiAccess

    assert ApiAccess().allows(None)  # neither keys nor users: open
    access = ApiAccess(["sk-1"], [("alice", "pw:x")])
    assert access.allows("Bearer sk-1") and access.allows("bearer alice:pw:x")
    assert access.allows("Basic " + base64.b64encode(b"alice:pw:x").decode())
    for refused in (None, "", "Bearer", "Bearer sk-2", "Bearer alice:pw", "Basic !!!", "Token sk-1"):
        assert not access.allows(refused), refused
    assert not ApiAccess([], [("alice", "pw")]).allows("Basic " + base64.b64encode(b"alice:nope").decode())


@pytest.mark.parametrize("bad", ["alice", ":pw", "alice:", "al ice:pw"])
def test_bad_credentials_are_refused(bad):
    with pytest.raises(AuthError):
        credentials([bad], None)


def test_auth_file_problems_name_the_line(tmp_path):
    f = tmp_path / "users.txt"
    f.write_text("alice:ok\nno colon here\n", encoding="utf-8")
    with pytest.raises(AuthError, match="line 2"):
        read_auth_file(f)
    f.write_text("# only comments\n", encoding="utf-8")
    with pytest.raises(AuthError, match="no user:password"):
        read_auth_file(f)
    with pytest.raises(AuthError, match="cannot be read"):
        read_auth_file(tmp_path / "missing.txt")
    with pytest.raises(AuthError, match="more than once"):
        credentials(["a:1", "a:2"], None)


def test_exposure_warning():
    assert exposure_warning("127.0.0.1", False, False, False) is None
    assert exposure_warning("0.0.0.0", False, True, False) is None
    warning = exposure_warning("0.0.0.0", False, False, False)
    assert warning and "--auth" in warning and "all network interfaces" in warning
    shared = exposure_warning("127.0.0.1", True, False, True)
    assert shared and "share link" in shared and "every discussion" in shared


def test_owners_per_mode():
    browser = "0123456789abcdef0123456789abcdef"
    users, browsers, single = Ownership("users"), Ownership("browsers"), Ownership("single")
    assert users.owner_for("alice") == "user:alice"
    assert users.owner_for(None, browser) is None  # auth on: a browser id alone is nobody
    assert browsers.owner_for(None, browser) == f"browser:{browser}"
    assert browsers.owner_for(None, None, current="browser:x") == "browser:x"
    fresh = browsers.owner_for(None, "forged/../id")
    assert fresh.startswith("browser:") and fresh != "browser:forged/../id"
    assert single.owner_for(None) == "local" and single.scope("local") is None
    assert browsers.scope("browser:x") == "browser:x"
    assert browser_id_or_new(browser) == browser and browser_id_or_new("x") != "x"


def test_the_browser_secret_survives_restarts(tmp_path):
    path = tmp_path / "browser-state.key"
    first = browser_state_secret(path)
    assert browser_state_secret(path) == first and len(first) >= 32
    assert oct(path.stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize(
    ("message", "title"),
    [
        ("What is the capital of France?", "What is the capital of France?"),
        ("\n\n  ## Hello   world  \nsecond line", "Hello world"),
        ("", "New discussion"),
        ("a " * 100, "a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a…"),
        ("x" * 100, "x" * 60 + "…"),
    ],
)
def test_automatic_titles(message, title):
    assert title_from(message) == title
