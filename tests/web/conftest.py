"""Fixtures for the web tests: the loopback site, a fetcher allowed to read it, a local index."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from gradio_app.web.addresses import AddressPolicy
from gradio_app.web.fetch import FetchLimits, PageFetcher
from tests.web.local_index import LocalIndexSearch
from tests.web.site import Site

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


@pytest.fixture(scope="module")
def index(site: Site) -> LocalIndexSearch:
    return site.index


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
