"""PageFetcher against a real HTTP server on 127.0.0.1: limits, types, charsets, redirects, SSRF."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from gradio_app.web.addresses import AddressPolicy
from gradio_app.web.fetch import FetchLimits, PageFetcher
from tests.web.conftest import TEST_POLICY
from tests.web.site import BAD_CHARSET_TEXT, HUGE_CHUNK, HUGE_CHUNKS, PLAIN_TEXT


def test_pages_are_read_with_their_facts(site, fetcher):
    frog, notes = fetcher.fetch_all([site.url("/articles/glass-frog.html"), site.url("/notes.txt")])
    assert frog.ok and frog.status == 200 and frog.is_html and frog.encoding == "utf-8"
    assert "Vellan Highlands" in frog.text and frog.final_url == frog.url and not frog.truncated
    assert notes.ok and notes.content_type == "text/plain" and notes.text == PLAIN_TEXT


def test_a_redirect_chain_is_followed_hop_by_hop(site, fetcher):
    (page,) = fetcher.fetch_all([site.url("/redirect/1")])
    assert page.ok, page.error
    assert page.redirects == [site.url("/redirect/2"), site.url("/articles/glass-frog.html")]
    assert page.final_url == site.url("/articles/glass-frog.html") and "glass frog" in page.text


def test_a_redirect_loop_ends_with_a_clear_error(site):
    fetcher = PageFetcher(TEST_POLICY, FetchLimits(max_redirects=3))
    (page,) = fetcher.fetch_all([site.url("/redirect/loop")])
    assert page.error == "more than 3 redirects" and len(page.redirects) == 4


def test_a_huge_page_is_cut_at_the_cap_and_the_download_stops(site):
    cap = 200 * 1024
    fetcher = PageFetcher(TEST_POLICY, FetchLimits(max_bytes=cap, total_timeout_s=20))
    (page,) = fetcher.fetch_all([site.url("/huge.html")])
    assert page.ok and page.truncated and page.bytes_read == cap
    assert "filler text" in page.text
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and site.log.huge_bytes_sent < cap:
        time.sleep(0.05)
    time.sleep(0.5)  # the server notices the closed connection at its next writes
    total = len(HUGE_CHUNK) * HUGE_CHUNKS
    assert not site.log.huge_finished
    assert site.log.huge_bytes_sent < total / 2, "the client kept downloading past the cap"


def test_a_slow_page_runs_out_of_the_total_budget_without_holding_up_the_others(site):
    fetcher = PageFetcher(TEST_POLICY, FetchLimits(total_timeout_s=2.0))
    started = time.monotonic()
    slow, frog = fetcher.fetch_all([site.url("/slow.html"), site.url("/articles/glass-frog.html")])
    elapsed = time.monotonic() - started
    assert frog.ok and frog.elapsed_s < 1.5
    # A per-read timeout would never fire on this page: it sends a byte every 0.25 s for 15 s.
    assert slow.error == "timed out (all pages share a 2 s budget)"
    assert elapsed < 6


def test_stop_ends_the_reading_within_a_second(site):
    fetcher = PageFetcher(TEST_POLICY, FetchLimits(total_timeout_s=60))
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    started = time.monotonic()
    (slow,) = fetcher.fetch_all([site.url("/slow.html")], stop.is_set)
    assert slow.error == "stopped"
    assert time.monotonic() - started < 1.5


def test_a_non_html_file_is_refused_before_its_body_is_read(site, fetcher):
    (pdf,) = fetcher.fetch_all([site.url("/report.pdf")])
    assert pdf.error == "not a web page (application/pdf)" and pdf.bytes_read == 0


def test_a_page_with_an_unknown_charset_label_still_reads_right(site, fetcher):
    (page,) = fetcher.fetch_all([site.url("/bad-charset.html")])
    assert page.ok and page.encoding == "cp1252"
    assert BAD_CHARSET_TEXT in page.text


def test_http_errors_and_bad_urls_are_reported_per_page(site, fetcher):
    missing, scheme, garbage, creds = fetcher.fetch_all(
        [site.url("/nope"), "ftp://127.0.0.1/file", "http://", "http://user:pw@127.0.0.1/"]
    )
    assert missing.error == "the server answered HTTP 404 Not Found" and missing.status == 404
    assert "only http and https" in scheme.error
    assert garbage.error and creds.error == "URLs with a user name or password are not read"


def test_fetch_all_works_inside_a_running_event_loop(site, fetcher):
    """A caller on an event loop (Gradio's async handlers) gets the pages too. The loop runs in a
    thread of its own: the main thread may already run one (Playwright's sync API does)."""

    async def inside():
        return fetcher.fetch_all([site.url("/articles/sourdough.html")])

    box: dict = {}
    thread = threading.Thread(target=lambda: box.update(pages=asyncio.run(inside())))
    thread.start()
    thread.join(30)
    (page,) = box["pages"]
    assert page.ok and "starter" in page.text


# -- SSRF ----------------------------------------------------------------------------------------


def test_loopback_is_refused_by_default_before_any_request(site):
    before = len(site.log.requests)
    pages = PageFetcher().fetch_all(
        [site.url("/articles/glass-frog.html"), f"http://localhost:{site.port}/", f"http://[::1]:{site.port}/"]
    )
    assert [p.error for p in pages] == [
        "refused to connect to 127.0.0.1: a loopback address (allow private addresses in the personality's "
        "settings to read it)",
        "refused to connect to localhost (127.0.0.1): a loopback address (allow private addresses in the "
        "personality's settings to read it)",
        "refused to connect to ::1: a loopback address (allow private addresses in the personality's settings "
        "to read it)",
    ]
    assert len(site.log.requests) == before


@pytest.mark.parametrize(
    "url",
    ["http://10.0.0.1/", "http://192.168.1.1/admin", "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/"],
)
def test_private_and_link_local_addresses_are_refused_without_connecting(url):
    started = time.monotonic()
    (page,) = PageFetcher().fetch_all([url])
    assert "refused to connect" in page.error and time.monotonic() - started < 1


def test_a_redirect_from_an_allowed_to_a_refused_address_is_stopped(site, other_site, fetcher):
    to_other, to_metadata = fetcher.fetch_all(
        [site.url("/redirect/to-other-loopback"), site.url("/redirect/to-metadata")]
    )
    assert to_other.error.startswith("refused to connect to 127.0.0.2: a loopback address")
    assert to_other.redirects == [f"http://127.0.0.2:{site.port}/articles/glass-frog.html"]
    assert to_metadata.error.startswith("refused to connect to 169.254.169.254: a link-local address")
    assert other_site.log.requests == []


def test_a_redirect_to_a_name_is_resolved_and_checked_too(site, fetcher):
    (page,) = fetcher.fetch_all([site.url("/redirect/to-localhost-name")])
    assert page.ok and page.final_url == f"http://localhost:{site.port}/articles/glass-frog.html"
    ipv6_localhost = PageFetcher(TEST_POLICY, resolver=_resolver({"localhost": ["::1"]}))
    (refused,) = ipv6_localhost.fetch_all([site.url("/redirect/to-localhost-name")])
    assert refused.error.startswith("refused to connect to localhost (::1)")


def test_allow_private_reads_local_pages(site):
    (page,) = PageFetcher(AddressPolicy(allow_private=True)).fetch_all([f"http://localhost:{site.port}/notes.txt"])
    assert page.ok and page.text == PLAIN_TEXT


def _resolver(table: dict[str, list[str]]):
    async def resolve(host: str, port: int) -> list[str]:
        return table.get(host, [host])

    return resolve


def test_the_connection_goes_to_the_checked_address_not_to_a_second_lookup(site):
    """DNS rebinding: the name is resolved once, the address checked, and that address dialled.
    "rebind.test" exists only in this resolver, so the page can only be read if the fetcher
    connected to the checked address; the server still sees the name in the Host header."""
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"] if len(calls) == 1 else ["10.0.0.1"]  # a rebinding resolver

    fetcher = PageFetcher(TEST_POLICY, resolver=resolve)
    (page,) = fetcher.fetch_all([f"http://rebind.test:{site.port}/articles/kessin-lighthouse.html"])
    assert page.ok, page.error
    assert calls == ["rebind.test"]
    assert ("/articles/kessin-lighthouse.html", f"rebind.test:{site.port}") in site.log.requests


def test_a_name_that_does_not_resolve_is_a_page_error(fetcher):
    (page,) = fetcher.fetch_all(["http://no-such-host.invalid/"])
    assert page.error.startswith("the name no-such-host.invalid does not resolve")
