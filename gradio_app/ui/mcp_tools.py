"""MCP tools (with `--mcp`): chatting with any personality, scripted ones included.

Gradio turns these API-only functions into MCP tools (their docstrings are the tool
descriptions). Each call is a one-off discussion answered by the same WorkflowRunner as the UI.
"""

from __future__ import annotations

import gradio as gr

from gradio_app.context import AppContext
from gradio_app.personalities.schema import PersonalityError
from gradio_app.workflows.events import Done, ErrorOut


def register_tools(ctx: AppContext) -> None:
    """Call inside the app's gr.Blocks context."""

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
            personality = ctx.zoo.get(personality_id)
        except PersonalityError as e:
            raise gr.Error(str(e)) from e
        session = ctx.new_session()
        session.new_discussion(personality)
        for event in ctx.runner.run_turn(session, message):
            if isinstance(event, ErrorOut):
                raise gr.Error(event.message)
            if isinstance(event, Done):
                return event.content
        raise gr.Error("The personality gave no answer.")

    gr.api(list_personalities, api_name="list_personalities")
    gr.api(chat_with_personality, api_name="chat_with_personality", concurrency_limit=16, concurrency_id="chat")
