"""How discussions scale: open a 1,000-message discussion, stream into it, export 100 discussions.

Plain script (no test framework), standalone and quick (well under a minute):

    python bench/discussion_scale.py [--messages 1000] [--discussions 100]

What it measures, and why:
- opening: the store reads the discussion and its current branch; the chat view turns it into
  chatbot messages; Gradio's Chatbot postprocesses that value (what the server does before it
  sends anything) and the JSON sent to the browser on open;
- streaming: Gradio re-sends the chatbot value on every streamed update (as a diff, but the
  server rebuilds and diffs the whole value each time, and the browser re-renders it), so the cost
  of one update on a long discussion decides whether streaming stays smooth. Measured for the
  windowed view the app shows (latest VIEW_WINDOW messages) and for "Show all";
- export: JSON and Markdown of 100 discussions; search across them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gradio_app.discussions.export import export_json, export_markdown
from gradio_app.discussions.store import DiscussionRecord, DiscussionStore, MessageRecord, new_id
from gradio_app.session import ChatSession
from gradio_app.ui import render

OWNER = "local"  # the single-user owner, so --browser can open it in a --single-user app
PARAGRAPH = (
    "The lighthouse keeper climbed the spiral stairs at dusk, counting the steps as he always did, "
    "and wondered whether the ships out there counted the flashes the same way. "
)
METADATA = {
    "personality": "english/generic/lollms",
    "personality_version": "1.0",
    "prompt_format": "chat_template",
    "params": {"temperature": 0.7, "top_k": 40, "top_p": 0.9, "repeat_penalty": 1.1, "n_predict": 512},
    "seed": 1234,
    "prompt_tokens": 900,
    "completion_tokens": 120,
    "tokens_per_second": 48.2,
    "duration_s": 2.6,
    "stop_reason": "eos",
    "model": "SmolLM2-135M-Instruct",
    "binding": "llama_cpp",
}


def timed(fn: Callable[[], object], repeat: int = 5) -> tuple[float, object]:
    """Median wall time in milliseconds, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def build_discussion(store: DiscussionStore, n_messages: int, title: str, created: float) -> str:
    """One discussion of `n_messages` alternating messages, written in one transaction."""
    discussion_id, messages, parent = new_id(), [], None
    for i in range(n_messages):
        role = "user" if i % 2 == 0 else "assistant"
        content = f"Question {i}: tell me more." if role == "user" else f"Answer {i}. " + PARAGRAPH * 3
        mid = new_id()
        metadata = METADATA if role == "assistant" else {}
        messages.append(MessageRecord(mid, discussion_id, parent, role, role, content, created + i, metadata))
        parent = mid
    record = DiscussionRecord(
        discussion_id, OWNER, title, "english/generic/lollms", created, created + n_messages, parent
    )
    with store.transaction() as conn:
        store.insert_tree(conn, record, messages)
    return discussion_id


def chatbot_cost(chatbot, view: list[dict]) -> tuple[float, int, dict]:
    """Server-side cost of one chatbot update (postprocess) and the JSON size of the value."""
    ms, processed = timed(lambda: chatbot.postprocess(view).model_dump(), repeat=3)
    return ms, len(json.dumps(processed)), processed


