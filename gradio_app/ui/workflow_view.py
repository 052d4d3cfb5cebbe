"""An assistant message with workflow metadata -> Gradio chatbot messages.

One function for both the live view (while a scripted workflow runs) and a stored message (a
reopened discussion), so both look the same: each step is a collapsible "thought" (Gradio's
message `metadata`: title, status, duration, id, parent_id, log), nested by parent; then the
answer; then the images; then the sources the answer cites.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gradio_app.workflows.transcript import Transcript

_KIND_ICON = {"info": "ℹ️", "warning": "⚠️", "error": "❌"}
_STATUS_MARK = {"failed": "❌", "cancelled": "⏹️"}
_BAR_CELLS = 20


def progress_bar(done: int, total: int) -> str:
    total = max(total, 1)
    done = max(0, min(done, total))
    filled = round(_BAR_CELLS * done / total)
    return "▰" * filled + "▱" * (_BAR_CELLS - filled)


def step_message(step: dict[str, Any]) -> dict[str, Any]:
    status = step.get("status", "done")
    kind = step.get("kind", "step")
    title = str(step.get("title", ""))
    if kind in _KIND_ICON:
        title = f"{_KIND_ICON[kind]} {title}"
    elif status in _STATUS_MARK:
        title = f"{_STATUS_MARK[status]} {title}"
    shown_status = "pending" if status == "pending" else "done"  # Gradio knows only these two
    meta: dict[str, Any] = {"title": title, "id": str(step["id"]), "status": shown_status}
    if step.get("parent_id"):
        meta["parent_id"] = str(step["parent_id"])
    if status != "pending" and kind == "step":
        meta["duration"] = round(float(step.get("duration_s") or 0.0), 1)
    content = str(step.get("content") or "")
    progress = step.get("progress")
    log_parts = []
    if progress:
        note = f" {progress['note']}" if progress.get("note") else ""
        done, total = progress["done"], progress["total"]
        log_parts.append(f"{done}/{total}{note}")
        if status == "pending":
            bar = f"`{progress_bar(done, total)}` {done}/{total}"
            content = f"{bar}\n\n{content}" if content else bar
    if status in ("failed", "cancelled"):
        log_parts.append("stopped" if status == "cancelled" else "failed")
    if log_parts:
        meta["log"] = " · ".join(log_parts)
    return {"role": "assistant", "content": content, "metadata": meta}


def image_message(image: dict[str, Any]) -> dict[str, Any]:
    path = str(image.get("path", ""))
    caption = str(image.get("caption") or "")
    if not path or not Path(path).is_file():
        name = Path(path).name or "image"
        return {"role": "assistant", "content": f"_(image {name} is no longer on disk)_"}
    return {"role": "assistant", "content": {"path": path, "alt_text": caption or None}}


def sources_message(sources: list[dict[str, Any]]) -> dict[str, Any]:
    lines = []
    for source in sources:
        title = str(source.get("title") or source.get("url") or "source").replace("]", "\\]")
        url = str(source.get("url") or "")
        head = f"[{title}]({url})" if url.startswith(("http://", "https://")) else title
        lines.append(f"**[{source.get('index', '?')}]** {head}")
        passage = " ".join(str(source.get("passage") or "").split())
        if passage:
            lines.append(f"> {passage[:600]}{'…' if len(passage) > 600 else ''}")
        lines.append("")
    meta = {"title": f"📚 Sources ({len(sources)})", "id": "sources", "status": "done"}
    return {"role": "assistant", "content": "\n".join(lines).strip(), "metadata": meta}


def assistant_messages(
    content: str, metadata: dict[str, Any] | None, *, streaming: bool = False
) -> list[dict[str, Any]]:
    """The chatbot messages of one assistant message (steps, answer, images, sources)."""
    metadata = metadata or {}
    view = [step_message(s) for s in metadata.get("steps") or [] if isinstance(s, dict) and "id" in s]
    if content or streaming or not view:
        view.append({"role": "assistant", "content": content})
    view += [image_message(i) for i in metadata.get("images") or [] if isinstance(i, dict)]
    sources = [s for s in metadata.get("sources") or [] if isinstance(s, dict)]
    if sources:
        view.append(sources_message(sources))
    return view


def live_messages(transcript: Transcript) -> list[dict[str, Any]]:
    """The turn being generated, as it stands now."""
    answer = transcript.answer
    if not answer and transcript.waiting_ahead is not None:
        answer = f"⏳ _Waiting for the model: {transcript.waiting_ahead} request(s) ahead…_"
    return assistant_messages(answer, transcript.metadata(), streaming=True)
