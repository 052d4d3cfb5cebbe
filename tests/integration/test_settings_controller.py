"""Apply vs Save vs restart, on the real model: what reloads, what persists, what a stale page or a
bad value cannot do."""

import shutil

import pytest

from gradio_app.config import SETTINGS, AppSettings, DataPaths
from gradio_app.generation.service import GenerationService
from gradio_app.session import ChatSession
from gradio_app.settings_controller import SettingsController, last_generation_facts, model_facts

pytestmark = pytest.mark.model


def make(tmp_path, overrides=None, locked=""):
    paths = DataPaths(tmp_path / "data").ensure()
    saved, problems = AppSettings.load(paths.settings_file)
    assert problems == []
    controller = SettingsController(paths, saved, GenerationService(), overrides, locked=locked)
    assert controller.start() == []
    return controller


def session_for(controller):
    session = ChatSession(personality_id="english/generic/lollms")
    controller.session_defaults(session)
    return session


def binding_of(controller):
    return controller.service._binding


def test_session_settings_apply_without_touching_the_model(tmp_path):
    c = make(tmp_path)
    s = session_for(c)
    loaded = binding_of(c)
    report = c.apply(s, {"override_personality_params": True, "user_params.n_predict": 7, "prompt_format": "prefixes"})
    assert report.ok and report.reloaded == ""
    assert binding_of(c) is loaded  # not reloaded
    assert (s.override, s.user_params.n_predict, s.prompt_format) == (True, 7, "prefixes")
    other = session_for(c)  # another browser is not affected
    assert (other.override, other.user_params.n_predict) == (False, 512)


def test_a_model_setting_reloads_the_model_for_everyone(tmp_path):
    c = make(tmp_path)
    s = session_for(c)
    before = binding_of(c)
    report = c.apply(s, {"model.n_ctx": 1024})
    assert report.ok and report.reloaded
    assert binding_of(c) is not before
    assert c.service.info.n_ctx == 1024
    assert [ch.key for ch in report.changes] == ["model.n_ctx"]
    # changing something that needs no model (extra folders) does not reload
    again = binding_of(c)
    assert c.apply(s, {"model.folders": [str(tmp_path)]}).reloaded == ""
    assert binding_of(c) is again


def test_override_off_keeps_the_users_values_out(tmp_path):
    c = make(tmp_path)
    s = session_for(c)
    c.apply(s, {"override_personality_params": False, "user_params.temperature": 1.9})
    assert s.user_params.temperature == 0.7  # the sliders showed the personality's values
    c.apply(s, {"override_personality_params": True, "user_params.temperature": 1.9})
    assert s.user_params.temperature == 1.9


def test_a_bad_value_applies_nothing_and_names_the_setting(tmp_path):
    c = make(tmp_path)
    s = session_for(c)
    report = c.apply(s, {"model.n_ctx": 100, "override_personality_params": True, "user_params.top_p": 3})
    assert not report.ok
    assert any("model.n_ctx" in e for e in report.errors) and any("user_params.top_p" in e for e in report.errors)
    assert c.service.info.n_ctx == 4096 and s.override is False


def test_a_model_that_cannot_load_keeps_the_old_one_and_says_why(tmp_path):
    c = make(tmp_path)
    s = session_for(c)
    bogus = tmp_path / "not-a-model.gguf"
    bogus.write_text("hello")
    before = binding_of(c)
    report = c.apply(s, {"model.path": str(bogus), "default_personality": "english/generic/gpt4all"})
    assert not report.ok and "not a GGUF" in report.errors[0] and "previous model stays" in report.errors[0]
    assert binding_of(c) is before and c.live.model.path is None
    assert c.live.default_personality == "english/generic/gpt4all"  # needs no model: applied


def test_a_stale_page_cannot_undo_another_users_model_change(tmp_path):
    c = make(tmp_path)
    alice, bob = session_for(c), session_for(c)
    shown_to_bob = {"model.n_ctx": 4096, "model.n_batch": 512}  # bob's page was drawn before alice's change
    c.apply(alice, {"model.n_ctx": 2048})
    # bob only changes the batch size; his page still says 4096 for the context
    c.apply(bob, {"model.n_ctx": 4096, "model.n_batch": 256}, shown_to_bob)
    assert c.live.model.n_ctx == 2048 and c.live.model.n_batch == 256
    assert c.service.info.n_ctx == 2048


def test_the_page_baseline_protects_every_global_field(tmp_path):
    c = make(tmp_path)
    alice, bob = session_for(c), session_for(c)
    bobs_page = c.baseline()
    assert "binding.api_key" not in bobs_page
    c.apply(alice, {"model.folders": [str(tmp_path)], "default_personality": "english/generic/gpt4all"})
    # bob's page still shows the old folders and personality; he changes only the prompt format
    c.apply(bob, {"model.folders": [], "default_personality": "english/generic/lollms", "prompt_format": "prefixes"},
            bobs_page)  # fmt: skip
    assert c.live.model.folders == (str(tmp_path),) and c.live.default_personality == "english/generic/gpt4all"
    assert bob.prompt_format == "prefixes"


def test_restart_without_save_restores_the_saved_values_with_save_they_stay(tmp_path):
    c = make(tmp_path)
    s = session_for(c)
    c.apply(s, {"model.n_ctx": 2048, "override_personality_params": True, "user_params.seed": 42})
    assert {ch.key for ch in c.unsaved(s)} == {"model.n_ctx", "override_personality_params", "user_params.seed"}
    restarted = make(tmp_path)  # nothing was saved
    fresh = session_for(restarted)
    assert restarted.live.model.n_ctx == 4096 and restarted.service.info.n_ctx == 4096
    assert (fresh.override, fresh.user_params.seed) == (False, -1)

    report = c.save(s)
    assert report.ok and report.saved_to == c.paths.settings_file
    assert c.unsaved(s) == []
    assert session_for(c).user_params.seed == 42  # new sessions start from what was saved
    restarted = make(tmp_path)
    fresh = session_for(restarted)
    assert restarted.live.model.n_ctx == 2048 and restarted.service.info.n_ctx == 2048
    assert (fresh.override, fresh.user_params.seed) == (True, 42)


