"""Anti-prompt (stop string) detection over a text stream.

The model may start writing the user's next turn ("hallucination"). We watch the stream for the
personality's anti-prompts, case-insensitively, and stop at the first one. Text is released only
when it can no longer be the start of a marker, so no fragment of a marker is ever shown, even
when the marker arrives split over several tokens.
"""

from __future__ import annotations

from collections.abc import Iterable


def _fold(text: str) -> str:
    """Lower-case each character without changing the length (so indexes stay valid)."""
    return "".join(ch if len(low := ch.lower()) != 1 else low for ch in text)


class StopDetector:
    """Feed chunks in; get back the text that is safe to show.

    After a marker is found, `stopped` is True, `marker` holds the anti-prompt that matched and
    every later `feed` returns "". Call `flush()` at the natural end of generation to release
    the text that was held back only because it looked like the start of a marker.
    """

    def __init__(self, markers: Iterable[str]) -> None:
        unique = {_fold(m): m for m in markers if m and m.strip()}
        self._markers: list[tuple[str, str]] = sorted(unique.items(), key=lambda kv: -len(kv[0]))
        self._longest = max((len(f) for f, _ in self._markers), default=0)
        self._pending = ""
        self.stopped = False
        self.marker: str | None = None

    @property
    def markers(self) -> list[str]:
        return [original for _, original in self._markers]

    def feed(self, chunk: str) -> str:
        if self.stopped:
            return ""
        if not self._markers:
            return chunk
        text = self._pending + chunk
        folded = _fold(text)
        # The first hit in time is the occurrence that *ends* first; among markers ending there, cut
        # at the earliest start. This makes the result independent of how the text was chunked.
        hits = [(i + len(f), i, original) for f, original in self._markers if (i := folded.find(f)) != -1]
        if hits:
            end = min(h[0] for h in hits)
            _, start, marker = min((h for h in hits if h[0] == end), key=lambda h: h[1])
            self.stopped, self.marker, self._pending = True, marker, ""
            return text[:start]
        hold = self._held_length(folded)
        self._pending = text[len(text) - hold :] if hold else ""
        return text[: len(text) - hold]

    def flush(self) -> str:
        """Release held-back text at the end of a stream that did not hit a marker."""
        out, self._pending = ("" if self.stopped else self._pending), ""
        return out

    def _held_length(self, folded: str) -> int:
        """Longest tail of `folded` that is a proper prefix of some marker."""
        for size in range(min(len(folded), self._longest - 1), 0, -1):
            tail = folded[-size:]
            if any(m.startswith(tail) for m, _ in self._markers if len(m) > size):
                return size
        return 0
