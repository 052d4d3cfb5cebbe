"""End-to-end streaming: what a `gradio_client` consumer of the launched app sees vs the bare engine.

The app is `python app.py` in its own process (greedy bench personality, the embedded model); the
consumer submits /send and timestamps every streamed update. The bare engine is llama-cpp-python's
`create_completion(stream=True)` in a process of its own (bench/bare_worker.py), on the same
prompt text (built by the app's own PromptBuilder from the same personality), interleaved with
the app runs. Both sides count tokens
the same way: the final answer re-tokenized.

Figures: tokens/s from first visible text to the end, time to first token (submit -> first text),
and the UI update rate the consumer received (the discussion tab throttles to 20 updates/s).
Target: app tokens/s >= 0.90 x bare.

    python bench/e2e_streaming.py [--reps 3] [--n-predict 256] [--threads N]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import common

TARGET = 0.90
QUESTION = "Explain how a hash table works, with an example in Python."


@dataclass
class Sample:
    ttft_s: float
    gen_s: float
    text: str
    updates: int = 0


def app_sample(client, question: str) -> Sample:
    client.predict(api_name="/new_discussion")
    start = time.perf_counter()
    job = client.submit(question, api_name="/send")
    first, updates, last_text = 0.0, 0, ""
    for chat, _box in job:
        messages = common.chat_texts(chat)
        if not messages or messages[-1][0] != "assistant" or len(messages) < 3:
            continue
        if messages[-1][1] and "⏳" not in messages[-1][1]:  # not the "waiting/thinking" placeholder
            if not first:
                first = time.perf_counter()
            updates += 1
            last_text = messages[-1][1]
    end = time.perf_counter()
    final = common.chat_texts(job.result()[0])[-1][1]
    return Sample(first - start, end - first, final or last_text, updates)


class BareWorker:
    """bench/bare_worker.py: the bare engine in its own process (see there why)."""

    def __init__(self, n_ctx: int, threads: int | None) -> None:
        script = common.ROOT / "bench" / "bare_worker.py"
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(n_ctx), str(threads or 0)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        json.loads(self._line())  # {"ready": true}

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the bare engine worker exited")
        return line

    def sample(self, prompt: str, stops: list[str], max_tokens: int) -> Sample:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"prompt": prompt, "stops": stops, "max_tokens": max_tokens}) + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self._line())
        return Sample(answer["ttft_s"], answer["gen_s"], answer["text"].strip())

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def main() -> None:
    from gradio_client import Client

    from gradio_app.personalities.personality import Personality
    from gradio_app.personalities.prompt import ModelPromptInfo, PromptBuilder

    parser = common.arg_parser(__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--n-predict", type=int, default=256)
    args = parser.parse_args()
    machine = common.Machine.now()
    result = common.BenchResult("e2e_streaming")

    from llama_cpp import Llama

    llm = Llama(str(common.model_path()), n_ctx=4096, vocab_only=True, verbose=False)  # prompt and counts only
    bare = BareWorker(4096, args.threads)
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        app = common.LaunchedApp(Path(tmp), threads=args.threads, n_predict=args.n_predict)
        try:
            app.wait_ready()
            client = Client(app.url, verbose=False)
            folder = Path(tmp) / "personalities" / common.BENCH_PERSONALITY
            personality = Personality.load(folder, common.BENCH_PERSONALITY)
            template = llm.metadata.get("tokenizer.chat_template")
            bos = llm.detokenize([llm.token_bos()], special=True).decode() if llm.token_bos() >= 0 else ""
            eos = llm.detokenize([llm.token_eos()], special=True).decode() if llm.token_eos() >= 0 else ""
            adds_bos = llm.tokenize(b"a", add_bos=True)[:1] == [llm.token_bos()]
            builder = PromptBuilder(
                lambda text: len(llm.tokenize(text.encode(), special=True)),
                ModelPromptInfo(4096, template, bos, eos, adds_bos),
            )
            built = builder.build(personality.config, [], QUESTION, args.n_predict)
            samples = common.interleave(
                args.reps,
                {
                    "app": lambda _rep: app_sample(client, QUESTION),
                    "bare": lambda _rep: bare.sample(built.text, built.stops, built.max_new_tokens),
                },
            )
        finally:
            app.stop()
            bare.stop()

    def n_tokens(text: str) -> int:
        return len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def rate(s: Sample) -> float:
        return (n_tokens(s.text) - 1) / s.gen_s if s.gen_s > 0 else float("nan")

    app_rate = common.median(rate(s) for s in samples["app"])
    bare_rate = common.median(rate(s) for s in samples["bare"])
    app_ttft = common.median(s.ttft_s for s in samples["app"])
    bare_ttft = common.median(s.ttft_s for s in samples["bare"])
    update_rate = common.median(s.updates / s.gen_s for s in samples["app"] if s.gen_s > 0)
    same = samples["app"][-1].text == samples["bare"][-1].text
    tokens = n_tokens(samples["app"][-1].text)
    r = common.ratio(app_rate, bare_rate)
    print(
        f"app (gradio_client) {app_rate:.1f} tok/s, TTFT {app_ttft * 1000:.0f} ms, {update_rate:.1f} UI updates/s | "
        f"bare create_completion {bare_rate:.1f} tok/s, TTFT {bare_ttft * 1000:.0f} ms | ratio {r:.3f} | "
        f"{tokens} tokens, same text: {same}"
    )
    result.check("app/bare tok/s through gradio_client", r, ">=", TARGET)
    result.check("TTFT app - bare", (app_ttft - bare_ttft) * 1000, "<=", 0, unit=" ms", informational=True)
    result.check("UI updates/s received (throttle 20/s)", update_rate, "<=", 20, informational=True)
    result.figures = {
        "app_tokens_per_s": app_rate,
        "bare_tokens_per_s": bare_rate,
        "app_ttft_s": app_ttft,
        "bare_ttft_s": bare_ttft,
        "ui_updates_per_s": update_rate,
        "tokens": tokens,
        "same_text": same,
    }
    if not same:
        result.notes.append("app and bare answers differ (each side counted on its own text)")
    result.notes.extend(args.note)
    summary = (
        f"reps {args.reps}, {tokens} tokens: app/bare {r:.3f} (app {app_rate:.0f}, bare {bare_rate:.0f} tok/s); "
        f"TTFT app {app_ttft * 1000:.0f} ms vs bare {bare_ttft * 1000:.0f} ms; "
        f"{update_rate:.1f} UI updates/s (throttle 20/s)"
    )
    common.finish(result, machine, summary, record=not args.no_record)


if __name__ == "__main__":
    main()
