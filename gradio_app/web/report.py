"""EventReport: the workflow's `Report` as the app's typed events, plus the step record.

The runner streams `gradio_app.workflows.events` to the UI and stores a message's steps and
sources in its metadata (`steps: [{id, parent_id, title, status, duration_s, content}]`,
`sources: [{index, title, url, passage}]`). This adapter produces both, so a processor (or a test)
only has to hand it an `emit` callback.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from gradio_app.workflows.events import Event, Sources, StepEnd, StepStart, TextChunk


class EventReport:
    def __init__(self, emit: Callable[[Event], None] = lambda event: None) -> None:
        self._emit = emit
        self.steps: list[dict[str, Any]] = []
        self.sources: list[dict[str, Any]] = []
        self.text = ""
        self._started: dict[str, float] = {}

    def step_start(self, title: str) -> str:
        step_id = f"web-{len(self.steps) + 1}"
        self.steps.append(
            {"id": step_id, "parent_id": None, "title": title, "status": "pending", "duration_s": 0.0, "content": ""}
        )
        self._started[step_id] = time.perf_counter()
        self._emit(StepStart(step_id, title))
        return step_id

    def step_end(self, step: str, status: str = "done", *, detail: str = "") -> None:
        record = next(s for s in self.steps if s["id"] == step)
        duration = round(time.perf_counter() - self._started.pop(step, time.perf_counter()), 3)
        record.update(status=status, duration_s=duration, content=detail)
        self._emit(StepEnd(step, status, duration, detail))

    def chunk(self, text: str) -> None:
        self.text += text
        self._emit(TextChunk(text))

    def add_sources(self, sources: list[dict[str, Any]]) -> None:
        self.sources.extend(sources)
        self._emit(Sources([{k: str(v) for k, v in s.items()} for s in sources]))
