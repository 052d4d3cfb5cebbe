"""Domain objects -> what Gradio components display. Pure functions, no decisions."""

from __future__ import annotations

import datetime as _dt
import time
from typing import Any

from gradio_app.discussions.facts import facts_line
from gradio_app.discussions.store import DiscussionRecord
from gradio_app.generation.bindings.base import ModelInfo
from gradio_app.personalities.personality import Personality
from gradio_app.personalities.zoo import ZooEntry
from gradio_app.session import ChatSession, Message, SessionError

# A long discussion shows its latest messages only (until "Show all"): Gradio re-sends and the
# browser re-renders the whole chatbot value on every streamed update, so the view stays bounded.
VIEW_WINDOW = 200
INTERRUPTED_NOTE = "⚠️ _Interrupted: the app stopped while writing this answer. Regenerate or Continue it._"


def facts_suffix(message: Message) -> str:
    """The subtle per-answer line (tokens, speed, model, version) appended below a message."""
    if message.kind == "welcome":
        return ""
    if message.role == "assistant" and message.kind == "normal":
        facts = facts_line(message.metadata, message.version, message.versions, message.rating)
    else:
        facts = f"version {message.version}/{message.versions}" if message.versions > 1 else ""
    return f"\n\n<sub>{facts}</sub>" if facts else ""


def strip_decorations(message: Message, shown_text: str) -> str:
    """What the user really edited: the shown text minus what the view added to it."""
    text = shown_text
    for suffix in (facts_suffix(message), "\n\n" + INTERRUPTED_NOTE):
        if suffix.strip() and text.rstrip().endswith(suffix.strip()):
            text = text.rstrip()[: -len(suffix.strip())]
    return text.strip()


def message_to_chat(message: Message) -> list[dict[str, Any]]:
    """One stored message -> the chatbot messages that show it. Every message of the chat view
    goes through here (step, image and source rendering of scripted answers plugs in here)."""
    content = message.content
    if message.kind == "error":
        content = f"⚠️ {content}"
    elif message.role == "assistant" and not content and message.metadata.get("stop_reason") == "cancelled":
        content = "_(stopped before any text)_"
    elif message.interrupted and not content:
        content = "_(no text was written)_"
    if message.interrupted:
        content += "\n\n" + INTERRUPTED_NOTE
    if not message.live:
        content += facts_suffix(message)
    return [{"role": message.role, "content": content}]


def hidden_messages(session: ChatSession) -> int:
    """How many of the oldest messages the windowed view leaves out."""
    return 0 if session.show_all else max(0, len(session.messages) - VIEW_WINDOW)


def chat_items(session: ChatSession, waiting: str | None = None) -> list[tuple[str | None, dict[str, Any]]]:
    """(message id, chatbot message) for everything shown; the id is None for notes."""
    messages = session.messages
    hidden = hidden_messages(session)
    items: list[tuple[str | None, dict[str, Any]]] = []
    if hidden:
        note = f"_… {hidden} earlier messages are not shown here. Press **Show all messages** to see them._"
        items.append((None, {"role": "assistant", "content": note}))
    for message in messages[hidden:]:
        if message.live and not message.content and waiting:
            items.append((message.id, {"role": "assistant", "content": waiting}))
            continue
        items += [(message.id, chat) for chat in message_to_chat(message)]
    return items


def chat_view(session: ChatSession, waiting: str | None = None) -> list[dict[str, Any]]:
    """The chatbot value: the current branch (a live answer as far as it is written)."""
    return [chat for _, chat in chat_items(session, waiting)]


def message_at(session: ChatSession, index: int | tuple[int, int] | list[int] | None) -> Message:
    """The message behind position `index` of the chat view (negative counts from the end)."""
    if isinstance(index, (tuple, list)):
        index = index[0]
    ids = [mid for mid, _ in chat_items(session)]
    if not isinstance(index, int) or not -len(ids) <= index < len(ids) or ids[index] is None:
        raise SessionError("There is no message at that place in the discussion.")
    return session.find(ids[index])


def versions_view(message: Message | None) -> tuple[str, bool, bool]:
    """The label and whether ‹ and › apply, for the message the version controls act on."""
    if message is None or message.versions < 2:
        return "", False, False
    who = "answer" if message.role == "assistant" else "message"
    return f"{who} **{message.version}/{message.versions}**", message.version > 1, message.version < message.versions


def discussion_choices(records: list[DiscussionRecord], now: float | None = None) -> list[tuple[str, str]]:
    """The sidebar list: "title · when" labels, newest first (as the store returns them)."""
    return [(f"{r.title} · {_ago(r.updated, now)}", r.id) for r in records]


def _ago(timestamp: float, now: float | None = None) -> str:
    now = time.time() if now is None else now
    seconds = max(0, now - timestamp)
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return _dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d")


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
