"""Every stored answer names the exact model file that wrote it: file name, size, SHA-256 prefix
(issue 4), for the default and the scripted workflow, with the real default model."""

import hashlib
import time

import pytest

from gradio_app.config import BUILTIN_ZOO, DataPaths
from gradio_app.generation.params import GenerationParams
from gradio_app.personalities.zoo import Zoo
from gradio_app.session import ChatSession
from gradio_app.workflows.events import Done
from gradio_app.workflows.runner import WorkflowRunner

pytestmark = pytest.mark.model

PROCESSOR = """
from gradio_app.personalities.processor import Processor as BaseProcessor


class Processor(BaseProcessor):
    def run_workflow(self, prompt, previous_discussion_text, callback):
        return self.generate(self.chat_prompt(prompt), 4)
"""


@pytest.fixture(scope="module")
def digest(model_path, service) -> str:
    """The default model's SHA-256, once the service's background hash has caught up with it."""
    deadline = time.monotonic() + 60
    while not service.info.file_sha256 and time.monotonic() < deadline:
        time.sleep(0.05)
    return hashlib.sha256(model_path.read_bytes()).hexdigest()


def assert_names_the_file(metadata: dict, model_path, digest: str) -> None:
    assert metadata["model_file"] == model_path.name
    assert metadata["model_size_bytes"] == model_path.stat().st_size
    assert metadata["model_sha256"] == digest[:12]
    assert metadata["binding"] == "llama_cpp" and metadata["model"]


def test_a_default_answer_records_the_model_file_and_hash(service, model_path, digest):
    runner = WorkflowRunner(service, Zoo([BUILTIN_ZOO]))
    session = ChatSession(
        personality_id="english/generic/lollms", user_params=GenerationParams(n_predict=4, seed=3), override=True
    )
    session.new_discussion(runner.zoo.get(session.personality_id))
    done = list(runner.run_turn(session, "Hi"))[-1]
    assert isinstance(done, Done), done
    assert_names_the_file(done.metadata, model_path, digest)
    assert session.messages[-1].metadata == done.metadata  # what the store keeps


def test_a_scripted_answer_records_the_model_file_and_hash(service, model_path, digest, tmp_path):
    folder = tmp_path / "zoo" / "english" / "testing" / "tiny"
    (folder / "scripts").mkdir(parents=True)
    (folder / "config.yaml").write_text(
        "name: Tiny\nprocessor_cfg: {custom_workflow: true, api_version: 1}\n", encoding="utf-8"
    )
    (folder / "scripts" / "processor.py").write_text(PROCESSOR, encoding="utf-8")
    zoo = Zoo([tmp_path / "zoo"], trusted_roots=[tmp_path / "zoo"])
    runner = WorkflowRunner(service, zoo, paths=DataPaths(tmp_path / "data").ensure())
    session = ChatSession(
        personality_id="english/testing/tiny", user_params=GenerationParams(n_predict=4, seed=3), override=True
    )
    session.new_discussion(zoo.get(session.personality_id))
    done = list(runner.run_turn(session, "Hi"))[-1]
    assert isinstance(done, Done), done
    assert done.metadata["workflow"] == "scripted" and done.metadata["generations"] == 1
    assert_names_the_file(done.metadata, model_path, digest)
    assert session.messages[-1].metadata == done.metadata
