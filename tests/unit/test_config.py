"""The settings file: documented defaults, validation on load (never fatal), atomic save, and the
flags / environment variables that override it."""

import os
import re
import stat

import pytest
import yaml

from app import parse_args
from gradio_app.config import (
    SETTINGS,
    AppSettings,
    all_fields,
    env_overrides,
    normalize_base_url,
    overrides_from_args,
    settings_lock,
    settings_reference_markdown,
)
from tests.conftest import PROJECT_ROOT


def test_every_settings_field_is_in_the_table_and_the_table_round_trips(tmp_path):
    assert sorted(all_fields()) == sorted(k.name for k in SETTINGS)
    changed = AppSettings().with_values(
        {
            "model.path": "qwen.gguf",
            "model.n_ctx": 2048,
            "model.n_threads": 2,
            "model.folders": ("/a", "/b"),
            "binding.kind": "openai",
            "binding.base_url": "http://h:8000/v1",
            "binding.timeout_s": 9.5,
            "prompt_format": "prefixes",
            "override_personality_params": True,
            "user_params.temperature": 0.2,
            "user_params.seed": 7,
        }
    )
    path = tmp_path / "settings.yaml"
    changed.save(path)
    loaded, problems = AppSettings.load(path)
    assert problems == []
    assert loaded == changed
    data = yaml.safe_load(path.read_text())
    assert data["model"]["n_ctx"] == 2048 and data["binding"]["kind"] == "openai"
    assert data["user_params"]["temperature"] == 0.2


def test_a_missing_file_means_the_documented_defaults(tmp_path):
    settings, problems = AppSettings.load(tmp_path / "nothing.yaml")
    assert settings == AppSettings() and problems == []
    assert settings.model.n_ctx == 4096 and settings.binding.kind == "llama_cpp" and settings.prompt_format == "auto"


@pytest.mark.parametrize(
    "text",
    [": : not yaml [", "\x00\x01binary", "- a list\n- not a mapping\n", "just a string"],
)
def test_an_unreadable_file_gives_defaults_and_says_so(tmp_path, text):
    path = tmp_path / "settings.yaml"
    path.write_text(text)
    settings, problems = AppSettings.load(path)
    assert settings == AppSettings()
    assert len(problems) == 1 and str(path) in problems[0] and "defaults" in problems[0]


def test_each_bad_value_is_reported_with_its_key_and_replaced_by_its_default(tmp_path):
    path = tmp_path / "settings.yaml"
    path.write_text(
        "model:\n  n_ctx: lots\n  n_threads: 4\n  n_gpu_layers: -5\n  folders: 12\n"
        "binding:\n  kind: telepathy\n  base_url: ftp://x\n  timeout_s: 0\n  model: qwen\n"
        "prompt_format: fancy\noverride_personality_params: 'yes'\n"
        "user_params:\n  temperature: 9\n  top_k: 3\n  seed: 1.5\n"
        "colour: blue\n"
    )
    settings, problems = AppSettings.load(path)
    text = "\n".join(problems)
    for key in (
        "model.n_ctx",
        "model.n_gpu_layers",
        "model.folders",
        "binding.kind",
        "binding.base_url",
        "binding.timeout_s",
        "prompt_format",
        "override_personality_params",
        "user_params.temperature",
        "user_params.seed",
    ):
        assert f"'{key}'" in text, key
    assert "unknown setting 'colour'" in text
    defaults = AppSettings()
    assert settings.model.n_ctx == defaults.model.n_ctx and settings.binding.kind == "llama_cpp"
    assert settings.user_params.temperature == defaults.user_params.temperature
    # the good values around the bad ones are kept
    assert settings.model.n_threads == 4 and settings.binding.model == "qwen" and settings.user_params.top_k == 3


def test_a_section_that_is_not_a_mapping_keeps_its_defaults(tmp_path):
    path = tmp_path / "settings.yaml"
    path.write_text("model: 5\nprompt_format: prefixes\n")
    settings, problems = AppSettings.load(path)
    assert settings.model == AppSettings().model and settings.prompt_format == "prefixes"
    assert any("'model' must be a mapping" in p for p in problems)


