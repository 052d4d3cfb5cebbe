"""The search backends: the real ddgs client without internet, its errors, the SearXNG client
against the test site's SearXNG API (and its failures), the local index."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import pytest

from gradio_app.web.search import (
    DuckDuckGoSearch,
    SearchFailed,
    SearchResult,
    SearxngSearch,
    classify_ddgs_error,
    clean_results,
    searxng_language,
)
from tests.conftest import PROJECT_ROOT, free_port


def _internet_reachable() -> bool:
    try:
        socket.getaddrinfo("html.duckduckgo.com", 443)
    except OSError:
        return False
    return True


def test_the_real_ddgs_search_without_internet_fails_fast_as_offline():
    if _internet_reachable():
        pytest.skip("this machine reaches the internet: the offline path cannot be observed")
    started = time.monotonic()
    with pytest.raises(SearchFailed) as failed:
        DuckDuckGoSearch().search("marlow glass frog", max_results=3, timeout_s=5)
    assert failed.value.kind == "offline" and "cannot be reached" in str(failed.value)
    assert time.monotonic() - started < 5


def test_an_unreachable_proxy_is_offline_too():
    started = time.monotonic()
    with pytest.raises(SearchFailed) as failed:
        DuckDuckGoSearch(proxy=f"http://127.0.0.1:{free_port()}").search("x", max_results=3, timeout_s=5)
    assert failed.value.kind == "offline" and "Connection refused" in str(failed.value)
    assert time.monotonic() - started < 5


def test_a_search_that_hangs_is_cut_at_its_timeout(silent_proxy):
    started = time.monotonic()
    with pytest.raises(SearchFailed) as failed:
        DuckDuckGoSearch(proxy=silent_proxy).search("x", max_results=3, timeout_s=1.5)
    assert failed.value.kind == "timeout"
    assert time.monotonic() - started < 4


def test_stop_ends_a_hanging_search_within_a_second(silent_proxy):
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    with pytest.raises(SearchFailed) as failed:
        DuckDuckGoSearch(proxy=silent_proxy).search("x", max_results=3, timeout_s=30, cancelled=stop.is_set)
    assert failed.value.kind == "cancelled" and time.monotonic() - started < 1.3


def test_ddgs_errors_are_classified():
    from ddgs.exceptions import DDGSException, RatelimitException, TimeoutException

    assert classify_ddgs_error(RatelimitException("202 Ratelimit")).kind == "rate_limited"
    assert classify_ddgs_error(TimeoutException("operation timed out")).kind == "timeout"
    assert classify_ddgs_error(DDGSException("DNSError: error resolving DNS")).kind == "offline"
    assert classify_ddgs_error(DDGSException("No results found.")) is None  # an empty result, not a failure
    assert classify_ddgs_error(DDGSException("something else")).kind == "error"


def test_bad_options_are_refused_early():
    with pytest.raises(ValueError, match="search backend"):
        DuckDuckGoSearch("altavista")
    with pytest.raises(ValueError, match="safesearch"):
        DuckDuckGoSearch().search("x", max_results=1, safesearch="strict")
    assert DuckDuckGoSearch().search("   ", max_results=1) == []


def test_results_are_cleaned_deduplicated_and_capped():
    raw = [
        SearchResult(" A  title ", "https://a.test/1", " one\n snippet "),
        SearchResult("dup", "https://a.test/1"),
        SearchResult("js", "javascript:alert(1)"),
        SearchResult("", "http://b.test/"),
        SearchResult("c", "https://c.test/"),
    ]
    assert clean_results(raw, 2) == [
        SearchResult("A title", "https://a.test/1", "one snippet"),
        SearchResult("http://b.test/", "http://b.test/", ""),
    ]


def test_the_local_index_ranks_its_pages(index, site):
    results = index.search("kessin lighthouse height", max_results=3)
    assert results[0].url == site.url("/articles/kessin-lighthouse.html")
    assert index.search("nothing matches zebra", max_results=3) == []


def test_searxng_gives_the_instances_results_and_sends_its_parameters(site):
    backend = SearxngSearch(site.url("/"))  # a trailing slash is fine
    assert backend.name == f"SearXNG at 127.0.0.1:{site.port}"
    results = backend.search("kessin lighthouse", max_results=2, region="us-en", safesearch="on")
    assert results[0] == SearchResult(
        "The Kessin lighthouse: 150 years on the cliff",
        site.url("/articles/kessin-lighthouse.html"),
        "The red brick tower above Kessin harbour, built in 1874.",
    )
    assert len(results) <= 2
    sent = site.log.searches[-1]
    assert sent == {"q": "kessin lighthouse", "format": "json", "language": "en-US", "safesearch": "2"}
    assert backend.search("striped zebra migration", max_results=3) == []  # nothing matched: not a failure
    assert site.log.searches[-1]["language"] == "all" and site.log.searches[-1]["safesearch"] == "1"


@pytest.mark.parametrize(
    ("prefix", "kind", "says"),
    [
        ("/searxng-403", "error", "add json to search.formats in its settings.yml"),
        ("/searxng-429", "rate_limited", "rate-limiting this machine (HTTP 429)"),
        ("/searxng-html", "error", "did not answer in SearXNG's JSON format"),
        ("/searxng-broken", "error", "failed (google timeout)"),
        ("/no-such-instance", "error", "answered HTTP 404"),
    ],
)
def test_searxng_failures_say_what_went_wrong(site, prefix, kind, says):
    with pytest.raises(SearchFailed) as failed:
        SearxngSearch(site.url(prefix)).search("kessin", max_results=3, timeout_s=5)
    assert failed.value.kind == kind and says in str(failed.value)


def test_searxng_unreachable_is_offline_and_fast():
    started = time.monotonic()
    with pytest.raises(SearchFailed) as failed:
        SearxngSearch(f"http://127.0.0.1:{free_port()}").search("x", max_results=3, timeout_s=5)
    assert failed.value.kind == "offline" and "cannot be reached from this machine" in str(failed.value)
    assert time.monotonic() - started < 2


def test_searxng_that_never_answers_is_cut_at_the_timeout_or_by_stop(site):
    silent = SearxngSearch(site.url("/searxng-silent"))
    started = time.monotonic()
    with pytest.raises(SearchFailed) as failed:
        silent.search("x", max_results=3, timeout_s=1.0)
    assert failed.value.kind == "timeout" and time.monotonic() - started < 2
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    with pytest.raises(SearchFailed) as failed:
        silent.search("x", max_results=3, timeout_s=30, cancelled=stop.is_set)
    assert failed.value.kind == "cancelled" and time.monotonic() - started < 1.3


@pytest.mark.parametrize("url", ["localhost:8080", "ftp://searx.example", "http://", ""])
def test_searxng_needs_an_http_address(url):
    with pytest.raises(ValueError, match="SearXNG address must be an http"):
        SearxngSearch(url)


def test_regions_become_searxng_languages():
    regions = ("wt-wt", "us-en", "uk-en", "fr-fr", "xl-es", "ct-ca")
    assert [searxng_language(r) for r in regions] == ["all", "en-US", "en-GB", "fr-FR", "es", "ca"]


def test_importing_the_web_workflow_loads_neither_ddgs_nor_trafilatura():
    code = (
        "import sys, gradio_app.web.workflow, gradio_app.web.model, gradio_app.web.report, gradio_app.ui.app;"
        "print(sorted(m for m in ('ddgs', 'trafilatura', 'primp') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
