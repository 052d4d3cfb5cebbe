"""The zoo tab's contract, through gradio_client against a launched app: browse, search, apply
and chat, broken entries, trust and install, the personality's own settings, import and export."""

import shutil

import pytest
import yaml
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from gradio_app.personalities.importers import cards
from tests.conftest import SHARED_FIXTURES, LaunchedApp

pytestmark = [pytest.mark.ui, pytest.mark.slow]

PARAMS_ORDER = ["temperature", "top_k", "top_p", "repeat_penalty", "repeat_last_n", "n_predict", "seed"]
SERAPHINA = SHARED_FIXTURES / "character_cards" / "default_Seraphina.png"
TGW = SHARED_FIXTURES / "tgw_characters"
FAILING = (
    "import sys\nprint('downloading weights')\nprint('weights server unreachable', file=sys.stderr)\nsys.exit(2)\n"
)
FIXED = "from pathlib import Path\nprint('downloading weights')\nPath('weights.bin').write_text('ok')\n"
TEMPLATE = [
    {"name": "depth", "type": "int", "default": 2, "min": 1, "max": 5, "help": "levels"},
    {"name": "style", "type": "choice", "default": "short", "options": ["short", "long"]},
]


def write(folder, config, files=None):
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    for rel, text in (files or {}).items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    data = tmp_path_factory.mktemp("zoo-ui")
    user_zoo = data / "personalities" / "english" / "tools"
    write(user_zoo / "broken", {"name": "Broken", "model_temperature": "very hot"})
    write(user_zoo / "installer", {"name": "Installer", "welcome_message": "Installed and ready."},
          {"scripts/install.py": FAILING})  # fmt: skip
    write(user_zoo / "configurable", {"name": "Configurable", "processor_cfg": {"settings": TEMPLATE}})
    launched = LaunchedApp(data)
    yield launched
    launched.stop()


@pytest.fixture(scope="module")
def c(app):
    client = Client(app.url, verbose=False)
    values = {"temperature": 0.0, "top_k": 40, "top_p": 0.9, "repeat_penalty": 1.1, "repeat_last_n": 64,
              "n_predict": 24, "seed": 1}  # fmt: skip
    client.predict("auto", True, *[values[n] for n in PARAMS_ORDER], api_name="/apply_settings")
    return client


def texts(chat):
    return [(m["role"], "".join(part.get("text", "") for part in m["content"])) for m in chat]


def choice_ids(update):
    return [value for _, value in update["choices"]]


# gradio_client leaves out buttons and layouts: a card is (logo, markdown, install log), and
# /select_personality returns [chatbot, header, *settings, language, category, personality, *card, status].
def selected(result):
    return {"chat": texts(result[0]), "header": result[1], "card": result[-3], "log": result[-2], "status": result[-1]}


def test_browse_by_language_and_category(c):
    categories, personalities, _, card, _log = c.predict("french", api_name="/zoo_language")
    assert {"cuisine", "ecriture", "traduction", "generic"} <= set(choice_ids(categories))
    assert categories["value"] == "cuisine" and "Chef cuisinier" in card
    personalities, _, card, _log = c.predict("french", "ecriture", api_name="/zoo_category")
    assert choice_ids(personalities) == ["french/ecriture/conteur"]
    assert "Conteur" in card and "version 1.0.0" in card and "built in" in card
    logo, card, _log = c.predict("english/fun/pirate", api_name="/zoo_card")
    assert logo and "Captain Saltbeard" in card and "Runs no code on this machine" in card


def test_search_is_case_and_accent_insensitive(c):
    info, personalities, _, card, _log = c.predict("PIRATE", "english", "generic", api_name="/zoo_search")
    assert choice_ids(personalities)[0] == "english/fun/pirate"
    assert "match" in info and "Captain Saltbeard" in card
    _, personalities, *_ = c.predict("etape par etape", "english", "generic", api_name="/zoo_search")
    assert "french/education/professeur_de_maths" in choice_ids(personalities)
    info, personalities, *_ = c.predict("no such thing xyz", "english", "generic", api_name="/zoo_search")
    assert personalities["choices"] == [] and "No personality matches" in info


def test_apply_switches_the_personality_and_the_chat_follows(c):
    result = selected(c.predict("english/fun/pirate", api_name="/select_personality"))
    assert result["chat"] == [("assistant", "Arr, welcome aboard the Salty Gull, matey! What be yer question?")]
    assert "Captain Saltbeard" in result["header"]
    assert "You are talking with this personality" in result["card"]
    chat, _ = c.predict("Where is your ship?", api_name="/send")
    final = texts(chat)
    assert final[1] == ("user", "Where is your ship?")
    assert final[2][0] == "assistant" and final[2][1].strip()


def test_a_broken_personality_is_listed_with_its_error_and_cannot_be_applied(c):
    status, *_, broken = c.predict("english/tools/broken", api_name="/zoo_rescan")
    assert "1 broken" in status
    assert "english/tools/broken" in broken and "model_temperature" in broken and "config.yaml" in broken
    _, card, _ = c.predict("english/tools/broken", api_name="/zoo_card")
    assert "cannot be used" in card and "model_temperature" in card
    with pytest.raises(AppError, match="model_temperature"):
        c.predict("english/tools/broken", api_name="/select_personality")


