"""Fixtures for the web tests: the loopback site, a fetcher allowed to read it, a local index."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator

import pytest

from gradio_app.web.addresses import AddressPolicy
from gradio_app.web.fetch import FetchLimits, PageFetcher
from tests.web.local_index import IndexedPage, LocalIndexSearch
from tests.web.site import BREAD, FROG, LIGHTHOUSE, Site

# The test site's only address: allowed explicitly, everything else private stays refused.
TEST_POLICY = AddressPolicy.allowing("127.0.0.1/32")


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    s = Site("127.0.0.1")
    yield s
    s.close()


@pytest.fixture(scope="module")
def other_site() -> Iterator[Site]:
    """A second server on 127.0.0.2 (loopback, not allowed): it must never be asked anything."""
    s = Site("127.0.0.2")
    yield s
    s.close()


@pytest.fixture
def fetcher() -> PageFetcher:
    return PageFetcher(TEST_POLICY, FetchLimits(max_bytes=256 * 1024, total_timeout_s=10))


def page_words(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture(scope="module")
def index(site: Site) -> LocalIndexSearch:
    return LocalIndexSearch(
        [
            IndexedPage(
                site.url("/articles/glass-frog.html"),
                "The Marlow glass frog, a tiny amphibian you can see through",
                "A transparent frog of the Vellan Highlands, described in 2019.",
                page_words(FROG),
            ),
            IndexedPage(
                site.url("/articles/kessin-lighthouse.html"),
                "The Kessin lighthouse: 150 years on the cliff",
                "The red brick tower above Kessin harbour, built in 1874.",
                page_words(LIGHTHOUSE),
            ),
            IndexedPage(
                site.url("/articles/sourdough.html"),
                "How to keep a sourdough starter alive on holiday",
                "Feed it, chill it, or dry it.",
                page_words(BREAD),
            ),
        ]
    )


@pytest.fixture
def silent_proxy() -> Iterator[str]:
    """A proxy on loopback that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(2)
    for conn in accepted:
        conn.close()
    server.close()
