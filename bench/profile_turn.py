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
import time
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

    import discussion_scale
    import gradio as gr
    from gradio import utils as gr_utils

    from gradio_app.discussions.store import DiscussionStore
    from gradio_app.session import ChatSession
    from gradio_app.ui.render import chat_view

    tmp = tempfile.TemporaryDirectory(prefix="bench-profile-")
    store = DiscussionStore(Path(tmp.name) / "discussions.sqlite3")
    long_id = discussion_scale.build_discussion(store, 1000, "long", time.time())
    session = ChatSession(personality_id="english/generic/lollms")
    session.attach(store, discussion_scale.OWNER)
    session.open(long_id)
    live = session.start_answer(session.add_user_message("One more?"), "LoLLMs")
    chatbot = gr.Chatbot()
    previous = chatbot.postprocess(chat_view(session)).model_dump()
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for _ in range(20):
        live.content += "more words "
        value = chatbot.postprocess(chat_view(session)).model_dump()
        gr_utils.diff(previous, value)
        previous = value
    profiler.stop()
    store.close()
    tmp.cleanup()
    print("== 20 stream updates of a 1,000-message discussion")
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    if args.html:
        (args.html / "stream_update.html").write_text(profiler.output_html(), encoding="utf-8")


if __name__ == "__main__":
    main()
