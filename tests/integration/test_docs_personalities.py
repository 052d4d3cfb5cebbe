"""The complete minimal example of docs/personalities.md, as written, loaded and run."""

import re

import pytest

from gradio_app.config import DataPaths
from gradio_app.generation.params import GenerationParams
from gradio_app.personalities.zoo import Zoo
from gradio_app.session import ChatSession
from gradio_app.workflows import events as ev
from gradio_app.workflows.runner import WorkflowRunner
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.model

DOC = PROJECT_ROOT / "docs" / "personalities.md"


def example(name: str) -> str:
    pattern = rf"<!-- example: {re.escape(name)} -->\n```\w+\n(.*?)\n```"
    [block] = re.findall(pattern, DOC.read_text(encoding="utf-8"), re.S)
    return block + "\n"


def test_the_documented_example_runs(service, tmp_path):
    user_zoo = tmp_path / "personalities"
    folder = user_zoo / "english" / "examples" / "two_drafts"
    (folder / "scripts").mkdir(parents=True)
    (folder / "config.yaml").write_text(example("config.yaml"), encoding="utf-8")
    (folder / "scripts" / "processor.py").write_text(example("scripts/processor.py"), encoding="utf-8")
    zoo = Zoo([user_zoo])  # a user's zoo: not trusted until the user says so
    runner = WorkflowRunner(service, zoo, paths=DataPaths(tmp_path / "data").ensure())
    personality = zoo.get("english/examples/two_drafts")
    personality.save_local_settings({"draft_tokens": 24, "answer_tokens": 24})
    session = ChatSession(personality_id=personality.id, override=True, user_params=GenerationParams(seed=2))
    session.new_discussion(personality)
    refused = list(runner.run_turn(session, "What is a rainbow?"))[-1]
    assert isinstance(refused, ev.ErrorOut) and "has not been run" in refused.message
    personality.trust()
    events = list(runner.run_turn(session, "What is a rainbow?"))
    done = events[-1]
    assert isinstance(done, ev.Done), done
    [step] = done.metadata["steps"]
    assert step["title"] == "✏️ First draft" and step["status"] == "done" and step["content"].strip()
    assert done.content and any(isinstance(e, ev.TextChunk) for e in events)
    assert done.metadata["generations"] == 2
