"""History scale: what a long discussion costs a chat turn (the generation side).

A stored 1,000-message discussion (the discussion store, as bench/discussion_scale.py builds it),
opened in a session on the greedy bench personality:

- next prompt: building the next turn's prompt over the 1,000-message history (the builder keeps
  what fits the 4,096-token context, cutting the history at its fixed cut points).
- generation while rendering: tokens/s of an answer streamed into that discussion through the
  discussion tab's stream_chat, with a consumer that does Gradio's per-update work on every
  update (postprocess, serialize, diff of the chat view) vs one that does nothing: the model must
  not wait for the UI.

Opening the discussion, one update's cost and exporting 100 discussions are the store's side:
bench/discussion_scale.py.

Targets: next prompt <= 0.25 s; generation while rendering >= 0.95 x undisturbed.

    python bench/history_scale.py [--reps 4] [--messages 1000] [--answer-tokens 128] [--threads N]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import common

TARGET_PROMPT_S = 0.25
TARGET_STALL = 0.95


def main() -> None:
    import discussion_scale
    import gradio as gr
    from gradio import utils as gr_utils

    from gradio_app.context import AppContext
    from gradio_app.session import ChatSession
    from gradio_app.ui.discussion_tab import stream_chat

    parser = common.arg_parser(__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=4)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--answer-tokens", type=int, default=128)
    args = parser.parse_args()
    machine = common.Machine.now()
    result = common.BenchResult("history_scale")

    tmp = tempfile.TemporaryDirectory(prefix="bench-history-")
    data = Path(tmp.name)
    common.write_bench_personality(data / "personalities", n_predict=args.answer_tokens)
    if args.threads:  # the flat key every version of the settings file reads
        (data / "settings.yaml").write_text(f"n_threads: {args.threads}\n", encoding="utf-8")
    ctx = AppContext.create(data)
    store = ctx.store
    owner = discussion_scale.OWNER
    long_id = discussion_scale.build_discussion(store, args.messages, "A very long discussion", time.time())

    def open_session() -> ChatSession:
        session = ChatSession(personality_id=common.BENCH_PERSONALITY)
        session.attach(store, owner)
        session.open(long_id)
        session.personality_id = common.BENCH_PERSONALITY
        return session

    session = open_session()
    personality = ctx.zoo.get(common.BENCH_PERSONALITY)
    builder = ctx.runner.prompt_builder(session)
    built_holder = {}

    def prompt_once(_rep: int) -> float:
        start = time.perf_counter()
        built_holder["b"] = builder.build(personality.config, session.history(), "And the next one?", 512)
        return time.perf_counter() - start

    chatbot = gr.Chatbot()

    def turn(render: bool) -> float:
        """Tokens/s of one streamed answer in the long discussion; `render` does at every update
        what Gradio does with it (postprocess, serialize, diff), on this thread as Gradio would."""
        chat = open_session()
        last = None
        for view in stream_chat(chat, ctx.runner.run_turn(chat, "And what about the next feature?")):
            if render:
                value = chatbot.postprocess(view).model_dump()
                if last is not None:
                    gr_utils.diff(last, value)
                last = value
        meta = chat.messages[-1].metadata
        return meta.get("tokens_per_second") or float("nan")

    samples = common.interleave(args.reps, {"prompt": prompt_once})
    turn(False)  # warm: evaluates the long prompt once; later turns find most of it cached
    streaming = common.interleave(
        max(2, args.reps // 2), {"quiet": lambda _r: turn(False), "rendering": lambda _r: turn(True)}
    )
    ctx.service.unload()
    tmp.cleanup()

    prompt_s = common.median(samples["prompt"])
    built = built_holder["b"]
    quiet, rendering = common.median(streaming["quiet"]), common.median(streaming["rendering"])
    stall = common.ratio(rendering, quiet)
    print(
        f"next prompt: {prompt_s * 1000:.1f} ms ({built.kept_messages} messages kept, "
        f"{built.dropped_messages} dropped, {built.n_tokens} tokens)"
    )
    print(
        f"generation while the UI renders each update of the {args.messages}-message discussion: "
        f"{rendering:.1f} tok/s vs {quiet:.1f} undisturbed (x{stall:.3f})"
    )
    result.check(f"next prompt over {args.messages} messages", prompt_s, "<=", TARGET_PROMPT_S, unit=" s")
    result.check("tok/s while the UI renders every update / undisturbed", stall, ">=", TARGET_STALL)
    result.figures = {
        "prompt_s": prompt_s,
        "kept": built.kept_messages,
        "dropped": built.dropped_messages,
        "tokens_per_s_rendering": streaming["rendering"],
        "tokens_per_s_quiet": streaming["quiet"],
    }
    result.notes.extend(args.note)
    summary = (
        f"reps {args.reps}, {args.messages} messages: next prompt {prompt_s * 1000:.0f} ms "
        f"({built.kept_messages} kept, {built.dropped_messages} dropped); generation while rendering every "
        f"update {rendering:.0f} vs {quiet:.0f} tok/s undisturbed (x{stall:.3f})"
    )
    common.finish(result, machine, summary, record=not args.no_record)


if __name__ == "__main__":
    main()
