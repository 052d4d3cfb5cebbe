"""Domain objects -> what Gradio components display. Pure functions, no decisions."""

from __future__ import annotations

from typing import Any

from gradio_app.generation.bindings.base import ModelInfo
from gradio_app.personalities.personality import Personality
from gradio_app.session import ChatSession, Message


def message_view(message: Message) -> dict[str, Any]:
    content = message.content
    if message.kind == "error":
        content = f"⚠️ {content}"
    elif message.role == "assistant" and not content and message.metadata.get("stop_reason") == "cancelled":
        content = "_(stopped before any text)_"
    return {"role": message.role, "content": content}


def chat_view(session: ChatSession, pending: str | None = None) -> list[dict[str, Any]]:
    """The chatbot value: every message, plus the answer being streamed (`pending`) if any."""
    view = [message_view(m) for m in session.messages]
    if pending is not None:
        view.append({"role": "assistant", "content": pending})
    return view


def header_view(personality: Personality | None, model: ModelInfo | None) -> str:
    who = f"**{personality.name}**" if personality else "_no personality_"
    engine = f"`{model.name}`" if model else "_no model loaded_"
    return f"### Talking with {who} · model {engine}"


def model_view(model: ModelInfo | None, load_error: str | None, threads: int | None) -> str:
    if model is None:
        return f"**No model loaded.** {load_error or ''}"
    template = "yes" if model.chat_template else "no (personality prefixes are used)"
    return (
        f"**Model:** {model.name}  \n**File:** `{model.path}` ({model.size_bytes / 2**20:.0f} MiB)  \n"
        f"**Context:** {model.n_ctx} tokens (trained on {model.n_ctx_train})  \n"
        f"**Threads:** {threads or 'all cores'}  \n**Chat template:** {template}"
    )
