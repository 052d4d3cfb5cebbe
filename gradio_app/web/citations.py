"""Honest citations: every [n] in an answer points at a passage the model was really given.

A model (a small one especially) invents citation numbers: [7] when it was shown five passages.
`CitationFilter` sits between the model's stream and the user: it holds back anything that might
be a citation marker until the marker is complete, keeps the numbers that exist, and drops the
others (with the space before them), so the text streamed is exactly the text stored. It accepts
the forms models write: [1], [1, 2], [1-3], [1][2], [Source 2], [passage 3].

Small models also often cite nothing at all. A sentence the model left uncited gets a citation
from us only when one passage plainly contains it (`supporting_passage`: most of the sentence's
words, and every number and name in it, are in that passage), written after the sentence's
punctuation, Wikipedia style ("…is 38 metres tall.[2]"). A sentence no passage supports stays
uncited, which is itself a signal to the reader. The check is lexical: it proves the words are in
the source, not that the sentence reads them right.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from gradio_app.web.rank import terms

_MARKER = re.compile(r"^\[\s*(?:(?:sources?|passages?|refs?|results?)\s*)?(\d[\d\s,;–-]*)\]$", re.IGNORECASE)
_MAX_MARKER_CHARS = 24
_MAX_RANGE = 20
_CLOSING_PUNCTUATION = set(".,;:!?)")
_SENTENCE_END = set(".!?")
_MIN_ATTRIBUTED_WORDS = 4
MIN_SUPPORT = 0.6


def marker_numbers(marker: str) -> list[int] | None:
    """The numbers a complete bracketed marker cites, or None if it is not a citation."""
    match = _MARKER.match(marker)
    if not match:
        return None
    numbers: list[int] = []
    for part in re.split(r"[,;\s]+", match.group(1).strip()):
        if not part:
            continue
        low, dash, high = part.replace("–", "-").partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            return None
        first, last = int(low), int(high) if dash else int(low)
        if last < first or last - first > _MAX_RANGE:
            return None
        numbers.extend(range(first, last + 1))
    return numbers or None


def _names(sentence: str) -> set[str]:
    """Capitalized words after the first one ("Gulf", "Oman"): names a source must contain."""
    words = re.findall(r"[^\W\d_]+", sentence)
    return {t for w in words[1:] if w[:1].isupper() for t in terms(w)}


def supporting_passage(sentence: str, passages: dict[int, frozenset[str]]) -> int | None:
    """The passage that plainly contains `sentence`: every number and every name in it, and at
    least MIN_SUPPORT of its words (two or more), the best share winning, the lower number on a
    tie. None if no passage does."""
    words = set(terms(sentence))
    if len(words) < 2:
        return None
    required = {w for w in words if w.isdigit()} | _names(sentence)
    best: tuple[float, int] | None = None
    for number in sorted(passages):
        passage = passages[number]
        if not required <= passage:
            continue
        shared = len(words & passage)
        share = shared / len(words)
        if shared >= 2 and share >= MIN_SUPPORT and (best is None or share > best[0]):
            best = (share, number)
    return best[1] if best else None


class CitationFilter:
    """Streaming: feed() model text, get back the text to show; flush() at the end.

    `passages` maps each valid citation number to its passage text."""

    def __init__(self, passages: dict[int, str], attribute: bool = True) -> None:
        self.valid = frozenset(passages)
        self._passage_terms = {n: frozenset(terms(t)) for n, t in passages.items()}
        self._attribute = attribute
        self.cited: list[int] = []  # valid numbers, in order of first use
        self.dropped: list[int] = []  # numbers that pointed nowhere
        self.attributed: list[int] = []  # numbers we added to sentences the model left uncited
        self._marker: str | None = None
        self._space = ""  # whitespace held back in case a dropped marker or a citation follows it
        self._after_drop = False
        self._sentence: list[str] = []  # the current sentence's text (markers excluded)
        self._sentence_cited = False
        self._at_sentence_end = False  # punctuation + whitespace seen: the sentence may be over
        self._last = ""

    def feed(self, text: str) -> str:
        out: list[str] = []
        for ch in text:
            self._char(ch, out)
        return "".join(out)

    def flush(self) -> str:
        out: list[str] = []
        if self._marker is not None:
            marker, self._marker = self._marker, None
            numbers = marker_numbers(marker + "]")  # a marker cut off by the end of generation
            if numbers is None:
                self._emit(marker, out)
            else:
                self._resolve(numbers, out)
        self._space = ""  # trailing whitespace of an answer is never worth keeping
        self._close_sentence(out)
        return "".join(out)

    def filter(self, text: str) -> str:
        """The whole text at once (for non-streamed answers)."""
        return self.feed(text) + self.flush()

    # -- internals --------------------------------------------------------------------------------
    def _char(self, ch: str, out: list[str]) -> None:
        if self._marker is not None:
            if ch == "]":
                marker, self._marker = self._marker + ch, None
                numbers = marker_numbers(marker)
                if numbers is None:
                    self._emit(marker, out)
                else:
                    self._resolve(numbers, out)
                return
            if ch in "[\n" or len(self._marker) >= _MAX_MARKER_CHARS:
                marker, self._marker = self._marker, None
                self._emit(marker, out)  # not a citation after all
                self._char(ch, out)
                return
            self._marker += ch
            return
        if ch == "[":
            self._marker = "["
            return
        if ch in " \t\n":
            if ch == "\n" or self._last in _SENTENCE_END:
                self._at_sentence_end = bool(self._sentence)
            if ch == "\n" or not (self._after_drop and self._space):
                self._space += ch
            return
        if self._at_sentence_end:
            self._close_sentence(out)
        if self._after_drop and ch in _CLOSING_PUNCTUATION:
            self._space = ""  # "Paris [9]." -> "Paris."
        self._emit(ch, out)

    def _emit(self, text: str, out: list[str], marker: bool = False) -> None:
        out.append(self._space + text)
        if not marker:
            self._sentence.append(self._space + text)
            self._last = text[-1:]
        self._space = ""
        self._after_drop = False

    def _close_sentence(self, out: list[str]) -> None:
        """The sentence is over: cite its passage if the model did not and one plainly holds it."""
        sentence = "".join(self._sentence)
        if self._attribute and not self._sentence_cited and len(sentence.split()) >= _MIN_ATTRIBUTED_WORDS:
            number = supporting_passage(sentence, self._passage_terms)
            if number is not None:
                out.append(f"[{number}]")  # right after the punctuation, before the held space
                if number not in self.cited:
                    self.cited.append(number)
                if number not in self.attributed:
                    self.attributed.append(number)
        self._sentence, self._sentence_cited, self._at_sentence_end = [], False, False

    def _resolve(self, numbers: list[int], out: list[str]) -> None:
        kept = [n for n in dict.fromkeys(numbers) if n in self.valid]
        for n in numbers:
            if n not in self.valid and n not in self.dropped:
                self.dropped.append(n)
        if not kept:
            self._after_drop = True
            return
        for n in kept:
            if n not in self.cited:
                self.cited.append(n)
        self._sentence_cited = True
        self._emit("".join(f"[{n}]" for n in kept), out, marker=True)


def cited_numbers(text: str) -> list[int]:
    """Every citation number in a finished text, in order of first appearance."""
    seen: list[int] = []
    for match in re.finditer(r"\[[^\[\]\n]{1,23}\]", text):
        for n in marker_numbers(match.group()) or []:
            if n not in seen:
                seen.append(n)
    return seen


@dataclass(frozen=True)
class SourceRef:
    index: int
    title: str
    url: str


def _escape_title(title: str) -> str:
    return re.sub(r"([\[\]\\*_`<>])", r"\\\1", " ".join(title.split())) or "untitled"


def safe_url(url: str) -> str:
    """Percent-encode what would end a Markdown link target early (spaces, parentheses...)."""
    return quote(url, safe=":/?#[]@!$&'*+,;=%-._~")


def sources_section(sources: Sequence[SourceRef], cited: Sequence[int]) -> str:
    """The Markdown list that ends the answer: the cited sources (title + link), one line per
    page with all its cited numbers; the sources read but not cited if the answer cites none."""
    by_index = {s.index: s for s in sources}
    numbers = [n for n in cited if n in by_index]
    heading = "**Sources**"
    if not numbers:
        numbers = [s.index for s in sources]
        heading = "**Sources read** (the answer above cites none of them)"
    if not numbers:
        return ""
    lines: dict[str, list[int]] = {}
    for n in sorted(numbers):
        lines.setdefault(by_index[n].url, []).append(n)
    rows = []
    for url, ns in lines.items():
        title = _escape_title(by_index[ns[0]].title)
        rows.append(f"- {''.join(f'[{n}]' for n in ns)} [{title}]({safe_url(url)})")
    return f"{heading}\n" + "\n".join(rows)
