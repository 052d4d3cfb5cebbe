"""Web search behind one small interface, and its DuckDuckGo implementation (the `ddgs` package).

`ddgs` (the renamed successor of duckduckgo-search) is imported on the first search, never at
app start. Its facts that shape this module (read from ddgs 9.16.1's source):
- every failure is a `DDGSException`: `TimeoutException` for timeouts, `RatelimitException` for
  rate limits (declared; 9.16.1 itself reports a refused search as "No results found."), network
  errors as DDGSException("DNSError: ..." / "ConnectError: ..."), and no results at all as
  DDGSException("No results found.");
- `backend="auto"` is a metasearch across several engines (Wikipedia, Brave, DuckDuckGo, Mojeek,
  Yahoo...) queried in a shuffled order: the same query can give different results each time. The
  results a turn used are therefore recorded with its steps, not re-derivable later;
- its own timeout applies per engine request, not to the whole search: we bound the whole call.

`SearxngSearch` asks a SearXNG instance (self-hosted metasearch) through its JSON API instead, so
the query goes to the user's own server, which asks the engines it is configured with.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import httpx

log = logging.getLogger(__name__)

FailureKind = Literal["offline", "rate_limited", "timeout", "error", "cancelled"]
SAFESEARCH = ("on", "moderate", "off")
BACKENDS = ("duckduckgo", "auto", "brave", "mojeek", "wikipedia")  # ddgs's engines
SEARXNG = "searxng"


@dataclass(frozen=True)
class SearchResult:
    title: str
    url: str
    snippet: str = ""


class SearchFailed(Exception):
    """The search could not be made. `kind` lets the answer say honestly what happened."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        self.kind = kind
        super().__init__(message)


class SearchBackend(Protocol):
    """Returns up to `max_results` results (an empty list when nothing matched), or raises
    SearchFailed. Must give up after `timeout_s` and notice `cancelled()` while it waits."""

    name: str

    def search(
        self,
        query: str,
        *,
        max_results: int,
        region: str,
        safesearch: str,
        timeout_s: float,
        cancelled: Callable[[], bool] = ...,
    ) -> list[SearchResult]: ...


def clean_results(raw: list[SearchResult], max_results: int) -> list[SearchResult]:
    """http(s) results only, first occurrence of each URL, at most `max_results`."""
    seen: set[str] = set()
    out: list[SearchResult] = []
    for r in raw:
        url = r.url.strip()
        if not url.lower().startswith(("http://", "https://")) or url in seen:
            continue
        seen.add(url)
        out.append(SearchResult(" ".join(r.title.split()) or url, url, " ".join(r.snippet.split())))
        if len(out) >= max_results:
            break
    return out


_OFFLINE_MARKERS = ("dnserror", "error resolving dns", "connecterror", "connection refused", "unreachable")


def classify_ddgs_error(error: Exception) -> SearchFailed | None:
    """SearchFailed for a ddgs error, or None when it only means "no results"."""
    from ddgs.exceptions import RatelimitException, TimeoutException

    text = str(error)
    lowered = text.lower()
    if isinstance(error, RatelimitException) or "ratelimit" in lowered:
        return SearchFailed("rate_limited", f"the search service is rate-limiting this machine ({text})")
    if isinstance(error, TimeoutException) or "timed out" in lowered or "timeout" in lowered:
        return SearchFailed("timeout", f"the search service did not answer in time ({text})")
    if any(marker in lowered for marker in _OFFLINE_MARKERS):
        return SearchFailed("offline", f"the search service cannot be reached from this machine ({text})")
    if "no results found" in lowered:
        return None
    return SearchFailed("error", f"the search failed ({text})")


def _worth_searching(query: str, safesearch: str) -> bool:
    """The checks every backend makes first: a known safesearch level (else ValueError), a query."""
    if safesearch not in SAFESEARCH:
        raise ValueError(f"safesearch must be one of {', '.join(SAFESEARCH)}, got {safesearch!r}")
    return bool(query.strip())


class DuckDuckGoSearch:
    """`ddgs` text search. `backend` is ddgs's engine choice: "duckduckgo" asks DuckDuckGo only
    (html.duckduckgo.com; in ddgs 9.16.1 that engine sends no safesearch flag), "auto" is ddgs's
    metasearch (several engines, honours safesearch where the engine supports it)."""

    name = "duckduckgo"

    def __init__(self, backend: str = "duckduckgo", proxy: str | None = None) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"search backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        self.backend = backend
        self._proxy = proxy

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
        if not _worth_searching(query, safesearch):
            return []
        box: dict[str, object] = {}

        def run() -> None:
            try:
                from ddgs import DDGS

                box["value"] = DDGS(proxy=self._proxy, timeout=max(1, round(timeout_s))).text(
                    query,
                    region=region,
                    safesearch=safesearch,
                    max_results=max_results,
                    backend=self.backend,
                )
            except Exception as e:  # noqa: BLE001 - classified below; a search failure must not end the turn
                box["error"] = e

        # ddgs bounds each engine request, not the whole search, and cannot be interrupted.
        _wait_for(run, "ddgs-search", timeout_s, cancelled)
        if "error" in box:
            error = box["error"]
            assert isinstance(error, Exception)
            failure = _classify(error)
            if failure is None:
                return []
            log.warning("search failed: %s", failure)
            raise failure
        raw = box.get("value") or []
        results = [
            SearchResult(str(item.get("title", "")), str(item.get("href", "")), str(item.get("body", "")))
            for item in raw  # type: ignore[union-attr]
            if isinstance(item, dict)
        ]
        return clean_results(results, max_results)