def test_untrusted_install_is_refused_then_fails_visibly_then_works_once_fixed(c, app):
    folder = app.data_dir / "personalities" / "english" / "tools" / "installer"
    _, card, _ = c.predict("english/tools/installer", api_name="/zoo_card")
    assert "not trusted" in card and "press **Trust**" in card
    with pytest.raises(AppError, match="Trust"):
        c.predict("english/tools/installer", api_name="/select_personality")
    assert not (folder / "weights.bin").exists()

    status, _, card, _ = c.predict("english/tools/installer", api_name="/trust_personality")
    assert "is trusted" in status and "trusted (you trusted it)" in card and "Needs an install" in card
    with pytest.raises(AppError, match="exited with status 2"):
        c.predict("english/tools/installer", api_name="/select_personality")
    assert not (folder / ".install").exists()
    *_, log = c.predict("english/tools/installer", api_name="/zoo_card")
    assert "weights server unreachable" in log  # the failed install's log is shown

    (folder / "scripts" / "install.py").write_text(FIXED)
    result = selected(c.predict("english/tools/installer", api_name="/select_personality"))
    assert "is installed" in result["log"] and "downloading weights" in result["log"]
    assert result["chat"] == [("assistant", "Installed and ready.")]
    assert (folder / ".install").exists() and (folder / "weights.bin").read_text() == "ok"

    status, *_ = c.predict("english/tools/installer", api_name="/uninstall_personality")
    assert "uninstalled" in status and not (folder / ".install").exists()
    status, *_ = c.predict("english/tools/installer", api_name="/install_personality")
    assert "is installed" in status and (folder / ".install").exists()


def test_the_personalitys_own_settings_are_validated_and_saved(c, app):
    local = app.data_dir / "personalities" / "english" / "tools" / "configurable" / "config_local.yaml"
    form = c.predict("english/tools/configurable", api_name="/personality_settings")
    assert [f["name"] for f in form["fields"]] == ["depth", "style"]
    assert form["values"] == {"depth": 2, "style": "short"}
    with pytest.raises(AppError, match="'depth'"):
        c.predict("english/tools/configurable", {"depth": 9, "style": "long"}, api_name="/save_personality_settings")
    assert not local.exists()  # nothing written
    assert "Saved" in c.predict(
        "english/tools/configurable", {"depth": 4, "style": "long"}, api_name="/save_personality_settings"
    )
    assert yaml.safe_load(local.read_text()) == {"depth": 4, "style": "long"}
    assert c.predict("english/tools/configurable", api_name="/personality_settings")["values"]["depth"] == 4


def test_import_a_card_through_the_ui_then_chat_with_it(c, tmp_path):
    result = c.predict([handle_file(SERAPHINA)], "english", "characters", False, api_name="/import_personality")
    status, _lang, _cat, personality, _logo, card, *_ = result
    assert "Imported **Seraphina** (character card V2 (PNG)) as `english/characters/seraphina`" in status
    assert personality["value"] == "english/characters/seraphina"
    assert "Imported from a SillyTavern" in card
    applied = selected(c.predict("english/characters/seraphina", api_name="/select_personality"))
    assert applied["chat"][0][0] == "assistant" and "Seraphina" in applied["chat"][0][1]
    chat, _ = c.predict("Where am I?", api_name="/send")
    assert texts(chat)[-1][0] == "assistant" and texts(chat)[-1][1].strip()
    exported = c.predict("english/characters/seraphina", api_name="/export_card_png")
    copy = tmp_path / "exported.png"
    shutil.copy(exported, copy)
    assert cards.card_from_png(copy.read_bytes()).raw == cards.card_from_png(SERAPHINA.read_bytes()).raw


def test_import_tgw_characters_with_their_avatar(c):
    files = [handle_file(TGW / "Example.yaml"), handle_file(TGW / "Example.png")]
    status, *_ = c.predict(files, "english", "tgw", False, api_name="/import_personality")
    assert "as `english/tgw/chiharu_yamada`" in status
    with pytest.raises(AppError, match="already exists"):
        c.predict(files, "english", "tgw", False, api_name="/import_personality")
    status, *_ = c.predict(files, "english", "tgw", True, api_name="/import_personality")
    assert "chiharu_yamada" in status


def test_a_malformed_upload_is_refused_and_a_zip_export_imports_back(c, app, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"spec": "chara_card_v9", "data": {}}')
    with pytest.raises(AppError, match="unsupported card spec"):
        c.predict([handle_file(bad)], "english", "characters", False, api_name="/import_personality")
    zipped = tmp_path / "pirate.zip"
    shutil.copy(c.predict("english/fun/pirate", api_name="/export_zip"), zipped)
    status, *_ = c.predict([handle_file(zipped)], "", "imported", False, api_name="/import_personality")
    assert "as `english/imported/pirate`" in status
    copied = app.data_dir / "personalities" / "english" / "imported" / "pirate" / "config.yaml"
    assert "Captain Saltbeard" in copied.read_text()


def test_a_hosted_app_refuses_to_trust_unless_its_owner_allows_it(tmp_path):
    write(tmp_path / "personalities" / "english" / "tools" / "installer", {"name": "Installer"},
          {"scripts/install.py": FIXED})  # fmt: skip
    hosted = LaunchedApp(tmp_path, "--host", "0.0.0.0")  # reachable from the network
    try:
        client = Client(hosted.url, verbose=False)
        _, card, _ = client.predict("english/tools/installer", api_name="/zoo_card")
        assert "Trusting personalities is turned off" in card and "--allow-trust" in card
        with pytest.raises(AppError, match="turned off"):
            client.predict("english/tools/installer", api_name="/trust_personality")
        assert not (tmp_path / "personalities/english/tools/installer/.trusted").exists()
    finally:
        hosted.stop()
