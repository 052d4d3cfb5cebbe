"""LocalIndexSearch: a real SearchBackend over a local index of pages (for tests without internet).

It ranks its documents against the query with BM25, the way a search engine would, and returns
their URLs (on the loopback test site) with a title and a snippet, through the same interface as
the DuckDuckGo backend. Nothing about ddgs is imitated.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from gradio_app.web.rank import BM25, terms
from gradio_app.web.search import SearchFailed, SearchResult, clean_results


@dataclass(frozen=True)
class IndexedPage:
    url: str
    title: str
    snippet: str
    text: str  # what the index knows of the page (matched against the query)


class LocalIndexSearch:
    name = "local index"

    def __init__(self, pages: list[IndexedPage], latency_s: float = 0.0) -> None:
        self.pages = pages
        self.latency_s = latency_s
        self._bm25 = BM25([terms(f"{p.title} {p.snippet} {p.text}") for p in pages])
        self.queries: list[str] = []

    def search(
        self,
        query: str,
        *,
        max_results: int,
        region: str = "wt-wt",
        safesearch: str = "moderate",
        timeout_s: float = 10.0,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> list[SearchResult]:
        self.queries.append(query)
        deadline = time.monotonic() + self.latency_s
        while time.monotonic() < deadline:
            if cancelled():
                raise SearchFailed("cancelled", "stopped")
            if time.monotonic() - (deadline - self.latency_s) > timeout_s:
                raise SearchFailed("timeout", f"the local index did not answer within {timeout_s:g} s")
            time.sleep(0.02)
        scores = self._bm25.scores(terms(query))
        order = sorted((i for i, s in enumerate(scores) if s > 0), key=lambda i: (-scores[i], i))
        hits = [SearchResult(self.pages[i].title, self.pages[i].url, self.pages[i].snippet) for i in order]
        return clean_results(hits, max_results)
