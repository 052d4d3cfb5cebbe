"""answer_with_web: one GPT 4 Internet turn as plain code.

    write a search query (model) -> search (SearchBackend) -> fetch the top pages (PageFetcher)
    -> read them (trafilatura; snippet fallback) -> rank passages (BM25, token budget)
    -> answer from the numbered passages (model), citations checked -> Sources list

Every stage is a visible step that says what it found and what failed. When the search cannot be
made (offline, rate-limited, timed out) or finds nothing readable, the answer says exactly that
and the model is not asked to answer from memory: an invented answer dressed as a web answer is
worse than none.

The model is reached only through `generate(prompt, max_size, *, stream_to=None, **overrides)
-> str` (the answer streams through `stream_to`), and the UI only through `report`
(step_start/step_end/chunk/add_sources): the processor API's names and signatures, so a
Processor can be passed as the report and its `generate` as the model, and the whole turn runs
and is tested without the app.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from gradio_app.web.citations import CitationFilter, SourceRef, safe_url, sources_section
from gradio_app.web.extract import PageText, read_result
from gradio_app.web.fetch import FetchedPage, PageFetcher
from gradio_app.web.prompts import (
    NumberedPassage,
    PromptShape,
    answer_prompt,
    clean_query,
    passage_block,
    query_prompt,
)
from gradio_app.web.rank import rank_passages
from gradio_app.web.search import SearchBackend, SearchFailed
from gradio_app.web.settings import WebSettings

log = logging.getLogger(__name__)

MAX_PASSAGES = 8
PASSAGE_WORDS = 80
# Tokens kept free besides the answer: chat-template markers, rounding of the token estimate.
PROMPT_MARGIN_TOKENS = 32


class Generate(Protocol):
    """Up to `max_size` tokens after `prompt`; each piece also goes to `stream_to` as it comes."""

    def __call__(
        self, prompt: str, max_size: int, *, stream_to: Callable[[str], None] | None = None, **overrides: Any
    ) -> str: ...


class Report(Protocol):
    """Where the workflow tells the UI what happens. `step_start` returns the step's id, which
    `step_end` takes back; `status` is "done", "failed" or "cancelled"; `detail` is the step's
    visible content (Markdown)."""

    def step_start(self, title: str) -> str: ...

    def step_end(self, step: str, status: str = "done", *, detail: str = "") -> Any: ...

    def chunk(self, text: str) -> None: ...

    def add_sources(self, sources: list[dict[str, Any]]) -> Any: ...


@dataclass
class WebAnswer:
    """What the turn produced, for the message's metadata."""

    text: str = ""
    query: str = ""
    query_fallback: bool = False
    results: list[dict[str, str]] = field(default_factory=list)
    pages: list[dict[str, Any]] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    cited: list[int] = field(default_factory=list)
    dropped_citations: list[int] = field(default_factory=list)
    attributed: list[int] = field(default_factory=list)  # citations we added (see citations.py)
    failure: str = ""  # "", or why there is no web answer: offline, rate_limited, timeout, error, empty, unreadable
    cancelled: bool = False

    def to_metadata(self) -> dict[str, Any]:
        return {
            "search_query": self.query,
            "search_query_fallback": self.query_fallback,
            "search_results": self.results,
            "pages": self.pages,
            "cited": self.cited,
            "dropped_citations": self.dropped_citations,
            "attributed_citations": self.attributed,
            "web_failure": self.failure,
        }


class _Cancelled(Exception):
    pass


_NO_WEB = {
    "offline": "I could not search the web for {q}: the search service cannot be reached from this machine "
    "(is it offline?).",
    "rate_limited": "I could not search the web for {q}: the search service is refusing requests from this "
    "machine for now (rate limit). Try again in a minute.",
    "timeout": "I could not search the web for {q}: the search service did not answer in time.",
    "empty": "The web search for {q} found no results. Try asking with other words.",
    "unreadable": "The web search for {q} found results, but I could not read any of them.",
    "error": "I could not search the web for {q}: the search failed.",
}


