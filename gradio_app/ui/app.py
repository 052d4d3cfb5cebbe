"""build_app(): assembles the tabs into one Gradio Blocks app around an AppContext."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

import gradio as gr

from gradio_app.context import AppContext
from gradio_app.session import ChatSession
from gradio_app.ui import discussion_tab, mcp_tools, settings_tab, zoo_tab
from gradio_app.ui.render import chat_view

TITLE = "Personalities WebUI"
# The discussions list scrolls on its own; the per-answer facts line stays quiet.
CSS = """
#discussion-list { max-height: 440px; overflow-y: auto; }
#chat sub { opacity: 0.6; font-size: 0.8em; }
#message-actions { align-items: center; justify-content: flex-end; }
#version-label { flex: 0 0 auto !important; width: auto !important; min-width: 0 !important; }
"""


def build_app(ctx: AppContext, chat_concurrency: int = discussion_tab.CHAT_CONCURRENCY, mcp: bool = False) -> gr.Blocks:
    """`chat_concurrency`: chats in flight at once (they queue fairly in front of the model);
    `mcp`: the app serves MCP, so only the MCP tools stay in the API docs (mcp_tools.keep_only_tools)."""
    with gr.Blocks(title=TITLE) as demo:
        # Each browser gets its own ChatSession (Gradio deep-copies the initial value per session).
        state = gr.State(ctx.new_session())
        gr.Markdown("\n".join(f"⚠️ {n}" for n in ctx.notices), visible=bool(ctx.notices))
        with gr.Tabs() as tabs:
            with gr.Tab("Discussion", id="discussion"):
                disc = discussion_tab.build(ctx, state, chat_concurrency)
            with gr.Tab("Settings", id="settings"):
                sett = settings_tab.build(ctx, state)
            with gr.Tab("Personalities Zoo", id="zoo"):
                zoo = zoo_tab.build(ctx, state)

        zoo_outputs = zoo.browse_outputs

        def view(session: ChatSession) -> list[Any]:
            return [
                chat_view(session),
                discussion_tab.current_header(ctx, session),
                *settings_tab.view(ctx, session),
                *zoo_tab.zoo_position(ctx, session),
            ]

        def on_load(session: ChatSession, browser_id: str | None, request: gr.Request) -> list[Any]:
            ctx.zoo.rescan()  # cheap (unchanged personalities are reused): shows add_personality's work
            ctx.refresh_new_session(session)  # settings saved since start-up apply to new pages
            browser_id, side = discussion_tab.on_page_load(ctx, session, browser_id, request)
            return [*view(session), browser_id, *side]

        def on_select(personality_id: str | None, session: ChatSession, request: gr.Request) -> Iterator[list[Any]]:
            # Apply: installs first when needed (status and log stream), then opens the discussion.
            discussion_tab.bind_owner(ctx, session, request)
            status = ""
            for status, log in zoo_tab.apply_steps(ctx, session, personality_id, before_switch=session.cancel.set):
                waiting: list[Any] = [gr.skip()] * len(page)
                waiting[page.index(zoo.install_log)] = log
                yield [*waiting, status, gr.skip()]
            yield [*view(session), status, gr.Tabs(selected="discussion")]

        tool_names = mcp_tools.register_tools(ctx)
        page = [disc.chatbot, disc.header, *sett.outputs, *zoo_outputs]
        demo.load(on_load, [state, disc.browser_id], [*page, disc.browser_id, *disc.side], api_visibility="private")
        zoo.apply.click(
            on_select,
            [zoo.personality, state],
            [*page, zoo.status, tabs],
            api_name="select_personality",
            concurrency_limit=zoo_tab.ACTION_CONCURRENCY,  # an install can take minutes: do not block others
        ).then(lambda s: discussion_tab.side_view(ctx, s), state, disc.side, api_visibility="private")
        for event in sett.model_changes:  # the header names the model in use
            event.then(partial(discussion_tab.current_header, ctx), state, disc.header, api_visibility="private")
    if mcp:
        mcp_tools.keep_only_tools(demo, tool_names)
    return demo
