"""kill -9 at any moment: the database stays intact, every finished message stays readable, and an
answer cut off mid-stream comes back flagged incomplete (and is shown as interrupted)."""

import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest
from gradio_client import Client

from tests.conftest import PROJECT_ROOT, LaunchedApp, chat_texts

pytestmark = [pytest.mark.slow]

# prompt_format, override, temperature, top_k, top_p, repeat_penalty, repeat_last_n, n_predict, seed
SHORT = ("auto", True, 0.0, 40, 0.9, 1.1, 64, 8, 1)
LONG = ("auto", True, 0.0, 40, 0.9, 1.0, 64, 3000, 1)
LONG_QUESTION = "Count from 1 to 3000, separated by commas."


def rows(db):
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return conn.execute("SELECT role, kind, content, incomplete FROM messages ORDER BY rowid").fetchall()
    finally:
        conn.close()


@pytest.mark.ui
def test_sigkill_mid_stream_keeps_every_finished_message_and_flags_the_partial_one(tmp_path):
    data = tmp_path / "data"
    app = LaunchedApp(data, "--auth", "tester:secret")
    try:
        c = Client(app.url, auth=("tester", "secret"), verbose=False)
        c.predict(*SHORT, api_name="/apply_settings")
        finished = chat_texts(c.predict("Say hello.", api_name="/send")[0])
        c.predict(*LONG, api_name="/apply_settings")
        # counting has no natural end (a story may finish before the kill on a fast machine)
        job = c.submit(LONG_QUESTION, api_name="/send")
        started = None
        for chat, _ in job:
            partial = chat_texts(chat)[-1][1]
            if started is None and len(partial) > 20:
                started = time.monotonic()
            # the answer has been streaming for a while: it was saved at least twice
            if started is not None and time.monotonic() - started > 2.5:
                break
        seen = chat_texts(chat)[-1][1]
        assert not job.done(), "the answer ended before the kill: the test needs a longer one"
        app.proc.send_signal(signal.SIGKILL)
        app.proc.wait(10)
    finally:
        app.stop()

    stored = rows(data / "discussions.sqlite3")
    assert [(r[0], r[1], r[3]) for r in stored] == [
        ("assistant", "welcome", 0),
        ("user", "normal", 0),
        ("assistant", "normal", 0),
        ("user", "normal", 0),
        ("assistant", "normal", 1),  # cut off: flagged
    ]
    assert [r[2] for r in stored[:3]] == [text for _, text in finished]
    partial = stored[-1][2]
    # saved while it streamed: what the client saw and what the disk holds are the same text, one a
    # little ahead of the other (the client lags the server; the disk lags it by at most ~1 s)
    common = min(len(seen), len(partial))
    assert len(partial) > 20 and seen[:common] == partial[:common]

    again = LaunchedApp(data, "--auth", "tester:secret")
    try:
        c = Client(again.url, auth=("tester", "secret"), verbose=False)
        (discussion,) = c.predict("", api_name="/list_discussions")
        chat, *_ = c.predict(discussion["id"], api_name="/open_discussion")
        shown = chat_texts(chat)
        assert shown[:3] == finished
        assert shown[3] == ("user", LONG_QUESTION)
        assert shown[4][1].startswith(partial) and "Interrupted" in shown[4][1]
        # and the discussion goes on: Continue finishes the interrupted answer
        c.predict(*SHORT, api_name="/apply_settings")
        chat = c.predict(api_name="/continue")
        assert chat_texts(chat)[-1][1].startswith(partial) and "Interrupted" not in chat_texts(chat)[-1][1]
    finally:
        again.stop()
    assert rows(data / "discussions.sqlite3")[-1][3] == 0


WRITER = textwrap.dedent(
    """
    import sys
    from gradio_app.discussions.store import DiscussionStore, NewMessage

    store = DiscussionStore(sys.argv[1])
    record, (parent,) = store.create_discussion(
        owner="o", personality="p", title="crash", first=[NewMessage("user", "user", "start")]
    )
    parent_id = parent.id
    for i in range(100000):
        partial = NewMessage("ai", "assistant", "x" * 500, incomplete=True)
        m = store.add_message(record.id, parent_id, partial, owner="o")
        store.update_message(record.id, m.id, owner="o", content=f"answer {i} " + "y" * 2000, incomplete=False)
        print(m.id, flush=True)  # only after the commit returned
        parent_id = m.id
    """
)


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.2, 0.5])
def test_sigkill_during_writes_never_loses_a_committed_message(tmp_path, delay):
    db = tmp_path / "discussions.sqlite3"
    for round_ in range(2):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db)],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        first = writer.stdout.readline().strip()  # it is writing now
        time.sleep(delay + round_ * 0.013)
        writer.send_signal(signal.SIGKILL)
        out, _ = writer.communicate(timeout=10)
        acknowledged = [first, *out.split()]
        assert first
        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = dict(conn.execute("SELECT id, content FROM messages WHERE role = 'assistant'").fetchall())
        conn.close()
        for mid in acknowledged:
            assert stored[mid].startswith("answer ")
