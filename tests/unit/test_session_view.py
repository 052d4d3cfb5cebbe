"""ChatSession as a view over a stored discussion, and the chat view rendered from it (no model,
no Gradio: the same calls the UI makes)."""

import pytest

from gradio_app.config import BUILTIN_ZOO
from gradio_app.discussions.store import DiscussionNotFound, DiscussionStore, NewMessage
from gradio_app.personalities.zoo import Zoo
from gradio_app.session import ChatSession, SessionError
from gradio_app.ui import render
from gradio_app.ui.render import chat_view, message_at, message_to_chat, strip_decorations, versions_view

PERSONALITY = "english/generic/lollms"


@pytest.fixture(scope="module")
def personality():
    return Zoo([BUILTIN_ZOO]).get(PERSONALITY)


@pytest.fixture
def store(tmp_path):
    s = DiscussionStore(tmp_path / "d.sqlite3")
    yield s
    s.close()


def session_for(store, personality, owner="browser:" + "a" * 32):
    session = ChatSession(personality_id=PERSONALITY)
    session.attach(store, owner)
    session.new_discussion(personality)
    return session


def answer(session, question, text, **metadata):
    reply = session.start_answer(question, "LoLLMs")
    session.finish_answer(reply, text, {"completion_tokens": 3, "tokens_per_second": 12.5, "model": "tiny", **metadata})
    return reply


def texts(view):
    return [(m["role"], m["content"]) for m in view]


def test_a_new_discussion_is_a_draft_until_the_first_message(store, personality):
    session = session_for(store, personality)
    assert not session.stored and [m.kind for m in session.messages] == ["welcome"]
    assert store.list_discussions(owner=session.owner) == []
    question = session.add_user_message("What is the capital of France?")
    (record,) = store.list_discussions(owner=session.owner)
    assert session.stored and record.id == session.discussion_id
    assert record.title == "What is the capital of France?"  # the automatic title
    assert record.personality == PERSONALITY
    assert [m.content for m in store.messages(record.id, owner=session.owner)] == [
        session.messages[0].content,
        "What is the capital of France?",
    ]
    assert question.parent_id == session.messages[0].id


def test_reopening_shows_what_the_user_last_saw(store, personality):
    session = session_for(store, personality)
    question = session.add_user_message("Hi")
    first = answer(session, question, "Hello there.")
    answer(session, session.find(question.id), "Hi!")
    session.switch_version(session.messages[-1].id, -1)
    assert session.messages[-1].content == "Hello there." and session.focus_id == first.id
    elsewhere = ChatSession(personality_id=PERSONALITY)
    elsewhere.attach(store, session.owner)
    elsewhere.open(session.discussion_id)
    assert [(m.content, m.version, m.versions) for m in elsewhere.messages][1:] == [
        ("Hi", 1, 1),
        ("Hello there.", 1, 2),
    ]
    assert elsewhere.started_at == session.started_at.replace(microsecond=elsewhere.started_at.microsecond)


def test_an_edited_answer_keeps_its_earlier_text(store, personality):
    session = session_for(store, personality)
    question = session.add_user_message("Hi")
    reply = answer(session, question, "Helo.")
    session.edit_answer(reply.id, "Hello.")
    session.refresh()
    stored = session.find(reply.id)
    assert stored.content == "Hello."
    assert stored.metadata["edited"] is True
    assert [h["content"] for h in stored.metadata["edit_history"]] == ["Helo."]
    assert stored.metadata["model"] == "tiny"  # how it was made is still known
    with pytest.raises(SessionError, match="re-answered"):
        session.edit_answer(question.id, "Hey")


def test_delete_rate_and_focus(store, personality):
    session = session_for(store, personality)
    question = session.add_user_message("Hi")
    reply = answer(session, question, "Hello.")
    session.rate(reply.id, -1)
    session.refresh()
    assert session.find(reply.id).rating == -1
    assert session.focused().id == reply.id  # by default: the last answer
    session.delete_message(question.id)
    assert [m.kind for m in session.messages] == ["welcome"]
    assert len(store.messages(session.discussion_id, owner=session.owner)) == 1


def test_another_owner_cannot_open_it(store, personality):
    session = session_for(store, personality)
    session.add_user_message("private")
    intruder = ChatSession(personality_id=PERSONALITY)
    intruder.attach(store, "browser:" + "b" * 32)
    with pytest.raises(DiscussionNotFound):
        intruder.open(session.discussion_id)
    intruder.attach(store, "local", see_all=True)  # single-user mode
    intruder.open(session.discussion_id)
    assert intruder.messages[-1].content == "private"


