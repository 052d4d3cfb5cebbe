"""A chat turn end to end through WorkflowRunner, with the real model and the built-in zoo."""

import pytest

from gradio_app.config import BUILTIN_ZOO
from gradio_app.generation.params import GenerationParams
from gradio_app.personalities.zoo import Zoo
from gradio_app.session import ChatSession
from gradio_app.workflows.events import Done, ErrorOut, TextChunk
from gradio_app.workflows.runner import WorkflowRunner

pytestmark = pytest.mark.model


@pytest.fixture
def runner(service):
    return WorkflowRunner(service, Zoo([BUILTIN_ZOO]))


@pytest.fixture
def session(runner):
    s = ChatSession(personality_id="english/generic/lollms", user_params=GenerationParams(seed=11))
    s.new_discussion(runner.zoo.get(s.personality_id))
    return s


def test_turn_streams_chunks_then_done_and_is_recorded(runner, session):
    events = list(runner.run_turn(session, "What is the capital of France?"))
    chunks = [e.text for e in events if isinstance(e, TextChunk)]
    done = events[-1]
    assert isinstance(done, Done)
    assert len(chunks) > 1
    assert "".join(chunks).strip() == done.content
    assert len(done.content) > 3
    assert [m.kind for m in session.messages] == ["welcome", "normal", "normal"]
    assert session.messages[-1].content == done.content
    meta = done.metadata
    assert meta["personality"] == "english/generic/lollms"
    assert meta["prompt_format"] == "chat_template"
    assert meta["completion_tokens"] > 0 and meta["prompt_tokens"] > 0
    assert meta["stop_reason"] in {"eos", "length", "stop_string"}


def test_personality_params_apply_unless_override(runner, session):
    personality = runner.zoo.get(session.personality_id)
    done = list(runner.run_turn(session, "Hi"))[-1]
    assert done.metadata["params"]["temperature"] == personality.config.model_temperature
    assert done.metadata["params"]["n_predict"] == personality.config.model_n_predicts
    session.override = True
    session.user_params = GenerationParams(temperature=0.0, n_predict=5, seed=3)
    done = list(runner.run_turn(session, "Tell me about the sea."))[-1]
    assert done.metadata["params"]["temperature"] == 0.0
    assert done.metadata["completion_tokens"] <= 5
    assert done.metadata["seed"] == 3


def test_second_turn_sees_the_first(runner, session):
    session.override = True
    session.user_params = GenerationParams(temperature=0.0, n_predict=40, seed=1)
    first = list(runner.run_turn(session, "My name is Zorblax."))[-1]
    second = list(runner.run_turn(session, "What is my name?"))[-1]
    # the second prompt holds the whole first exchange (prompt + answer) before the new question
    assert second.metadata["prompt_tokens"] >= first.metadata["prompt_tokens"] + first.metadata["completion_tokens"]
    assert second.metadata["dropped_messages"] == 0


def test_unknown_personality_gives_an_error_event_and_keeps_the_message(runner, session):
    session.personality_id = "english/nowhere/ghost"
    events = list(runner.run_turn(session, "hello?"))
    assert isinstance(events[-1], ErrorOut)
    assert "no such personality" in events[-1].message
    assert session.messages[-2].content == "hello?"
    assert session.messages[-1].kind == "error"
    # errors are not part of what the model sees next time
    assert all(t.content != events[-1].message for t in session.history())


def test_message_too_long_for_context_is_an_error_not_a_crash(runner, session):
    events = list(runner.run_turn(session, "word " * 5000))
    assert isinstance(events[-1], ErrorOut)
    assert "context" in events[-1].message
