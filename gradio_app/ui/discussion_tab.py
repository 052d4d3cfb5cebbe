"""Discussion tab: chat with the current personality (streaming, Stop, New discussion)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr

from gradio_app.context import AppContext
from gradio_app.personalities.schema import PersonalityError
from gradio_app.session import ChatSession
from gradio_app.ui.pacing import UpdatePacer
from gradio_app.ui.render import chat_view, header_view
from gradio_app.workflows.events import Done, ErrorOut, TextChunk, Waiting

# At most this many UI updates per second while streaming: a fast model must not flood the browser
# (and fewer in a long chat, where each update costs the server more: see UpdatePacer).
UPDATES_PER_SECOND = 20
CHAT_CONCURRENCY = 16


@dataclass
class DiscussionTab:
    header: gr.Markdown
    chatbot: gr.Chatbot
    textbox: gr.Textbox
    send: gr.Button
    stop: gr.Button
    new: gr.Button


def current_header(ctx: AppContext, session: ChatSession) -> str:
    try:
        personality = ctx.zoo.get(session.personality_id)
    except PersonalityError:
        personality = None
    return header_view(personality, ctx.service.info)


def stream_turn(ctx: AppContext, session: ChatSession, text: str) -> Iterator[list[dict[str, Any]]]:
    """Chatbot values for one turn, at most UPDATES_PER_SECOND and fewer when updates are costly
    (a long chat: see UpdatePacer); the last one is always sent."""
    answer, pacer = "", UpdatePacer(max_per_second=UPDATES_PER_SECOND)
    yield chat_view(session, pending="")
    for event in ctx.runner.run_turn(session, text):
        if isinstance(event, TextChunk):
            answer += event.text
            pending = answer
        elif isinstance(event, Waiting):
            pending = f"⏳ _Waiting for the model: {event.ahead} request(s) ahead…_"
        elif isinstance(event, (Done, ErrorOut)):
            break
        else:
            continue
        if pacer.due():
            with pacer.sending():
                yield chat_view(session, pending=pending)
    yield chat_view(session)


def build(ctx: AppContext, state: gr.State) -> DiscussionTab:
    header = gr.Markdown()
    chatbot = gr.Chatbot(
        label="Discussion",
        height=560,
        buttons=["copy", "copy_all"],
        feedback_options=None,
        layout="bubble",
        placeholder="Start the discussion below.",
    )
    with gr.Row():
        textbox = gr.Textbox(
            show_label=False, placeholder="Type your message and press Enter…", lines=2, max_lines=12, scale=8
        )
        with gr.Column(scale=1, min_width=120):
            send = gr.Button("Send", variant="primary")
            stop = gr.Button("Stop", variant="stop")
    new = gr.Button("New discussion", size="sm")
    tab = DiscussionTab(header, chatbot, textbox, send, stop, new)

    def on_send(text: str, session: ChatSession) -> Iterator[tuple[Any, str]]:
        if not text or not text.strip():
            gr.Warning("Type a message first.")
            yield chat_view(session), text
            return
        for view in stream_turn(ctx, session, text):
            yield view, ""

    def on_stop(session: ChatSession) -> None:
        session.cancel.set()

    def on_new(session: ChatSession) -> tuple[Any, str]:
        try:
            session.new_discussion(ctx.zoo.get(session.personality_id))
        except PersonalityError as e:
            gr.Warning(str(e))
        return chat_view(session), current_header(ctx, session)

    # Many chats may be in flight at once; GenerationService queues them fairly in front of the
    # model (and tells each its position), so Gradio's own limit here is only a safety net.
    chat = {"concurrency_limit": CHAT_CONCURRENCY, "concurrency_id": "chat"}
    send.click(on_send, [textbox, state], [chatbot, textbox], api_name="send", **chat)
    textbox.submit(on_send, [textbox, state], [chatbot, textbox], api_visibility="private", **chat)
    stop.click(on_stop, state, None, api_name="stop", queue=False)
    new.click(on_new, state, [chatbot, header], api_name="new_discussion")
    return tab
