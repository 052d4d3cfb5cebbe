"""Tree of Thoughts end to end with the real default model: the tree's steps, and a fixed seed
giving the very same tree and answer again."""

import shutil

import pytest

from gradio_app.config import BUILTIN_ZOO, DataPaths
from gradio_app.generation.params import GenerationParams
from gradio_app.personalities.zoo import Zoo
from gradio_app.session import ChatSession
from gradio_app.workflows import events as ev
from gradio_app.workflows.runner import WorkflowRunner

pytestmark = [pytest.mark.model, pytest.mark.slow]

PID = "english/thinking/tree_of_thoughts"
SMALL = {"depth": 2, "breadth": 2, "max_thought_tokens": 24, "max_judgement_tokens": 16, "max_summary_tokens": 32}
QUESTION = "How can a small town reduce its traffic jams?"


@pytest.fixture(scope="module")
def runner(service, tmp_path_factory):
    root = tmp_path_factory.mktemp("tot")
    zoo_root = root / "zoo"
    shutil.copytree(BUILTIN_ZOO / PID, zoo_root / PID)  # a copy: the test writes its config_local.yaml
    zoo = Zoo([zoo_root], trusted_roots=[zoo_root])
    zoo.get(PID).save_local_settings(SMALL)
    return WorkflowRunner(service, zoo, paths=DataPaths(root / "data").ensure())


def ask(runner, seed=1234):
    session = ChatSession(personality_id=PID, override=True, user_params=GenerationParams(seed=seed, temperature=0.8))
    session.new_discussion(runner.zoo.get(PID))
    events = list(runner.run_turn(session, QUESTION))
    return session, events


@pytest.fixture(scope="module")
def first(runner):
    return ask(runner)


def test_the_tree_is_shown_as_nested_steps(first):
    session, events = first
    done = events[-1]
    assert isinstance(done, ev.Done), done
    steps = done.metadata["steps"]
    levels = [s for s in steps if s["parent_id"] is None]
    assert [s["title"].split(":")[0] for s in levels] == ["🌳 Level 1 of 2", "🌳 Level 2 of 2"]
    tree = done.metadata["workflow_data"]["tree"]
    assert [t["level"] for t in tree] == [1, 2]
    for level, node in zip(levels, tree, strict=True):
        children = [s for s in steps if s["parent_id"] == level["id"]]
        thoughts, judgement = children[:-1], children[-1]
        assert [t["title"].split(" ✅")[0] for t in thoughts] == [f"💭 Thought {node['level']}.{i}" for i in (1, 2)]
        assert len(node["candidates"]) == 2
        # every candidate is visible, streamed into its step
        for thought, text in zip(thoughts, node["candidates"], strict=True):
            assert text and text in thought["content"]
        # which won, and why
        winner = node["choice"]
        assert thoughts[winner - 1]["title"].endswith("✅ chosen")
        assert sum(t["title"].endswith("✅ chosen") for t in thoughts) == 1
        assert judgement["title"].endswith(f"Thought {node['level']}.{winner} wins")
        assert f"Chosen: Thought {node['level']}.{winner}" in judgement["content"]
        assert node["method"] in {"judge", "strict", "fallback"} and node["reason"]
        assert level["title"].endswith(f"Thought {node['level']}.{winner} chosen")
    assert all(s["status"] == "done" for s in steps)
    # the winner of level 1 is in the context of level 2's thoughts
    assert tree[0]["candidates"][tree[0]["choice"] - 1]
    # the synthesized answer streamed as the message itself and is stored with the steps
    chunks = "".join(e.text for e in events if isinstance(e, ev.TextChunk))
    assert done.content and chunks.strip() == done.content
    assert session.messages[-1].metadata["steps"] == steps
    assert done.metadata["generations"] >= 2 * 2 + 2 + 1  # thoughts + judgements + summary


def test_a_fixed_seed_gives_the_same_tree_and_answer(runner, first):
    _, events = first
    _, again = ask(runner)
    a, b = events[-1], again[-1]
    assert a.metadata["workflow_data"]["tree"] == b.metadata["workflow_data"]["tree"]
    assert [s["title"] for s in a.metadata["steps"]] == [s["title"] for s in b.metadata["steps"]]
    assert a.content == b.content
    assert a.metadata["seeds"] == b.metadata["seeds"]
    assert len(set(a.metadata["seeds"])) == len(a.metadata["seeds"])  # each generation its own seed
