"""Multi-turn: time to first token as a discussion grows, alone and interleaved with another one.

Drives the app's WorkflowRunner in-process (the path of a chat turn below the UI: session, prompt
builder, generation service, binding) with a greedy bench personality. Each repetition uses its
own conditioning, so no repetition starts with the previous one's prefix in the cache.

- alone: one discussion, 20 turns; TTFT at turns 1, 5, 10 and 20. Target: turn 20 <= 2 x turn 1.
- interleaved: two discussions taking turns (A1 B1 A2 B2 ...), 10 turns each. Target: turn 10 <=
  2 x turn 1 in each, and no turn re-evaluates its discussion's history: at every turn after the
  first, the prompt tokens found in the cache (message metadata `cached_tokens`) cover at least the
  previous turn's whole prompt.

    python bench/multi_turn.py [--reps 3] [--turns 20] [--n-predict 48] [--threads N]
"""

from __future__ import annotations

import itertools
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import common

TARGET_GROWTH = 2.0
QUESTIONS = [
    "Hello! Can you tell me what a compiler does?",
    "And an interpreter?",
    "Which one does Python use?",
    "What is bytecode?",
    "How is it different from machine code?",
    "What does a linker do?",
    "Why are some languages faster than others?",
    "What is garbage collection?",
    "Name two garbage collection strategies.",
    "What is a memory leak?",
    "How do I find one in a Python program?",
    "What is a profiler?",
    "What is the difference between a process and a thread?",
    "What is the GIL?",
    "How do I run code in parallel in Python?",
    "What is asyncio for?",
    "What is an event loop?",
    "Give me a tiny asyncio example.",
    "What is a coroutine?",
    "Thanks! Can you summarize what we discussed?",
]


@dataclass
class Turn:
    ttft_s: float
    prompt_tokens: int
    cached_tokens: int | None  # None when the app does not report it


class Chat:
    """One discussion driven through the runner, as the discussion tab would."""

    def __init__(self, ctx: Any, personality_id: str) -> None:
        from gradio_app.session import ChatSession

        self.ctx = ctx
        self.session = ChatSession(personality_id=personality_id)
        self.session.new_discussion(ctx.zoo.get(personality_id))
        self.turns: list[Turn] = []

    def say(self, text: str) -> Turn:
        from gradio_app.workflows.events import Done, ErrorOut, TextChunk

        start = time.perf_counter()
        first = 0.0
        metadata: dict[str, Any] = {}
        for event in self.ctx.runner.run_turn(self.session, text):
            if isinstance(event, TextChunk) and event.text and not first:
                first = time.perf_counter()
            elif isinstance(event, Done):
                metadata = event.metadata
            elif isinstance(event, ErrorOut):
                raise RuntimeError(event.message)
        turn = Turn(first - start, int(metadata.get("prompt_tokens", 0)), metadata.get("cached_tokens"))
        self.turns.append(turn)
        return turn


def question(i: int) -> str:
    return QUESTIONS[i % len(QUESTIONS)] + ("" if i < len(QUESTIONS) else f" (again, #{i})")


def reuse_ok(turns: list[Turn]) -> bool | None:
    """Every turn after the first found at least the previous turn's prompt in the cache."""
    if any(t.cached_tokens is None for t in turns):
        return None
    return all(cur.cached_tokens >= prev.prompt_tokens for prev, cur in itertools.pairwise(turns))