def no_web_answer(kind: str, query: str, detail: str) -> str:
    """The honest answer when the web gave nothing to answer from (no model involved)."""
    head = _NO_WEB.get(kind, _NO_WEB["error"]).format(q=f"“{query}”")
    return f"{head}\n\nI will not answer from memory, since I could not check it against any source. ({detail})"


def answer_with_web(
    question: str,
    history_text: str,
    generate: Generate,
    report: Report,
    settings: WebSettings,
    backend: SearchBackend,
    fetcher: PageFetcher | None = None,
    *,
    shape: PromptShape | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> WebAnswer:
    """Answer `question` from the web. Never raises for a failed search or page: the answer (and
    the steps) say what happened. `cancelled()` (Stop) is checked between and inside stages."""
    shape = shape or PromptShape()
    fetcher = fetcher or settings.fetcher()
    answer = WebAnswer()
    try:
        _run(question, history_text, generate, report, settings, backend, fetcher, shape, cancelled, answer)
    except _Cancelled:
        answer.cancelled = True
    return answer


def _run(
    question: str,
    history_text: str,
    generate: Generate,
    report: Report,
    settings: WebSettings,
    backend: SearchBackend,
    fetcher: PageFetcher,
    shape: PromptShape,
    cancelled: Callable[[], bool],
    answer: WebAnswer,
) -> None:
    def check_stop(step: str | None = None) -> None:
        if cancelled():
            if step is not None:
                report.step_end(step, "cancelled", detail="stopped")
            raise _Cancelled

    def finish(text: str) -> None:
        report.chunk(text)
        answer.text += text

    # 1. The query.
    step = report.step_start("Writing a search query")
    system, user, prefill = query_prompt(question, history_text)
    raw = generate(shape.render(system, user) + prefill, settings.max_query_size, temperature=0.0)
    check_stop(step)
    answer.query, answer.query_fallback = clean_query(raw, question, history_text)
    note = "\n\n(the model wrote no usable query: searching for the question's keywords)"
    note = note if answer.query_fallback else ""
    report.step_end(step, "done", detail=f"`{answer.query}`{note}")

    # 2. The search.
    step = report.step_start(f"Searching the web for “{answer.query}”")
    started = time.monotonic()
    try:
        results = backend.search(
            answer.query,
            max_results=settings.num_results,
            region=settings.region,
            safesearch=settings.safesearch,
            timeout_s=float(settings.search_timeout_s),
            cancelled=cancelled,
        )
    except SearchFailed as e:
        check_stop(step)
        answer.failure = e.kind
        report.step_end(step, "failed", detail=f"{e} (after {time.monotonic() - started:.1f} s)")
        finish(no_web_answer(e.kind, answer.query, str(e)))
        return
    check_stop(step)
    answer.results = [{"title": r.title, "url": r.url, "snippet": r.snippet} for r in results]
    if not results:
        answer.failure = "empty"
        report.step_end(step, "failed", detail=f"no results ({backend.name})")
        finish(no_web_answer("empty", answer.query, f"searched with {backend.name}"))
        return
    listing = "\n".join(f"{i}. [{_md(r.title)}]({safe_url(r.url)})" for i, r in enumerate(results, 1))
    report.step_end(step, "done", detail=f"{len(results)} results ({backend.name}):\n{listing}")

    # 3. Fetch the top pages.
    to_read = results[: settings.pages_to_read]
    pages: list[FetchedPage | None] = [None] * len(results)
    if to_read:
        step = report.step_start(f"Reading {len(to_read)} page{'s' if len(to_read) > 1 else ''}")
        fetched = fetcher.fetch_all([r.url for r in to_read], cancelled)
        check_stop(step)
        pages[: len(fetched)] = fetched
        answer.pages = [_page_facts(p) for p in fetched]
        n_ok = sum(p.ok for p in fetched)
        report.step_end(
            step,
            "done" if n_ok else "failed",
            detail=f"{n_ok} of {len(fetched)} read:\n" + "\n".join(f"- {_md(p.summary())}" for p in fetched),
        )

    # 4. Extract the text and pick the passages.
    step = report.step_start("Picking the relevant passages")
    texts: list[PageText] = []
    notes: list[str] = []
    for result, page in zip(results, pages, strict=True):
        check_stop(step)
        text = read_result(result, page)
        if text is None:
            notes.append(f"- {_md(result.url)}: nothing to read (no page text, no snippet)")
            continue
        texts.append(text)
        source = "page text" if text.origin == "page" else f"search snippet ({text.note})"
        notes.append(f"- {_md(result.url)}: {len(text.text.split())} words from the {source}")
    fixed = shape.count_tokens(shape.render(shape.conditioning, answer_prompt(question, [])))
    budget = shape.context_tokens - fixed - settings.max_answer_size - PROMPT_MARGIN_TOKENS
    ranked = rank_passages(
        texts,
        f"{question} {answer.query}",
        lambda t: shape.count_tokens(t) + 12,  # + the "[n] title" line
        budget,
        max_passages=MAX_PASSAGES,
        max_words=PASSAGE_WORDS,
    )
    if not ranked:
        answer.failure = "unreadable"
        reason = "no text to answer from" if not texts else f"no passage fits the {budget}-token budget"
        report.step_end(step, "failed", detail=f"{reason}\n" + "\n".join(notes))
        finish(no_web_answer("unreadable", answer.query, reason))
        return
    numbered: list[NumberedPassage] = []
    for number, r in enumerate(ranked, 1):
        page_text = texts[r.passage.page]
        numbered.append(NumberedPassage(number, page_text.title, r.passage.text))
        answer.sources.append(
            {
                "index": number,
                "title": page_text.title,
                "url": page_text.url,
                "passage": r.passage.text,
                "origin": page_text.origin,
                "score": round(r.score, 3),
            }
        )
    picked = "\n\n".join(f"> {passage_block(p)}".replace("\n", "\n> ") for p in numbered)
    report.step_end(step, "done", detail="\n".join(notes) + f"\n\n{len(numbered)} passages for the answer:\n\n{picked}")
    report.add_sources([dict(s) for s in answer.sources])
    check_stop()

    # 5. The answer, its citations checked as it streams, then the Sources list.
    prompt = shape.render(shape.conditioning, answer_prompt(question, numbered))
    # The title counts as part of its passage: the model saw them together.
    checker = CitationFilter({p.number: f"{p.title}\n{p.text}" for p in numbered})

    def on_piece(piece: str) -> None:
        shown = checker.feed(piece)
        if shown:
            finish(shown)

    generate(prompt, settings.max_answer_size, stream_to=on_piece)
    tail = checker.flush()
    if tail:
        finish(tail)
    answer.cited, answer.dropped_citations = list(checker.cited), list(checker.dropped)
    answer.attributed = list(checker.attributed)
    for s in answer.sources:
        s["cited"] = s["index"] in checker.cited
    if not answer.text.strip():
        finish("(The model wrote no answer from these passages; they are listed below.)")
    refs = [SourceRef(s["index"], s["title"], s["url"]) for s in answer.sources]
    if checker.dropped:
        dropped = ", ".join(f"[{n}]" for n in checker.dropped)
        finish(f"\n\n*Citation{'s' if len(checker.dropped) > 1 else ''} {dropped} removed: no such passage.*")
    finish("\n\n" + sources_section(refs, checker.cited))
    check_stop()


def _md(text: str) -> str:
    return text.replace("[", "\\[").replace("]", "\\]")


def _page_facts(page: FetchedPage) -> dict[str, Any]:
    return {
        "url": page.url,
        "final_url": page.final_url,
        "status": page.status,
        "content_type": page.content_type,
        "encoding": page.encoding,
        "bytes": page.bytes_read,
        "truncated": page.truncated,
        "redirects": list(page.redirects),
        "error": page.error,
        "elapsed_s": round(page.elapsed_s, 3),
    }
