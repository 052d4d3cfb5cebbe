"""The built-in zoo: every personality loads, has a logo, builds a prompt and answers (real model)."""

from dataclasses import replace

import pytest
from PIL import Image

from gradio_app.config import BUILTIN_ZOO
from gradio_app.personalities.prompt import ModelPromptInfo, PromptBuilder, Turn
from gradio_app.personalities.zoo import Zoo
from gradio_app.session import ChatSession
from gradio_app.workflows.events import Done
from gradio_app.workflows.runner import WorkflowRunner

# Owned by other areas (scripted personalities): checked by their own tests.
SCRIPTED = ("english/thinking/", "english/internet/", "english/art/")
QUESTIONS = {
    "coding": "Write a function that returns the largest of three numbers.",
    "translation": "The weather is lovely today, let's go for a walk.",
    "traduction": "Il fait beau aujourd'hui, allons nous promener.",
    "education": "What is 12 times 7?",
}


@pytest.fixture(scope="module")
def zoo():
    return Zoo([BUILTIN_ZOO], trusted_roots=[BUILTIN_ZOO])


def plain(zoo):
    return [e for e in zoo.entries.values() if not e.id.startswith(SCRIPTED)]


def test_a_zoo_worth_browsing(zoo):
    assert not zoo.errors(), [e.error for e in zoo.errors()]
    entries = plain(zoo)
    assert len(entries) >= 25
    assert {"english", "french"} <= set(zoo.languages())
    assert len({(e.language, e.category) for e in entries}) >= 8
    assert len([e for e in entries if e.language == "french"]) >= 6
    assert len({e.name for e in entries}) == len(entries)  # no two share a name
    assert all(e.builtin and e.personality.trusted for e in entries)


def test_every_builtin_personality_has_a_drawn_logo_and_builds_a_prompt(zoo):
    for entry in plain(zoo):
        config = entry.personality.config
        assert config.personality_description.strip() and config.welcome_message.strip(), entry.id
        assert config.author == "Personalities WebUI team", entry.id
        assert config.language == entry.language and config.category == entry.category, entry.id
        assert config.model_temperature is not None and config.model_n_predicts, entry.id
        assert len(config.personality_conditioning) < 800, f"{entry.id}: keep it short for small models"
        logo = entry.personality.logo_path
        assert logo is not None and logo.name == "logo.png", entry.id
        with Image.open(logo) as img:
            assert img.size == (256, 256), entry.id
        builder = PromptBuilder(len, ModelPromptInfo(n_ctx=4096), "prefixes")
        built = builder.build(config, [Turn("assistant", config.welcome_message, welcome=True)], "Hello", 64)
        assert built.text.startswith(config.personality_conditioning.strip()[:40]), entry.id
        assert built.text.endswith(config.ai_message_prefix), entry.id
        assert any(config.user_message_prefix.startswith(s) for s in built.stops), entry.id


@pytest.mark.model
@pytest.mark.slow
def test_every_builtin_personality_answers_with_the_real_model(zoo, service):
    runner = WorkflowRunner(service, zoo)
    for entry in plain(zoo):
        personality = entry.personality
        session = ChatSession(personality_id=entry.id, override=True)
        # the personality's own sampling, with a short answer and a fixed seed
        session.user_params = replace(personality.config.generation_params(runner.defaults), n_predict=8, seed=7)
        session.new_discussion(personality)
        question = QUESTIONS.get(entry.category, "Hello! What can you do for me?")
        done = list(runner.run_turn(session, question))[-1]
        assert isinstance(done, Done), (entry.id, done)
        assert done.content.strip(), entry.id
        assert done.metadata["params"]["temperature"] == personality.config.model_temperature
