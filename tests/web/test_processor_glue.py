"""GPT 4 Internet through the app's WorkflowRunner: the processor glue, steps, sources, metadata."""

import shutil

import pytest
import yaml

from gradio_app.config import BUILTIN_ZOO, DataPaths
from gradio_app.discussions.store import DiscussionStore
from gradio_app.generation.params import GenerationParams
from gradio_app.personalities.zoo import Zoo
from gradio_app.session import ChatSession
from gradio_app.web.settings import WebSettings
from gradio_app.workflows import events as ev
from gradio_app.workflows.runner import WorkflowRunner

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


def test_answers_from_the_local_site_with_steps_and_sources(service, zoo_root, tmp_path, site, index, monkeypatch):
    # The search step through its interface (a local index of the loopback site); fetching,
    # extraction, ranking and the answer are the real ones.
    monkeypatch.setattr(WebSettings, "backend", lambda self: index)
    runner, data = runner_for(service, zoo_root, tmp_path, {"allow_private_addresses": True, "max_answer_size": 96})
    store = DiscussionStore(data.discussions_db)
    session, events = ask(runner, "How transparent is the Marlow glass frog?", store)
    done = events[-1]
    assert isinstance(done, ev.Done), events[-3:]
    titles = [e.title for e in events if isinstance(e, ev.StepStart)]
    assert len(titles) >= 4  # query, search, reading, passages (at least)
    sources = done.metadata["sources"]
    assert sources and all(s["url"].startswith(site.url("/")) for s in sources)
    assert "Sources" in done.content
    assert done.metadata["workflow_data"]["search_query"]
    assert done.metadata["workflow_data"]["web_failure"] == ""
    # saved with the discussion: reopening shows the same answer, steps and sources
    stored = store.messages(session.discussion_id, owner="tester")
    answer = [m for m in stored if m.role == "assistant"][-1]
    assert answer.content == done.content
    assert answer.metadata["sources"] == sources and answer.metadata["steps"]


def test_offline_search_gives_an_honest_answer(service, zoo_root, tmp_path):
    # The real DuckDuckGo client: this machine has no internet, so the search cannot be made.
    runner, _ = runner_for(service, zoo_root, tmp_path, {"search_timeout_s": 3.0})
    _, events = ask(runner, "Who won the 2031 world cup?")
    done = events[-1]
    assert isinstance(done, ev.Done)
    assert "could not search" in done.content.lower() or "found no results" in done.content.lower()
    assert "from memory" in done.content.lower() or "no results" in done.content.lower()
    assert done.metadata["workflow_data"]["web_failure"] in ("offline", "timeout", "error", "empty", "rate_limited")