def test_without_a_store_the_session_is_in_memory_only(personality):
    session = ChatSession(personality_id=PERSONALITY)
    session.new_discussion(personality)
    question = session.add_user_message("Hi")
    reply = answer(session, question, "Hello.")
    assert not session.persistent and [m.content for m in session.messages][1:] == ["Hi", "Hello."]
    assert reply.parent_id == question.id


def test_the_chat_view_shows_facts_versions_and_interruptions(store, personality):
    session = session_for(store, personality)
    question = session.add_user_message("Hi")
    answer(session, question, "Hello.")
    answer(session, session.find(question.id), "Hey.")
    view = texts(chat_view(session))
    assert view[0] == ("assistant", session.messages[0].content)  # the welcome: no facts line
    assert view[1] == ("user", "Hi")
    assert view[2] == ("assistant", "Hey.\n\n<sub>version 2/2 · 3 tokens · 12.5 tokens/s · tiny</sub>")
    assert versions_view(session.focused()) == ("answer **2/2**", True, False)
    # an answer saved mid-stream by a process that is gone is shown as interrupted
    partial = session.start_answer(session.find(question.id), "LoLLMs")
    session.save_partial(partial, "Half of")
    store.release(partial.id)  # what a restart looks like: nobody is writing it any more
    session.refresh()
    last = chat_view(session)[-1]["content"]
    assert last.startswith("Half of") and "Interrupted" in last
    assert strip_decorations(session.messages[-1], last) == "Half of"


def test_chat_view_positions_map_back_to_messages(store, personality):
    session = session_for(store, personality)
    question = session.add_user_message("Hi")
    reply = answer(session, question, "Hello.")
    assert message_at(session, 1).id == question.id
    assert message_at(session, -1).id == reply.id
    assert message_at(session, [2, 0]).id == reply.id
    for bad in (3, -4, None, "1"):
        with pytest.raises(SessionError):
            message_at(session, bad)


def test_a_long_discussion_shows_its_latest_messages_until_show_all(store, personality, monkeypatch):
    monkeypatch.setattr(render, "VIEW_WINDOW", 10)
    session = session_for(store, personality)
    parent = session.add_user_message("m0")
    for i in range(1, 30):
        parent = session._add(parent.id, NewMessage("u", "user" if i % 2 == 0 else "assistant", f"m{i}"))
    view = chat_view(session)
    assert len(view) == 11 and "21 earlier messages" in view[0]["content"]
    assert view[-1]["content"].startswith("m29")
    assert message_at(session, -1).content == "m29"
    with pytest.raises(SessionError):
        message_at(session, 0)  # the note is not a message
    session.show_all = True
    assert len(chat_view(session)) == 31


def test_each_stored_message_renders_through_one_function(store, personality):
    session = session_for(store, personality)
    question = session.add_user_message("Hi")
    error = session.add_error(question, "No model is loaded.")
    assert message_to_chat(error) == [{"role": "assistant", "content": "⚠️ No model is loaded."}]
    stopped = session.start_answer(session.find(question.id), "LoLLMs")
    session.finish_answer(stopped, "", {"stop_reason": "cancelled"})
    assert message_to_chat(stopped)[0]["content"].startswith("_(stopped before any text)_")


def test_an_answer_still_being_written_is_saved_where_it_belongs(store, personality):
    session = session_for(store, personality)
    question = session.add_user_message("First discussion")
    first_id = session.discussion_id
    streaming = session.start_answer(question, "LoLLMs")
    # the user moves on (New, or opens another discussion) while the answer is being written
    session.new_discussion(personality)
    session.add_user_message("Second discussion")
    session.save_partial(streaming, "half")
    session.finish_answer(streaming, "The whole answer.", {"completion_tokens": 3})
    first = store.messages(first_id, owner=session.owner)
    assert [(m.content, m.incomplete) for m in first[1:]] == [("First discussion", False), ("The whole answer.", False)]
    second = store.messages(session.discussion_id, owner=session.owner)
    assert [m.content for m in second[1:]] == ["Second discussion"]
    assert [m.content for m in session.messages[1:]] == ["Second discussion"]
