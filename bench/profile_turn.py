"""Profile a chat turn's Python side with pyinstrument (requirements-dev.txt), to see where the
time that is not llama.cpp's own goes.

Profiles, on the embedded model: the app's generation path (PromptBuilder + GenerationService +
binding + StopDetector) over a long answer, and a streamed update of a 1,000-message discussion
(chat_view + Gradio's Chatbot postprocess + diff). Prints pyinstrument's text report for each; no
RESULTS.md row (profiles explain figures, they are not figures).

    python bench/profile_turn.py [--tokens 512] [--threads N] [--html DIR]
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import common


def main() -> None:
    from pyinstrument import Profiler

    parser = common.arg_parser(__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--html", type=Path, default=None, help="also write HTML reports into this folder")
    args = parser.parse_args()

    import engine_overhead

    sides = engine_overhead.Sides(args.threads)
    case = engine_overhead.Case("long", engine_overhead.cases(args.tokens, 64)[1].question, args.tokens)
    sides.app(case)  # warm: the prompt is cached, as in a running app
    profiler = Profiler(interval=0.0005)
    profiler.start()
    sample = sides.app(case)
    profiler.stop()
    print(f"== generation path: {sample.tokens} tokens at {sample.tokens_per_s:.1f} tok/s")
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    if args.html:
        args.html.mkdir(parents=True, exist_ok=True)
        (args.html / "generation.html").write_text(profiler.output_html(), encoding="utf-8")

    import gradio as gr
    import history_scale
    from gradio import utils as gr_utils

    from gradio_app.ui.render import chat_view

    with tempfile.TemporaryDirectory():
        session = history_scale.long_session(common.BENCH_PERSONALITY, 1000)
    chatbot = gr.Chatbot()
    previous = chatbot.postprocess(chat_view(session, pending="x")).model_dump()
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for i in range(20):
        value = chatbot.postprocess(chat_view(session, pending="x" * (i + 2))).model_dump()
        gr_utils.diff(previous, value)
        previous = value
    profiler.stop()
    print("== 20 stream updates of a 1,000-message discussion")
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    if args.html:
        (args.html / "stream_update.html").write_text(profiler.output_html(), encoding="utf-8")


if __name__ == "__main__":
    main()
