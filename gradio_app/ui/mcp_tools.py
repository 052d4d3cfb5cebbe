"""MCP tools (with `--mcp`): chatting with any personality, painting, searching the web.

Gradio turns these API-only functions into MCP tools (their docstrings are the tool
descriptions). Each call is a one-off discussion answered by the same WorkflowRunner as the UI;
the turn itself is gradio_app/api/answers.py, this module only maps it to Gradio values and errors.
The tools skip Gradio's queue: its MCP server reaches queued functions through an HTTP loopback
client that cannot sign in, so with --auth they would always fail (api/access.py guards MCP).
No `from __future__ import annotations` here: Gradio reads the return annotations as types (a
tuple is one tool output per item, e.g. a text and an image).
"""

from typing import Any

import gradio as gr

from gradio_app.api.answers import (
    ART_PERSONALITY,
    WEB_PERSONALITY,
    TurnFailed,
    answer_once,
    file_link,
    paint,
    root_url,
    search_answer,
)
from gradio_app.context import AppContext


class ToolError(gr.Error):
    """gr.Error whose str() is the message itself: an MCP client gets str(error), not its repr."""

    def __str__(self) -> str:
        return str(self.message)


def register_tools(ctx: AppContext) -> list[str]:
    """Call inside the app's gr.Blocks context; returns the tools' API names."""

    def list_personalities() -> list[dict[str, str]]:
        """List the personalities you can chat with.

        Returns:
            One entry per personality: its id (use it with chat_with_personality), name,
            description, and whether it runs a custom workflow (tree of thoughts, web search, art).
        """
        return [
            {
                "id": e.id,
                "name": e.name,
                "description": e.personality.config.personality_description.strip(),
                "custom_workflow": str(e.personality.has_custom_workflow).lower(),
            }
            for e in sorted(ctx.zoo.entries.values(), key=lambda e: e.id)
            if e.personality is not None
        ]

    def chat_with_personality(personality_id: str, message: str) -> str:
        """Ask one personality a question and get its answer, written in character.

        Args:
            personality_id: the personality's id, e.g. "english/generic/lollms" (see list_personalities).
            message: what to ask or tell it.

        Returns:
            The personality's answer (for scripted personalities, the final answer of their workflow).
        """
        try:
            return answer_once(ctx, personality_id, message).content
        except TurnFailed as e:
            raise ToolError(str(e)) from e

    def generate_image(
        description: str, request: gr.Request, personality_id: str = ART_PERSONALITY
    ) -> tuple[str, dict[str, Any]]:
        """Paint a picture with Stable Diffusion: the art personality writes a detailed prompt from
        your description, then paints it. Needs a Stable Diffusion model on the server (the error
        says where to put one).

        Args:
            description: what the picture should show.
            personality_id: the art personality whose settings (model, size, steps) are used.

        Returns:
            The prompt used with the painting facts and image links, and the (first) image.
        """
        link = file_link(ctx.paths.outputs, root_url(request))
        try:
            painting = paint(ctx, description, link, personality_id)
        except TurnFailed as e:
            raise ToolError(str(e)) from e
        first = painting.images[0]
        # a Gradio file value: Gradio's MCP server sends the picture inline (base64) with its own URL
        image = {"path": str(first), "orig_name": first.name, "meta": {"_type": "gradio.FileData"}}
        return painting.text, image

    def web_search_answer(question: str, personality_id: str = WEB_PERSONALITY) -> tuple[str, str]:
        """Answer a question from the web: search, read the top pages, answer with numbered
        citations checked against the pages. Fails with the reason when the web gives nothing to
        answer from (offline, no results, unreadable pages).

        Args:
            question: what to find out.
            personality_id: the web personality whose settings (results, pages, timeouts) are used.

        Returns:
            The answer, ending with its Sources list, and the sources as JSON
            ([{index, title, url, passage, cited}]).
        """
        try:
            return search_answer(ctx, question, personality_id)
        except TurnFailed as e:
            raise ToolError(str(e)) from e

    tools = (list_personalities, chat_with_personality, generate_image, web_search_answer)
    for tool in tools:
        gr.api(tool, api_name=tool.__name__, queue=False)
    return [tool.__name__ for tool in tools]


def keep_only_tools(demo: gr.Blocks, tool_names: list[str]) -> int:
    """Make the page's own events "undocumented", so the MCP server lists only the tools above.

    Why: Gradio's MCP server turns every public API endpoint into a tool, which would put some 45
    page handlers (send, rename, apply_settings...) in front of an agent. Undocumented endpoints
    stay callable by the page and by gradio_client; they only leave the API docs and the MCP list.
    Returns how many were hidden."""
    hidden = 0
    for fn in demo.fns.values():
        if fn.api_visibility == "public" and fn.api_name not in tool_names:
            fn.api_visibility = "undocumented"
            hidden += 1
    return hidden
