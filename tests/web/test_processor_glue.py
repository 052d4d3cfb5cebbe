"""GPT 4 Internet through the app's WorkflowRunner: the processor glue, steps, sources, metadata."""

import shutil

import pytest
import yaml

from gradio_app.config import BUILTIN_ZOO, DataPaths
from gradio_app.discussions.store import DiscussionStore
from gradio_app.generation.params import GenerationParams
from gradio_app.personalities.zoo import Zoo
from gradio_app.session import ChatSession
from gradio_app.workflows import events as ev
from gradio_app.workflows.runner import WorkflowRunner
from tests.conftest import free_port

pytestmark = pytest.mark.model

PID = "english/internet/gpt4internet"


@pytest.fixture
def zoo_root(tmp_path):
    """A trusted copy of the built-in personality, so the test can write its config_local.yaml."""
    root = tmp_path / "zoo"
    shutil.copytree(BUILTIN_ZOO / PID, root / PID)
    return root


def runner_for(service, zoo_root, tmp_path, local_settings):
    (zoo_root / PID / "config_local.yaml").write_text(yaml.safe_dump(local_settings))
    data = DataPaths(tmp_path / "data").ensure()
    return WorkflowRunner(service, Zoo([zoo_root], trusted_roots=[zoo_root]), paths=data), data


def ask(runner, question, store=None):
    params = GenerationParams(temperature=0.0, n_predict=96, seed=3)
    session = ChatSession(personality_id=PID, user_params=params, override=True)
    if store is not None:
        session.attach(store, "tester")
    session.new_discussion(runner.zoo.get(PID))
    return session, list(runner.run_turn(session, question))


def test_answers_from_the_local_site_with_steps_and_sources(service, zoo_root, tmp_path, site):
    # The personality's own settings choose the SearXNG backend, pointed at the loopback site's
    # SearXNG API; search, fetching, extraction, ranking and the answer are the real ones.
    local = {"search_backend": "searxng", "searxng_url": site.url(""), "allow_private_addresses": True}
    runner, data = runner_for(service, zoo_root, tmp_path, {**local, "max_answer_size": 96})
    store = DiscussionStore(data.discussions_db)
    session, events = ask(runner, "How transparent is the Marlow glass frog?", store)
    done = events[-1]
    assert isinstance(done, ev.Done), events[-3:]
    titles = [e.title for e in events if isinstance(e, ev.StepStart)]
    assert len(titles) >= 4  # query, search, reading, passages (at least)
    workflow = done.metadata["workflow_data"]
    assert workflow["web_failure"] == "" and workflow["search_query"]
    assert site.log.searches[-1]["q"] == workflow["search_query"]  # what the SearXNG API was asked
    sources = done.metadata["sources"]
    assert sources and all(s["url"].startswith(site.url("/")) for s in sources)
    assert "Sources" in done.content
    # saved with the discussion: reopening shows the same answer, steps and sources
    stored = store.messages(session.discussion_id, owner="tester")
    answer = [m for m in stored if m.role == "assistant"][-1]
    assert answer.content == done.content
    assert answer.metadata["sources"] == sources and answer.metadata["steps"]


def test_offline_search_gives_an_honest_answer(service, zoo_root, tmp_path):
    # A search service that cannot be reached, made certain on any machine: the SearXNG backend
    # pointed at a loopback port nobody listens on (connection refused -> "offline").
    closed = f"http://127.0.0.1:{free_port()}"
    runner, _ = runner_for(service, zoo_root, tmp_path, {"search_backend": "searxng", "searxng_url": closed})
    _, events = ask(runner, "Who won the 2031 world cup?")
    done = events[-1]
    assert isinstance(done, ev.Done)
    workflow = done.metadata["workflow_data"]
    assert workflow["web_failure"] == "offline"
    assert done.content.startswith(f"I could not search the web for “{workflow['search_query']}”: ")
    assert "the search service cannot be reached from this machine" in done.content
    assert "I will not answer from memory" in done.content and "Connection refused" in done.content
    steps = done.metadata["steps"]
    assert [s["status"] for s in steps] == ["done", "failed"]  # the query was written; the search failed
    assert steps[1]["title"] == f"Searching the web for “{workflow['search_query']}”"
    assert done.metadata["generations"] == 1  # only the query: no answer from the model's memory
    assert not done.metadata.get("sources")


def test_searxng_chosen_without_its_address_says_which_setting_to_fix(service, zoo_root, tmp_path):
    runner, _ = runner_for(service, zoo_root, tmp_path, {"search_backend": "searxng"})
    _, events = ask(runner, "How transparent is the Marlow glass frog?")
    [error] = [e for e in events if isinstance(e, ev.ErrorOut)]
    assert "GPT 4 Internet cannot search: 'searxng_url' is needed to search with searxng" in error.message
    assert "Fix it in the personality's settings." in error.message
    assert not any(isinstance(e, ev.StepStart) for e in events)  # nothing ran, the model was not asked
