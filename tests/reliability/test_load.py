"""Load: many users at once on one model. Everyone is answered, in order, with no cross-talk, the
waiting ones see their place in line, memory stays put, and overload is refused politely."""

from __future__ import annotations

import re
import threading
import time

import httpx
import pytest
import yaml
from gradio_client import Client
from gradio_client.utils import QueueError, Status

from tests.conftest import LaunchedApp

pytestmark = [pytest.mark.ui, pytest.mark.slow]

USERS = 16
QUICK = "english/testing/quick"


def add_quick_personality(data_dir, n_predict: int) -> None:
    """A greedy personality with short answers, so a load round stays short."""
    folder = data_dir / "personalities" / "english" / "testing" / "quick"
    folder.mkdir(parents=True)
    config = {
        "name": "Quick",
        "personality_conditioning": "You answer in one short sentence.",
        "welcome_message": "Ready.",
        "model_temperature": 0.0,
        "model_n_predicts": n_predict,
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config))


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def texts(chat):
    return [(m["role"], "".join(part.get("text", "") for part in m["content"])) for m in chat]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    data = tmp_path_factory.mktemp("load-data")
    add_quick_personality(data, n_predict=12)
    launched = LaunchedApp(data)
    yield launched
    launched.stop()


def one_round(app: LaunchedApp) -> dict[str, dict]:
    """USERS clients each select Quick and send one message at the same moment."""
    clients = {f"user{i:02d}": Client(app.url, verbose=False) for i in range(USERS)}
    for c in clients.values():
        c.predict(QUICK, api_name="/select_personality")
    results: dict[str, dict] = {}
    barrier = threading.Barrier(USERS)

    def chat(name: str, c: Client) -> None:
        barrier.wait()
        job = c.submit(f"My name is {name}. Say hello to {name}.", api_name="/send")
        updates = [texts(chat) for chat, _ in job]
        results[name] = {"updates": updates, "final": texts(job.result()[0])}

    threads = [threading.Thread(target=chat, args=item) for item in clients.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    return results


def test_sixteen_users_at_once_are_all_answered_without_cross_talk(app):
    results = one_round(app)
    assert sorted(results) == sorted(f"user{i:02d}" for i in range(USERS))  # nobody lost
    waiting_seen = 0
    for name, result in results.items():
        final = result["final"]
        users = [content for role, content in final if role == "user"]
        assert users == [f"My name is {name}. Say hello to {name}."]  # only their own message
        assert final[-1][0] == "assistant" and final[-1][1].strip()  # and an answer
        other_names = [n for n in results if n != name and n in final[-1][1]]
        assert not other_names, f"{name} got text about {other_names}"
        positions = [
            int(m.group(1))
            for update in result["updates"]
            if update
            for m in [re.search(r"Waiting for the model: (\d+) request", update[-1][1])]
            if m
        ]
        if positions:
            waiting_seen += 1
            assert positions == sorted(positions, reverse=True)  # the place in line only improves
            assert max(positions) < USERS
    # one model, sixteen users: most of them had to wait and were told where they stood
    assert waiting_seen >= USERS // 2


def test_memory_is_stable_over_rounds(app):
    one_round(app)  # warm up: model, caches, Gradio's worker threads
    before = rss_kib(app.proc.pid)
    for _ in range(2):
        one_round(app)
    growth_mib = (rss_kib(app.proc.pid) - before) / 1024
    assert growth_mib < 64, f"resident memory grew by {growth_mib:.0f} MiB over two rounds of {USERS} users"


def test_overload_is_refused_politely(tmp_path):
    """With one chat in flight and a queue of one, a third request is told the queue is full."""
    add_quick_personality(tmp_path, n_predict=400)
    app = LaunchedApp(tmp_path, "--concurrency", "1", "--max-queue", "1")
    try:
        clients = [Client(app.url, verbose=False) for _ in range(3)]
        for c in clients:
            c.predict(QUICK, api_name="/select_personality")
        long = "Count from 1 to 1000, separated by commas."  # greedy: counts on and on
        running = clients[0].submit(long, api_name="/send")
        next(iter(running))  # it is generating now
        queued = clients[1].submit(long, api_name="/send")
        deadline = time.monotonic() + 30
        while queued.status().code != Status.IN_QUEUE:  # wait until it really holds the queue's place
            assert time.monotonic() < deadline, f"the second request never queued: {queued.status()}"
            time.sleep(0.05)
        with pytest.raises(QueueError, match=r"(?i)queue is full"):
            clients[2].predict("Hello?", api_name="/send")
        assert not running.done()  # the refusal did not disturb the running answer
        # Stop skips the queue (queue=False), as the browser sends it: it works even now
        for c in clients[:2]:
            stop = httpx.post(f"{app.url}gradio_api/run/stop", json={"data": [None], "session_hash": c.session_hash})
            assert stop.status_code == 200, stop.text
        answer = texts(running.result(timeout=60)[0])[-1]
        assert answer[0] == "assistant" and len(answer[1]) < 400  # stopped well before n_predict
        queued.result(timeout=120)
        # once the load is gone, the refused user is served normally
        assert texts(clients[2].predict("Hello?", api_name="/send")[0])[-1][0] == "assistant"
    finally:
        app.stop()
