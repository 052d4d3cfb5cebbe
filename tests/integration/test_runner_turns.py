"""Every kind of turn (new message, Regenerate, Continue, edit-and-resend) with the real model,
persisted in a real store: what is saved while it streams and what is kept in the tree."""

import pytest

from gradio_app.config import BUILTIN_ZOO
from gradio_app.discussions.store import DiscussionStore
from gradio_app.generation.params import GenerationParams
from gradio_app.personalities.zoo import Zoo
from gradio_app.session import ChatSession
from gradio_app.workflows.events import Done, ErrorOut, TextChunk
from gradio_app.workflows.runner import WorkflowRunner

pytestmark = pytest.mark.model


@pytest.fixture
def store(tmp_path):
    s = DiscussionStore(tmp_path / "discussions.sqlite3")
    yield s
    s.close()


@pytest.fixture
def runner(service):
    # save every piece: the test sees each partial write
    return WorkflowRunner(service, Zoo([BUILTIN_ZOO]), save_interval_s=0.0)


def new_session(runner, store, n_predict=12, seed=1):
    session = ChatSession(
        personality_id="english/generic/lollms",
        override=True,
        user_params=GenerationParams(temperature=0.0, n_predict=n_predict, seed=seed),
    )
    session.attach(store, "user:tester")
    session.new_discussion(runner.zoo.get(session.personality_id))
    return session


def stored(store, session):
    return store.messages(session.discussion_id, owner="user:tester")


def test_the_question_is_stored_first_and_the_answer_while_it_streams(runner, store):
    session = new_session(runner, store, n_predict=12)
    events = runner.run_turn(session, "Tell me about the sea.")
    first = next(e for e in events if isinstance(e, TextChunk))
    # generation has started: the question is on disk, the answer is there and flagged
    question, answer = stored(store, session)[1:]
    assert question.content == "Tell me about the sea." and question.role == "user"
    assert answer.parent_id == question.id and answer.incomplete
    assert answer.content == first.text
    chunks = [e.text for e in events if isinstance(e, TextChunk)]
    final = stored(store, session)[-1]
    assert not final.incomplete
    assert final.content == (first.text + "".join(chunks)).strip()
    assert final.metadata["completion_tokens"] > 0 and final.metadata["personality"] == "english/generic/lollms"
    assert not store.is_live(final.id)


def test_regenerate_adds_a_version_beside_the_old_one(runner, store):
    session = new_session(runner, store)
    list(runner.run_turn(session, "Name a color."))
    first = session.messages[-1]
    session.user_params = GenerationParams(temperature=1.0, n_predict=12, seed=99)
    done = list(runner.regenerate(session))[-1]
    assert isinstance(done, Done)
    second = session.messages[-1]
    assert second.id != first.id and second.parent_id == first.parent_id
    assert (second.version, second.versions) == (2, 2)
    assert second.metadata["seed"] == 99 and first.metadata["seed"] == 1
    session.switch_version(second.id, -1)
    assert session.messages[-1].content == first.content  # the old answer is intact
    assert len(stored(store, session)) == 4


def test_continue_extends_the_last_answer(runner, store):
    session = new_session(runner, store, n_predict=6)
    list(runner.run_turn(session, "Write a long story about a lighthouse keeper."))
    cut_id, cut_text, cut_meta = session.messages[-1].id, session.messages[-1].content, session.messages[-1].metadata
    assert cut_meta["stop_reason"] == "length"
    done = list(runner.continue_answer(session))[-1]
    assert isinstance(done, Done)
    longer = session.messages[-1]
    assert longer.id == cut_id  # the same message, extended
    assert longer.content.startswith(cut_text) and len(longer.content) > len(cut_text)
    (continuation,) = longer.metadata["continuations"]
    assert longer.metadata["completion_tokens"] == cut_meta["completion_tokens"] + continuation["completion_tokens"]
    assert longer.metadata["seed"] == cut_meta["seed"]  # how it started is still recorded
    again = stored(store, session)[-1]
    assert again.content == longer.content and not again.incomplete


def test_editing_a_user_message_answers_it_on_a_new_branch(runner, store):
    session = new_session(runner, store)
    list(runner.run_turn(session, "My name is Ada."))
    list(runner.run_turn(session, "What is my name?"))
    original = session.messages[1]
    done = list(runner.edit_and_resend(session, original.id, "My name is Grace."))[-1]
    assert isinstance(done, Done)
    assert [m.content for m in session.messages[1:2]] == ["My name is Grace."]
    assert len(session.messages) == 3  # the later turns belong to the old branch
    assert (session.messages[1].version, session.messages[1].versions) == (2, 2)
    session.switch_version(session.messages[1].id, -1)
    assert [m.content for m in session.messages if m.role == "user"] == ["My name is Ada.", "What is my name?"]


def test_a_failing_turn_keeps_the_question_and_stores_the_error(runner, store):
    session = new_session(runner, store)
    session.personality_id = "english/nowhere/ghost"
    events = list(runner.run_turn(session, "hello?"))
    assert isinstance(events[-1], ErrorOut)
    question, error = stored(store, session)[1:]
    assert question.content == "hello?"
    assert error.kind == "error" and error.parent_id == question.id and "no such personality" in error.content
    # and the turns that do not apply say so without touching anything
    session.personality_id = "english/generic/lollms"
    assert isinstance(list(runner.continue_answer(session))[-1], ErrorOut)
    assert len(stored(store, session)) == 3


def test_a_closed_stream_keeps_the_partial_answer_as_finished(runner, store):
    session = new_session(runner, store, n_predict=200)
    events = runner.run_turn(session, "Count from one to fifty in words.")
    for event in events:
        if isinstance(event, TextChunk) and len(session.messages[-1].content) > 10:
            break
    events.close()  # the browser tab went away
    answer = stored(store, session)[-1]
    assert answer.metadata["stop_reason"] == "disconnected"
    assert not answer.incomplete and len(answer.content) > 10