def main() -> None:
    from gradio_app.context import AppContext

    parser = common.arg_parser(__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--n-predict", type=int, default=48)
    args = parser.parse_args()
    machine = common.Machine.now()
    result = common.BenchResult("multi_turn")
    marks = [t for t in (1, 5, 10, 20) if t <= args.turns]
    half = max(1, args.turns // 2)
    half_marks = [t for t in (1, 5, 10) if t <= half]

    with tempfile.TemporaryDirectory(prefix="bench-multi-") as tmp:
        data = Path(tmp)
        ids = []
        for rep in range(args.reps):
            for side in ("alone", "a", "b"):
                pid = f"english/bench/{side}{rep}"
                conditioning = f"Conversation {side}-{rep}. You are a patient teacher. Answer in detail."
                common.write_bench_personality(data / "personalities", args.n_predict, conditioning, pid)
                ids.append(pid)
        if args.threads:  # the flat key every version of the settings file reads
            (data / "settings.yaml").write_text(f"n_threads: {args.threads}\n", encoding="utf-8")
        ctx = AppContext.create(data)
        alone: list[list[Turn]] = []
        inter_a: list[list[Turn]] = []
        inter_b: list[list[Turn]] = []
        for rep in range(args.reps):
            # Alternate which scenario runs first, so load drift hits both alike.
            order = ("alone", "interleaved") if rep % 2 == 0 else ("interleaved", "alone")
            for scenario in order:
                if scenario == "alone":
                    chat = Chat(ctx, f"english/bench/alone{rep}")
                    for i in range(args.turns):
                        chat.say(question(i))
                    alone.append(chat.turns)
                else:
                    a = Chat(ctx, f"english/bench/a{rep}")
                    b = Chat(ctx, f"english/bench/b{rep}")
                    for i in range(half):
                        a.say(question(i))
                        b.say(question(len(QUESTIONS) - 1 - i))
                    inter_a.append(a.turns)
                    inter_b.append(b.turns)
        ctx.service.unload()

    def ttft_at(runs: list[list[Turn]], turn: int) -> float:
        return common.median(r[turn - 1].ttft_s for r in runs)

    alone_ttft = {t: ttft_at(alone, t) for t in marks}
    a_ttft = {t: ttft_at(inter_a, t) for t in half_marks}
    b_ttft = {t: ttft_at(inter_b, t) for t in half_marks}
    last, last_half = marks[-1], half_marks[-1]
    growth = common.ratio(alone_ttft[last], alone_ttft[1])
    growth_a = common.ratio(a_ttft[last_half], a_ttft[1])
    growth_b = common.ratio(b_ttft[last_half], b_ttft[1])
    reuse = [reuse_ok(r) for r in (*inter_a, *inter_b)]
    reuse_known = all(x is not None for x in reuse)
    reevaluated = [
        t.prompt_tokens - t.cached_tokens
        for runs in (*inter_a, *inter_b)
        for t in runs[1:]
        if t.cached_tokens is not None
    ]
    history_tokens = common.median(r[-1].prompt_tokens for r in alone)

    def show(d: dict[int, float]) -> str:
        return ", ".join(f"t{k} {v * 1000:.0f}" for k, v in d.items())

    print(
        f"alone       TTFT ms: {show(alone_ttft)}  (turn {last}/turn 1 = {growth:.2f}; "
        f"{history_tokens:.0f} prompt tokens)"
    )
    print(f"interleaved A TTFT ms: {show(a_ttft)}  (turn {last_half}/turn 1 = {growth_a:.2f})")
    print(f"interleaved B TTFT ms: {show(b_ttft)}  (turn {last_half}/turn 1 = {growth_b:.2f})")
    if reevaluated:
        print(
            f"interleaved: prompt tokens re-evaluated per turn after the first: median "
            f"{common.median(reevaluated):.0f}, max {max(reevaluated)}"
        )
    result.check(f"alone: TTFT turn {last} / turn 1", growth, "<=", TARGET_GROWTH)
    result.check(f"interleaved A: TTFT turn {last_half} / turn 1", growth_a, "<=", TARGET_GROWTH)
    result.check(f"interleaved B: TTFT turn {last_half} / turn 1", growth_b, "<=", TARGET_GROWTH)
    if reuse_known:
        share = sum(bool(x) for x in reuse) / len(reuse)
        result.check("interleaved: runs where every turn reused its history", share, ">=", 1.0)
    else:
        result.notes.append("the app reports no cached_tokens: history reuse judged by TTFT only")
    result.figures = {
        "alone_ttft_s": alone_ttft,
        "interleaved_a_ttft_s": a_ttft,
        "interleaved_b_ttft_s": b_ttft,
        "reevaluated_tokens": reevaluated,
        "history_tokens_at_last_turn": history_tokens,
    }
    result.notes.extend(args.note)
    summary = (
        f"reps {args.reps}, n_predict {args.n_predict}; alone TTFT ms {show(alone_ttft)} "
        f"(x{growth:.2f}, {history_tokens:.0f} prompt tokens at turn {last}); interleaved A {show(a_ttft)} "
        f"(x{growth_a:.2f}), B {show(b_ttft)} (x{growth_b:.2f})"
    )
    if reevaluated:
        summary += f"; re-evaluated tokens/turn median {common.median(reevaluated):.0f}, max {max(reevaluated)}"
    common.finish(result, machine, summary, record=not args.no_record)


if __name__ == "__main__":
    main()
