"""ChatSession: one browser's conversation state (who it talks to, the discussion, its settings)."""

from __future__ import annotations

import datetime as _dt
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from gradio_app.generation.params import GenerationParams
from gradio_app.personalities.personality import Personality
from gradio_app.personalities.prompt import PromptFormat, Turn
from gradio_app.personalities.schema import fill_placeholders

MessageKind = Literal["normal", "welcome", "error"]


@dataclass
class Message:
    role: Literal["user", "assistant"]
    content: str
    kind: MessageKind = "normal"
    metadata: dict[str, Any] = field(default_factory=dict)


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
    discussion_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        # Not a dataclass field: Gradio calls dataclasses.asdict() on State values, and an Event
        # cannot be copied. Stop sets it; the running generation checks it every token.
        self.cancel = threading.Event()

    def __deepcopy__(self, memo: dict[int, Any]) -> ChatSession:
        # Gradio deep-copies a State's initial value for every new browser session. A fresh session
        # with the same settings is the right copy (and threading.Event cannot be deep-copied).
        return ChatSession(
            personality_id=self.personality_id,
            override=self.override,
            user_params=self.user_params,
            prompt_format=self.prompt_format,
            messages=[Message(m.role, m.content, m.kind, dict(m.metadata)) for m in self.messages],
            started_at=self.started_at,
        )

    def new_discussion(self, personality: Personality) -> None:
        """Start over with `personality`; its welcome message opens the discussion."""
        self.personality_id = personality.id
        self.messages = []
        self.started_at = _dt.datetime.now()
        self.discussion_id = uuid.uuid4().hex
        welcome = fill_placeholders(personality.config.welcome_message, self.started_at).strip()
        if welcome:
            self.messages.append(Message("assistant", welcome, kind="welcome"))

    def history(self) -> list[Turn]:
        """The discussion as the prompt builder sees it (errors are not part of the conversation)."""
        return [Turn(m.role, m.content, m.kind == "welcome") for m in self.messages if m.kind != "error"]
