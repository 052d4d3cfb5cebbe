"""Faults on purpose: files vanish, processes die mid-write. The app keeps serving, the user is told,
and nothing saved is lost or torn."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time

import pytest
import yaml

from gradio_app.generation.bindings.base import LoadOptions, ModelLoadError
from gradio_app.generation.params import GenerationParams
from gradio_app.generation.service import GenerationService
from tests.conftest import PROJECT_ROOT

CHAT = "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"


@pytest.mark.model
def test_the_model_file_disappears_while_loaded(tmp_path, model_path):
    """The loaded model keeps answering (its pages are mapped); loading it again says it is gone."""
    copy = tmp_path / "my-model.gguf"
    shutil.copyfile(model_path, copy)
    svc = GenerationService()
    svc.load(copy, LoadOptions(n_ctx=512))
    params = GenerationParams(temperature=0, n_predict=12, seed=1)
    before = svc.generate(CHAT.format("Name a colour."), params)
    copy.unlink()
    assert svc.generate(CHAT.format("Name a colour."), params) == before
    with pytest.raises(ModelLoadError, match="not found"):
        svc.load(copy, LoadOptions(n_ctx=1024))
    assert svc.is_loaded and svc.info is not None and svc.info.n_ctx == 512  # the old one still serves
    assert svc.generate(CHAT.format("Name a colour."), params) == before
    svc.unload()


WRITER = """
import sys, itertools
from pathlib import Path
sys.path.insert(0, {root!r})
from gradio_app.fileio import atomic_write_yaml
target = Path({target!r})
print("ready", flush=True)
for i in itertools.count():
    # each version is big enough that a torn write would be visible
    atomic_write_yaml(target, {{"version": i, "payload": ["x" * 200] * 500, "end": i}})
"""


@pytest.mark.slow
def test_sigkill_during_saves_never_leaves_a_torn_file(tmp_path):
    """A process killed at random moments while saving: the file is always a whole old or new version."""
    target = tmp_path / "settings.yaml"
    versions = []
    for attempt in range(12):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER.format(root=str(PROJECT_ROOT), target=str(target))],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        time.sleep(0.05 + 0.037 * attempt)  # different moments in the write cycle
        writer.send_signal(signal.SIGKILL)
        writer.wait(10)
        if not target.exists():
            continue  # killed before the first save completed: nothing, not a torn file
        data = yaml.safe_load(target.read_text())
        assert data["version"] == data["end"] and len(data["payload"]) == 500
        versions.append(data["version"])
        leftovers = [p.name for p in tmp_path.iterdir() if p.name != "settings.yaml"]
        # a temp file may be left by the kill; it is never mistaken for the settings
        assert all(name.startswith(".settings.yaml.") and name.endswith(".tmp") for name in leftovers)
    assert versions, "the writer never completed a single save"