def test_the_first_flat_settings_files_still_load(tmp_path):
    path = tmp_path / "settings.yaml"
    path.write_text("model_path: /m/x.gguf\nn_ctx: 2048\nn_threads: 3\nprompt_format: prefixes\n")
    settings, problems = AppSettings.load(path)
    assert problems == []
    assert (settings.model.path, settings.model.n_ctx, settings.model.n_threads) == ("/m/x.gguf", 2048, 3)


def test_save_is_atomic_and_private(tmp_path):
    path = tmp_path / "settings.yaml"
    path.write_text("old: content\n")
    AppSettings().with_values({"binding.api_key": "sk-secret"}).save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["settings.yaml"]  # no temp file left behind
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it may hold an API key
    assert yaml.safe_load(path.read_text())["binding"]["api_key"] == "sk-secret"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://host:8080", "http://host:8080/v1"),
        ("http://host:8080/", "http://host:8080/v1"),
        ("https://api.example.com/v1/", "https://api.example.com/v1"),
        ("http://localhost:11434/v1", "http://localhost:11434/v1"),
        ("http://h/openai/v1", "http://h/openai/v1"),
    ],
)
def test_server_urls_are_normalized_to_the_openai_root(given, expected):
    assert normalize_base_url(given) == expected


def test_environment_variables_override_and_bad_ones_are_reported():
    env = {
        "PWEBUI_N_CTX": "2048",
        "PWEBUI_BINDING": "openai",
        "PWEBUI_SERVER_URL": "http://gpu-box:8000",
        "PWEBUI_MODELS_DIRS": os.pathsep.join(["/models/a", "/models/b"]),
        "PWEBUI_N_THREADS": "0",
        "PWEBUI_SERVER_TIMEOUT": "soon",
        "PWEBUI_PROMPT_FORMAT": "",
    }
    values, problems = env_overrides(env)
    assert values == {
        "model.n_ctx": 2048,
        "model.n_threads": None,
        "model.folders": ("/models/a", "/models/b"),
        "binding.kind": "openai",
        "binding.base_url": "http://gpu-box:8000/v1",
    }
    assert problems == ["PWEBUI_SERVER_TIMEOUT: must be a number between 1 and 3600; ignored"]


def test_flags_beat_environment_variables_and_bad_flags_are_reported():
    args = parse_args(["--n-ctx", "1024", "--models-dir", "/x", "--models-dir", "/y", "--n-batch", "0"])
    values, problems = overrides_from_args(args, {"PWEBUI_N_CTX": "2048", "PWEBUI_PERSONALITY": "english/x/y"})
    assert values["model.n_ctx"] == 1024
    assert values["model.folders"] == ("/x", "/y")
    assert values["default_personality"] == "english/x/y"
    assert "model.n_batch" not in values
    assert problems == ["--n-batch: must be between 1 and 65536, got 0; ignored"]


def test_an_empty_model_flag_means_the_embedded_default():
    values, _ = overrides_from_args(parse_args(["--model", ""]), {})
    assert values == {"model.path": None}


def test_global_settings_are_locked_on_a_space_unless_unlocked():
    plain = parse_args([])
    assert settings_lock(plain, {}) == ""
    assert "Space" in settings_lock(plain, {"SPACE_ID": "me/app"})
    assert settings_lock(plain, {"SPACE_ID": "me/app", "PWEBUI_LOCK_SETTINGS": "0"}) == ""
    assert settings_lock(parse_args(["--lock-settings"]), {}) != ""


def test_docs_list_every_setting_exactly_as_the_code_defines_it():
    docs = (PROJECT_ROOT / "docs" / "settings.md").read_text()
    assert settings_reference_markdown() in docs, "regenerate the table: python -m gradio_app.config"


def test_the_readme_flag_table_lists_every_flag_and_variable(capsys):
    readme = (PROJECT_ROOT / "README.md").read_text()
    table = {
        m.group(1): m.group(2)
        for m in re.finditer(r"^\| `(--[a-z-]+)[^`]*` \| (?:`(PWEBUI_[A-Z_]+)`)? ?\|", readme, re.MULTILINE)
    }
    for key in SETTINGS:
        if key.flag:
            assert table.get(key.flag, "missing") == key.env, key.flag
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", capsys.readouterr().out)) - {"--help"}
    assert flags - set(table) == set(), "flags missing from the README table"
