"""How an answer was made, in one short line (the chat view and the Markdown export share it)."""

from __future__ import annotations

from typing import Any


def facts_line(metadata: dict[str, Any], version: int = 1, versions: int = 1, rating: int | None = None) -> str:
    """E.g. "version 2/3 · 54 tokens · 31.2 tokens/s · SmolLM2-135M · edited · 👍"; "" if nothing is known."""
    parts: list[str] = []
    if versions > 1:
        parts.append(f"version {version}/{versions}")
    tokens = metadata.get("completion_tokens")
    if isinstance(tokens, int) and tokens > 0:
        parts.append(f"{tokens} token{'s' if tokens != 1 else ''}")
    speed = metadata.get("tokens_per_second")
    if isinstance(speed, (int, float)) and speed > 0:
        parts.append(f"{speed:.1f} tokens/s")
    model = metadata.get("model")
    if isinstance(model, str) and model:
        parts.append(model)
    stop = metadata.get("stop_reason")
    if stop in ("cancelled", "disconnected"):
        parts.append("stopped")
    elif stop == "length":
        parts.append("cut at the token limit")
    if metadata.get("continuations"):
        parts.append("continued")
    if metadata.get("edited"):
        parts.append("edited")
    if rating:
        parts.append("👍" if rating > 0 else "👎")
    return " · ".join(parts)
