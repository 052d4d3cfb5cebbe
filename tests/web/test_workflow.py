"""answer_with_web end to end: the real default model, real pages on loopback, real trafilatura."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import replace

import pytest

from gradio_app.generation.params import GenerationParams
from gradio_app.personalities.personality import Personality
from gradio_app.web.citations import cited_numbers
from gradio_app.web.extract import extract_main_text
from gradio_app.web.fetch import FetchLimits, PageFetcher
from gradio_app.web.model import ServiceModel
from gradio_app.web.report import EventReport
from gradio_app.web.search import DuckDuckGoSearch
from gradio_app.web.settings import WebSettings
from gradio_app.web.workflow import answer_with_web
from gradio_app.workflows.events import Sources, StepEnd, StepStart, TextChunk
from tests.conftest import PROJECT_ROOT
from tests.web.conftest import TEST_POLICY
from tests.web.local_index import IndexedPage, LocalIndexSearch
from tests.web.site import BREAD, FROG, LIGHTHOUSE, page_words

pytestmark = [pytest.mark.model, pytest.mark.slow]

PERSONALITY = Personality.load(PROJECT_ROOT / "personalities/english/internet/gpt4internet", builtin=True)
CONDITIONING = PERSONALITY.config.personality_conditioning
GREEDY = GenerationParams(temperature=0, seed=7, repeat_penalty=1.1, n_predict=64)
# Lean: a 1024-token budget (a few passages) and short answers keep each turn quick on a shared CPU.
SETTINGS = WebSettings(max_query_size=16, max_answer_size=64, pages_to_read=3, num_results=3)
SERVED = {
    "/articles/glass-frog.html": FROG,
    "/articles/kessin-lighthouse.html": LIGHTHOUSE,
    "/articles/sourdough.html": BREAD,
}


def run(service, question, backend, fetcher=None, history="", settings=SETTINGS, cancel=None, wrap=None):
    model = ServiceModel(service, GREEDY, tuple(PERSONALITY.config.stop_strings()), cancel)
    events: list = []
    report = EventReport(events.append)
    generate = model.generate if wrap is None else wrap(model.generate)
    answer = answer_with_web(
        question,
        history,
        generate,
        report,
        settings,
        backend,
        fetcher or PageFetcher(TEST_POLICY, FetchLimits(total_timeout_s=10)),
        shape=replace(model.shape(CONDITIONING, PERSONALITY.config), context_tokens=1024),
        cancelled=model.cancelled,
    )
    return answer, report, events, model


def test_an_answer_from_the_pages_with_steps_citations_and_sources(service, index, site):
    answer, report, events, model = run(service, "When was the Kessin lighthouse built?", index)
    assert not answer.failure and not answer.cancelled
    n_read = min(3, len(answer.results))
    assert [s["title"] for s in report.steps] == [
        "Writing a search query",
        f"Searching the web for “{answer.query}”",
        f"Reading {n_read} page{'s' if n_read > 1 else ''}",
        "Picking the relevant passages",
    ]
    assert all(s["status"] == "done" and s["duration_s"] >= 0 for s in report.steps)
    assert "kessin" in answer.query.lower() and not answer.query_fallback
    # events: every step opens then closes, and the streamed text is exactly the answer
    kinds = [type(e) for e in events]
    assert kinds.count(StepStart) == kinds.count(StepEnd) == 4 and kinds.count(Sources) == 1
    assert "".join(e.text for e in events if isinstance(e, TextChunk)) == answer.text == report.text
    assert len(model.results) == 2  # the query, the answer

    # every source passage is real text of the page it names, as the server sent it
    assert answer.sources and answer.sources[0]["url"] == site.url("/articles/kessin-lighthouse.html")
    for source in answer.sources:
        html = SERVED[source["url"].split(str(site.port), 1)[1]]
        assert source["passage"] in extract_main_text(html, source["url"])
        assert source["passage"].split()[-1].strip(".,") in page_words(html)
        assert source["origin"] == "page"
    # every citation in the answer points at one of those passages; the Sources list closes it
    body, _, sources_list = answer.text.partition("**Sources")
    numbers = {s["index"] for s in answer.sources}
    assert set(cited_numbers(body)) <= numbers and set(answer.cited) <= numbers
    assert site.url("/articles/kessin-lighthouse.html") in sources_list
    assert "1874" in body  # the fact came from the page (the lighthouse is invented)
    metadata = answer.to_metadata()
    assert metadata["search_query"] == answer.query and len(metadata["pages"]) == n_read

    again, *_ = run(service, "When was the Kessin lighthouse built?", index)

    # seeded greedy: the same turn twice gives the same answer (when it does not, say what differed)
    def read(a):
        return a.query, [{k: v for k, v in page.items() if k != "elapsed_s"} for page in a.pages]

    assert read(again) == read(answer)
    assert [s["passage"] for s in again.sources] == [s["passage"] for s in answer.sources]
    assert again.text == answer.text


def test_a_citation_to_a_passage_that_does_not_exist_is_removed(service, index):
    def with_a_bogus_citation(generate):
        """The real model's answer, then a citation of a passage that does not exist."""

        def wrapped(prompt, max_size, *, stream_to=None, **overrides):
            text = generate(prompt, max_size, stream_to=stream_to, **overrides)
            if stream_to is not None:  # only the answer streams
                stream_to(" See also [42].")
            return text + " See also [42]."

        return wrapped

    answer, *_ = run(service, "How big is the Marlow glass frog?", index, wrap=with_a_bogus_citation)
    body = answer.text.partition("**Sources")[0]
    assert "[42]" not in body.replace("Citation [42] removed", "")
    assert "*Citation [42] removed: no such passage.*" in body
    assert answer.dropped_citations == [42]
    assert set(cited_numbers(body.replace("[42]", ""))) <= {s["index"] for s in answer.sources}


