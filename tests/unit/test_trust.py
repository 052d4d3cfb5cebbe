"""Scripts are code: only built-in personalities, or ones the user trusted, may run theirs."""

import yaml

from gradio_app.personalities.zoo import Zoo


def make(root, pid, script=True):
    folder = root.joinpath(*pid.split("/"))
    (folder / "scripts").mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump({"name": pid.rsplit("/", 1)[-1]}))
    if script:
        (folder / "scripts" / "processor.py").write_text("class Processor: ...\n")
    return folder


def test_builtin_is_trusted_user_zoo_needs_explicit_trust(tmp_path):
    builtin, user = tmp_path / "builtin", tmp_path / "user"
    make(builtin, "english/tools/shipped")
    make(user, "english/tools/imported")
    make(user, "english/tools/plain", script=False)
    zoo = Zoo([builtin, user], trusted_roots=[builtin])
    assert zoo.get("english/tools/shipped").trusted
    assert zoo.get("english/tools/plain").trusted  # no code, nothing to trust
    imported = zoo.get("english/tools/imported")
    assert not imported.trusted
    imported.trust()
    zoo.scan()
    assert zoo.get("english/tools/imported").trusted
    zoo.get("english/tools/imported").revoke_trust()
    zoo.scan()
    assert not zoo.get("english/tools/imported").trusted
