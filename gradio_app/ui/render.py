"""Domain objects -> what Gradio components display. Pure functions, no decisions."""

from __future__ import annotations

from typing import Any

from gradio_app.generation.bindings.base import ModelInfo
from gradio_app.personalities.personality import Personality
from gradio_app.personalities.zoo import ZooEntry
from gradio_app.session import ChatSession, Message
from gradio_app.ui.workflow_view import assistant_messages


def message_view(message: Message) -> list[dict[str, Any]]:
    """One stored message as chatbot messages (a scripted answer brings its steps and images)."""
    content = message.content
    if message.kind == "error":
        content = f"⚠️ {content}"
    elif message.role == "assistant" and not content and message.metadata.get("stop_reason") == "cancelled":
        content = "_(stopped before any text)_"
    if message.role == "assistant":
        return assistant_messages(content, message.metadata)
    return [{"role": message.role, "content": content}]


def chat_view(session: ChatSession, pending: str | list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The chatbot value: every message, plus the answer being streamed (`pending`) if any:
    its text, or its chatbot messages (workflow_view.live_messages)."""
    view = [part for m in session.messages for part in message_view(m)]
    if isinstance(pending, str):
        view.append({"role": "assistant", "content": pending})
    elif pending is not None:
        view.extend(pending)
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


def personality_card(entry: ZooEntry) -> str:
    if entry.personality is None:
        return f"### ⚠️ {entry.name}\nThis personality cannot be used:\n\n```\n{entry.error}\n```"
    c = entry.personality.config
    lines = [f"### {c.name}", f"*{entry.id}* · version {c.version} · by {c.author or 'unknown'}", ""]
    lines.append(c.personality_description.strip() or "_No description._")
    if entry.personality.has_custom_workflow:
        lines.append("\n🧩 **Custom workflow**: this personality runs its own script on this machine.")
    if c.disclaimer.strip():
        lines.append(f"\n> ⚠️ **Disclaimer:** {c.disclaimer.strip()}")
    return "\n".join(lines)


def personality_choices(entries: list[ZooEntry]) -> list[tuple[str, str]]:
    return [(e.name if e.ok else f"⚠️ {e.name} (broken)", e.id) for e in entries]