def test_a_follow_up_question_is_searched_with_the_discussion(service, index):
    history = "### User:\nHow do I make a sourdough starter?\n### Assistant:\nMix flour and water and feed it daily.\n"
    answer, *_ = run(service, "and how do I keep it alive when I go on holiday?", index, history=history)
    assert "sourdough" in answer.query.lower()
    assert any("sourdough" in s["url"] for s in answer.sources)


def _internet_reachable() -> bool:
    try:
        socket.getaddrinfo("html.duckduckgo.com", 443)
    except OSError:
        return False
    return True


def test_offline_the_answer_says_it_could_not_search_and_invents_nothing(service):
    if _internet_reachable():
        pytest.skip("this machine reaches the internet: the offline path cannot be observed")
    started = time.monotonic()
    settings = WebSettings(max_query_size=16, max_answer_size=64, search_timeout_s=5)
    answer, report, _, model = run(service, "How big is the Marlow glass frog?", DuckDuckGoSearch(), settings=settings)
    assert answer.failure == "offline"
    assert answer.text.startswith("I could not search the web for “")
    assert "cannot be reached from this machine" in answer.text and "I will not answer from memory" in answer.text
    assert len(model.results) == 1  # only the query was generated: no answer from memory
    assert [s["status"] for s in report.steps] == ["done", "failed"] and answer.sources == []
    assert time.monotonic() - started < 60  # generous: the model writes the query on a shared CPU


def test_a_search_that_times_out_says_so(service, silent_proxy):
    settings = WebSettings(max_query_size=16, max_answer_size=64, search_timeout_s=1.5)
    backend = DuckDuckGoSearch(proxy=silent_proxy)  # the real ddgs client, through a proxy that never answers
    answer, report, _, model = run(service, "How big is the Marlow glass frog?", backend, settings=settings)
    assert answer.failure == "timeout" and "did not answer in time" in answer.text
    assert "I will not answer from memory" in answer.text and len(model.results) == 1
    assert report.steps[1]["status"] == "failed" and report.steps[1]["duration_s"] < 5


def test_a_search_with_no_results_says_so(service, index):
    answer, report, _, model = run(service, "What is the migration route of the striped zebra?", index)
    assert answer.failure == "empty" and "found no results" in answer.text
    assert len(model.results) == 1 and report.steps[-1]["status"] == "failed"


def test_when_no_page_can_be_read_the_snippets_are_used_and_marked(service, site):
    backend = LocalIndexSearch(
        [
            IndexedPage(site.url("/report.pdf"), "Kessin report", "The lighthouse is 38 metres tall.", "kessin"),
            IndexedPage("http://10.0.0.1/kessin", "Kessin intranet", "Built in 1874 from red brick.", "kessin"),
        ]
    )
    answer, report, *_ = run(service, "How tall is the Kessin lighthouse?", backend)
    reading = report.steps[2]
    assert reading["status"] == "failed" and "not a web page (application/pdf)" in reading["content"]
    assert "refused to connect to 10.0.0.1: a private address" in reading["content"]
    assert answer.sources and {s["origin"] for s in answer.sources} == {"snippet"}
    assert {s["passage"] for s in answer.sources} <= {r.snippet for r in backend.search("kessin", max_results=5)}


def test_results_without_any_text_give_an_honest_answer(service, site):
    backend = LocalIndexSearch([IndexedPage(site.url("/app.html"), "Kessin app", "", "kessin lighthouse")])
    answer, *_ = run(service, "How tall is the Kessin lighthouse?", backend)
    assert answer.failure == "unreadable" and "could not read any of them" in answer.text


def test_stop_while_reading_ends_the_turn_within_a_second(service, site):
    backend = LocalIndexSearch([IndexedPage(site.url("/slow.html"), "Kessin slow", "", "kessin lighthouse")])
    cancel = threading.Event()
    fetcher = PageFetcher(TEST_POLICY, FetchLimits(total_timeout_s=60))
    stopped_at: list[float] = []

    original = fetcher.afetch_all

    async def slow_fetch(urls, cancelled):  # Stop is pressed 0.3 s into the reading step
        threading.Timer(0.3, lambda: (stopped_at.append(time.monotonic()), cancel.set())).start()
        return await original(urls, cancelled)

    fetcher.afetch_all = slow_fetch  # type: ignore[method-assign]
    answer, report, *_ = run(service, "How tall is the Kessin lighthouse?", backend, fetcher=fetcher, cancel=cancel)
    assert answer.cancelled and report.steps[-1]["status"] == "cancelled"
    assert time.monotonic() - stopped_at[0] < 1.5
    assert answer.text == ""