def test_save_applies_what_the_form_says_first(tmp_path):
    c = make(tmp_path)
    s = session_for(c)
    report = c.save(s, {"prompt_format": "prefixes", "model.n_batch": 128})
    assert report.ok and {ch.key for ch in report.changes} == {"prompt_format", "model.n_batch"}
    saved, _ = AppSettings.load(c.paths.settings_file)
    assert (saved.prompt_format, saved.model.n_batch) == ("prefixes", 128)
    bad = c.save(s, {"model.n_batch": 0})
    assert not bad.ok and "Nothing was saved." in bad.errors
    assert AppSettings.load(c.paths.settings_file)[0].model.n_batch == 128


def test_an_override_is_for_this_run_only_unless_changed_in_the_page(tmp_path):
    c = make(tmp_path, overrides={"model.n_ctx": 1024, "prompt_format": "prefixes"})
    s = session_for(c)
    assert c.service.info.n_ctx == 1024 and s.prompt_format == "prefixes"
    assert c.unsaved(s) == []  # a restart with the same flags gives the same values
    c.save(s, {"model.n_batch": 256})
    saved, _ = AppSettings.load(c.paths.settings_file)
    assert saved.model.n_ctx == 4096 and saved.prompt_format == "auto"  # the flags were not written
    assert saved.model.n_batch == 256
    c.save(s, {"model.n_ctx": 2048})  # changed in the page: the user's choice is saved
    assert AppSettings.load(c.paths.settings_file)[0].model.n_ctx == 2048


def test_a_save_that_cannot_write_changes_nothing(tmp_path):
    c = make(tmp_path)
    s = session_for(c)
    shutil.rmtree(c.paths.root)
    c.paths.root.write_text("a file where the data folder was")
    report = c.save(s, {"prompt_format": "prefixes"})
    assert not report.ok and "Nothing was saved" in report.errors[-1]
    assert c.saved == AppSettings()


def test_reset_gives_the_documented_defaults_whatever_was_applied_or_saved(tmp_path):
    """Reset fills the form with the table's defaults (the ones docs/settings.md documents), not
    with what is saved or in force; nothing changes until Apply."""
    c = make(tmp_path)
    s = session_for(c)
    assert c.save(s, {"model.n_batch": 128, "prompt_format": "prefixes", "binding.timeout_s": 12}).ok
    assert c.apply(s, {"override_personality_params": True, "user_params.top_k": 3}).ok
    defaults = c.defaults()
    for key in SETTINGS:
        assert key.get(defaults) == key.default, key.name
    assert c.current(s).get("model.n_batch") == 128  # still in force: Reset only fills the form
    assert s.override is True and s.user_params.top_k == 3


def test_locked_settings_refuse_global_changes_but_not_this_browsers(tmp_path):
    c = make(tmp_path, locked="a public demo")
    s = session_for(c)
    report = c.apply(s, {"model.n_ctx": 1024, "user_params.seed": 3, "override_personality_params": True})
    assert not report.ok and "locked" in report.errors[0]
    assert c.live.model.n_ctx == 4096 and s.override is True
    assert "locked" in c.save(s).errors[0]
    assert "locked" in c.unload()
    assert "locked" in c.test_connection({"binding.base_url": "http://169.254.169.254/"})[1]


def test_the_loaded_models_facts(tmp_path):
    c = make(tmp_path)
    facts = dict(model_facts(c.service.info, None, c.live))
    assert facts["Binding"] == "in-process llama.cpp"
    assert facts["Quantization"] == "Q4_1"
    assert facts["Context"].startswith("4096 tokens (trained on 8192)")
    assert facts["Chat template"] == "yes"
    assert facts["File"].endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
    assert "MiB" in facts["Size"]
    c.unload()
    assert "none loaded" in dict(model_facts(c.service.info, c.service.load_error, c.live))["Model"]


def test_a_broken_settings_file_still_starts_and_falls_back_to_the_default_model(tmp_path):
    paths = DataPaths(tmp_path / "data").ensure()
    paths.settings_file.write_text("model:\n  path: /nowhere/model.gguf\n  n_ctx: huge\n")
    saved, problems = AppSettings.load(paths.settings_file)
    assert any("'model.n_ctx'" in p for p in problems)
    c = SettingsController(paths, saved, GenerationService())
    notices = c.start()
    assert "not found" in notices[0] and "embedded default" in notices[0]
    assert c.service.info is not None and c.service.info.n_ctx == 4096


def test_the_last_answers_facts_come_from_its_metadata():
    from gradio_app.session import Message

    s = ChatSession(personality_id="x")
    assert last_generation_facts(s) == {}
    s.messages = [
        Message("assistant", "hi", kind="welcome"),
        Message("assistant", "one", metadata={"params": {"n_predict": 3}}),
        Message("assistant", "oops", kind="error"),
    ]
    assert last_generation_facts(s) == {"params": {"n_predict": 3}}


def test_the_api_key_field_keeps_removes_or_replaces_the_key():
    from gradio_app.settings_controller import page_api_key

    assert page_api_key("") is None and page_api_key("   ") is None and page_api_key(None) is None  # keep
    assert page_api_key("none") == "" and page_api_key(" None ") == ""  # remove
    assert page_api_key(" sk-123 ") == "sk-123"
