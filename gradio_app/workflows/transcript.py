"""Transcript: folds a turn's events into what is shown and stored (answer, steps, images, sources).

The same fold serves the live view while a workflow runs and the final message metadata, so a
reopened discussion shows exactly what the user saw (`ui/workflow_view.py` renders both).

Stored shape (the "Shared contracts" of the project):
    steps:   [{id, parent_id, title, status: pending|done|failed|cancelled, duration_s, content,
               kind: step|info|warning|error, progress: {done, total, note} | None}]
    images:  [{path, caption, ...facts}]
    sources: [{index, title, url, passage}]
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from gradio_app.workflows.events import (
    Done,
    Event,
    Idle,
    ImageOut,
    Notice,
    Sources,
    StepEnd,
    StepProgress,
    StepStart,
    StepText,
    StepTitle,
    TextChunk,
    TextReplace,
    Waiting,
)

# A step body is for reading, not for logs: beyond this the oldest text is cut (the answer is not).
MAX_STEP_CHARS = 20_000
_NOTICE_TITLE_CHARS = 160


class Transcript:
    def __init__(self) -> None:
        self.answer = ""
        self.steps: dict[str, dict[str, Any]] = {}
        self.images: list[dict[str, Any]] = []
        self.sources: list[dict[str, Any]] = []
        self.waiting_ahead: int | None = None
        self._started: dict[str, float] = {}
        self._notices = 0

    def apply(self, event: Event) -> None:
        if isinstance(event, Idle):
            return
        self.waiting_ahead = event.ahead if isinstance(event, Waiting) else None
        if isinstance(event, TextChunk):
            self.answer += event.text
        elif isinstance(event, TextReplace):
            self.answer = event.text
        elif isinstance(event, StepStart):
            self._started[event.step_id] = time.monotonic()
            self.steps[event.step_id] = {
                "id": event.step_id,
                "parent_id": event.parent_id if event.parent_id in self.steps else None,
                "title": event.title,
                "status": "pending",
                "duration_s": 0.0,
                "content": "",
                "kind": "step",
                "progress": None,
            }
        elif isinstance(event, StepText):
            step = self.steps.get(event.step_id)
            if step is not None:
                step["content"] = (step["content"] + event.text)[-MAX_STEP_CHARS:]
        elif isinstance(event, StepProgress):
            step = self.steps.get(event.step_id)
            if step is not None:
                step["progress"] = {"done": event.done, "total": event.total, "note": event.note}
        elif isinstance(event, StepEnd):
            step = self.steps.get(event.step_id)
            if step is not None:
                step["status"] = event.status
                step["duration_s"] = round(event.duration_s or self._elapsed(event.step_id), 3)
                if event.title:
                    step["title"] = event.title
                if event.detail:
                    sep = "\n\n" if step["content"] else ""
                    step["content"] = (step["content"] + sep + event.detail)[-MAX_STEP_CHARS:]
        elif isinstance(event, StepTitle):
            step = self.steps.get(event.step_id)
            if step is not None:
                step["title"] = event.title
        elif isinstance(event, Notice):
            self._notices += 1
            first_line = event.text.strip().splitlines()[0] if event.text.strip() else event.level
            title = first_line if len(first_line) <= _NOTICE_TITLE_CHARS else first_line[:_NOTICE_TITLE_CHARS] + "…"
            self.steps[f"notice-{self._notices}"] = {
                "id": f"notice-{self._notices}",
                "parent_id": None,
                "title": title,
                "status": "done",
                "duration_s": 0.0,
                "content": event.text.strip() if event.text.strip() != first_line else "",
                "kind": event.level,
                "progress": None,
            }
        elif isinstance(event, ImageOut):
            self.images.append({**event.facts, "path": event.path, "caption": event.caption})
        elif isinstance(event, Sources):
            self.sources.extend(dict(item) for item in event.items)

    def _elapsed(self, step_id: str) -> float:
        started = self._started.get(step_id)
        return time.monotonic() - started if started is not None else 0.0

    def close_open_steps(self, status: str) -> None:
        """Mark steps still pending (the workflow was stopped, failed or timed out)."""
        for step in self.steps.values():
            if step["status"] == "pending":
                step["status"] = status
                step["duration_s"] = round(self._elapsed(step["id"]), 3)

    def metadata(self) -> dict[str, Any]:
        """The scripted-workflow part of a message's metadata (copies: safe to store)."""
        return {
            "steps": [dict(s, progress=dict(s["progress"]) if s["progress"] else None) for s in self.steps.values()],
            "images": [dict(i) for i in self.images],
            "sources": [dict(s) for s in self.sources],
        }


def append_only(events: Iterable[Event]) -> Iterator[Event]:
    """The events with the answer as pure appends, for consumers that can only add text (an
    OpenAI-style stream): a TextReplace that extends what was sent becomes a TextChunk of the
    rest, and before Done the final answer's missing tail is sent. Other events pass through."""
    sent = ""
    current = ""
    for event in events:
        if isinstance(event, TextChunk):
            current += event.text
        elif isinstance(event, TextReplace):
            current = event.text
        elif isinstance(event, Done):
            current = event.content if event.content.startswith(sent.strip()) else current
        else:
            yield event
            continue
        if current.startswith(sent) and len(current) > len(sent):
            yield TextChunk(current[len(sent) :])
            sent = current
        if isinstance(event, Done):
            yield event
