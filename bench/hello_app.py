"""The baseline for cold_start.py: the smallest Gradio Blocks app, launched the way app.py launches."""

from __future__ import annotations

import sys

import gradio as gr


def main() -> None:
    port = int(sys.argv[1])
    with gr.Blocks(title="hello") as demo:
        gr.Markdown("hello")
    demo.queue()
    demo.launch(server_name="127.0.0.1", server_port=port, quiet=True)


if __name__ == "__main__":
    main()
