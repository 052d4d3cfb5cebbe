"""Fetched page -> the text worth reading (trafilatura, imported on first use).

Precision over recall: a small model answers better from less text that is all article than from
more text with menus, cookie banners, comments and table debris in it. When extraction yields
nothing (a page of scripts, a login wall, a failed fetch), the search result's snippet stands in,
and the source says so (`origin`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from gradio_app.web.fetch import FetchedPage
from gradio_app.web.search import SearchResult

log = logging.getLogger(__name__)

Origin = Literal["page", "snippet"]
MAX_PLAIN_TEXT_CHARS = 200_000


@dataclass(frozen=True)
class PageText:
    """What was read for one search result: the text passages are cut from, and where it came from."""

    title: str
    url: str
    text: str
    origin: Origin
    note: str = ""  # why the snippet was used, for the step log


def extract_main_text(html: str, url: str | None = None) -> str:
    """The article text of an HTML page ("" when trafilatura finds none)."""
    import trafilatura
    from trafilatura.deduplication import LRUCache

    text = trafilatura.extract(
        html,
        url=url,
        output_format="txt",
        favor_precision=True,
        include_comments=False,
        include_tables=False,
        include_images=False,
        include_links=False,
        include_formatting=False,
        # Repeated blocks are dropped within this page only. `deduplicate=True` would use
        # trafilatura's process-wide cache, where a paragraph seen in more than two extractions
        # counts as boilerplate: the third reading of a page (another user, another turn) came
        # back empty and the answer fell back to the search snippet.
        deduplicate=LRUCache(maxsize=4096),
        with_metadata=False,
    )
    return (text or "").strip()


def read_result(result: SearchResult, page: FetchedPage | None) -> PageText | None:
    """The text of one result: the extracted page, else the snippet, else None (nothing to read)."""
    note = ""
    if page is None:
        note = "not fetched"
    elif not page.ok:
        note = f"page not read: {page.error}"
    else:
        try:
            text = extract_main_text(page.text, page.final_url or page.url) if page.is_html else _plain(page.text)
        except Exception as e:  # noqa: BLE001 - lxml/trafilatura can fail on hostile markup; the snippet still helps
            log.warning("extraction failed for %s: %s", page.url, e)
            text, note = "", f"extraction failed ({type(e).__name__})"
        if text:
            return PageText(result.title, page.final_url or page.url, text, "page")
        note = note or "no article text found on the page"
    if result.snippet.strip():
        return PageText(result.title, result.url, result.snippet.strip(), "snippet", note)
    return None


def _plain(text: str) -> str:
    return "\n".join(line.strip() for line in text[:MAX_PLAIN_TEXT_CHARS].splitlines() if line.strip())
