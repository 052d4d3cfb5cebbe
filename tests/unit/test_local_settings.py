"""A personality's settings template and its config_local.yaml."""

import pytest
import yaml

from gradio_app.personalities.local_settings import InvalidSetting, InvalidTemplate, SettingsTemplate
from gradio_app.personalities.personality import Personality
from gradio_app.personalities.schema import PersonalityError

TEMPLATE = [
    {"name": "depth", "type": "int", "default": 2, "min": 1, "max": 5, "help": "levels"},
    {"name": "temperature", "type": "float", "default": 0.5, "min": 0, "max": 2},
    {"name": "imagine", "type": "bool", "default": True},
    {"name": "sampler", "type": "choice", "default": "euler", "options": ["euler", "ddim"]},
    {"name": "negative", "type": "text", "default": "blurry"},
]


def test_defaults_and_strict_validation():
    template = SettingsTemplate.parse(TEMPLATE)
    assert template.defaults() == {
        "depth": 2,
        "temperature": 0.5,
        "imagine": True,
        "sampler": "euler",
        "negative": "blurry",
    }
    assert template.validate({"depth": "3", "legacy_key": 7})["depth"] == 3  # text from a form is accepted
    assert template.validate({"legacy_key": 7})["legacy_key"] == 7  # undeclared keys are kept
    for bad, name in (
        ({"depth": 9}, "depth"),
        ({"depth": 1.5}, "depth"),
        ({"imagine": "yes"}, "imagine"),
        ({"sampler": "heun"}, "sampler"),
        ({"temperature": "hot"}, "temperature"),
    ):
        with pytest.raises(InvalidSetting) as err:
            template.validate(bad)
        assert err.value.name == name and name in str(err.value)


def test_lenient_resolve_reports_and_falls_back():
    template = SettingsTemplate.parse(TEMPLATE)
    values, problems = template.resolve({"depth": 99, "sampler": "ddim"})
    assert values["depth"] == 2 and values["sampler"] == "ddim"
    assert len(problems) == 1 and "depth" in problems[0]


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"name": "x"}, "settings"),  # not a list
        ([{"name": "bad name", "type": "int"}], "identifier"),
        ([{"name": "x", "type": "colour"}], "type"),
        ([{"name": "x", "type": "choice"}], "options"),
        ([{"name": "x", "type": "int", "default": 10, "max": 5}], "default"),
        ([{"name": "x"}, {"name": "x"}], "duplicate"),
    ],
)
def test_malformed_templates_are_refused(raw, needle):
    with pytest.raises(InvalidTemplate, match=needle):
        SettingsTemplate.parse(raw)


def write_personality(folder, settings):
    folder.mkdir(parents=True)
    config = {"name": "Tester", "processor_cfg": {"custom_workflow": True, "settings": settings}}
    (folder / "config.yaml").write_text(yaml.safe_dump(config))


def test_a_malformed_template_is_a_personality_error_naming_the_field(tmp_path):
    write_personality(tmp_path / "p", [{"name": "x", "type": "colour"}])
    with pytest.raises(PersonalityError) as err:
        Personality.load(tmp_path / "p")
    assert err.value.field == "processor_cfg" and "colour" in str(err.value)


def test_save_and_read_local_settings(tmp_path):
    write_personality(tmp_path / "p", TEMPLATE)
    personality = Personality.load(tmp_path / "p")
    (tmp_path / "p" / "config_local.yaml").write_text("legacy: 1\ndepth: 4\n")
    assert personality.local_settings() == (
        {**SettingsTemplate.parse(TEMPLATE).defaults(), "depth": 4, "legacy": 1},
        [],
    )
    with pytest.raises(InvalidSetting):
        personality.save_local_settings({"depth": 0})
    assert personality.local_config() == {"legacy": 1, "depth": 4}  # a refused save changes nothing
    personality.save_local_settings({"sampler": "ddim"})
    saved = yaml.safe_load((tmp_path / "p" / "config_local.yaml").read_text())
    assert saved["sampler"] == "ddim" and saved["legacy"] == 1 and saved["depth"] == 4
