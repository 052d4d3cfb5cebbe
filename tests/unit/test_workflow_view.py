"""Events -> stored metadata -> chatbot messages, without a model (the same path live and reopened)."""

from gradio_app.session import ChatSession, Message
from gradio_app.ui.render import chat_view
from gradio_app.ui.workflow_view import assistant_messages, live_messages, progress_bar
from gradio_app.workflows import events as ev
from gradio_app.workflows.transcript import Transcript, append_only


def fold(*events):
    t = Transcript()
    for e in events:
        t.apply(e)
    return t


def test_steps_nest_and_carry_status_duration_progress_and_titles():
    t = fold(
        ev.StepStart("a", "Level 1"),
        ev.StepStart("b", "Thought 1", parent_id="a"),
        ev.StepText("b", "an idea"),
        ev.StepEnd("b", "done", 1.25),
        ev.StepTitle("b", "Thought 1 ✅ chosen"),
        ev.StepStart("c", "Painting", parent_id="a"),
        ev.StepProgress("c", 3, 10, "steps"),
        ev.StepStart("orphan", "Orphan", parent_id="nowhere"),
        ev.TextChunk("Hello"),
        ev.TextChunk(" world"),
    )
    view = live_messages(t)
    a, b, c, orphan, answer = view
    assert a["metadata"] == {"title": "Level 1", "id": "a", "status": "pending"}
    assert b["metadata"] == {
        "title": "Thought 1 ✅ chosen",
        "id": "b",
        "status": "done",
        "parent_id": "a",
        "duration": 1.2,
    }
    assert b["content"] == "an idea"
    assert c["metadata"]["log"] == "3/10 steps" and c["metadata"]["status"] == "pending"
    assert c["content"].startswith(f"`{progress_bar(3, 10)}` 3/10")
    assert "parent_id" not in orphan["metadata"]  # an unknown parent is not invented
    assert answer == {"role": "assistant", "content": "Hello world"}


def test_closing_marks_pending_steps_and_the_view_says_so():
    t = fold(ev.StepStart("a", "Searching"), ev.StepStart("b", "Reading", parent_id="a"), ev.StepEnd("b"))
    t.close_open_steps("cancelled")
    meta = t.metadata()
    assert [s["status"] for s in meta["steps"]] == ["cancelled", "done"]
    first = assistant_messages("", meta)[0]
    assert first["metadata"]["title"] == "⏹️ Searching" and first["metadata"]["log"] == "stopped"
    assert first["metadata"]["status"] == "done"  # Gradio knows pending/done only: no spinner left
    t2 = fold(ev.StepStart("x", "Fetching"))
    t2.close_open_steps("failed")
    assert assistant_messages("", t2.metadata())[0]["metadata"]["title"] == "❌ Fetching"


def test_notices_images_sources_and_a_missing_image(tmp_path):
    image = tmp_path / "a.png"
    image.write_bytes(b"\x89PNG")
    t = fold(
        ev.Notice("warning", "Setting x was bad"),
        ev.Notice("info", "line one\nline two"),
        ev.TextReplace("The answer [1]"),
        ev.ImageOut(str(image), "a cat", {"seed": 3}),
        ev.ImageOut(str(tmp_path / "gone.png"), "gone"),
        ev.Sources([{"index": 1, "title": "Example", "url": "https://example.org", "passage": "text  here"}]),
        ev.Sources([{"index": 2, "title": "Local", "url": "file:///etc/passwd", "passage": ""}]),
    )
    meta = t.metadata()
    assert meta["images"][0] == {"seed": 3, "path": str(image), "caption": "a cat"}
    view = assistant_messages(t.answer, meta)
    titles = [m["metadata"]["title"] for m in view if m.get("metadata")]
    assert titles[:2] == ["⚠️ Setting x was bad", "ℹ️ line one"]
    assert view[1]["content"] == "line one\nline two"
    assert {"role": "assistant", "content": "The answer [1]"} in view
    assert {"role": "assistant", "content": {"path": str(image), "alt_text": "a cat"}} in view
    assert {"role": "assistant", "content": "_(image gone.png is no longer on disk)_"} in view
    sources = view[-1]
    assert sources["metadata"]["title"] == "📚 Sources (2)"
    assert "[Example](https://example.org)" in sources["content"] and "> text here" in sources["content"]
    assert "(file:///etc/passwd)" not in sources["content"]  # only web links become links


def test_a_reopened_discussion_renders_like_the_live_turn():
    t = fold(ev.StepStart("a", "Think"), ev.StepText("a", "hmm"), ev.StepEnd("a", "done", 2.0), ev.TextChunk("Yes."))
    session = ChatSession(personality_id="x")
    session.messages = [
        Message("user", "Q?"),
        Message("assistant", "Yes.", metadata={"stop_reason": "done", **t.metadata()}),
    ]
    view = chat_view(session)
    assert view[0] == {"role": "user", "content": "Q?"}
    assert view[1]["metadata"]["title"] == "Think" and view[1]["content"] == "hmm"
    assert view[2] == {"role": "assistant", "content": "Yes."}
    assert view[1:] == assistant_messages("Yes.", session.messages[1].metadata)


def test_plain_messages_stay_plain_and_a_live_scripted_answer_shows_its_steps_while_waiting():
    steps = fold(ev.StepStart("a", "Think"), ev.StepText("a", "hmm")).metadata()
    session = ChatSession(personality_id="x")
    session.messages = [
        Message("assistant", "Welcome", kind="welcome"),
        Message("assistant", "bad", kind="error"),
        Message("assistant", "", metadata=steps, live=True),
    ]
    view = chat_view(session, "⏳ _Thinking…_")
    assert view[:2] == [{"role": "assistant", "content": "Welcome"}, {"role": "assistant", "content": "⚠️ bad"}]
    assert view[2]["metadata"]["title"] == "Think" and view[2]["metadata"]["status"] == "pending"
    assert view[3] == {"role": "assistant", "content": "⏳ _Thinking…_"}


def test_waiting_shows_the_queue_position_until_text_comes():
    t = fold(ev.StepStart("a", "Think"), ev.Waiting(2))
    assert live_messages(t)[-1]["content"] == "⏳ _Waiting for the model: 2 request(s) ahead…_"
    t.apply(ev.TextChunk("Hi"))
    assert live_messages(t)[-1]["content"] == "Hi"


def test_append_only_turns_replacements_into_appends():
    events = [
        ev.TextChunk("Hel"),
        ev.StepStart("a", "x"),
        ev.TextChunk("lo"),
        ev.TextReplace("Hello, world"),
        ev.TextReplace("Bye"),  # cannot be expressed as an append: held back
        ev.Done("Hello, world!\n\nfacts", {}),
    ]
    out = list(append_only(events))
    text = "".join(e.text for e in out if isinstance(e, ev.TextChunk))
    assert text == "Hello, world!\n\nfacts"
    assert isinstance(out[-1], ev.Done) and any(isinstance(e, ev.StepStart) for e in out)
