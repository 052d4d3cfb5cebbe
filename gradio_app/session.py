"""ChatSession: one browser's view of one discussion (who talks, with whom, which branch).

With a store and an owner the session is a view over a stored discussion: every change goes
to the DiscussionStore first and the view follows. A new discussion is a draft (its welcome
message only) until the first user message, so opening the page never litters the list with
empty discussions. Without a store (API calls, MCP tools) the session is a plain in-memory
conversation.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from gradio_app.discussions.store import BranchMessage, MessageRecord, NewMessage, StoreError, new_id
from gradio_app.discussions.titles import title_from
from gradio_app.generation.params import GenerationParams
from gradio_app.personalities.prompt import PromptFormat, Turn
from gradio_app.personalities.schema import fill_placeholders

if TYPE_CHECKING:
    from gradio_app.discussions.store import DiscussionStore
    from gradio_app.personalities.personality import Personality

MessageKind = Literal["normal", "welcome", "error"]
USER_SENDER = "user"


@dataclass
class Message:
    role: Literal["user", "assistant"]
    content: str
    kind: MessageKind = "normal"
    metadata: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_id)
    parent_id: str | None = None
    sender: str = ""
    rating: int | None = None
    incomplete: bool = False  # saved while streaming, not finished
    live: bool = False  # being written by this process right now
    version: int = 1  # place among its siblings (regenerations / edits), 1-based
    versions: int = 1
    discussion_id: str = ""  # set once stored: writes go there even if the view moved on

    @property
    def interrupted(self) -> bool:
        """Saved mid-stream and never finished: the app stopped while writing it."""
        return self.incomplete and not self.live

    @classmethod
    def from_branch(cls, item: BranchMessage, live: bool) -> Message:
        m: MessageRecord = item.message
        return cls(
            role=m.role,
            content=m.content,
            kind=m.kind,
            metadata=dict(m.metadata),
            id=m.id,
            parent_id=m.parent_id,
            sender=m.sender,
            rating=m.rating,
            incomplete=m.incomplete,
            live=live,
            version=item.version,
            versions=item.versions,
            discussion_id=m.discussion_id,
        )


log = logging.getLogger(__name__)


class SessionError(StoreError):
    """An action that does not apply here (e.g. continue when the last message is not an answer)."""


@dataclass
class ChatSession:
    """Per-browser state. Each browser gets its own copy (see __deepcopy__), so two browsers never
    share messages, and a Stop pressed in one only cancels that browser's generation."""

    personality_id: str
    override: bool = False
    user_params: GenerationParams = field(default_factory=GenerationParams)
    prompt_format: PromptFormat = "auto"
    messages: list[Message] = field(default_factory=list)
    started_at: _dt.datetime = field(default_factory=_dt.datetime.now)
    discussion_id: str = field(default_factory=new_id)
    stored: bool = False  # False: a draft, created in the store by the first user message
    title: str = ""
    owner: str | None = None
    see_all: bool = False  # single-user mode: the store is not filtered by owner
    focus_id: str | None = None  # the message the version/delete controls act on
    show_all: bool = False  # long discussions: render every message, not only the latest ones

    def __post_init__(self) -> None:
        # Not dataclass fields: Gradio calls dataclasses.asdict() on State values, and neither an
        # Event nor a database handle can be copied. Stop sets `cancel`; generation checks it.
        self.cancel = threading.Event()
        self.store: DiscussionStore | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> ChatSession:
        # Gradio deep-copies a State's initial value for every new browser session. A fresh session
        # with the same settings (and the same shared store) is the right copy.
        copy = ChatSession(
            personality_id=self.personality_id,
            override=self.override,
            user_params=self.user_params,
            prompt_format=self.prompt_format,
            messages=[Message(m.role, m.content, m.kind, dict(m.metadata), sender=m.sender) for m in self.messages],
            started_at=self.started_at,
        )
        copy.store = self.store
        return copy

    # -- where the discussion lives -------------------------------------------------------------
    def attach(self, store: DiscussionStore | None, owner: str | None, see_all: bool = False) -> None:
        """Store this session's discussions in `store` under `owner`."""
        if owner != self.owner and self.stored:
            self._reset_draft()
        self.store, self.owner, self.see_all = store, owner, see_all

    @property
    def persistent(self) -> bool:
        return self.store is not None and self.owner is not None

    @property
    def scope(self) -> str | None:
        """The owner filter for store queries (None: every discussion, single-user mode)."""
        return None if self.see_all else self.owner

    def _saved(self, message: Message) -> bool:
        """Whether `message` lives in the store (a draft's messages do not, yet)."""
        return self.persistent and bool(message.discussion_id)

    def _store(self) -> DiscussionStore:
        if self.store is None:
            raise SessionError("Discussions are not saved in this session.")
        return self.store

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """A store write. If the disk refuses it (read-only, full, gone), the discussion goes on in
        memory: the user is told in the discussion itself, and what was saved before stays."""
        try:
            yield
        except (sqlite3.Error, OSError) as e:
            problem = (
                f"This discussion can no longer be saved ({e}). It goes on in memory only and is lost when "
                "the app stops; everything saved before this message is kept."
            )
            log.error("discussion %s: %s", self.discussion_id, problem)
            self.store = None  # from here on every change stays in memory
            parent = self.messages[-1].id if self.messages else None
            self.messages.append(Message("assistant", problem, "error", parent_id=parent, sender="error"))

    def _reset_draft(self) -> None:
        self.messages = [m for m in self.messages[:1] if m.kind == "welcome"]
        self.discussion_id, self.stored, self.title, self.focus_id = new_id(), False, "", None

    def new_discussion(self, personality: Personality) -> None:
        """Start over with `personality`; its welcome message opens the (draft) discussion."""
        self.personality_id = personality.id
        self.messages = []
        self.started_at = _dt.datetime.now()
        self.discussion_id, self.stored, self.title, self.focus_id, self.show_all = new_id(), False, "", None, False
        welcome = fill_placeholders(personality.config.welcome_message, self.started_at).strip()
        if welcome:
            self.messages.append(Message("assistant", welcome, kind="welcome", sender=personality.name))

    def open(self, discussion_id: str) -> None:
        """Show a stored discussion (its current branch). Someone else's id is not found."""
        store = self._store()
        record, branch = store.branch(str(discussion_id), owner=self.scope)
        if self.discussion_id != record.id:
            self.focus_id, self.show_all = None, False
        self.discussion_id, self.stored, self.title = record.id, True, record.title
        self.personality_id = record.personality
        self.started_at = _dt.datetime.fromtimestamp(record.created)
        self.messages = [Message.from_branch(item, store.is_live(item.message.id)) for item in branch]

    def refresh(self) -> None:
        if self.stored:
            self.open(self.discussion_id)

    # -- reading the branch ----------------------------------------------------------------------
    def find(self, message_id: str | None) -> Message:
        for m in self.messages:
            if m.id == message_id:
                return m
        raise SessionError("That message is not in the discussion shown.")

    def history(self) -> list[Turn]:
        """The discussion as the prompt builder sees it (errors are not part of the conversation)."""
        return [Turn(m.role, m.content, m.kind == "welcome") for m in self.messages if m.kind != "error"]

    def history_before(self, message: Message) -> list[Turn]:
        index = self.messages.index(message)
        return [Turn(m.role, m.content, m.kind == "welcome") for m in self.messages[:index] if m.kind != "error"]

    def last_answer(self) -> Message | None:
        for m in reversed(self.messages):
            if m.role == "assistant" and m.kind != "welcome":
                return m
            if m.role == "user":
                return None
        return None

    def focused(self) -> Message | None:
        """The message the version and delete controls act on: the one the user clicked, else
        the latest message that has other versions, else the last answer."""
        if self.focus_id is not None:
            for m in self.messages:
                if m.id == self.focus_id:
                    return m
        for m in reversed(self.messages):
            if m.versions > 1:
                return m
        return self.last_answer()

    def _cut_after(self, message_id: str | None) -> None:
        """Keep the branch up to `message_id` (None: nothing) before adding below it."""
        if message_id is None:
            self.messages = []
            return
        index = self.messages.index(self.find(message_id))
        del self.messages[index + 1 :]

    # -- writing ------------------------------------------------------------------------------
    def _add(self, parent_id: str | None, new: NewMessage) -> Message:
        """Add a message below `parent_id` (the branch is cut there first) and show it."""
        self._cut_after(parent_id)
        if not self.persistent:
            message = Message(
                new.role,
                new.content,
                new.kind,
                dict(new.metadata),
                parent_id=parent_id,
                sender=new.sender,
                incomplete=new.incomplete,
                live=new.incomplete,
            )
            self.messages.append(message)
            return message
        store = self._store()
        with self._writing():
            if not self.stored:
                self._create(new)
                return self.messages[-1]
            record = store.add_message(self.discussion_id, parent_id, new, owner=self.scope)
            self.refresh()
            return self.find(record.id)
        # the store refused it: kept in memory, after the note that says so (see _writing)
        return self._add(self.messages[-1].id, new)

    def _create(self, first_user: NewMessage) -> None:
        """Store the draft: its messages (the welcome) and the first user message, atomically."""
        store, owner = self._store(), self.owner
        assert owner is not None
        first = [NewMessage(m.sender, m.role, m.content, m.kind, m.metadata) for m in self.messages]
        title = title_from(first_user.content) if first_user.role == "user" else "New discussion"
        record, _ = store.create_discussion(
            owner=owner,
            personality=self.personality_id,
            title=title,
            first=[*first, first_user],
            discussion_id=self.discussion_id,
            created=self.started_at.timestamp(),
        )
        self.open(record.id)

    def add_user_message(self, text: str, parent_id: str | None | Literal["last"] = "last") -> Message:
        """Store the user's message before anything is generated for it."""
        if parent_id == "last":
            parent_id = self.messages[-1].id if self.messages else None
        return self._add(parent_id, NewMessage(USER_SENDER, "user", text))

    def start_answer(self, question: Message, sender: str) -> Message:
        """An empty answer below `question`, saved as incomplete until `finish_answer`."""
        answer = self._add(question.id, NewMessage(sender, "assistant", "", incomplete=True))
        answer.live = True
        return answer

    def resume_answer(self, answer: Message) -> None:
        """Continue writing `answer` (Continue): incomplete again until finished."""
        answer.incomplete, answer.live = True, True
        if self._saved(answer):
            store = self._store()
            with self._writing():
                store.update_message(answer.discussion_id, answer.id, owner=self.scope, incomplete=True)
                store.mark_live(answer.id)

    def save_partial(self, answer: Message, content: str) -> None:
        """The streamed text so far, so a crash loses at most the last moments of it."""
        answer.content = content
        if self._saved(answer):
            with self._writing():
                self._store().update_message(
                    answer.discussion_id, answer.id, owner=self.scope, content=content, incomplete=True, touch=False
                )

    def finish_answer(
        self, answer: Message, content: str, metadata: dict[str, Any], kind: MessageKind = "normal"
    ) -> None:
        answer.content, answer.metadata, answer.kind = content, metadata, kind
        answer.incomplete = answer.live = False
        if self._saved(answer):
            with self._writing():
                self._store().update_message(
                    answer.discussion_id,
                    answer.id,
                    owner=self.scope,
                    content=content,
                    metadata=metadata,
                    kind=kind,
                    incomplete=False,
                )

    def add_error(self, question: Message | None, text: str) -> Message:
        """An error shown as the answer (kept in the discussion, never sent to the model)."""
        parent = question.id if question is not None else (self.messages[-1].id if self.messages else None)
        return self._add(parent, NewMessage("error", "assistant", text, kind="error"))

    def edit_answer(self, message_id: str, text: str) -> Message:
        """An AI message edited by the user: changed in place, earlier texts kept in metadata."""
        message = self.find(message_id)
        if message.role != "assistant":
            raise SessionError("Only an AI message is edited in place; a user message is re-answered.")
        if text == message.content:
            return message
        history = [*message.metadata.get("edit_history", []), {"content": message.content, "edited_at": time.time()}]
        metadata = {**message.metadata, "edited": True, "edit_history": history}
        message.content, message.metadata = text, metadata
        if self._saved(message):
            self._store().update_message(
                message.discussion_id, message.id, owner=self.scope, content=text, metadata=metadata
            )
        return message

    def rate(self, message_id: str, rating: int | None) -> None:
        message = self.find(message_id)
        if self._saved(message):
            self._store().rate(message.discussion_id, message.id, rating, owner=self.scope)
        message.rating = rating

    def delete_message(self, message_id: str) -> None:
        """Delete a message and what follows it on every branch below it."""
        message = self.find(message_id)
        if self.persistent and self.stored:
            self._store().delete_message(self.discussion_id, message.id, owner=self.scope)
            self.refresh()
        else:
            del self.messages[self.messages.index(message) :]
        if self.focus_id == message_id:
            self.focus_id = None

    def switch_version(self, message_id: str, step: int) -> None:
        """Show another version (sibling) of a message; the branch below follows it."""
        message = self.find(message_id)
        if not (self.persistent and self.stored):
            return
        chosen = self._store().switch_version(self.discussion_id, message.id, step, owner=self.scope)
        self.refresh()
        self.focus_id = chosen

    def rename(self, title: str) -> None:
        if not (self.persistent and self.stored):
            raise SessionError("Send a first message: the discussion is saved (and can be renamed) from then on.")
        self.title = self._store().rename(self.discussion_id, title, owner=self.scope).title
