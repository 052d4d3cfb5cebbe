"""Export discussions: JSON (lossless, versioned) and Markdown (for reading).

JSON document (`format` / `version` say what it is, so later versions can still read it):

    {"format": "personalities-webui/discussions", "version": 1, "exported_at": "...Z",
     "discussions": [{"id", "title", "personality", "created", "updated", "current_leaf_id",
                      "messages": [{"id", "parent_id", "sender", "role", "kind", "content",
                                    "created", "metadata", "rating", "incomplete"}, ...]}],
     "files": {"<path relative to outputs/>": "<base64 bytes>"}}

Messages are listed in the order they were written (siblings keep their version order). Every
field is exported as stored, metadata included, except image paths: an image's absolute
`metadata.images[].path` inside the data folder's `outputs/` becomes its path relative to
`outputs/`, and the file itself travels base64-encoded under `files`. Import puts it back under
the importing app's `outputs/`, so an export -> import -> export round trip is identical.
The owner is not exported: imported discussions belong to whoever imports them.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import re
from pathlib import Path
from typing import Any

from gradio_app.discussions.facts import facts_line
from gradio_app.discussions.store import DiscussionRecord, DiscussionStore, MessageRecord, branch_of

EXPORT_FORMAT = "personalities-webui/discussions"
EXPORT_VERSION = 1
FORMATS = ("json", "markdown")


def _relative_to(path: str, root: Path) -> str | None:
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError):
        return None


def _export_metadata(metadata: dict[str, Any], outputs: Path, files: dict[str, str]) -> dict[str, Any]:
    images = metadata.get("images")
    if not isinstance(images, list):
        return metadata
    exported = []
    for image in images:
        if not isinstance(image, dict) or not isinstance(image.get("path"), str):
            exported.append(image)
            continue
        relative = _relative_to(image["path"], outputs)
        if relative is None:  # not one of ours: keep the reference, there is no file to carry
            exported.append(image)
            continue
        source = outputs / relative
        if relative not in files and source.is_file():
            files[relative] = base64.b64encode(source.read_bytes()).decode("ascii")
        exported.append({**image, "path": relative})
    return {**metadata, "images": exported}


def _message_doc(m: MessageRecord, outputs: Path, files: dict[str, str]) -> dict[str, Any]:
    return {
        "id": m.id,
        "parent_id": m.parent_id,
        "sender": m.sender,
        "role": m.role,
        "kind": m.kind,
        "content": m.content,
        "created": m.created,
        "metadata": _export_metadata(m.metadata, outputs, files),
        "rating": m.rating,
        "incomplete": m.incomplete,
    }


def _selected(store: DiscussionStore, discussion_ids: list[str] | None, owner: str | None) -> list[DiscussionRecord]:
    if discussion_ids is None:
        return store.list_discussions(owner=owner)
    return [store.get_discussion(d, owner=owner) for d in discussion_ids]


def export_document(
    store: DiscussionStore, discussion_ids: list[str] | None, *, owner: str | None, outputs: Path
) -> dict[str, Any]:
    """The JSON document for some discussions (None: all the owner's). Someone else's id is
    refused (DiscussionNotFound) before anything is exported."""
    records = _selected(store, discussion_ids, owner)
    files: dict[str, str] = {}
    discussions = []
    for record in records:
        messages = store.messages(record.id, owner=owner)
        discussions.append(
            {
                "id": record.id,
                "title": record.title,
                "personality": record.personality,
                "created": record.created,
                "updated": record.updated,
                "current_leaf_id": record.current_leaf_id,
                "messages": [_message_doc(m, outputs, files) for m in messages],
            }
        )
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "discussions": discussions,
        "files": files,
    }


def export_json(store: DiscussionStore, discussion_ids: list[str] | None, *, owner: str | None, outputs: Path) -> bytes:
    doc = export_document(store, discussion_ids, owner=owner, outputs=outputs)
    return json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")


def _when(timestamp: float) -> str:
    return _dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def discussion_markdown(record: DiscussionRecord, messages: list[MessageRecord]) -> str:
    """The current branch, as someone would read it; other versions are counted, not shown."""
    branch = branch_of(messages, record.current_leaf_id)
    lines = [
        f"# {record.title}",
        "",
        f"_Personality `{record.personality}` · started {_when(record.created)} · "
        f"{len(branch)} messages shown of {len(messages)} stored_",
        "",
    ]
    for item in branch:
        m = item.message
        who = "You" if m.role == "user" else (m.sender or "AI")
        if m.kind == "error":
            who = "⚠️ Error"
        heading = f"**{who}** · {_when(m.created)}"
        facts = facts_line(m.metadata, item.version, item.versions, m.rating) if m.role == "assistant" else ""
        if m.role == "user" and item.versions > 1:
            facts = f"version {item.version}/{item.versions}"
        if facts:
            heading += f" · {facts}"
        if m.incomplete:
            heading += " · ⚠️ incomplete (interrupted)"
        lines += [heading, "", m.content.strip() or "_(empty)_", ""]
        for image in m.metadata.get("images") or []:
            if isinstance(image, dict) and image.get("path"):
                lines += [f"![{image.get('caption', '')}]({image['path']})", ""]
        lines += ["---", ""]
    return "\n".join(lines)


def export_markdown(store: DiscussionStore, discussion_ids: list[str] | None, *, owner: str | None) -> str:
    records = _selected(store, discussion_ids, owner)
    return "\n\n".join(discussion_markdown(r, store.messages(r.id, owner=owner)) for r in records)


def export_filename(title: str | None, fmt: str) -> str:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    slug = re.sub(r"[^\w-]+", "-", title or "", flags=re.UNICODE).strip("-").lower()[:40] or "discussions"
    return f"{slug}-{stamp}.{'md' if fmt == 'markdown' else 'json'}"


def write_export(
    store: DiscussionStore,
    discussion_ids: list[str] | None,
    *,
    owner: str | None,
    fmt: str,
    outputs: Path,
    folder: Path,
) -> Path:
    """Write an export file into `folder` (a download area) and return its path."""
    if fmt not in FORMATS:
        raise ValueError(f"Export format must be one of {', '.join(FORMATS)}.")
    title = None
    if discussion_ids is not None and len(discussion_ids) == 1:
        title = store.get_discussion(discussion_ids[0], owner=owner).title
    if fmt == "json":
        data = export_json(store, discussion_ids, owner=owner, outputs=outputs)
    else:
        data = export_markdown(store, discussion_ids, owner=owner).encode("utf-8")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / export_filename(title, fmt)
    path.write_bytes(data)
    return path
