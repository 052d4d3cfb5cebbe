"""The app starts without the heavy libraries: torch, diffusers, ddgs and trafilatura are imported
only by the workflows that use them (a chat never pays for image generation or web search)."""

import json
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT, free_port

pytestmark = [pytest.mark.slow, pytest.mark.model]

HEAVY = ["torch", "diffusers", "ddgs", "trafilatura", "transformers"]

# Starts the real entry point (app.main: settings, model, zoo, every tab, launch) in a thread of a
# fresh interpreter, waits for the first HTTP 200, then reports which heavy modules got imported.
PROBE = """
import json, os, sys, threading, time, urllib.request
sys.argv = ["app.py", "--port", "{port}", "--data-dir", {data!r}, "--log-level", "WARNING"]
sys.path.insert(0, {root!r})
import app
threading.Thread(target=app.main, daemon=True).start()
deadline = time.monotonic() + 120
while True:
    try:
        with urllib.request.urlopen("http://127.0.0.1:{port}/", timeout=2) as r:
            if r.status == 200:
                break
    except OSError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.1)
with urllib.request.urlopen("http://127.0.0.1:{port}/config", timeout=10) as r:
    r.read()
heavy = {heavy!r}
print("IMPORTED " + json.dumps([m for m in heavy if m in sys.modules]), flush=True)
os._exit(0)
"""


def test_no_heavy_library_is_imported_at_app_start(tmp_path):
    code = PROBE.format(port=free_port(), data=str(tmp_path / "data"), root=str(PROJECT_ROOT), heavy=HEAVY)
    env_python = sys.executable
    done = subprocess.run([env_python, "-c", code], capture_output=True, text=True, timeout=180, cwd=PROJECT_ROOT)
    lines = [line for line in done.stdout.splitlines() if line.startswith("IMPORTED ")]
    assert lines, f"the app did not start:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    assert json.loads(lines[-1][len("IMPORTED ") :]) == []
