"""Discussion tab: the discussions list (left), the chat and its message actions (right).

Only translation lives here: widget events -> ChatSession / WorkflowRunner / export calls ->
component values. Every action the UI offers also has an API name, so gradio_client (and the
tests) can drive it; API actions address messages by their position in the chat view.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from gradio_app.context import AppContext
from gradio_app.discussions.export import FORMATS, write_export
from gradio_app.discussions.imports import ImportFormatError, import_bytes
from gradio_app.discussions.ownership import browser_id_or_new, browser_state_secret
from gradio_app.discussions.store import StoreError
from gradio_app.personalities.schema import PersonalityError
from gradio_app.session import ChatSession
from gradio_app.ui.pacing import UpdatePacer
from gradio_app.ui.render import (
    chat_view,
    discussion_choices,
    header_view,
    hidden_messages,
    message_at,
    strip_decorations,
    versions_view,
)
from gradio_app.workflows.events import Done, ErrorOut, Event, Idle, Waiting

# At most this many UI updates per second while streaming: a fast model must not flood the browser
# (and fewer in a long chat, where each update costs the server more: see UpdatePacer).
UPDATES_PER_SECOND = 20
CHAT_CONCURRENCY = 16
BROWSER_ID_KEY = "personalities-webui-browser-id"
EXPORT_DIR = Path(tempfile.gettempdir()) / "personalities-webui-exports"
RATINGS = {"up": 1, "down": -1, "none": None, "": None}


@dataclass
class DiscussionTab:
    header: gr.Markdown
    chatbot: gr.Chatbot
    textbox: gr.Textbox
    send: gr.Button
    stop: gr.Button
    new: gr.Button
    listing: gr.Radio
    title: gr.Textbox
    versions: gr.Markdown
    prev: gr.Button
    next: gr.Button
    show_all: gr.Button
    browser_id: gr.BrowserState

    @property
    def side(self) -> list[Any]:
        """What `side_view()` updates: the list, the title, the version controls, "Show all"."""
        return [self.listing, self.title, self.versions, self.prev, self.next, self.show_all]


# -- translations shared with ui/app.py --------------------------------------------------------------
def current_header(ctx: AppContext, session: ChatSession) -> str:
    try:
        personality = ctx.zoo.get(session.personality_id)
    except PersonalityError:
        personality = None
    return header_view(personality, ctx.service.info)


def bind_owner(
    ctx: AppContext, session: ChatSession, request: gr.Request | None, browser_id: str | None = None
) -> None:
    """Tie the session to its owner (the signed-in user, this browser, or the local user)."""
    username = getattr(request, "username", None) if request is not None else None
    owner = ctx.ownership.owner_for(username, browser_id, current=session.owner)
    session.attach(ctx.store, owner, see_all=ctx.ownership.mode == "single")


def discussions_of(ctx: AppContext, session: ChatSession, query: str = "") -> list[tuple[str, str]]:
    if not session.persistent or ctx.store is None:
        return []
    records = ctx.store.search(query, owner=session.scope) if query.strip() else None
    if records is None:
        records = ctx.store.list_discussions(owner=session.scope)
    return discussion_choices(records)


def side_view(ctx: AppContext, session: ChatSession, query: str = "") -> list[Any]:
    label, can_prev, can_next = versions_view(session.focused())
    stepping = bool(label)  # the ‹ n/m › controls only show for a message with other versions
    choices = discussions_of(ctx, session, query)
    current = session.discussion_id if session.stored and any(v == session.discussion_id for _, v in choices) else None
    return [
        gr.update(choices=choices, value=current),
        session.title if session.stored else "",
        gr.update(value=label, visible=stepping),
        gr.update(interactive=can_prev, visible=stepping),
        gr.update(interactive=can_next, visible=stepping),
        gr.update(visible=hidden_messages(session) > 0),
    ]


def page_view(ctx: AppContext, session: ChatSession) -> list[Any]:
    """[chatbot, header] for the discussion shown."""
    return [chat_view(session), current_header(ctx, session)]


def stream_chat(session: ChatSession, events: Iterator[Event]) -> Iterator[list[dict[str, Any]]]:
    """Chatbot values while a turn runs, at most UPDATES_PER_SECOND and fewer when updates are
    costly (a long chat: see UpdatePacer); the last one is always sent. A change the pacer held
    back goes out at the next event, `Idle` included: a workflow waiting on something slow (a page
    fetch, a paint) still shows the step it just started."""
    pacer, waiting, held = UpdatePacer(max_per_second=UPDATES_PER_SECOND), None, False
    for event in events:
        if isinstance(event, Waiting):
            # a waiting request reports its place 4 times a second: only a new place is worth an
            # update (8 users waiting would otherwise take CPU from the model for nothing)
            shown = waiting
            waiting = (
                "⏳ _Thinking…_" if event.ahead <= 0 else f"⏳ _Waiting for the model: {event.ahead} request(s) ahead…_"
            )
            held = held or waiting != shown
        elif isinstance(event, (Done, ErrorOut)):
            break
        elif not isinstance(event, Idle):  # text, or a workflow's steps, images, sources (the live message)
            waiting, held = None, True
        if held and pacer.due():
            with pacer.sending():
                yield chat_view(session, waiting)
            held = False
    yield chat_view(session)


def stream_turn(ctx: AppContext, session: ChatSession, text: str) -> Iterator[list[dict[str, Any]]]:
    """Chatbot values for one new message (kept for callers of the previous API)."""
    yield from stream_chat(session, ctx.runner.run_turn(session, text))


def _refused(e: Exception) -> gr.Error:
    return gr.Error(str(e))


def _text_of(value: Any) -> str:
    """Chatbot edit values come as text, or as a list of content parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return str(value.get("text", value.get("content", "")))
    if isinstance(value, list):
        return "".join(_text_of(part) for part in value)
    return str(value or "")


