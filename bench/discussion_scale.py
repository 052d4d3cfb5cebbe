"""How discussions scale: open a 1,000-message discussion, stream into it, export 100 discussions.

Plain script (no test framework), standalone and quick (well under a minute):

    python bench/discussion_scale.py [--messages 1000] [--discussions 100] [--browser]

What it measures, and why:
- opening: the store reads the discussion and its current branch; the chat view turns it into
  chatbot messages; Gradio's Chatbot postprocesses that value (what the server does before it
  sends anything) and the JSON sent to the browser on open;
- streaming: Gradio re-sends the chatbot value on every streamed update (as a diff, but the
  server rebuilds and diffs the whole value each time, and the browser re-renders it), so the cost
  of one update on a long discussion decides whether streaming stays smooth. Measured for the
  windowed view the app shows (latest VIEW_WINDOW messages) and for "Show all";
- export: JSON and Markdown of 100 discussions; search across them;
- with --browser (what run_all.py runs): the same discussion opened in Debian's chromium, then
  scrolled from the newest message to the oldest with the mouse wheel and streamed into, with the
  browser's long tasks (> 50 ms of blocked main thread) and frame gaps recorded: "opens and scrolls
  without the UI stalling" as a user would feel it.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import common

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


# Targets: what "opens and scrolls without the UI stalling" means, in numbers.
TARGET_OPEN_S = 0.5  # server side: store read + view + Chatbot.postprocess of the windowed view
TARGET_UPDATE_MS = 10.0  # one streamed update of the windowed view (20/s = at most 20% of a core)
TARGET_EXPORT_S = 5.0  # JSON export of 100 discussions
TARGET_BROWSER_OPEN_S = 3.0  # click in the sidebar -> the newest message on screen
TARGET_FRAME_GAP_MS = 200.0  # the longest frame while scrolling the whole discussion / while streaming


def main(argv: list[str] | None = None) -> None:
    parser = common.arg_parser(__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000, help="messages in the long discussion")
    parser.add_argument("--discussions", type=int, default=100, help="discussions to export")
    parser.add_argument("--per-discussion", type=int, default=20, help="messages in each exported discussion")
    parser.add_argument(
        "--browser",
        action="store_true",
        help="also open, scroll and stream into the long discussion in Debian's chromium (app.py + Playwright)",
    )
    args = parser.parse_args(argv)
    machine = common.Machine.now()
    result = common.BenchResult("discussion_scale")

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
        opened: dict[str, float] = {}
        for label, show_all in (("windowed", False), ("show all", True)):
            session.show_all = show_all
            view_ms, view = timed(lambda: render.chat_view(session))
            post_ms, size, _ = chatbot_cost(chatbot, view)
            opened[label] = open_ms + view_ms + post_ms
            print(
                f"open ({label:8}): chat_view {view_ms:6.1f} ms · Chatbot.postprocess {post_ms:6.1f} ms · "
                f"{len(view):5d} messages · {size / 1024:7.0f} KiB sent"
            )
        # a live answer at the end of the long discussion, streaming
        question = session.add_user_message("One more question?")
        session.show_all = False
        live = session.start_answer(question, "LoLLMs")
        updates: dict[str, float] = {}
        for label, show_all in (("windowed", False), ("show all", True)):
            session.show_all = show_all
            ms, diff_bytes = streaming_update(chatbot, session, live)
            updates[label] = ms
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
        n = args.messages
        result.check(f"open a {n}-message discussion (server, windowed)", opened["windowed"] / 1000, "<=",
                     TARGET_OPEN_S, unit=" s")  # fmt: skip
        result.check("open it with every message shown (server)", opened["show all"] / 1000, "<=", 2.0, unit=" s",
                     informational=True)  # fmt: skip
        result.check("one streamed update into it (server, windowed)", updates["windowed"], "<=", TARGET_UPDATE_MS,
                     unit=" ms")  # fmt: skip
        result.check(f"JSON export of {args.discussions} discussions", json_ms / 1000, "<=", TARGET_EXPORT_S, unit=" s")
        summary = (
            f"{n} messages: open {opened['windowed']:.0f} ms windowed / {opened['show all']:.0f} ms all (server); "
            f"update {updates['windowed']:.1f} / {updates['show all']:.1f} ms; export {args.discussions} "
            f"discussions JSON {json_ms / 1000:.2f} s, Markdown {md_ms / 1000:.2f} s; search {search_ms:.0f} ms"
        )
        if args.browser:
            summary += "; browser: " + browser_bench(root, result)
    result.notes.extend(args.note)
    common.finish(result, machine, summary, record=not args.no_record)


LONG_TASKS = """() => {
    window.__longTasks = [];
    new PerformanceObserver(list => { for (const e of list.getEntries()) window.__longTasks.push(e.duration); })
        .observe({ type: "longtask", buffered: false });
}"""

# Frame gaps (ms between animation frames) while something happens: a stalled UI is a long gap.
FRAMES_START = """() => {
    window.__frames = []; window.__framesOn = true;
    let last = performance.now();
    const tick = now => {
        window.__frames.push(now - last); last = now;
        if (window.__framesOn) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
}"""
FRAMES_STOP = "() => { window.__framesOn = false; return window.__frames; }"

# The chat's scrolling element: the nearest ancestor of a message that scrolls.
SCROLLER = """() => {
    let el = document.querySelector('[data-testid="bot"]');
    while (el && !(el.scrollHeight > el.clientHeight + 10 && /(auto|scroll)/.test(getComputedStyle(el).overflowY)))
        el = el.parentElement;
    if (!el) return null;
    el.setAttribute('data-bench-scroller', '1');
    return {top: el.scrollTop, height: el.scrollHeight, client: el.clientHeight};
}"""


MARK = "data-bench-scroller"
UNMARK = f"() => document.querySelectorAll('[{MARK}]').forEach(e => e.removeAttribute('{MARK}'))"
TO_BOTTOM = "() => { const el = document.querySelector('[data-bench-scroller]'); el.scrollTop = el.scrollHeight; }"


def _tasks(page) -> tuple[str, float]:
    tasks = page.evaluate("() => { const t = window.__longTasks; window.__longTasks = []; return t; }")
    if not tasks:
        return "no long task (>50 ms)", 0.0
    return f"{len(tasks)} long tasks, longest {max(tasks):.0f} ms, {sum(tasks):.0f} ms blocked in all", max(tasks)


def _scroll_to_top(page) -> tuple[float, float, int]:
    """Wheel from the newest message to the oldest shown, as a user would; (longest frame gap ms,
    median frame ms, wheel steps)."""
    page.evaluate(UNMARK)
    box = page.evaluate(SCROLLER)
    if box is None:
        raise RuntimeError("no scrolling chat element found")
    scroller = page.locator("[data-bench-scroller]")
    scroller.hover()
    # start from the newest message, as after opening (Show all may leave the view elsewhere)
    page.evaluate(TO_BOTTOM)
    page.wait_for_timeout(300)
    page.evaluate(FRAMES_START)
    steps = 0
    while page.evaluate("() => document.querySelector('[data-bench-scroller]').scrollTop") > 0 and steps < 2000:
        page.mouse.wheel(0, -600)
        page.wait_for_timeout(16)
        steps += 1
    frames = page.evaluate(FRAMES_STOP)[1:]
    return max(frames, default=float("nan")), statistics.median(frames) if frames else float("nan"), steps


def browser_bench(data: Path, result: common.BenchResult) -> str:
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
        [sys.executable, str(common.ROOT / "app.py"), "--port", str(port), "--data-dir", str(data), "--single-user"],
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
            browser = pw.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
            )
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/")
            page.get_by_role("button", name="Send").wait_for()
            page.evaluate(LONG_TASKS)
            start = time.perf_counter()
            page.get_by_role("radio", name="A very long discussion").check()
            page.get_by_text("Answer 999.").first.wait_for(timeout=60_000)
            open_s = time.perf_counter() - start
            open_tasks, _ = _tasks(page)
            print(f"browser: open (windowed, {render.VIEW_WINDOW} shown): {open_s * 1000:6.0f} ms · {open_tasks}")
            gap, frame, steps = _scroll_to_top(page)
            scroll_tasks, _ = _tasks(page)
            print(
                f"browser: scroll to the oldest shown ({steps} wheel steps): frames median {frame:.0f} ms, "
                f"longest {gap:.0f} ms · {scroll_tasks}"
            )
            stream_gap, stream_tasks = _stream(page, "windowed")
            start = time.perf_counter()
            page.get_by_role("button", name="Show all messages").click()
            page.get_by_text("Question 0:").first.wait_for(timeout=60_000)
            all_s = time.perf_counter() - start
            all_tasks, _ = _tasks(page)
            print(f"browser: show all messages:           {all_s * 1000:6.0f} ms · {all_tasks}")
            all_gap, all_frame, all_steps = _scroll_to_top(page)
            print(f"browser: scroll all {all_steps} steps: frames median {all_frame:.0f} ms, longest {all_gap:.0f} ms")
            browser.close()
    finally:
        app.terminate()
        app.wait(15)
        log.close()
    result.check("browser: open the long discussion", open_s, "<=", TARGET_BROWSER_OPEN_S, unit=" s")
    result.check("browser: longest frame scrolling it", gap, "<=", TARGET_FRAME_GAP_MS, unit=" ms")
    result.check("browser: longest frame while an answer streams into it", stream_gap, "<=", TARGET_FRAME_GAP_MS,
                 unit=" ms")  # fmt: skip
    result.check("browser: show all messages", all_s, "<=", 10.0, unit=" s", informational=True)
    result.check("browser: longest frame scrolling all messages", all_gap, "<=", 1000.0, unit=" ms",
                 informational=True)  # fmt: skip
    result.figures.update(browser_open_s=open_s, scroll_gap_ms=gap, stream_gap_ms=stream_gap, show_all_s=all_s)
    return (
        f"open {open_s:.2f} s, scroll {steps} steps (longest frame {gap:.0f} ms), streaming longest frame "
        f"{stream_gap:.0f} ms ({stream_tasks}); show all {all_s:.2f} s, its scroll longest frame {all_gap:.0f} ms"
    )


def _stream(page, label: str) -> tuple[float, str]:
    """4 s of an answer streaming into the discussion: (longest frame gap ms, long tasks)."""
    page.get_by_placeholder("Type your message").fill("Write a long story about a lighthouse.")
    page.get_by_role("button", name="Send").click()
    page.wait_for_timeout(1500)
    _tasks(page)  # from here on: only the streaming itself
    page.evaluate(FRAMES_START)
    page.wait_for_timeout(4000)
    frames = page.evaluate(FRAMES_STOP)[1:]
    summary, _ = _tasks(page)
    page.get_by_role("button", name="Stop").click()
    page.wait_for_timeout(1000)
    gap = max(frames, default=float("nan"))
    print(f"browser: 4 s of streaming ({label}):   {summary} · longest frame {gap:.0f} ms")
    return gap, summary


if __name__ == "__main__":
    main()
