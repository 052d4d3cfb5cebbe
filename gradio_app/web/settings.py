"""WebSettings: how one web-search turn runs (from the personality's config_local.yaml values).

The personality's settings template (config.yaml `processor_cfg.settings`) declares the same
fields with the same defaults, so the settings form and this class agree; a test checks it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import Any

from gradio_app.web.addresses import AddressPolicy
from gradio_app.web.fetch import FetchLimits, PageFetcher
from gradio_app.web.search import BACKENDS, SAFESEARCH, SEARXNG, DuckDuckGoSearch, SearchBackend, SearxngSearch

_REGION = re.compile(r"^[a-z]{2}-[a-z]{2}$")
# The 2023 gpt4Internet personality's config_local.yaml keys (sic).
_LEGACY_KEYS = {"max_summery_size": "max_answer_size"}


class InvalidWebSettings(ValueError):
    """A setting is out of range; the message names it."""


@dataclass(frozen=True)
class WebSettings:
    num_results: int = 5  # search results asked for
    pages_to_read: int = 3  # of those, how many pages are fetched (the others give their snippet)
    max_query_size: int = 24  # tokens the model may spend writing the search query
    max_answer_size: int = 320  # tokens of the answer
    region: str = "wt-wt"  # ddgs region code: wt-wt (no region), us-en, uk-en, fr-fr, de-de...
    safesearch: str = "moderate"
    search_backend: str = "duckduckgo"  # a ddgs engine, or "searxng" (the instance at searxng_url)
    searxng_url: str = ""  # e.g. http://localhost:8080 (a SearXNG instance with the json format on)
    search_timeout_s: float = 10.0
    fetch_timeout_s: float = 15.0  # for all pages together
    max_page_kb: int = 2048  # per page; reading stops there
    allow_private_addresses: bool = False

    def __post_init__(self) -> None:
        def whole(name: str, low: int, high: int) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise InvalidWebSettings(f"'{name}' must be a whole number from {low} to {high}, got {value!r}")

        def number(name: str, low: float, high: float) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise InvalidWebSettings(f"'{name}' must be a number from {low:g} to {high:g}, got {value!r}")

        whole("num_results", 1, 20)
        whole("pages_to_read", 0, 10)
        whole("max_query_size", 4, 128)
        whole("max_answer_size", 16, 4096)
        whole("max_page_kb", 16, 51200)
        number("search_timeout_s", 0.5, 120)
        number("fetch_timeout_s", 0.5, 300)
        if not isinstance(self.region, str) or not _REGION.match(self.region):
            raise InvalidWebSettings(f"'region' must look like us-en or wt-wt, got {self.region!r}")
        if self.safesearch not in SAFESEARCH:
            raise InvalidWebSettings(f"'safesearch' must be one of {', '.join(SAFESEARCH)}, got {self.safesearch!r}")
        if self.search_backend not in (*BACKENDS, SEARXNG):
            raise InvalidWebSettings(f"'search_backend' must be one of {', '.join((*BACKENDS, SEARXNG))}")
        if not isinstance(self.searxng_url, str):
            raise InvalidWebSettings("'searxng_url' must be a URL such as http://localhost:8080")
        if self.searxng_url.strip():
            try:
                SearxngSearch(self.searxng_url)
            except ValueError as e:
                raise InvalidWebSettings(f"'searxng_url': {e}") from None
        elif self.search_backend == SEARXNG:
            raise InvalidWebSettings("'searxng_url' is needed to search with searxng (e.g. http://localhost:8080)")
        if not isinstance(self.allow_private_addresses, bool):
            raise InvalidWebSettings("'allow_private_addresses' must be true or false")

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> WebSettings:
        """From a personality's resolved local settings; keys this class does not know are ignored
        (the 2023 zoo's config_local.yaml files carry others)."""
        known = {f.name for f in fields(cls)}
        clean = {k: v for k, v in values.items() if k in known}
        for legacy, key in _LEGACY_KEYS.items():
            if legacy in values and key not in values:
                clean[key] = values[legacy]
        return cls(**clean)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def fetcher(self, policy: AddressPolicy | None = None) -> PageFetcher:
        """The page fetcher these settings describe (`policy` replaces the address rule, e.g. to
        allow one test server)."""
        total = float(self.fetch_timeout_s)
        limits = FetchLimits(
            max_bytes=self.max_page_kb * 1024, total_timeout_s=total, connect_timeout_s=min(5.0, total)
        )
        return PageFetcher(policy or AddressPolicy(allow_private=self.allow_private_addresses), limits)

    def backend(self) -> SearchBackend:
        """The search backend these settings choose."""
        if self.search_backend == SEARXNG:
            return SearxngSearch(self.searxng_url)
        return DuckDuckGoSearch(self.search_backend)