# -- the tab ----------------------------------------------------------------------------------------
def build(ctx: AppContext, state: gr.State, concurrency: int = CHAT_CONCURRENCY) -> DiscussionTab:
    secret = browser_state_secret(ctx.paths.browser_secret)
    browser_id = gr.BrowserState(None, storage_key=BROWSER_ID_KEY, secret=secret)
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=250, elem_id="discussions-sidebar"):
            new = gr.Button("New discussion", variant="secondary", size="sm")
            search = gr.Textbox(
                show_label=False, placeholder="Search titles and messages…", max_lines=1, elem_id="discussion-search"
            )
            listing = gr.Radio([], label="Your discussions", elem_id="discussion-list")
            with gr.Accordion("This discussion", open=False):
                title = gr.Textbox(label="Title", max_lines=1)
                rename = gr.Button("Rename", size="sm")
                delete = gr.Button("Delete discussion", variant="stop", size="sm")
                with gr.Group(visible=False) as confirm_box:
                    confirm_text = gr.Markdown()
                    with gr.Row():
                        confirm = gr.Button("Yes, delete it", variant="stop", size="sm")
                        cancel = gr.Button("Keep it", size="sm")
            with gr.Accordion("Export / import", open=False):
                export_format = gr.Radio(list(FORMATS), value="json", label="Format")
                with gr.Row():
                    export_one = gr.Button("Export this", size="sm")
                    export_all = gr.Button("Export all", size="sm")
                export_file = gr.File(label="Download", interactive=False, height=80)
                upload = gr.UploadButton("Import (.json)", file_types=[".json"], size="sm")
            status = gr.Markdown(elem_id="discussion-status")
        with gr.Column(scale=4):
            header = gr.Markdown()
            chatbot = gr.Chatbot(
                label="Discussion",
                height=560,
                buttons=["copy", "copy_all"],
                feedback_options=("Like", "Dislike"),
                editable="all",
                layout="bubble",
                placeholder="Start the discussion below.",
                elem_id="chat",
            )
            with gr.Row(elem_id="message-actions"):
                prev = gr.Button("‹", size="sm", scale=0, min_width=36, visible=False, elem_id="version-prev")
                versions = gr.Markdown(elem_id="version-label", container=False, visible=False)
                nxt = gr.Button("›", size="sm", scale=0, min_width=36, visible=False, elem_id="version-next")
                continue_btn = gr.Button("Continue", size="sm", scale=0, min_width=90)
                delete_message = gr.Button("Delete message", size="sm", scale=0, min_width=120)
                show_all = gr.Button("Show all messages", size="sm", scale=0, min_width=140, visible=False)
            with gr.Row():
                textbox = gr.Textbox(
                    show_label=False, placeholder="Type your message and press Enter…", lines=2, max_lines=12, scale=8
                )
                with gr.Column(scale=1, min_width=120):
                    send = gr.Button("Send", variant="primary")
                    stop = gr.Button("Stop", variant="stop")
    # API-only inputs and triggers (never shown): discussion ids, view positions, texts.
    with gr.Group(visible=False):
        api_id = gr.Textbox(visible=False)
        api_index = gr.Number(visible=False, precision=0)
        api_step = gr.Number(visible=False, precision=0)
        api_text = gr.Textbox(visible=False)
        api_listing = gr.JSON(visible=False)
        api_buttons = {name: gr.Button(visible=False) for name in _API_ACTIONS}
    tab = DiscussionTab(
        header, chatbot, textbox, send, stop, new, listing, title, versions, prev, nxt, show_all, browser_id
    )
    side = tab.side

    # -- chatting ----------------------------------------------------------------------------
    def on_send(text: str, session: ChatSession, request: gr.Request) -> Iterator[tuple[Any, str]]:
        bind_owner(ctx, session, request)
        if not text or not text.strip():
            gr.Warning("Type a message first.")
            yield chat_view(session), text
            return
        for view in stream_chat(session, ctx.runner.run_turn(session, text)):
            yield view, ""

    def on_stop(session: ChatSession) -> None:
        session.cancel.set()

    def on_regenerate(session: ChatSession, request: gr.Request) -> Iterator[Any]:
        bind_owner(ctx, session, request)
        yield from stream_chat(session, ctx.runner.regenerate(session))

    def on_continue(session: ChatSession, request: gr.Request) -> Iterator[Any]:
        bind_owner(ctx, session, request)
        yield from stream_chat(session, ctx.runner.continue_answer(session))

    def edit(session: ChatSession, index: Any, shown: str) -> Iterator[Any]:
        try:
            message = message_at(session, index)
            text = strip_decorations(message, shown)
            if not text:
                raise StoreError("A message cannot be empty; delete it instead.")
            if message.role == "user":
                yield from stream_chat(session, ctx.runner.edit_and_resend(session, message.id, text))
                return
            session.edit_answer(message.id, text)
        except StoreError as e:
            gr.Warning(str(e))
        yield chat_view(session)

    def on_edit(session: ChatSession, data: gr.EditData, request: gr.Request) -> Iterator[Any]:
        bind_owner(ctx, session, request)
        yield from edit(session, data.index, _text_of(data.value))

    def api_edit(index: float, text: str, session: ChatSession, request: gr.Request) -> Iterator[Any]:
        bind_owner(ctx, session, request)
        yield from edit(session, int(index), text)

    def rate(session: ChatSession, index: Any, rating: int | None) -> None:
        try:
            session.rate(message_at(session, index).id, rating)
        except StoreError as e:
            raise _refused(e) from e

    def on_like(session: ChatSession, data: gr.LikeData, request: gr.Request) -> Any:
        bind_owner(ctx, session, request)
        rate(session, data.index, {True: 1, False: -1}.get(data.liked))  # type: ignore[call-overload]
        return chat_view(session)  # the facts line shows the rating (also after reopening)

    def api_rate(index: float, rating: str, session: ChatSession, request: gr.Request) -> Any:
        bind_owner(ctx, session, request)
        if rating not in RATINGS:
            raise gr.Error("A rating is 'up', 'down' or 'none'.")
        rate(session, int(index), RATINGS[rating])
        return chat_view(session)

    def on_focus(session: ChatSession, data: gr.SelectData) -> list[Any]:
        try:
            session.focus_id = message_at(session, data.index).id
        except StoreError:
            session.focus_id = None
        return side_view(ctx, session)[2:5]

    def switch(session: ChatSession, message_id: str | None, step: int) -> list[Any]:
        try:
            if message_id is None:
                raise StoreError("Click a message that has other versions first.")
            session.switch_version(message_id, step)
        except StoreError as e:
            gr.Warning(str(e))
        return [chat_view(session), *side_view(ctx, session)]

    def on_version(step: int) -> Any:
        def handler(session: ChatSession, request: gr.Request) -> list[Any]:
            bind_owner(ctx, session, request)
            focused = session.focused()
            return switch(session, focused.id if focused else None, step)

        return handler

    def api_switch(index: float, step: float, session: ChatSession, request: gr.Request) -> list[Any]:
        bind_owner(ctx, session, request)
        try:
            message = message_at(session, int(index))
        except StoreError as e:
            raise _refused(e) from e
        return switch(session, message.id, 1 if step > 0 else -1)

    def delete_at(session: ChatSession, message_id: str | None) -> list[Any]:
        try:
            if message_id is None:
                raise StoreError("There is no message to delete.")
            session.delete_message(message_id)
        except StoreError as e:
            gr.Warning(str(e))
        return [chat_view(session), *side_view(ctx, session)]

    def on_delete_message(session: ChatSession, request: gr.Request) -> list[Any]:
        bind_owner(ctx, session, request)
        focused = session.focused()
        return delete_at(session, focused.id if focused else None)

    def api_delete_message(index: float, session: ChatSession, request: gr.Request) -> list[Any]:
        bind_owner(ctx, session, request)
        try:
            message = message_at(session, int(index))
        except StoreError as e:
            raise _refused(e) from e
        return delete_at(session, message.id)

    def on_undo(session: ChatSession, data: gr.UndoData, request: gr.Request) -> list[Any]:
        """Undo the last exchange: it is deleted and the message goes back into the textbox."""
        bind_owner(ctx, session, request)
        try:
            message = message_at(session, data.index)
        except StoreError:
            return [chat_view(session), gr.update(), *side_view(ctx, session)]
        text = message.content if message.role == "user" else ""
        return [*delete_at(session, message.id)[:1], text, *side_view(ctx, session)]

    def on_show_all(session: ChatSession) -> list[Any]:
        session.show_all = True
        return [chat_view(session), *side_view(ctx, session)]

    # -- discussions ---------------------------------------------------------------------------
    def start_new(session: ChatSession) -> None:
        session.cancel.set()  # leaving a discussion stops what is being written in it
        try:
            session.new_discussion(ctx.zoo.get(session.personality_id))
        except PersonalityError as e:
            gr.Warning(str(e))

    def on_new(session: ChatSession, request: gr.Request) -> list[Any]:
        bind_owner(ctx, session, request)
        start_new(session)
        return page_view(ctx, session)

    def open_discussion(discussion_id: str, session: ChatSession, request: gr.Request) -> list[Any]:
        bind_owner(ctx, session, request)
        if not session.persistent:
            raise gr.Error("Discussions are not saved in this session.")
        session.cancel.set()
        try:
            session.open(discussion_id)
        except StoreError as e:
            raise _refused(e) from e
        return [*page_view(ctx, session), *side_view(ctx, session)]

    def on_pick(discussion_id: str, session: ChatSession, request: gr.Request) -> list[Any]:
        return open_discussion(discussion_id, session, request)

    def on_search(query: str, session: ChatSession, request: gr.Request) -> Any:
        bind_owner(ctx, session, request)
        return side_view(ctx, session, query)[0]

    def api_list(query: str, session: ChatSession, request: gr.Request) -> list[dict[str, Any]]:
        bind_owner(ctx, session, request)
        return [{"id": value, "label": label} for label, value in discussions_of(ctx, session, query or "")]

    def rename_discussion(discussion_id: str, new_title: str, session: ChatSession) -> list[Any]:
        try:
            if ctx.store is None or not session.persistent:
                raise StoreError("Discussions are not saved in this session.")
            if discussion_id == session.discussion_id and session.stored:
                session.rename(new_title)
            else:
                ctx.store.rename(discussion_id, new_title, owner=session.scope)
        except StoreError as e:
            raise _refused(e) from e
        return side_view(ctx, session)

    def on_rename(new_title: str, session: ChatSession, request: gr.Request) -> list[Any]:
        bind_owner(ctx, session, request)
        if not session.stored:
            raise gr.Error("Send a first message: the discussion is saved (and can be renamed) from then on.")
        return rename_discussion(session.discussion_id, new_title, session)

    def api_rename(discussion_id: str, new_title: str, session: ChatSession, request: gr.Request) -> list[Any]:
        bind_owner(ctx, session, request)
        return rename_discussion(discussion_id, new_title, session)

    def delete_discussion(discussion_id: str, session: ChatSession) -> list[Any]:
        try:
            if ctx.store is None or not session.persistent:
                raise StoreError("Discussions are not saved in this session.")
            ctx.store.delete_discussion(discussion_id, owner=session.scope)
        except StoreError as e:
            raise _refused(e) from e
        if discussion_id == session.discussion_id:
            start_new(session)
        return [*page_view(ctx, session), *side_view(ctx, session), gr.update(visible=False)]

    def on_delete(session: ChatSession) -> list[Any]:
        if not session.stored:
            gr.Warning("This discussion is not saved yet: there is nothing to delete.")
            return [gr.update(visible=False), ""]
        return [gr.update(visible=True), f"Delete **{session.title}** and all its messages for good?"]

    def on_confirm(session: ChatSession, request: gr.Request) -> list[Any]:
        bind_owner(ctx, session, request)
        if not session.stored:
            return [*page_view(ctx, session), *side_view(ctx, session), gr.update(visible=False)]
        return delete_discussion(session.discussion_id, session)

    def api_delete(discussion_id: str, session: ChatSession, request: gr.Request) -> list[Any]:
        bind_owner(ctx, session, request)
        return delete_discussion(discussion_id, session)

    # -- export / import -------------------------------------------------------------------------
    def export(session: ChatSession, discussion_ids: list[str] | None, fmt: str) -> str:
        if ctx.store is None or not session.persistent:
            raise gr.Error("Discussions are not saved in this session.")
        if fmt not in FORMATS:
            raise gr.Error(f"The export format is one of: {', '.join(FORMATS)}.")
        folder = Path(tempfile.mkdtemp(prefix="export-", dir=_export_dir()))
        try:
            path = write_export(
                ctx.store, discussion_ids, owner=session.scope, fmt=fmt, outputs=ctx.paths.outputs, folder=folder
            )
        except StoreError as e:
            raise _refused(e) from e
        return str(path)

    def on_export_one(fmt: str, session: ChatSession, request: gr.Request) -> str:
        bind_owner(ctx, session, request)
        if not session.stored:
            raise gr.Error("This discussion is not saved yet: send a first message.")
        return export(session, [session.discussion_id], fmt)

    def api_export(discussion_id: str, fmt: str, session: ChatSession, request: gr.Request) -> str:
        bind_owner(ctx, session, request)
        return export(session, [discussion_id or session.discussion_id], fmt)

    def on_export_all(fmt: str, session: ChatSession, request: gr.Request) -> str:
        bind_owner(ctx, session, request)
        return export(session, None, fmt)

    def on_import(file: Any, session: ChatSession, request: gr.Request) -> list[Any]:
        bind_owner(ctx, session, request)
        if ctx.store is None or not session.persistent or session.owner is None:
            raise gr.Error("Discussions are not saved in this session.")
        path = Path(getattr(file, "name", file) or "")
        try:
            data = path.read_bytes()
            result = import_bytes(
                ctx.store,
                data,
                owner=session.owner,
                outputs=ctx.paths.outputs,
                default_personality=ctx.settings.default_personality,
            )
        except (ImportFormatError, StoreError, OSError) as e:
            raise gr.Error(f"Nothing was imported: {e}") from e
        return [f"✅ {result.summary}", *side_view(ctx, session)]

    # -- wiring ------------------------------------------------------------------------------------
    # Many chats may be in flight at once; GenerationService queues them fairly in front of the
    # model (and tells each its position), so Gradio's own limit here is only a safety net.
    chat = {"concurrency_limit": concurrency, "concurrency_id": "chat"}
    hidden: dict[str, Any] = {"api_visibility": "private"}

    def refresh(session: ChatSession) -> list[Any]:
        return side_view(ctx, session)

    def then_side(event: Any) -> None:
        event.then(refresh, state, side, **hidden)

    then_side(send.click(on_send, [textbox, state], [chatbot, textbox], api_name="send", **chat))
    then_side(textbox.submit(on_send, [textbox, state], [chatbot, textbox], **hidden, **chat))
    stop.click(on_stop, state, None, api_name="stop", queue=False)
    then_side(new.click(on_new, state, [chatbot, header], api_name="new_discussion"))
    then_side(chatbot.retry(on_regenerate, state, chatbot, api_name="regenerate", **chat))
    then_side(continue_btn.click(on_continue, state, chatbot, api_name="continue", **chat))
    then_side(chatbot.edit(on_edit, state, chatbot, **hidden, **chat))
    then_side(
        api_buttons["edit"].click(api_edit, [api_index, api_text, state], chatbot, api_name="edit_message", **chat)
    )
    chatbot.like(on_like, state, chatbot, **hidden)
    api_buttons["rate"].click(api_rate, [api_index, api_text, state], chatbot, api_name="rate_message")
    chatbot.select(on_focus, state, side[2:5], **hidden)
    chatbot.undo(on_undo, state, [chatbot, textbox, *side], **hidden)
    prev.click(on_version(-1), state, [chatbot, *side], **hidden)
    nxt.click(on_version(1), state, [chatbot, *side], **hidden)
    api_buttons["switch"].click(api_switch, [api_index, api_step, state], [chatbot, *side], api_name="switch_version")
    delete_message.click(on_delete_message, state, [chatbot, *side], **hidden)
    api_buttons["delete_message"].click(
        api_delete_message, [api_index, state], [chatbot, *side], api_name="delete_message"
    )
    show_all.click(on_show_all, state, [chatbot, *side], **hidden)
    # The chatbot's own "clear" (trash) button: a new discussion (the old one stays saved).
    then_side(chatbot.clear(on_new, state, [chatbot, header], **hidden))

    opened = [chatbot, header, *side]
    api_buttons["open"].click(open_discussion, [api_id, state], opened, api_name="open_discussion")
    listing.input(on_pick, [listing, state], opened, **hidden)
    search.input(on_search, [search, state], listing, trigger_mode="always_last", **hidden)
    api_buttons["list"].click(api_list, [api_text, state], api_listing, api_name="list_discussions")
    rename.click(on_rename, [title, state], side, **hidden)
    title.submit(on_rename, [title, state], side, **hidden)
    api_buttons["rename"].click(api_rename, [api_id, api_text, state], side, api_name="rename_discussion")
    delete.click(on_delete, state, [confirm_box, confirm_text], **hidden)
    cancel.click(lambda: gr.update(visible=False), None, confirm_box, **hidden)
    confirm.click(on_confirm, state, [*opened, confirm_box], **hidden)
    api_buttons["delete"].click(api_delete, [api_id, state], [*opened, confirm_box], api_name="delete_discussion")
    export_one.click(on_export_one, [export_format, state], export_file, **hidden)
    export_all.click(on_export_all, [export_format, state], export_file, api_name="export_all")
    api_buttons["export"].click(api_export, [api_id, api_text, state], export_file, api_name="export_discussion")
    upload.upload(on_import, [upload, state], [status, *side], api_name="import_discussions")
    return tab


_API_ACTIONS = ("edit", "rate", "switch", "delete_message", "open", "list", "rename", "delete", "export")


def _export_dir() -> Path:
    """Downloads wait in the system temp folder (which Gradio may serve), never in the data folder;
    exports older than a day are cleared."""
    EXPORT_DIR.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - 86400
    for old in EXPORT_DIR.glob("export-*"):
        try:
            if old.stat().st_mtime < cutoff:
                for f in old.iterdir():
                    f.unlink(missing_ok=True)
                old.rmdir()
        except OSError:
            pass
    return EXPORT_DIR


def on_page_load(
    ctx: AppContext, session: ChatSession, browser_id: str | None, request: gr.Request | None
) -> tuple[str, list[Any]]:
    """A page (re)load: bind the owner (a new browser gets its id) and show a fresh discussion."""
    browser_id = browser_id_or_new(browser_id)
    bind_owner(ctx, session, request, browser_id)
    return browser_id, side_view(ctx, session)


__all__ = [
    "CHAT_CONCURRENCY",
    "UPDATES_PER_SECOND",
    "DiscussionTab",
    "bind_owner",
    "build",
    "current_header",
    "on_page_load",
    "side_view",
    "stream_chat",
    "stream_turn",
]
