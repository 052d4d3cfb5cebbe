"""History scale: what a long discussion costs the app, measured on what exists in this tree.

- open: a 1,000-message discussion turned into the chatbot value the server sends (chat_view +
  Gradio's Chatbot postprocess + JSON encoding).
- stream update: one streamed update in that discussion (the value rebuilt, postprocessed and
  diffed against the previous one, as Gradio does at each yield), and the share of one core that
  costs at the discussion tab's 20 updates/s.
- next prompt: building the next turn's prompt over the 1,000-message history (the builder keeps
  what fits the 4,096-token context, oldest exchanges dropped first).
- generation while rendering: tokens/s of an answer streamed into that discussion through the
  discussion tab's stream_turn, with a consumer that does Gradio's per-update work (postprocess,
  serialize, diff) vs one that does nothing: the model must not wait for the UI.

Opening and exporting stored discussions belongs to the discussion store; bench/discussion_scale.py
measures those and run_all.py runs it when it exists.

Targets: open <= 0.5 s; one stream update <= 10 ms (<= 20% of a core at 20 updates/s); next
prompt <= 0.25 s; generation while rendering >= 0.95 x undisturbed.

    python bench/history_scale.py [--reps 5] [--messages 1000]
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import common

TARGET_OPEN_S = 0.5
TARGET_UPDATE_S = 0.010
TARGET_PROMPT_S = 0.25
TARGET_STALL = 0.95


def long_session(personality_id: str, messages: int):
    from gradio_app.session import ChatSession, Message

    session = ChatSession(personality_id=personality_id)
    for i in range(messages // 2):
        session.messages.append(Message("user", f"Question {i}: how does **feature {i}** work, and why? " * 2))
        session.messages.append(
            Message("assistant", f"Answer {i}. " + "It works step by step, with `code` and details. " * 12)
        )
    return session


def main() -> None:
    import gradio as gr
    from gradio import utils as gr_utils

    from gradio_app.context import AppContext
    from gradio_app.personalities.personality import Personality
    from gradio_app.ui.discussion_tab import stream_turn
    from gradio_app.ui.render import chat_view

    parser = common.arg_parser(__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--answer-tokens", type=int, default=128)
    args = parser.parse_args()
    machine = common.Machine.now()
    result = common.BenchResult("history_scale")

    tmp = tempfile.TemporaryDirectory(prefix="bench-history-")
    data = Path(tmp.name)
    folder = common.write_bench_personality(data / "personalities", n_predict=args.answer_tokens)
    personality = Personality.load(folder, common.BENCH_PERSONALITY)
    if args.threads:  # the flat key every version of the settings file reads
        (data / "settings.yaml").write_text(f"n_threads: {args.threads}\n", encoding="utf-8")
    ctx = AppContext.create(data)
    session = long_session(common.BENCH_PERSONALITY, args.messages)
    chatbot = gr.Chatbot()

    def open_once(_rep: int) -> float:
        start = time.perf_counter()
        value = chatbot.postprocess(chat_view(session))
        json.dumps(value.model_dump())
        return time.perf_counter() - start

    previous = chatbot.postprocess(chat_view(session, pending="partial answer")).model_dump()

    def update_once(rep: int) -> float:
        start = time.perf_counter()
        value = chatbot.postprocess(chat_view(session, pending="partial answer" + " more" * (rep + 1))).model_dump()
        gr_utils.diff(previous, value)
        return time.perf_counter() - start

    builder = ctx.runner.prompt_builder(session)
    built_holder = {}

    def prompt_once(_rep: int) -> float:
        start = time.perf_counter()
        built_holder["b"] = builder.build(personality.config, session.history(), "And the next one?", 512)
        return time.perf_counter() - start

    def turn(render: bool) -> float:
        """Tokens/s of one streamed answer in the long discussion; `render` does at every update
        what Gradio does with it (postprocess, serialize, diff), on this thread as Gradio would."""
        chat = long_session(common.BENCH_PERSONALITY, args.messages)
        last = None
        for view in stream_turn(ctx, chat, "And what about the next feature?"):
            if render:
                value = chatbot.postprocess(view).model_dump()
                if last is not None:
                    gr_utils.diff(last, value)
                last = value
        meta = chat.messages[-1].metadata
        return meta.get("tokens_per_second") or float("nan")

    turn(False)  # warm: evaluates the long prompt once; later runs find it cached
    streaming = common.interleave(
        max(2, args.reps // 2), {"quiet": lambda _r: turn(False), "rendering": lambda _r: turn(True)}
    )
    stall = common.ratio(common.median(streaming["rendering"]), common.median(streaming["quiet"]))
    samples = common.interleave(args.reps, {"open": open_once, "update": update_once, "prompt": prompt_once})
    ctx.service.unload()
    tmp.cleanup()
    open_s, update_s, prompt_s = (common.median(samples[k]) for k in ("open", "update", "prompt"))
    built = built_holder["b"]
    core_share = update_s * 20
    print(f"open {args.messages} messages: {open_s * 1000:.1f} ms")
    print(f"one stream update: {update_s * 1000:.2f} ms  ({core_share:.0%} of a core at 20 updates/s)")
    print(
        f"next prompt: {prompt_s * 1000:.1f} ms ({built.kept_messages} messages kept, "
        f"{built.dropped_messages} dropped, {built.n_tokens} tokens)"
    )
    result.check(f"open a {args.messages}-message discussion (chatbot value)", open_s, "<=", TARGET_OPEN_S, unit=" s")
    result.check("one stream update in it", update_s * 1000, "<=", TARGET_UPDATE_S * 1000, unit=" ms")
    result.check(f"next prompt over {args.messages} messages", prompt_s, "<=", TARGET_PROMPT_S, unit=" s")
    result.check("tok/s while the UI renders every update / undisturbed", stall, ">=", TARGET_STALL)
    print(
        f"generation while the UI renders each update of the {args.messages}-message discussion: "
        f"{common.median(streaming['rendering']):.1f} tok/s vs {common.median(streaming['quiet']):.1f} undisturbed "
        f"(x{stall:.3f})"
    )
    result.figures = {
        "open_s": open_s,
        "update_s": update_s,
        "prompt_s": prompt_s,
        "kept": built.kept_messages,
        "dropped": built.dropped_messages,
        "tokens_per_s_rendering": streaming["rendering"],
        "tokens_per_s_quiet": streaming["quiet"],
    }
    result.notes.extend(args.note)
    summary = (
        f"reps {args.reps}, {args.messages} messages: open {open_s * 1000:.0f} ms; stream update "
        f"{update_s * 1000:.1f} ms ({core_share:.0%} of a core at 20/s); next prompt {prompt_s * 1000:.0f} ms "
        f"({built.kept_messages} kept, {built.dropped_messages} dropped); generation while rendering every "
        f"update x{stall:.3f} of undisturbed"
    )
    common.finish(result, machine, summary, record=not args.no_record)


if __name__ == "__main__":
    main()
