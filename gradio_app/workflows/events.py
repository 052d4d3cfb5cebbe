"""Typed events a workflow emits while it runs; the UI renders them, the store persists them.

The default workflow emits Waiting, TextChunk and Done (or ErrorOut). Scripted workflows (a
personality's Processor) also emit steps, notices, images and sources, and Idle while they wait;
`workflows.transcript` folds any sequence of these into the answer text and the message metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STEP_STATUSES = ("pending", "done", "failed", "cancelled")
NOTICE_LEVELS = ("info", "warning", "error")


@dataclass(frozen=True)
class Waiting:
    """The request waits for the model; `ahead` requests are before it."""

    ahead: int


@dataclass(frozen=True)
class Idle:
    """Nothing new yet (a scripted workflow is busy): a chance for the consumer to send what it
    held back. Carries nothing and changes nothing."""


@dataclass(frozen=True)
class TextChunk:
    """More of the answer text."""

    text: str


@dataclass(frozen=True)
class TextReplace:
    """The whole answer text so far is replaced by `text` (Processor.full)."""

    text: str


@dataclass(frozen=True)
class StepStart:
    """A named step began; `parent_id` nests it inside another open step."""

    step_id: str
    title: str
    parent_id: str | None = None


@dataclass(frozen=True)
class StepText:
    """More text in a step's body (e.g. a generation streamed into the step)."""

    step_id: str
    text: str


@dataclass(frozen=True)
class StepProgress:
    """How far a long step is: `done` of `total` units (e.g. denoising steps), with a short note."""

    step_id: str
    done: int
    total: int
    note: str = ""


@dataclass(frozen=True)
class StepEnd:
    step_id: str
    status: str = "done"  # "done" | "failed" | "cancelled"
    duration_s: float = 0.0
    detail: str = ""  # appended to the step's body (e.g. why it failed)
    title: str | None = None  # a new title, e.g. "Thought 2 ✅ chosen"


@dataclass(frozen=True)
class StepTitle:
    """A step (open or ended) gets a new title, e.g. "Thought 2 ✅ chosen" once judged."""

    step_id: str
    title: str


@dataclass(frozen=True)
class Notice:
    """Something the user should know that is not the answer: info, a warning, a handled error."""

    level: str  # "info" | "warning" | "error"
    text: str


@dataclass(frozen=True)
class ImageOut:
    path: str
    caption: str = ""
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Sources:
    items: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ErrorOut:
    """Something went wrong; `message` is for the user. The discussion stays usable.

    `metadata` holds what a scripted workflow produced before failing (its steps), so the
    failed turn can be shown and stored like any other."""

    message: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Done:
    """The turn is finished; `content` is the final answer and `metadata` how it was made."""

    content: str
    metadata: dict[str, Any] = field(default_factory=dict)


Event = (
    Waiting
    | Idle
    | TextChunk
    | TextReplace
    | StepStart
    | StepText
    | StepProgress
    | StepEnd
    | StepTitle
    | Notice
    | ImageOut
    | Sources
    | ErrorOut
    | Done
)
