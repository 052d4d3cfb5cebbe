"""Discussions through a launched app, as API users: each user (or browser) sees only their own,
someone else's ids are refused, every message action works, export -> import round trips."""

import json
import threading
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from tests.conftest import LaunchedApp, chat_texts, facts_of

pytestmark = [pytest.mark.ui, pytest.mark.slow]

USERS = {"alice": "wonderland", "bob": "builder"}
PARAMS_ORDER = ["temperature", "top_k", "top_p", "repeat_penalty", "repeat_last_n", "n_predict", "seed"]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    data = tmp_path_factory.mktemp("auth-data")
    (data / "users.txt").write_text("# who may sign in\nbob:builder\n", encoding="utf-8")
    launched = LaunchedApp(data, "--auth", "alice:wonderland", "--auth-file", str(data / "users.txt"))
    yield launched
    launched.stop()


def signed_in(app, user, n_predict=8, seed=1):
    c = Client(app.url, auth=(user, USERS[user]), verbose=False)
    values = {"temperature": 0.0, "top_k": 40, "top_p": 0.9, "repeat_penalty": 1.1, "repeat_last_n": 64}
    values.update(n_predict=n_predict, seed=seed)
    c.predict("auto", True, *[values[n] for n in PARAMS_ORDER], api_name="/apply_settings")
    return c


def listing(c, query=""):
    return c.predict(query, api_name="/list_discussions")


def ids(c, query=""):
    return [d["id"] for d in listing(c, query)]


def test_the_app_says_how_discussions_are_separated(app):
    assert "each signed-in user sees only their own discussions (2 users can sign in)" in app.log()


def test_a_wrong_password_is_refused(app):
    with pytest.raises(Exception, match=r"(?i)login|credentials|401|auth"):
        Client(app.url, auth=("alice", "guess"), verbose=False)


def test_each_user_sees_only_their_own_discussions(app):
    alice, bob = signed_in(app, "alice"), signed_in(app, "bob")
    alice.predict("Alice's secret plan for the garden", api_name="/send")
    bob.predict("Bob's shopping list", api_name="/send")
    mine, theirs = listing(alice), listing(bob)
    assert any("Alice's secret plan" in d["label"] for d in mine)
    assert not any("Alice" in d["label"] for d in theirs)
    assert any("Bob's shopping list" in d["label"] for d in theirs)
    assert set(ids(alice)).isdisjoint(ids(bob))
    assert ids(bob, "secret") == [] and ids(bob, "garden") == []
    assert ids(alice, "garden") == [d["id"] for d in mine if "garden" in d["label"]]
    # a second connection of the same user (another tab, another device) sees the same list
    assert ids(signed_in(app, "alice")) == ids(alice)


def test_someone_elses_discussion_ids_are_refused(app, tmp_path):
    alice, bob = signed_in(app, "alice"), signed_in(app, "bob")
    alice.predict("Alice's diary entry", api_name="/send")
    target = next(d["id"] for d in listing(alice) if "diary" in d["label"])
    for api, args in [
        ("/open_discussion", (target,)),
        ("/delete_discussion", (target,)),
        ("/export_discussion", (target, "json")),
        ("/export_discussion", (target, "markdown")),
        ("/rename_discussion", (target, "pwned")),
    ]:
        with pytest.raises(AppError, match="No such discussion"):
            bob.predict(*args, api_name=api)
    for hostile in ("../../etc/passwd", "' OR 1=1 --", "", "x" * 5000):
        with pytest.raises(AppError):
            bob.predict(hostile, api_name="/open_discussion")
    # alice's discussion is untouched, with its title
    chat, *_ = alice.predict(target, api_name="/open_discussion")
    assert chat_texts(chat)[1] == ("user", "Alice's diary entry")
    assert any(d["id"] == target and "diary" in d["label"] for d in listing(alice))


def test_every_message_action_is_stored(app):
    c = signed_in(app, "alice", n_predict=6)
    c.predict(api_name="/new_discussion")
    chat, _ = c.predict("Name a fruit.", api_name="/send")
    discussion = next(d["id"] for d in listing(c) if "Name a fruit" in d["label"])
    first = chat_texts(chat)[-1][1]
    # Regenerate: a second version beside the first
    c.predict("auto", True, 1.0, 40, 0.9, 1.1, 64, 6, 77, api_name="/apply_settings")
    chat = c.predict(api_name="/regenerate")
    assert facts_of(chat[-1]).startswith("version 2/2")
    # step back to the first version
    chat, *_ = c.predict(-1, -1, api_name="/switch_version")
    assert chat_texts(chat)[-1][1] == first and facts_of(chat[-1]).startswith("version 1/2")
    # Continue: the answer grows
    chat = c.predict(api_name="/continue")
    continued = chat_texts(chat)[-1][1]
    assert continued.startswith(first) and len(continued) > len(first)
    assert "continued" in facts_of(chat[-1])
    # rate it, edit it (an AI edit stays in place), then edit the question (a new branch)
    chat = c.predict(-1, "up", api_name="/rate_message")
    assert facts_of(chat[-1]).endswith("👍")
    chat = c.predict(-1, "A banana, edited by hand.", api_name="/edit_message")
    assert chat_texts(chat)[-1][1] == "A banana, edited by hand." and "edited" in facts_of(chat[-1])
    chat = c.predict(1, "Name a vegetable.", api_name="/edit_message")
    assert chat_texts(chat)[1] == ("user", "Name a vegetable.") and facts_of(chat[1]) == "version 2/2"
    # delete the new answer
    before = len(chat)
    chat, *_ = c.predict(-1, api_name="/delete_message")
    assert len(chat) == before - 1
    # everything is in the store: reopen it from another connection
    other = signed_in(app, "alice")
    chat, header, *_ = other.predict(discussion, api_name="/open_discussion")
    assert chat_texts(chat)[1:] == [("user", "Name a vegetable.")]
    assert "LoLLMs" in header
    doc = json.loads(Path(other.predict(discussion, "json", api_name="/export_discussion")).read_text())
    (exported,) = doc["discussions"]
    messages = exported["messages"]
    answers = [m for m in messages if m["role"] == "assistant" and m["kind"] == "normal"]
    assert len(answers) == 2  # the first (continued, rated, edited) and the regenerated one
    edited = next(m for m in answers if m["content"] == "A banana, edited by hand.")
    assert edited["rating"] == 1 and edited["metadata"]["edit_history"][0]["content"] == continued
    assert len(edited["metadata"]["continuations"]) == 1
    assert sorted(m["content"] for m in messages if m["role"] == "user") == ["Name a fruit.", "Name a vegetable."]


