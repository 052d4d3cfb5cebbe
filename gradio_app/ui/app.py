"""build_app(): assembles the tabs into one Gradio Blocks app around an AppContext."""

from __future__ import annotations

from functools import partial
from typing import Any

import gradio as gr

from gradio_app.context import AppContext
from gradio_app.session import ChatSession
from gradio_app.ui import discussion_tab, mcp_tools, settings_tab, zoo_tab
from gradio_app.ui.render import chat_view

TITLE = "Personalities WebUI"


def build_app(ctx: AppContext) -> gr.Blocks:
    with gr.Blocks(title=TITLE) as demo:
        # Each browser gets its own ChatSession (Gradio deep-copies the initial value per session).
        state = gr.State(ctx.new_session())
        gr.Markdown("\n".join(f"⚠️ {n}" for n in ctx.notices), visible=bool(ctx.notices))
        with gr.Tabs() as tabs:
            with gr.Tab("Discussion", id="discussion"):
                disc = discussion_tab.build(ctx, state)
            with gr.Tab("Settings", id="settings"):
                sett = settings_tab.build(ctx, state)
            with gr.Tab("Personalities Zoo", id="zoo"):
                zoo = zoo_tab.build(ctx, state)
                zoo_status = gr.Markdown()

        zoo_outputs = [zoo.language, zoo.category, zoo.personality, zoo.logo, zoo.card]

        def on_load(session: ChatSession) -> list[Any]:
            return [
                chat_view(session),
                discussion_tab.current_header(ctx, session),
                *settings_tab.view(ctx, session),
                *zoo_tab.zoo_position(ctx, session),
            ]

        def on_select(personality_id: str | None, session: ChatSession) -> list[Any]:
            status = zoo_tab.select_personality(ctx, session, personality_id)
            return [*on_load(session), status, gr.Tabs(selected="discussion")]

        def on_page_load(session: ChatSession) -> list[Any]:
            ctx.refresh_new_session(session)  # settings saved since start-up apply to new pages
            return on_load(session)

        mcp_tools.register_tools(ctx)
        page = [disc.chatbot, disc.header, *sett.outputs, *zoo_outputs]
        demo.load(on_page_load, state, page, api_visibility="private")
        for event in sett.model_changes:  # the header names the model in use
            event.then(partial(discussion_tab.current_header, ctx), state, disc.header, api_visibility="private")
        zoo.select.click(on_select, [zoo.personality, state], [*page, zoo_status, tabs], api_name="select_personality")
    return demo
