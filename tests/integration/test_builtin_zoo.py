"""The built-in zoo: every personality loads, has a logo, builds a prompt and answers (real model)."""

import re
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


FRENCH = {"le", "la", "les", "est", "de", "des", "un", "une", "et", "je", "il", "ne", "pas", "du", "sont", "bonjour",
          "merci", "suis", "pour", "avec"}  # fmt: skip
SPANISH = {"el", "la", "los", "las", "es", "de", "que", "y", "en", "no", "hoy", "estoy", "tus", "buenos", "días",
           "cómo", "está", "gracias", "muy"}  # fmt: skip
ENGLISH = {"the", "is", "and", "of", "to", "you", "i", "are", "it", "my", "good", "morning"}


def _words(text):
    return re.findall(r"[a-zàâçéèêëîïôûùüÿñæœíóú']+", text.lower().replace("’", "'"))


def _mostly(vocabulary, text):
    words = [w.split("'")[-1] for w in _words(text)]
    ours, english = sum(w in vocabulary for w in words), sum(w in ENGLISH for w in words)
    return ours >= 2 and ours > english


# What a small model must still get from each conditioning: (personality, question, "stays in role").
ROLES = [
    ("english/fun/pirate", "What is the weather like today?",
     lambda t: re.search(r"\b(seas?|matey|ahoy|arr+|ship|captain|treasure|aye)\b|o' ", t.lower()) is not None),
    ("french/generic/assistant", "Quelle est la capitale de l'Italie ?", lambda t: _mostly(FRENCH, t)),
    ("french/cuisine/chef", "Comment faire une omelette ?", lambda t: _mostly(FRENCH, t)),
    ("english/translation/english_to_french", "Good morning, how are you?", lambda t: _mostly(FRENCH, t)),
    ("english/translation/english_to_spanish", "Good morning, how are you?", lambda t: _mostly(SPANISH, t)),
    ("english/coding/python_coder", "Write a function that reverses a string.",
     lambda t: "def " in t and "return" in t),
]  # fmt: skip


@pytest.mark.model
@pytest.mark.slow
@pytest.mark.parametrize(("personality_id", "question", "in_role"), ROLES, ids=[r[0] for r in ROLES])
def test_the_conditioning_makes_the_small_model_stay_in_role(zoo, service, personality_id, question, in_role):
    """With the personality's own sampling, at least 2 answers of 3 (seeds 1-3) show the role: the
    pirate talks like one, the French ones answer in French, the translators translate, the coder
    writes a function. (SmolLM2-135M is weak; the conditioning is what steers it.)"""
    runner = WorkflowRunner(service, zoo)
    personality = zoo.get(personality_id)
    answers = []
    for seed in (1, 2, 3):
        session = ChatSession(personality_id=personality_id, override=True)
        session.user_params = replace(personality.config.generation_params(runner.defaults), n_predict=40, seed=seed)
        session.new_discussion(personality)
        done = list(runner.run_turn(session, question))[-1]
        assert isinstance(done, Done), done
        answers.append(done.content)
    assert sum(bool(in_role(a)) for a in answers) >= 2, answers
