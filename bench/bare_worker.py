"""Bare llama-cpp-python in a process of its own, for benches whose other side is a launched app.

A bench that also runs a gradio_client must not time the bare engine in its own process: the
client's threads take CPU and the GIL there, which would slow the bare side and flatter the app.
Reads one JSON request per line on stdin ({"prompt", "stops", "max_tokens"}), streams it with
`create_completion(stream=True)` (greedy, seed 1) and prints one JSON line per request:
{"ttft_s", "gen_s", "text"}.

    python bench/bare_worker.py N_CTX [THREADS]
"""

from __future__ import annotations

import json
import sys
import time

import common


def main() -> None:
    n_ctx = int(sys.argv[1])
    threads = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] != "0" else None
    llm = common.bare_llama(n_ctx, threads)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        start = time.perf_counter()
        first, pieces = 0.0, []
        for chunk in llm.create_completion(
            request["prompt"],
            max_tokens=request["max_tokens"],
            stream=True,
            temperature=0.0,
            top_k=40,
            top_p=0.95,
            min_p=0.0,
            repeat_penalty=1.0,
            seed=1,
            stop=request["stops"],
        ):
            text = chunk["choices"][0]["text"]
            if text:
                if not first:
                    first = time.perf_counter()
                pieces.append(text)
        end = time.perf_counter()
        print(json.dumps({"ttft_s": first - start, "gen_s": end - first, "text": "".join(pieces)}), flush=True)


if __name__ == "__main__":
    main()