def streaming_update(chatbot, session: ChatSession, live) -> tuple[float, int]:
    """One streamed update: the answer grew by a few tokens; view + postprocess + diff."""
    from gradio import utils

    live.content = "Streaming answer: " + PARAGRAPH
    before = chatbot.postprocess(render.chat_view(session)).model_dump()

    def update() -> object:
        live.content += "more words "
        after = chatbot.postprocess(render.chat_view(session)).model_dump()
        return utils.diff(before, after)

    ms, diff = timed(update, repeat=10)
    return ms, len(json.dumps(diff))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000, help="messages in the long discussion")
    parser.add_argument("--discussions", type=int, default=100, help="discussions to export")
    parser.add_argument("--per-discussion", type=int, default=20, help="messages in each exported discussion")
    parser.add_argument(
        "--browser",
        action="store_true",
        help="also open the long discussion in Debian's chromium (app.py + Playwright): render time and "
        "main-thread long tasks while it opens and while an answer streams into it (~1 more minute)",
    )
    args = parser.parse_args(argv)

    import gradio as gr

    chatbot = gr.Chatbot()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = DiscussionStore(root / "discussions.sqlite3")
        now = time.time()
        long_id = build_discussion(store, args.messages, "A very long discussion", now)
        print(f"# Discussion scale ({args.messages}-message discussion, {args.discussions} discussions to export)")
        size = sum(f.stat().st_size for f in root.glob("discussions.sqlite3*"))
        print(f"sqlite file (+ WAL): {size / 2**20:.1f} MiB after the long one")

        session = ChatSession(personality_id="english/generic/lollms")
        session.attach(store, OWNER)
        load_ms, _ = timed(lambda: store.branch(long_id, owner=OWNER))
        open_ms, _ = timed(lambda: session.open(long_id))
        print(f"open: store read of the branch        {load_ms:8.1f} ms")
        print(f"open: session.open (branch -> view)  {open_ms:8.1f} ms")
        for label, show_all in (("windowed", False), ("show all", True)):
            session.show_all = show_all
            view_ms, view = timed(lambda: render.chat_view(session))
            post_ms, size, _ = chatbot_cost(chatbot, view)
            print(
                f"open ({label:8}): chat_view {view_ms:6.1f} ms · Chatbot.postprocess {post_ms:6.1f} ms · "
                f"{len(view):5d} messages · {size / 1024:7.0f} KiB sent"
            )
        # a live answer at the end of the long discussion, streaming
        question = session.add_user_message("One more question?")
        session.show_all = False
        live = session.start_answer(question, "LoLLMs")
        for label, show_all in (("windowed", False), ("show all", True)):
            session.show_all = show_all
            ms, diff_bytes = streaming_update(chatbot, session, live)
            rate = 1000 / ms if ms else float("inf")
            print(
                f"stream ({label:8}): {ms:6.1f} ms per update (server side) · diff {diff_bytes:5d} B · "
                f"max {rate:5.0f} updates/s (the UI sends at most 20/s)"
            )
        session.finish_answer(live, live.content, METADATA)

        ids = [
            build_discussion(store, args.per_discussion, f"Discussion {i}", now - 86400 + i)
            for i in range(args.discussions)
        ]
        json_ms, data = timed(lambda: export_json(store, ids, owner=OWNER, outputs=root / "outputs"), repeat=3)
        md_ms, text = timed(lambda: export_markdown(store, ids, owner=OWNER), repeat=3)
        total = args.discussions * args.per_discussion
        json_mib, md_mib = len(data) / 2**20, len(text) / 2**20  # type: ignore[arg-type]
        print(
            f"export JSON of {args.discussions} discussions ({total} messages): {json_ms:7.1f} ms · {json_mib:.1f} MiB"
        )
        print(f"export Markdown of the same:                 {md_ms:7.1f} ms · {md_mib:.1f} MiB")
        search_ms, found = timed(lambda: store.search("lighthouse keeper", owner=OWNER))
        like_ms, _ = timed(lambda: store.search("lighthouse keeper", owner=OWNER, use_fts=False))
        print(
            f"search 'lighthouse keeper' ({len(found)} discussions): FTS5 {search_ms:6.1f} ms · LIKE {like_ms:6.1f} ms"
        )  # type: ignore[arg-type]
        list_ms, _ = timed(lambda: store.list_discussions(owner=OWNER))
        print(f"list {args.discussions + 1} discussions: {list_ms:6.1f} ms")
        store.close()
        if args.browser:
            browser_bench(root)


LONG_TASKS = """() => {
    window.__longTasks = [];
    new PerformanceObserver(list => { for (const e of list.getEntries()) window.__longTasks.push(e.duration); })
        .observe({ type: "longtask", buffered: false });
}"""


def _tasks(page) -> str:
    tasks = page.evaluate("() => { const t = window.__longTasks; window.__longTasks = []; return t; }")
    if not tasks:
        return "no long task (>50 ms)"
    return f"{len(tasks)} long tasks, longest {max(tasks):.0f} ms, {sum(tasks):.0f} ms blocked in all"


def browser_bench(data: Path) -> None:
    """The browser side: what a user of a 1,000-message discussion feels."""
    import os
    import socket
    import subprocess

    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (data / "app.log").open("w")
    app = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).resolve().parent.parent / "app.py"),
            "--port",
            str(port),
            "--data-dir",
            str(data),
            "--single-user",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"},
    )
    try:
        deadline = time.monotonic() + 120
        while "is running at" not in (data / "app.log").read_text(errors="replace"):
            if app.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((data / "app.log").read_text(errors="replace"))
            time.sleep(0.2)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/")
            page.get_by_role("button", name="Send").wait_for()
            page.evaluate(LONG_TASKS)
            start = time.perf_counter()
            page.get_by_role("radio", name="A very long discussion").check()
            page.get_by_text("Answer 999.").first.wait_for(timeout=60_000)
            took = (time.perf_counter() - start) * 1000
            print(f"browser: open (windowed, {render.VIEW_WINDOW} shown): {took:6.0f} ms · {_tasks(page)}")
            _stream(page, "windowed")
            start = time.perf_counter()
            page.get_by_role("button", name="Show all messages").click()
            page.get_by_text("Question 0:").first.wait_for(timeout=60_000)
            took = (time.perf_counter() - start) * 1000
            print(f"browser: show all messages:           {took:6.0f} ms · {_tasks(page)}")
            _stream(page, "show all")
            browser.close()
    finally:
        app.terminate()
        app.wait(15)
        log.close()


def _stream(page, label: str) -> None:
    page.get_by_placeholder("Type your message").fill("Write a long story about a lighthouse.")
    page.get_by_role("button", name="Send").click()
    page.wait_for_timeout(1500)
    _tasks(page)  # from here on: only the streaming itself
    page.wait_for_timeout(4000)
    summary = _tasks(page)
    page.get_by_role("button", name="Stop").click()
    page.wait_for_timeout(1000)
    print(f"browser: 4 s of streaming ({label}):   {summary}")


if __name__ == "__main__":
    main()