def _classify(error: Exception) -> SearchFailed | None:
    try:
        from ddgs.exceptions import DDGSException
    except ImportError:
        return SearchFailed("error", "the ddgs package is not installed (pip install -r requirements.txt)")
    if isinstance(error, ImportError):
        return SearchFailed("error", "the ddgs package is not installed (pip install -r requirements.txt)")
    if not isinstance(error, DDGSException):
        return SearchFailed("error", f"the search failed unexpectedly ({type(error).__name__}: {error})")
    return classify_ddgs_error(error)


def _wait_for(run: Callable[[], None], name: str, timeout_s: float, cancelled: Callable[[], bool]) -> None:
    """Run a blocking search call in a daemon thread and wait for it, giving up at `timeout_s`
    or within a tenth of a second of Stop (the thread ends on its own client timeout)."""
    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    deadline = time.monotonic() + timeout_s
    while worker.is_alive():
        if cancelled():
            raise SearchFailed("cancelled", "stopped")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SearchFailed("timeout", f"the search did not finish within {timeout_s:g} s")
        worker.join(min(0.1, remaining))


_SAFESEARCH_LEVELS = {"off": "0", "moderate": "1", "on": "2"}


# DuckDuckGo's region codes that are not ISO countries: "uk" is GB; "xa" (Arabia), "xl" (Latin
# America) and "ct" (Catalonia) name regions, so only their language is kept.
_COUNTRY = {"uk": "GB", "xa": "", "xl": "", "ct": ""}


def searxng_language(region: str) -> str:
    """SearXNG's language code for a ddgs-style region: "us-en" -> "en-US", "wt-wt" -> "all"."""
    country, _, language = region.partition("-")
    if region == "wt-wt" or not language:
        return "all"
    country = _COUNTRY.get(country, country.upper())
    return f"{language}-{country}" if country else language


class SearxngSearch:
    """A SearXNG instance's JSON API: `GET {base_url}/search?q=...&format=json`, whose `results`
    carry title, url and content. The instance's own address is the user's choice (often
    http://localhost:8080), so it is not subject to the page reader's address rule; its results
    are, like any others. The instance must list `json` in `search.formats` (settings.yml):
    SearXNG answers 403 otherwise, and its limiter answers 429."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the SearXNG address must be an http(s) URL, got {base_url!r}")
        self.base_url = base_url.strip().rstrip("/")
        self.name = f"SearXNG at {parts.netloc}"

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
        if not _worth_searching(query, safesearch):
            return []
        params = {
            "q": query,
            "format": "json",
            "language": searxng_language(region),
            "safesearch": _SAFESEARCH_LEVELS[safesearch],
        }
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                # trust_env=False: no proxy from the environment between the app and its own instance.
                with httpx.Client(timeout=timeout_s, trust_env=False, follow_redirects=True) as client:
                    box["response"] = client.get(f"{self.base_url}/search", params=params)
            except Exception as e:  # noqa: BLE001 - classified below; a search failure must not end the turn
                box["error"] = e

        _wait_for(run, "searxng-search", timeout_s, cancelled)
        if "error" in box:
            raise self._failure(box["error"])
        return clean_results(self._results(box["response"]), max_results)

    def _failure(self, error: Exception) -> SearchFailed:
        if isinstance(error, httpx.TimeoutException):
            return SearchFailed("timeout", f"{self.name} did not answer in time ({type(error).__name__})")
        if isinstance(error, httpx.ConnectError) and "CERTIFICATE_VERIFY_FAILED" in str(error):
            return SearchFailed("error", f"the TLS certificate of {self.name} could not be verified ({error})")
        if isinstance(error, httpx.ConnectError):
            return SearchFailed("offline", f"{self.name} cannot be reached from this machine ({error})")
        return SearchFailed("error", f"the search at {self.name} failed ({type(error).__name__}: {error})")

    def _results(self, response: Any) -> list[SearchResult]:
        status = response.status_code
        if status == 429:
            raise SearchFailed("rate_limited", f"{self.name} is rate-limiting this machine (HTTP 429)")
        if status == 403:
            raise SearchFailed(
                "error", f"{self.name} refused the JSON API (HTTP 403): add json to search.formats in its settings.yml"
            )
        if status >= 400:
            raise SearchFailed("error", f"{self.name} answered HTTP {status}")
        try:
            data = response.json()
        except ValueError:
            raise SearchFailed("error", f"{self.name} did not answer in SearXNG's JSON format") from None
        items = data.get("results") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise SearchFailed("error", f"{self.name} did not answer in SearXNG's JSON format (no results list)")
        results = [
            SearchResult(str(item.get("title") or ""), str(item.get("url") or ""), str(item.get("content") or ""))
            for item in items
            if isinstance(item, dict)
        ]
        broken = data.get("unresponsive_engines") or []
        if not results and broken:
            # Every engine it asked failed: that is a failed search, not "nothing matched".
            names = ", ".join(" ".join(str(part) for part in e) if isinstance(e, list) else str(e) for e in broken)
            raise SearchFailed("error", f"the engines of {self.name} failed ({names})")
        return results
