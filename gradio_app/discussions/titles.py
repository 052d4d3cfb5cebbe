"""Automatic discussion titles: from the user's first message, no model call (instant, stable)."""

from __future__ import annotations

import re

TITLE_CHARS = 60
UNTITLED = "New discussion"


def title_from(first_message: str, limit: int = TITLE_CHARS) -> str:
    """The first meaningful line, markdown markers dropped, cut at a word boundary with "…"."""
    for line in first_message.splitlines():
        text = re.sub(r"^[\s#>*\-+`]+", "", line)
        text = " ".join(text.replace("`", "").split())
        if text:
            break
    else:
        return UNTITLED
    if len(text) <= limit:
        return text
    cut = text[:limit]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.-") + "…"
