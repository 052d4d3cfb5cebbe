"""The disk refuses writes: a read-only data folder at start, and a disk that fills up mid-run.
The app keeps serving, the user is told, and nothing saved before is lost.

Both use a real mount in a private mount namespace (`unshare -m`, as root): a read-only bind mount
of the data folder, and a tiny tmpfs that really runs out of space.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap

import pytest
from gradio_client import Client

from tests.conftest import PROJECT_ROOT, LaunchedApp

pytestmark = [pytest.mark.slow]


def mount_namespaces_work() -> None:
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.fail(f"these tests need `unshare -m` (root in a container allows it): {probe.stderr.strip()}")


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.ui
def test_a_read_only_data_folder(tmp_path):
    mount_namespaces_work()
    data = tmp_path / "data"
    first = LaunchedApp(data, "--n-ctx", "2048")  # an earlier run saved a discussion
    try:
        c = Client(first.url, verbose=False)
        c.predict("Remember this.", api_name="/send")
    finally:
        first.stop()
    saved = {p.name: digest(p) for p in data.iterdir() if p.is_file() and p.suffix != ".log"}
    app = LaunchedApp(
        data,
        "--n-ctx",
        "2048",
        log_dir=tmp_path / "logs",  # the log cannot live in the read-only folder
        wrapper=[
            "unshare",
            "-m",
            "sh",
            "-c",
            f'mount --bind "{data}" "{data}" && mount -o remount,bind,ro "{data}" && exec "$@"',
            "sh",
        ],
    )
    try:
        assert "cannot be written" in app.log() and "nothing is saved in this run" in app.log()
        c = Client(app.url, verbose=False)
        chat = c.predict("Hello, are you there?", api_name="/send")[0]
        assert chat[-1]["role"] == "assistant" and chat[-2]["role"] == "user"  # the chat still works
        settings = c.predict(api_name="/current_settings")
        assert settings["settings"]
    finally:
        app.stop()
    after = {p.name: digest(p) for p in data.iterdir() if p.is_file() and p.suffix != ".log"}
    assert after == saved  # nothing was written, nothing was lost


DISK_FULL = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from gradio_app.config import BUILTIN_ZOO, DataPaths
    from gradio_app.discussions.store import DiscussionStore
    from gradio_app.generation.bindings.base import LoadOptions
    from gradio_app.generation.default_model import default_model_path
    from gradio_app.generation.params import GenerationParams
    from gradio_app.generation.service import GenerationService
    from gradio_app.personalities.zoo import Zoo
    from gradio_app.session import ChatSession
    from gradio_app.workflows.events import Done, ErrorOut
    from gradio_app.workflows.runner import WorkflowRunner

    disk = Path({disk!r})
    paths = DataPaths(disk / "data").ensure()
    service = GenerationService()
    service.load(default_model_path(), LoadOptions(n_ctx=1024))
    runner = WorkflowRunner(service, Zoo([BUILTIN_ZOO], trusted_roots=[BUILTIN_ZOO]), paths=paths)
    store = DiscussionStore(paths.discussions_db)
    session = ChatSession("english/generic/lollms", override=True,
                          user_params=GenerationParams(temperature=0, n_predict=8, seed=1))
    session.attach(store, "me")
    session.new_discussion(runner.zoo.get("english/generic/lollms"))

    def turn(text):
        events = list(runner.run_turn(session, text))
        return type(events[-1]).__name__

    out = {{"first": turn("Say one word.")}}
    # fill the disk to the last byte (unbuffered writes: each one fails or lands whole)
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
    for size in (65536, 1):
        try:
            while True:
                os.write(fd, b"x" * size)
        except OSError:
            pass
    os.close(fd)
    out["second"] = turn("Tell me a long story about the sea, with many words. " * 40)
    out["third"] = turn("And one more word?")
    out["kinds"] = [m.kind for m in session.messages]
    out["notes"] = [m.content for m in session.messages if m.kind == "error"]
    out["users_in_view"] = [m.content[:20] for m in session.messages if m.role == "user"]
    (disk / "filler").unlink()
    fresh = DiscussionStore(paths.discussions_db)
    stored = fresh.messages(session.discussion_id, owner="me")
    out["stored_users"] = [m.content[:20] for m in stored if m.role == "user"]
    out["integrity"] = fresh.integrity_check()
    print("RESULT" + json.dumps(out))
    """
)


@pytest.mark.model
def test_the_disk_fills_up_mid_run(tmp_path):
    mount_namespaces_work()
    disk = tmp_path / "disk"
    disk.mkdir()
    script = DISK_FULL.format(root=str(PROJECT_ROOT), disk=str(disk))
    in_namespace = ["unshare", "-m", "sh", "-c", f'mount -t tmpfs -o size=1m tmpfs "{disk}" && exec "$@"', "sh"]
    done = subprocess.run(
        [*in_namespace, sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT")]
    assert done.returncode == 0 and lines, done.stdout[-2000:] + done.stderr[-3000:]
    out = json.loads(lines[0][len("RESULT") :])
    assert out["first"] == "Done"
    assert out["second"] == "Done" and out["third"] == "Done"  # the chat went on
    assert len(out["notes"]) == 1 and "can no longer be saved" in out["notes"][0]  # told once, in the chat
    assert len(out["users_in_view"]) == 3
    assert out["stored_users"][0] == "Say one word."  # what was saved before is intact
    assert out["integrity"] == "ok"
