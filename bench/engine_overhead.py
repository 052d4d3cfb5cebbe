"""Engine overhead: the app's generation path vs bare llama-cpp-python, side by side.

The app side is what a chat turn pays below the UI: PromptBuilder (the personality's conditioning
rendered with the model's chat template) + GenerationService.stream (the fair queue, the binding's
incremental decoding, the StopDetector over the personality's anti-prompts). The bare side is
llama-cpp-python's own `create_completion(stream=True)` on a second copy of the same model, with the
same prompt text, seed, sampler settings and stop strings. A third side, the `Llama.generate()` token
loop with nothing but per-token decoding, is the floor no app can beat (shown for information).

Cases: a short answer, a 2,048-token answer (per-token costs that grow with the answer show here)
and a multi-byte-heavy answer (emoji and CJK: a decoder that re-decodes the whole answer at every
step is quadratic here). Target: app tokens/s >= 0.97 x bare tokens/s in every case.

    python bench/engine_overhead.py [--reps 3] [--long-tokens 2048] [--threads N]
"""

from __future__ import annotations

import codecs
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import common

TARGET = 0.97
N_CTX = 4096


@dataclass(frozen=True)
class Case:
    name: str
    question: str
    n_predict: int


def cases(long_tokens: int, multibyte_tokens: int) -> list[Case]:
    return [
        Case("short", "What is the difference between a list and a tuple in Python?", 256),
        Case(
            "long",
            "Write the numbers from 1 to 1000 separated by commas: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, "
            "13, 14, 15, 16, 17, 18, 19, 20, ...",
            long_tokens,
        ),
        Case(
            "multibyte",
            "Repeat these emoji and Chinese words many times: 😀🎉🌟🔥🍕🚀 你好世界 日本語 東京 😀🎉🌟🔥🍕🚀 你好世界",
            multibyte_tokens,
        ),
    ]


@dataclass
class Sample:
    ttft_s: float
    tokens: int
    gen_s: float
    text: str

    @property
    def tokens_per_s(self) -> float:
        return (self.tokens - 1) / self.gen_s if self.gen_s > 0 and self.tokens > 1 else float("nan")


class Sides:
    """The three ways of producing the same answer, each timed the same way by its consumer."""

    def __init__(self, threads: int | None) -> None:
        from gradio_app.generation.bindings.base import LoadOptions
        from gradio_app.generation.service import GenerationService
        from gradio_app.personalities.personality import Personality
        from gradio_app.personalities.prompt import ModelPromptInfo, PromptBuilder

        self._tmp = tempfile.TemporaryDirectory(prefix="bench-engine-")
        folder = common.write_bench_personality(Path(self._tmp.name), n_predict=256)
        self.personality = Personality.load(folder, common.BENCH_PERSONALITY)
        self.service = GenerationService()
        self.service.load(common.model_path(), LoadOptions(n_ctx=N_CTX, n_threads=threads))
        info = self.service.model_info()
        self.builder = PromptBuilder(
            lambda text: len(self.service.tokenize(text)),
            ModelPromptInfo(info.n_ctx, info.chat_template, info.bos_token, info.eos_token, info.adds_bos),
        )
        self.bare = common.bare_llama(N_CTX, threads)

    def params(self, case: Case) -> Any:
        from gradio_app.generation.params import GenerationParams

        base = self.personality.config.generation_params(GenerationParams())
        return GenerationParams.from_dict({"n_predict": case.n_predict, "seed": 1234}, base)

    def prompt(self, case: Case) -> Any:
        return self.builder.build(self.personality.config, [], case.question, case.n_predict)

    def app(self, case: Case) -> Sample:
        start = time.perf_counter()
        params = self.params(case)
        built = self.prompt(case)  # the prompt builder is part of the app's cost
        stream = self.service.stream(built.text, params, built.stops, max_tokens=built.max_new_tokens)
        first, pieces = 0.0, []
        for piece in stream:
            if piece:
                if not first:
                    first = time.perf_counter()
                pieces.append(piece)
        end = time.perf_counter()
        return Sample(first - start, stream.result.completion_tokens, end - first, "".join(pieces))

    def bare_completion(self, case: Case) -> Sample:
        params, built = self.params(case), self.prompt(case)
        llm = self.bare
        prompt_tokens = len(llm.tokenize(built.text.encode("utf-8"), special=True))
        start = time.perf_counter()
        first, pieces, finish = 0.0, [], None
        for chunk in llm.create_completion(
            built.text,
            max_tokens=built.max_new_tokens,
            stream=True,
            temperature=params.temperature,
            top_k=params.top_k,
            top_p=params.top_p,
            min_p=0.0,
            typical_p=1.0,
            repeat_penalty=params.repeat_penalty,
            seed=params.seed,
            stop=built.stops,
        ):
            choice = chunk["choices"][0]
            if choice["text"]:
                if not first:
                    first = time.perf_counter()
                pieces.append(choice["text"])
            finish = choice.get("finish_reason") or finish
        end = time.perf_counter()
        # Every generated token but the last is evaluated (the loop stops before evaluating the
        # token that ended it); an EOS token is not part of the answer.
        tokens = llm.n_tokens - prompt_tokens + (1 if finish == "length" else 0)
        return Sample(first - start, tokens, end - first, "".join(pieces))

    def raw_generate(self, case: Case) -> Sample:
        from llama_cpp import llama_cpp as lib

        params, built = self.params(case), self.prompt(case)
        llm = self.bare
        start = time.perf_counter()
        tokens = llm.tokenize(built.text.encode("utf-8"), special=True)
        llm.set_seed(params.seed)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        first, pieces, count = 0.0, [], 0
        vocab = llm._model.vocab
        for token in llm.generate(
            tokens,
            top_k=params.top_k,
            top_p=params.top_p,
            min_p=0.0,
            temp=params.temperature,
            repeat_penalty=params.repeat_penalty,
        ):
            if lib.llama_vocab_is_eog(vocab, token):
                break
            count += 1
            text = decoder.decode(llm.detokenize([token]))
            if text:
                if not first:
                    first = time.perf_counter()
                pieces.append(text)
            if count >= built.max_new_tokens:
                break
        end = time.perf_counter()
        return Sample(first - start, count, end - first, "".join(pieces))


