import datetime as dt
from pathlib import Path

import pytest
import yaml

from gradio_app.config import BUILTIN_ZOO
from gradio_app.personalities.personality import Personality
from gradio_app.personalities.prompt import ModelPromptInfo, PromptBuilder, Turn
from gradio_app.personalities.schema import PersonalityConfig, PersonalityError, fill_placeholders
from gradio_app.personalities.zoo import Zoo


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_all_265_fixture_personalities_load_and_build_a_prompt(fixture_zoo, service):
    configs = sorted(fixture_zoo.glob("*/*/*/config.yaml"))
    assert len(configs) == 265
    builder = PromptBuilder(lambda text: len(service.tokenize(text)), ModelPromptInfo(n_ctx=2048), "prefixes")
    for path in configs:
        config = PersonalityConfig.load(path)
        assert config.name.strip()
        built = builder.build(config, [Turn("user", "Hi"), Turn("assistant", "Hello")], "Who are you?", 256)
        assert built.text.endswith(config.ai_message_prefix)
        assert "Who are you?" in built.text


def test_fixture_zoo_scans_into_language_and_category(fixture_zoo):
    zoo = Zoo([fixture_zoo])
    assert len(zoo.entries) == 265
    assert not zoo.errors()
    assert zoo.languages() == ["english", "french"]
    assert "generic" in zoo.categories("english")
    art = {e.id for e in zoo.in_category("english", "art")}
    assert "english/art/gpt4art" in art


def test_original_misspelling_and_unknown_keys_are_kept(tmp_path):
    path = write(
        tmp_path,
        "name: X\ninclude_welcome_message_in_disucssion: true\npyaipersonality_version: 0.0.5\ncustom_block: {a: 1}\n",
    )
    config = PersonalityConfig.load(path)
    assert config.include_welcome_message_in_discussion is True
    assert config.extra == {"pyaipersonality_version": "0.0.5", "custom_block": {"a": 1}}
    dumped = config.to_dict()
    assert dumped["pyaipersonality_version"] == "0.0.5"
    assert dumped["custom_block"] == {"a": 1}
    assert PersonalityConfig.from_dict(yaml.safe_load(yaml.safe_dump(dumped))) == config


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        ("name: X\nmodel_temperature: hot\n", "model_temperature", "expected a number"),
        ("name: X\nmodel_top_p: 3\n", "model_top_p", "outside"),
        ("name: X\nanti_prompts: {a: 1}\n", "anti_prompts", "list"),
        ("name: X\nuser_message_prefix: [1, 2]\n", "user_message_prefix", "expected text"),
        ("name: X\ninclude_welcome_message_in_discussion: maybe\n", "include_welcome_message_in_discussion", "true"),
        ("author: nobody\n", "name", "non-empty name"),
    ],
)
def test_bad_field_error_names_file_and_field(tmp_path, text, field, reason):
    path = write(tmp_path, text)
    with pytest.raises(PersonalityError) as info:
        PersonalityConfig.load(path)
    assert info.value.field == field
    assert str(path) in str(info.value)
    assert reason in str(info.value)


def test_invalid_yaml_reports_line(tmp_path):
    path = write(tmp_path, "name: X\nwelcome_message: [unclosed\n")
    with pytest.raises(PersonalityError, match=r"invalid YAML \(line \d+"):
        PersonalityConfig.load(path)


def test_not_a_mapping_and_oversized_files_are_refused(tmp_path):
    with pytest.raises(PersonalityError, match="mapping"):
        PersonalityConfig.load(write(tmp_path, "- just\n- a list\n"))
    with pytest.raises(PersonalityError, match="limit"):
        PersonalityConfig.load(write(tmp_path, "name: X\n#" + "x" * 1_100_000 + "\n"))


def test_version_read_as_number_becomes_text(tmp_path):
    assert PersonalityConfig.load(write(tmp_path, "name: X\nversion: 1.0\n")).version == "1.0"


def test_stop_strings_default_to_stripped_prefixes():
    config = PersonalityConfig(name="x", user_message_prefix="### Human:\n", ai_message_prefix="### AI:\n")
    assert config.stop_strings() == ["### Human:", "### AI:"]
    config.anti_prompts = ["Human:", "  "]
    assert config.stop_strings() == ["Human:"]


def test_placeholders():
    now = dt.datetime(2024, 5, 6, 7, 8, 9)
    assert fill_placeholders("{{date}} {{time}} {{date_time}}", now) == "2024-05-06 07:08:09 2024-05-06 07:08:09"
    assert fill_placeholders("no placeholders", now) == "no placeholders"


def test_builtin_zoo_has_the_default_personality_with_logo():
    zoo = Zoo([BUILTIN_ZOO])
    assert not zoo.errors()
    lollms = zoo.get("english/generic/lollms")
    assert isinstance(lollms, Personality)
    assert lollms.logo_path is not None
    assert lollms.config.welcome_message.strip()


def test_broken_personality_is_listed_with_its_error_and_cannot_be_selected(tmp_path):
    good = tmp_path / "english" / "generic" / "good"
    bad = tmp_path / "english" / "generic" / "bad"
    for folder in (good, bad):
        folder.mkdir(parents=True)
    (good / "config.yaml").write_text("name: Good\n")
    (bad / "config.yaml").write_text("name: Bad\nmodel_top_k: lots\n")
    zoo = Zoo([tmp_path])
    assert zoo.get("english/generic/good").name == "Good"
    [broken] = zoo.errors()
    assert broken.id == "english/generic/bad"
    assert "model_top_k" in broken.error
    with pytest.raises(PersonalityError, match="model_top_k"):
        zoo.get("english/generic/bad")
