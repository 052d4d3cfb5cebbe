"""UpdatePacer: how often a streaming handler sends the chat to the browser.

Every update costs the server the same work for the whole chat (Gradio postprocesses, serializes
and diffs the full chatbot value), and on a small machine that CPU time is taken from the model.
For a short chat an update costs about a millisecond and 20 per second is smooth and cheap; for a
1,000-message chat it costs ~20 ms and 20 per second would take a third of a core. So the pace
adapts: each update's measured cost (the time until the handler is resumed) sets the next
interval so that updates take at most `ui_share` of the time, between `max_per_second` and
`min_per_second`. Pure logic, no Gradio: testable with a fake clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class UpdatePacer:
    def __init__(
        self,
        max_per_second: float = 20,
        min_per_second: float = 4,
        ui_share: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.min_interval = 1 / max_per_second
        self.max_interval = 1 / min_per_second
        self.ui_share = ui_share
        self._clock = clock
        self.interval = self.min_interval
        self._last: float | None = None

    def due(self) -> bool:
        """True when enough time has passed since the last update for another one."""
        return self._last is None or self._clock() - self._last >= self.interval

    @contextmanager
    def sending(self) -> Iterator[None]:
        """Wrap the handler's `yield`: the time until it resumes is what the update cost."""
        start = self._clock()
        yield
        end = self._clock()
        self._last = end
        self.interval = min(self.max_interval, max(self.min_interval, (end - start) / self.ui_share))
