"""Memory: resident memory of the launched app, idle with the default model, and after 100 turns.

The app (`python app.py`, embedded model, n_ctx 4096) is driven through gradio_client: 100 turns
in one discussion, long enough to fill the context so the oldest exchanges get trimmed. RSS
(/proc/<pid>/status VmRSS) is read idle and after turns 10, 50 and 100. Target: growth after 100
turns <= the model's whole KV cache at n_ctx (n_ctx x bytes per token: the memory a full context
legitimately takes) + 64 MiB, and no more than 32 MiB between turn 50 and turn 100 (nothing grows
with the number of turns once the context is full).

    python bench/memory.py [--turns 100] [--n-predict 24] [--threads N]
"""

from __future__ import annotations

import time

import common

SLACK_MB = 64
LATE_GROWTH_MB = 32
MB = 2**20


def main() -> None:
    from gradio_client import Client
    from llama_cpp import Llama

    parser = common.arg_parser(__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=100)
    parser.add_argument("--n-predict", type=int, default=24)
    parser.add_argument("--n-ctx", type=int, default=4096)
    args = parser.parse_args()
    machine = common.Machine.now()
    result = common.BenchResult("memory")
    metadata = dict(Llama(str(common.model_path()), vocab_only=True, verbose=False).metadata)
    kv_bytes = common.kv_bytes_per_token(metadata) * args.n_ctx
    marks = sorted({m for m in (10, args.turns // 2, args.turns) if 0 < m <= args.turns})

    with common.LaunchedApp(threads=args.threads, n_predict=args.n_predict) as app:
        app.wait_ready()
        client = Client(app.url, verbose=False)
        client.predict(api_name="/new_discussion")
        time.sleep(2)
        idle = app.rss()
        rss: dict[int, int] = {}
        turn_s: list[float] = []
        messages = 0
        for turn in range(1, args.turns + 1):
            start = time.perf_counter()
            chat, _ = client.predict(f"Turn {turn}: tell me one short fact about the number {turn}.", api_name="/send")
            turn_s.append(time.perf_counter() - start)
            messages = len(chat)
            if turn in marks:
                rss[turn] = app.rss()
                print(f"turn {turn}: RSS {rss[turn] / MB:.0f} MiB ({messages} messages, last turn {turn_s[-1]:.2f} s)")

    last = marks[-1]
    half = marks[-2] if len(marks) > 1 else marks[-1]
    growth = rss[last] - idle
    late = rss[last] - rss[half]
    print(
        f"idle {idle / MB:.0f} MiB; after {last} turns {rss[last] / MB:.0f} MiB (+{growth / MB:.0f} MiB); "
        f"turn {half}->{last}: {late / MB:+.0f} MiB; full KV cache at n_ctx {args.n_ctx}: {kv_bytes / MB:.0f} MiB"
    )
    result.check(f"RSS growth after {last} turns", growth / MB, "<=", (kv_bytes / MB) + SLACK_MB, unit=" MiB")
    result.check(f"RSS growth turn {half} -> {last}", late / MB, "<=", LATE_GROWTH_MB, unit=" MiB")
    result.check("RSS idle with the default model", idle / MB, "<=", 0, unit=" MiB", informational=True)
    result.figures = {
        "idle_mb": idle / MB,
        "rss_mb": {k: v / MB for k, v in rss.items()},
        "kv_full_mb": kv_bytes / MB,
        "median_turn_s": common.median(turn_s),
        "messages": messages,
    }
    result.notes.extend(args.note)
    summary = (
        f"{last} turns (n_predict {args.n_predict}, {messages} messages shown): idle {idle / MB:.0f} MiB, "
        + ", ".join(f"t{k} {v / MB:.0f}" for k, v in rss.items())
        + f" MiB (+{growth / MB:.0f}, full KV {kv_bytes / MB:.0f} MiB); median turn {common.median(turn_s):.2f} s"
    )
    common.finish(result, machine, summary, record=not args.no_record)


if __name__ == "__main__":
    main()
