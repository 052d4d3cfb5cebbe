"""Memory: resident memory of the launched app, idle with the default model, and after 100 turns.

The app (`python app.py`, embedded model, n_ctx 4096) is driven through gradio_client. RSS
(/proc/<pid>/status VmRSS) is read idle; then once the context has been filled (a first message of
~3,600 tokens: llama.cpp touches its whole KV cache and compute buffers, the memory a full context
legitimately takes); then after turns 10, 50 and 100 more in the same discussion (which keeps
overflowing the context, so its history is trimmed). Target: after 100 turns, RSS <= the
full-context RSS + 32 MiB (nothing grows with the number of turns beyond the model's context).
The full-context growth over idle is shown next to the KV cache's size (n_ctx x bytes per token).

    python bench/memory.py [--turns 100] [--n-predict 24] [--threads N]
"""

from __future__ import annotations

import time

import common

SLACK_MB = 32
FILLER_TOKENS = 3600
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

    count = common.tokenizer()
    words = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu " * 800).split()
    filler = " ".join(words[:FILLER_TOKENS])
    while count(filler) > FILLER_TOKENS:
        filler = filler[: int(len(filler) * 0.95)]

    with common.LaunchedApp(threads=args.threads, n_predict=args.n_predict) as app:
        app.wait_ready()
        client = Client(app.url, verbose=False)
        client.predict(api_name="/new_discussion")
        time.sleep(2)
        idle = app.rss()
        client.predict("Read this and say OK: " + filler, api_name="/send")
        full = app.rss()
        print(f"idle {idle / MB:.0f} MiB; after filling the context ({count(filler)} tokens): {full / MB:.0f} MiB")
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
    beyond = rss[last] - full
    print(
        f"after {last} turns {rss[last] / MB:.0f} MiB: {beyond / MB:+.0f} MiB over the full-context RSS; "
        f"full context took {(full - idle) / MB:.0f} MiB over idle (KV cache at n_ctx {args.n_ctx}: "
        f"{kv_bytes / MB:.0f} MiB); median turn {common.median(turn_s):.2f} s"
    )
    result.check(f"RSS after {last} turns - RSS with a full context", beyond / MB, "<=", SLACK_MB, unit=" MiB")
    result.check("RSS idle with the default model", idle / MB, "<=", 0, unit=" MiB", informational=True)
    result.check("full context - idle", (full - idle) / MB, "<=", 0, unit=" MiB", informational=True)
    result.figures = {
        "idle_mb": idle / MB,
        "full_context_mb": full / MB,
        "rss_mb": {k: v / MB for k, v in rss.items()},
        "kv_full_mb": kv_bytes / MB,
        "median_turn_s": common.median(turn_s),
        "turn_s": turn_s,
        "messages": messages,
    }
    result.notes.extend(args.note)
    summary = (
        f"{last} turns (n_predict {args.n_predict}, {messages} messages shown): idle {idle / MB:.0f} MiB, "
        f"full context {full / MB:.0f}, "
        + ", ".join(f"t{k} {v / MB:.0f}" for k, v in rss.items())
        + f" MiB ({beyond / MB:+.0f} over full context; KV {kv_bytes / MB:.0f} MiB); "
        f"median turn {common.median(turn_s):.2f} s, last 10 turns median {common.median(turn_s[-10:]):.2f} s"
    )
    common.finish(result, machine, summary, record=not args.no_record)


if __name__ == "__main__":
    main()
