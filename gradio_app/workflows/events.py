"""Typed events a workflow emits while it runs; the UI renders them, the store persists them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Waiting:
    """The request waits for the model; `ahead` requests are before it."""

    ahead: int


@dataclass(frozen=True)
class TextChunk:
    """More of the answer text."""

    text: str


@dataclass(frozen=True)
class StepStart:
    step_id: str
    title: str


@dataclass(frozen=True)
class StepEnd:
    step_id: str
    status: str = "done"  # "done" | "failed" | "cancelled"
    duration_s: float = 0.0
    detail: str = ""


@dataclass(frozen=True)
class ImageOut:
    path: str
    caption: str = ""


@dataclass(frozen=True)
class Sources:
    items: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class ErrorOut:
    """Something went wrong; `message` is for the user. The discussion stays usable."""

    message: str


@dataclass(frozen=True)
class Done:
    """The turn is finished; `content` is the final answer and `metadata` how it was made."""

    content: str
    metadata: dict[str, Any] = field(default_factory=dict)


Event = Waiting | TextChunk | StepStart | StepEnd | ImageOut | Sources | ErrorOut | Done