def test_rename_and_delete(app):
    c = signed_in(app, "bob")
    c.predict(api_name="/new_discussion")
    c.predict("Temporary thoughts", api_name="/send")
    target = next(d["id"] for d in listing(c) if "Temporary" in d["label"])
    c.predict(target, "Renamed by Bob", api_name="/rename_discussion")
    assert any(d["id"] == target and d["label"].startswith("Renamed by Bob") for d in listing(c))
    chat, *_ = c.predict(target, api_name="/delete_discussion")
    assert target not in ids(c)
    assert [role for role, _ in chat_texts(chat)] == ["assistant"]  # a fresh discussion is shown
    with pytest.raises(AppError, match="No such discussion"):
        c.predict(target, api_name="/open_discussion")


def test_export_all_then_import_as_another_user(app, tmp_path):
    alice, bob = signed_in(app, "alice"), signed_in(app, "bob")
    alice.predict("A discussion worth keeping", api_name="/send")
    exported = Path(alice.predict("json", api_name="/export_all"))
    doc = json.loads(exported.read_text())
    assert doc["format"] == "personalities-webui/discussions" and doc["version"] == 1
    titles = sorted(d["title"] for d in doc["discussions"])
    before = len(listing(bob))
    status, *_ = bob.predict(handle_file(str(exported)), api_name="/import_discussions")
    assert f"Imported {len(titles)} discussion" in status
    assert len(listing(bob)) == before + len(titles)
    assert len(ids(alice)) == len(titles)  # alice's own list did not change
    markdown = Path(alice.predict("markdown", api_name="/export_all")).read_text()
    assert "# A discussion worth keeping" in markdown and "**You**" in markdown
    # a malformed upload imports nothing and says why
    bad = tmp_path / "broken.json"
    bad.write_text('{"format": "personalities-webui/discussions", "version": 1, "discussions": [{"id": 5}]}')
    with pytest.raises(AppError, match="Nothing was imported: discussion 1: 'id' must be"):
        bob.predict(handle_file(str(bad)), api_name="/import_discussions")
    assert len(listing(bob)) == before + len(titles)


def test_two_anonymous_browsers_see_disjoint_lists(launched_app):
    results = {}

    def browse(name):
        c = Client(launched_app.url, verbose=False)
        c.predict("auto", True, 0.0, 40, 0.9, 1.1, 64, 6, 1, api_name="/apply_settings")
        c.predict(f"I am {name}, and this is private.", api_name="/send")
        results[name] = (c, listing(c))

    threads = [threading.Thread(target=browse, args=(n,)) for n in ("Ann", "Ben")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    (_, ann_list), (ben, ben_list) = results["Ann"], results["Ben"]
    assert [d["label"].split(" · ")[0] for d in ann_list] == ["I am Ann, and this is private."]
    assert [d["label"].split(" · ")[0] for d in ben_list] == ["I am Ben, and this is private."]
    with pytest.raises(AppError, match="No such discussion"):
        ben.predict(ann_list[0]["id"], api_name="/open_discussion")
    with pytest.raises(AppError, match="No such discussion"):
        ben.predict(ann_list[0]["id"], "json", api_name="/export_discussion")
    assert "each browser sees only its own discussions" in launched_app.log()


def test_single_user_mode_shows_everything_and_warns_when_exposed(tmp_path):
    app = LaunchedApp(tmp_path / "single", "--single-user", "--host", "0.0.0.0")
    try:
        first, second = Client(app.url, verbose=False), Client(app.url, verbose=False)
        first.predict("auto", True, 0.0, 40, 0.9, 1.1, 64, 4, 1, api_name="/apply_settings")
        first.predict("Shared on my own machine", api_name="/send")
        assert [d["label"].split(" · ")[0] for d in listing(second)] == ["Shared on my own machine"]
        assert "WARNING: the app is reachable through all network interfaces" in app.log()
        assert "--auth" in app.log()
    finally:
        app.stop()
