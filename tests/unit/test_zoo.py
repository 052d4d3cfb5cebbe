"""Zoo scanning over several roots: listing, broken entries, search, re-scan, card facts."""

import os
import time

import pytest
import yaml

from gradio_app.config import BUILTIN_ZOO
from gradio_app.personalities.facts import facts_of
from gradio_app.personalities.prompt import ModelPromptInfo, PromptBuilder, Turn
from gradio_app.personalities.schema import PersonalityError
from gradio_app.personalities.zoo import Zoo, fold


def make(root, pid, **config):
    folder = root.joinpath(*pid.split("/"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump({"name": pid.rsplit("/", 1)[-1], **config}), encoding="utf-8")
    return folder


def test_fixture_personalities_sit_under_their_folders_language_and_category(fixture_zoo):
    zoo = Zoo([fixture_zoo])
    assert len(zoo.entries) == 265 and not zoo.errors()
    builder = PromptBuilder(len, ModelPromptInfo(n_ctx=8192), "prefixes")
    for pid, entry in zoo.entries.items():
        language, category, folder = pid.split("/")
        assert (entry.language, entry.category, entry.folder.name) == (language, category, folder)
        assert entry in zoo.in_category(language, category)
        built = builder.build(entry.personality.config, [Turn("user", "Hi")], "Who are you?", 128)
        assert "Who are you?" in built.text
    assert sum(len(zoo.in_category(lang, cat)) for lang in zoo.languages() for cat in zoo.categories(lang)) == 265


def test_a_malformed_config_is_listed_with_its_error_and_cannot_be_selected(tmp_path):
    make(tmp_path, "english/tools/good")
    bad = make(tmp_path, "english/tools/bad")
    (bad / "config.yaml").write_text("name: Bad\nmodel_temperature: very hot\n")
    broken_yaml = make(tmp_path, "english/tools/garbled")
    (broken_yaml / "config.yaml").write_text("name: [unclosed\n")
    zoo = Zoo([tmp_path])
    assert zoo.get("english/tools/good").name == "good"
    errors = {e.id: e for e in zoo.errors()}
    assert set(errors) == {"english/tools/bad", "english/tools/garbled"}
    entry = errors["english/tools/bad"]
    assert entry.error_file == str(bad / "config.yaml") and entry.error_field == "model_temperature"
    assert "field 'model_temperature'" in entry.error and str(bad / "config.yaml") in entry.error
    assert "invalid YAML (line 2" in errors["english/tools/garbled"].error
    assert entry in zoo.in_category("english", "tools")  # listed where it lives
    with pytest.raises(PersonalityError, match="model_temperature"):
        zoo.get("english/tools/bad")
    facts = facts_of(entry)
    assert not facts.ok and not facts.can_apply and "model_temperature" in facts.error


def test_roots_in_order_the_first_wins_and_user_zoo_is_not_trusted(tmp_path):
    builtin, user = tmp_path / "builtin", tmp_path / "user"
    make(builtin, "english/generic/same", author="builtin")
    make(user, "english/generic/same", author="user")
    make(user, "english/generic/mine")
    zoo = Zoo([builtin, user], trusted_roots=[builtin])
    assert zoo.get("english/generic/same").config.author == "builtin"
    assert zoo.entry("english/generic/same").builtin and not zoo.entry("english/generic/mine").builtin
    assert zoo.ids_outside(user) == {"english/generic/same"}


def test_search_ignores_case_and_accents_and_ranks_names_first(tmp_path):
    make(tmp_path, "french/ecriture/ecrivain", name="Écrivain", personality_description="Écrit des poèmes.")
    make(tmp_path, "english/writing/poet", name="Poet", personality_description="Writes poems.")
    make(tmp_path, "english/misc/helper", name="Helper", personality_description="Knows a poet or two.")
    zoo = Zoo([tmp_path])
    assert [e.id for e in zoo.search("ECRIVAIN")] == ["french/ecriture/ecrivain"]
    assert [e.id for e in zoo.search("poèmes")] == ["french/ecriture/ecrivain"]
    assert [e.id for e in zoo.search("poet")] == ["english/writing/poet", "english/misc/helper"]
    assert [e.id for e in zoo.search("poet", language="english")] == ["english/writing/poet", "english/misc/helper"]
    assert [e.id for e in zoo.search("writes poems")] == ["english/writing/poet"]  # every word must match
    assert zoo.search("   ") == [] and zoo.search("zzz") == []
    assert fold("Çà et là, ÉLÈVE") == "ca et la, eleve"


def test_builtin_search_finds_french_personalities_without_accents():
    zoo = Zoo([BUILTIN_ZOO])
    assert "french/education/professeur_de_maths" in [e.id for e in zoo.search("etape par etape")]
    assert zoo.search("pirate")[0].id == "english/fun/pirate"


def test_rescan_sees_new_changed_and_removed_personalities_and_reuses_the_rest(tmp_path):
    make(tmp_path, "english/a/one")
    make(tmp_path, "english/a/two")
    zoo = Zoo([tmp_path])
    before = zoo.entries["english/a/one"]
    make(tmp_path, "english/b/three")
    changed = make(tmp_path, "english/a/two", author="new author")
    os.utime(changed / "config.yaml", ns=(time.time_ns(), time.time_ns() + 10_000_000))
    (tmp_path / "english/a/one/config.yaml").rename(tmp_path / "english/a/one/old.yaml")
    make(tmp_path, "english/a/four")
    (tmp_path / "english" / "_staging-import").mkdir()  # staging folders are not personalities
    zoo.rescan()
    assert sorted(zoo.entries) == ["english/a/four", "english/a/two", "english/b/three"]
    assert zoo.get("english/a/two").config.author == "new author"
    zoo2_entry = zoo.entries["english/a/four"]
    zoo.rescan()
    assert zoo.entries["english/a/four"] is zoo2_entry  # unchanged: not parsed again
    assert before is not None


def test_card_facts_follow_trust_and_install_state(tmp_path):
    folder = make(tmp_path, "english/tools/scripted")
    (folder / "scripts").mkdir()
    (folder / "scripts" / "install.py").write_text("print('hi')\n")
    (folder / "requirements.txt").write_text("\n")
    zoo = Zoo([tmp_path])
    facts = facts_of(zoo.entry("english/tools/scripted"))
    assert facts.code == ("install script", "requirements.txt to pip-install")
    assert not facts.trusted and facts.can_trust and not facts.can_install and not facts.can_apply
    zoo.get("english/tools/scripted").trust()
    facts = facts_of(zoo.entry("english/tools/scripted"))
    assert facts.trusted and facts.can_install and facts.can_apply and facts.can_revoke_trust
    assert facts.install == "needed" and not facts.can_uninstall
    (folder / ".install").write_text("installed_at: '2026-01-01T10:00:00'\n")
    facts = facts_of(zoo.entry("english/tools/scripted"))
    assert facts.install == "installed" and facts.can_uninstall and facts.installed_at == "2026-01-01T10:00:00"
