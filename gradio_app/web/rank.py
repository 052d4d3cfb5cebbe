"""Passages and BM25: which parts of the pages read go into the answer prompt.

A page is far longer than a small model's context, and most of it is beside the question. The
texts are cut into passages of a few sentences (each an exact slice of its page's text, so a
citation can always be checked against what was fetched), scored against the question with Okapi
BM25, and the best ones that fit the token budget are kept, numbered by rank.

BM25 (Robertson & Zaragoza): score(q, d) = sum over query terms t of
    idf(t) * tf(t, d) * (k1 + 1) / (tf(t, d) + k1 * (1 - b + b * |d| / avgdl))
with idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5)) (the non-negative form Lucene uses, so a
term present in most passages still counts a little instead of counting against them).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gradio_app.web.extract import PageText

_WORD = re.compile(r"\d+|[^\W\d_]+")  # numbers apart from letters: "21mm" -> 21, mm
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_STOPWORDS_TEXT = """a an and are as at be been but by can could did do does for from had has have how i if in into
is it its me my of on or our so than that the their them then there these they this to was we were what when where
which who whom why will with would you your about also any just not no yes"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def terms(text: str) -> list[str]:
    """Lowercased words without stop words, lightly stemmed (plurals), for matching."""
    out = []
    for word in _WORD.findall(text.lower()):
        if word in STOPWORDS or (len(word) == 1 and not word.isdigit()):
            continue
        if len(word) > 4 and word.endswith("ies"):
            word = word[:-3] + "y"
        elif len(word) > 4 and word.endswith(("sses", "xes", "ches", "shes")):
            word = word[:-2]
        elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
            word = word[:-1]
        out.append(word)
    return out


class BM25:
    """Okapi BM25 over a fixed list of documents (already split into terms)."""

    def __init__(self, documents: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self._tf = [Counter(doc) for doc in documents]
        self._len = [len(doc) for doc in documents]
        self._n = len(documents)
        self._avgdl = (sum(self._len) / self._n) if self._n else 0.0
        df: Counter[str] = Counter()
        for tf in self._tf:
            df.update(tf.keys())
        self._idf = {t: math.log(1 + (self._n - n + 0.5) / (n + 0.5)) for t, n in df.items()}

    def idf(self, term: str) -> float:
        return self._idf.get(term, 0.0)

    def score(self, query: Sequence[str], index: int) -> float:
        tf, length = self._tf[index], self._len[index]
        if not length:
            return 0.0
        norm = self.k1 * (1 - self.b + self.b * length / self._avgdl)
        total = 0.0
        for term in set(query):
            f = tf.get(term, 0)
            if f:
                total += self.idf(term) * f * (self.k1 + 1) / (f + norm)
        return total

    def scores(self, query: Sequence[str]) -> list[float]:
        return [self.score(query, i) for i in range(self._n)]


@dataclass(frozen=True)
class Passage:
    """`text == page.text[start:end]`: a passage never holds words its page did not."""

    page: int  # index of the PageText it comes from
    start: int
    end: int
    text: str


def split_passages(text: str, page: int = 0, max_words: int = 80) -> list[Passage]:
    """Paragraph-aligned passages of at most ~`max_words` words. Short paragraphs are merged with
    the next ones; a long paragraph is cut at sentence ends (or, for a run-on, at word bounds)."""
    pieces: list[tuple[int, int, int]] = []  # (start, end, words) of paragraphs or sentence groups
    for para in re.finditer(r"[^\n]+", text):
        if not para.group().strip():
            continue
        for start, end in _bounded_spans(text, para.start(), para.end(), max_words):
            pieces.append((start, end, len(text[start:end].split())))
    passages: list[Passage] = []
    group: list[tuple[int, int, int]] = []
    for piece in [*pieces, None]:
        words = sum(p[2] for p in group)
        if piece is None or (group and words + piece[2] > max_words):
            if group:
                start, end = group[0][0], group[-1][1]
                passages.append(Passage(page, start, end, text[start:end]))
            group = []
        if piece is not None:
            group.append(piece)
    return passages


def _bounded_spans(text: str, start: int, end: int, max_words: int) -> list[tuple[int, int]]:
    """Cut text[start:end] into spans of at most max_words words, preferring sentence ends."""
    segment = text[start:end]
    # strip surrounding spaces so the spans start and end on words
    lead = len(segment) - len(segment.lstrip())
    start, end = start + lead, start + len(segment.rstrip())
    if len(text[start:end].split()) <= max_words:
        return [(start, end)]
    bounds = [start] + [start + m.end() for m in _SENTENCE_END.finditer(text[start:end])] + [end]
    spans: list[tuple[int, int]] = []
    span_start = start
    for i in range(1, len(bounds)):
        if len(text[span_start : bounds[i]].split()) > max_words and bounds[i - 1] > span_start:
            spans.append((span_start, bounds[i - 1]))
            span_start = bounds[i - 1]
    spans.append((span_start, end))
    out: list[tuple[int, int]] = []
    for s, e in spans:  # a sentence still too long: cut at word boundaries
        words = list(re.finditer(r"\S+", text[s:e]))
        for i in range(0, len(words), max_words):
            chunk = words[i : i + max_words]
            out.append((s + chunk[0].start(), s + chunk[-1].end()))
    return out


@dataclass(frozen=True)
class RankedPassage:
    passage: Passage
    score: float
    n_tokens: int


def rank_passages(
    pages: Sequence[PageText],
    query: str,
    count_tokens: Callable[[str], int],
    token_budget: int,
    max_passages: int = 8,
    max_words: int = 80,
) -> list[RankedPassage]:
    """The most relevant passages for `query` that fit `token_budget`, best first.

    Ties keep reading order (page, then position), so the choice is deterministic. If no passage
    shares a term with the query, the opening passage of each page is used instead: the model
    then says what the pages are about rather than getting nothing.
    """
    passages = [p for i, page in enumerate(pages) for p in split_passages(page.text, i, max_words)]
    if not passages or token_budget <= 0:
        return []
    bm25 = BM25([terms(p.text) for p in passages])
    scores = bm25.scores(terms(query))
    order = sorted(range(len(passages)), key=lambda i: (-scores[i], passages[i].page, passages[i].start))
    if scores[order[0]] <= 0:
        firsts: dict[int, int] = {}
        for i, p in enumerate(passages):
            firsts.setdefault(p.page, i)
        order = list(firsts.values())
    else:
        order = [i for i in order if scores[i] > 0]
    chosen: list[RankedPassage] = []
    used = 0
    for i in order:
        if len(chosen) >= max_passages:
            break
        n = count_tokens(passages[i].text)
        if used + n > token_budget:
            continue  # a shorter, less relevant passage may still fit
        chosen.append(RankedPassage(passages[i], scores[i], n))
        used += n
    return chosen
