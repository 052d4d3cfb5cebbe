"""A chat that paints nothing never pays for torch: the app runs in-process in a subprocess, is
driven through gradio_client, and reports which heavy modules it has imported."""

import json
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT
from tests.ui.test_scripted_app import install_copy

pytestmark = [pytest.mark.ui, pytest.mark.slow]

TOT = "english/thinking/tree_of_thoughts_small"

SCRIPT = """
import json, sys
from pathlib import Path
from gradio_client import Client
from gradio_app.context import AppContext
from gradio_app.ui.app import build_app

HEAVY = ("torch", "diffusers", "transformers", "imwatermark")

def loaded():
    return sorted(m for m in HEAVY if m in sys.modules)

ctx = AppContext.create(Path(sys.argv[1]))
demo = build_app(ctx)
demo.queue()
_, url, _ = demo.launch(prevent_thread_lock=True, quiet=True)
report = {"started": loaded()}
c = Client(url, verbose=False)
c.predict("auto", True, 0.0, 40, 0.9, 1.1, 64, 16, 1, api_name="/apply_settings")
report["chat"] = c.predict("Hello, who are you?", api_name="/send")[0][-1]["content"][0]["text"]
report["after_default_personality"] = loaded()
c.predict(sys.argv[2], api_name="/select_personality")
final = c.predict("Why is the sky blue?", api_name="/send")[0]
report["tot_steps"] = sum(1 for m in final if m.get("metadata"))
report["after_tree_of_thoughts"] = loaded()
import torch  # noqa: E402,F401 - the control: the probe does see an import
report["control"] = loaded()
print("REPORT " + json.dumps(report))
demo.close()
"""


def test_chatting_with_non_art_personalities_does_not_import_torch(tmp_path):
    data = tmp_path / "data"
    small = {"depth": 1, "breadth": 2, "max_thought_tokens": 16, "max_judgement_tokens": 8, "max_summary_tokens": 32}
    install_copy(data, "english/thinking/tree_of_thoughts", TOT, small)
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(data), TOT],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("REPORT ")]
    assert lines, out.stdout[-2000:] + out.stderr[-4000:]
    report = json.loads(lines[-1].removeprefix("REPORT "))
    assert report["chat"].strip()  # a real answer came back
    assert report["tot_steps"] >= 3  # the scripted workflow ran
    assert report["started"] == []
    assert report["after_default_personality"] == []
    assert report["after_tree_of_thoughts"] == []
    assert "torch" in report["control"]