def main() -> None:
    parser = common.arg_parser(__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--long-tokens", type=int, default=2048)
    parser.add_argument("--multibyte-tokens", type=int, default=512)
    parser.add_argument("--cases", default="short,long,multibyte", help="comma-separated subset")
    parser.add_argument("--long-reps", type=int, default=None, help="repetitions of the long case (default: --reps)")
    parser.add_argument(
        "--no-raw", action="store_true", help="leave out the raw generate() side (informational only; saves time)"
    )
    args = parser.parse_args()
    machine = common.Machine.now()
    result = common.BenchResult("engine_overhead")
    sides = Sides(args.threads)
    wanted = set(args.cases.split(","))
    summary_parts = []
    for case in cases(args.long_tokens, args.multibyte_tokens):
        if case.name not in wanted:
            continue
        sides_run = {
            "app": lambda _rep, c=case: sides.app(c),
            "bare": lambda _rep, c=case: sides.bare_completion(c),
            "raw": lambda _rep, c=case: sides.raw_generate(c),
        }
        if args.no_raw:
            del sides_run["raw"]
        reps = args.long_reps if case.name == "long" and args.long_reps else args.reps
        samples = common.interleave(reps, sides_run)
        med = {name: common.median(s.tokens_per_s for s in runs) for name, runs in samples.items()}
        med.setdefault("raw", float("nan"))
        ttft = {name: common.median(s.ttft_s for s in runs) for name, runs in samples.items()}
        ttft.setdefault("raw", float("nan"))
        tokens = {name: runs[-1].tokens for name, runs in samples.items()}
        same_text = samples["app"][-1].text == samples["bare"][-1].text
        ratio = common.ratio(med["app"], med["bare"])
        floor = common.ratio(med["app"], med["raw"])
        print(
            f"{case.name:10s} app {med['app']:7.1f} tok/s  bare create_completion {med['bare']:7.1f} tok/s  "
            f"raw generate() {med['raw']:7.1f} tok/s  | app/bare {ratio:.3f}  app/raw {floor:.3f}  "
            f"| TTFT ms app {ttft['app'] * 1000:.0f} bare {ttft['bare'] * 1000:.0f} raw {ttft['raw'] * 1000:.0f}"
            f"  | tokens {tokens}  same text as bare: {same_text}  | reps {reps}"
        )
        result.check(f"{case.name}: app/bare tok/s", ratio, ">=", TARGET)
        if not args.no_raw:
            result.check(f"{case.name}: app/raw generate() tok/s", floor, ">=", TARGET, informational=True)
        result.figures[case.name] = {"tokens_per_s": med, "ttft_s": ttft, "tokens": tokens, "same_text": same_text}
        if not same_text:
            result.notes.append(f"{case.name}: app and bare texts differ (rounding of the first logits)")
        raw = "" if args.no_raw else f", app/raw {floor:.3f}"
        raw_rate = "" if args.no_raw else f" / raw {med['raw']:.0f}"
        summary_parts.append(
            f"{case.name} ({tokens['app']} tok): app/bare {ratio:.3f}{raw}, "
            f"app {med['app']:.0f} / bare {med['bare']:.0f}{raw_rate} tok/s"
        )
    result.notes.extend(args.note)
    reps = f"reps {args.reps}" + (f" (long {args.long_reps})" if args.long_reps else "")
    common.finish(result, machine, f"{reps}; " + "; ".join(summary_parts), record=not args.no_record)


if __name__ == "__main__":
    main()
