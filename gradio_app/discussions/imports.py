"""Import discussions: our JSON export, or the original LoLLMs web UI export.

All or nothing: the upload is parsed and checked whole first, then written in one transaction;
a malformed file imports nothing and the error says where it is wrong ("discussion 2, message 5:
'role' must be ...").

The LoLLMs export (2023 web UI, `export_discussions_to_json`) is a JSON list of discussions
`{"id", "title", "messages": [{"sender", "content", "type", "rank", "parent"}, ...]}` (later
versions: `message_type`, `parent_message_id`, `id`, `created_at`, `model`, `personality`,
`binding`). Mapping:
- `type` 1 is the personality's conditioning, not a chat message: it is kept in the first
  message's metadata (`lollms.conditioning`), not shown.
- role: `sender_type` (0 user, 1 AI) when present, else a sender named like a user ("user",
  "you", "human", ...) is the user and every other sender is the AI (the personality's name).
- tree: with message ids, `parent` links are kept (a parent that is the conditioning or unknown
  means "no parent"); without ids (the 2023 export has none) the messages form one chain in
  file order.
- `rank` (thumbs up/down count) becomes a rating: above 0 up, below 0 down.
- anything else of the original message is kept under `metadata.lollms`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from gradio_app.discussions.export import EXPORT_FORMAT, EXPORT_VERSION
from gradio_app.discussions.store import (
    KINDS,
    ROLES,
    DiscussionRecord,
    DiscussionStore,
    MessageRecord,
    new_id,
)
from gradio_app.fileio import atomic_write_bytes

MAX_IMPORT_BYTES = 256 * 2**20
MAX_ID_CHARS = 128
LOLLMS_USER_NAMES = {"user", "you", "human", "me", "utilisateur", "usuario", "benutzer"}
LOLLMS_CONDITIONING = 1


class ImportFormatError(ValueError):
    """The upload is not something we can import; the message says what and where."""


@dataclass(frozen=True)
class ImportResult:
    discussions: list[DiscussionRecord]
    source: str  # "personalities-webui" | "lollms"
    files: int = 0

    @property
    def summary(self) -> str:
        n = len(self.discussions)
        what = "our JSON export" if self.source == "personalities-webui" else "a LoLLMs export"
        files = f" and {self.files} image file(s)" if self.files else ""
        return f"Imported {n} discussion{'s' if n != 1 else ''}{files} from {what}."


@dataclass
class _Planned:
    record: DiscussionRecord
    messages: list[MessageRecord]


def parse_upload(data: bytes) -> Any:
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportFormatError(f"The file is {len(data) / 2**20:.0f} MB; at most {MAX_IMPORT_BYTES // 2**20} MB.")
    if not data.strip():
        raise ImportFormatError("The file is empty.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ImportFormatError(f"The file is not UTF-8 text (byte {e.start}): not a discussions export.") from e
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ImportFormatError(f"The file is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}.") from e
    except RecursionError as e:
        raise ImportFormatError("The file is nested too deeply to be a discussions export.") from e


def import_bytes(
    store: DiscussionStore, data: bytes, *, owner: str, outputs: Path, default_personality: str
) -> ImportResult:
    """Import an uploaded file (either format) for `owner`; nothing is written if it is malformed."""
    doc = parse_upload(data)
    if isinstance(doc, dict) and doc.get("format") == EXPORT_FORMAT:
        planned, files = _plan_ours(doc, owner)
        source = "personalities-webui"
    elif isinstance(doc, list):
        planned, files = _plan_lollms(doc, owner, default_personality), {}
        source = "lollms"
    elif isinstance(doc, dict):
        raise ImportFormatError(
            'This JSON is not a discussions export: expected our export (with "format": '
            f'"{EXPORT_FORMAT}") or a LoLLMs export (a list of discussions).'
        )
    else:
        raise ImportFormatError("This JSON is not a discussions export (neither an object nor a list).")
    written = _write_files(files, outputs, planned)
    try:
        with store.transaction() as conn:
            ids = [p.record.id for p in planned]
            message_ids = [m.id for p in planned for m in p.messages]
            taken = store.ids_in_use(conn, ids, message_ids)
            records = []
            for plan in planned:
                if plan.record.id in taken or any(m.id in taken for m in plan.messages):
                    plan = _with_fresh_ids(plan)  # already here (imported twice): a copy, not a clash
                store.insert_tree(conn, plan.record, plan.messages)
                records.append(plan.record)
    except BaseException:
        for path in written:  # the files were only for this import
            path.unlink(missing_ok=True)
        raise
    return ImportResult(records, source, len(written))


# -- our format ---------------------------------------------------------------------------------
def _where(d: int, title: Any = None, m: int | None = None) -> str:
    place = f"discussion {d + 1}"
    if isinstance(title, str) and title:
        place += f" ({title[:40]!r})"
    if m is not None:
        place += f", message {m + 1}"
    return place


def _need(condition: bool, where: str, problem: str) -> None:
    if not condition:
        raise ImportFormatError(f"{where}: {problem}")


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_ID_CHARS and "\x00" not in value


def _is_time(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _plan_ours(doc: dict[str, Any], owner: str) -> tuple[list[_Planned], dict[str, bytes]]:
    version = doc.get("version")
    if not isinstance(version, int) or version < 1:
        raise ImportFormatError("The export has no valid format version.")
    if version > EXPORT_VERSION:
        raise ImportFormatError(
            f"The export has format version {version}; this app reads up to {EXPORT_VERSION}. Update the app."
        )
    discussions = doc.get("discussions")
    if not isinstance(discussions, list):
        raise ImportFormatError("'discussions' must be a list.")
    files = _decode_files(doc.get("files", {}))
    planned: list[_Planned] = []
    seen_discussions: set[str] = set()
    seen_messages: set[str] = set()
    for d, disc in enumerate(discussions):
        where = _where(d)
        _need(isinstance(disc, dict), where, "must be an object")
        where = _where(d, disc.get("title"))
        _need(_is_id(disc.get("id")), where, "'id' must be a non-empty text")
        _need(disc["id"] not in seen_discussions, where, f"the id {disc['id']!r} appears twice")
        seen_discussions.add(disc["id"])
        _need(isinstance(disc.get("title"), str), where, "'title' must be text")
        _need(isinstance(disc.get("personality"), str), where, "'personality' must be text")
        times_ok = _is_time(disc.get("created")) and _is_time(disc.get("updated"))
        _need(times_ok, where, "'created' and 'updated' must be numbers")
        raw_messages = disc.get("messages")
        _need(isinstance(raw_messages, list), where, "'messages' must be a list")
        messages: list[MessageRecord] = []
        ids: set[str] = set()
        for i, m in enumerate(raw_messages):
            at = _where(d, disc["title"], i)
            _need(isinstance(m, dict), at, "must be an object")
            _need(_is_id(m.get("id")), at, "'id' must be a non-empty text")
            _need(m["id"] not in ids and m["id"] not in seen_messages, at, f"the id {m['id']!r} appears twice")
            _need(m.get("parent_id") is None or _is_id(m.get("parent_id")), at, "'parent_id' must be an id or null")
            _need(m.get("role") in ROLES, at, f"'role' must be one of {', '.join(ROLES)}")
            _need(m.get("kind", "normal") in KINDS, at, f"'kind' must be one of {', '.join(KINDS)}")
            _need(isinstance(m.get("content"), str), at, "'content' must be text")
            _need(isinstance(m.get("sender", ""), str), at, "'sender' must be text")
            _need(_is_time(m.get("created")), at, "'created' must be a number")
            _need(isinstance(m.get("metadata", {}), dict), at, "'metadata' must be an object")
            _need(m.get("rating") in (None, 1, -1), at, "'rating' must be 1, -1 or null")
            _need(isinstance(m.get("incomplete", False), bool), at, "'incomplete' must be true or false")
            ids.add(m["id"])
            metadata = _import_image_paths(m.get("metadata", {}), files, at)
            messages.append(
                MessageRecord(
                    m["id"],
                    disc["id"],
                    m.get("parent_id"),
                    m.get("sender", ""),
                    m["role"],
                    m["content"],
                    float(m["created"]),
                    metadata,
                    m.get("kind", "normal"),
                    m.get("rating"),
                    m.get("incomplete", False),
                )
            )
        seen_messages |= ids
        _check_tree(messages, where)
        leaf = disc.get("current_leaf_id")
        _need(leaf is None or leaf in ids, where, "'current_leaf_id' is not one of its messages")
        record = DiscussionRecord(
            disc["id"], owner, disc["title"], disc["personality"], float(disc["created"]), float(disc["updated"]), leaf
        )
        planned.append(_Planned(record, messages))
    return planned, files


def _check_tree(messages: list[MessageRecord], where: str) -> None:
    parents = {m.id: m.parent_id for m in messages}
    for m in messages:
        _need(m.parent_id is None or m.parent_id in parents, where, f"message {m.id!r} has an unknown parent")
    for start in parents:  # no cycles: every walk up reaches a root
        seen, current = set(), start
        while current is not None:
            _need(current not in seen, where, f"the messages' parents form a loop (at {current!r})")
            seen.add(current)
            current = parents[current]


def _decode_files(files: Any) -> dict[str, bytes]:
    if not isinstance(files, dict):
        raise ImportFormatError("'files' must be an object of path -> base64 data.")
    decoded = {}
    for name, data in files.items():
        _safe_relative(name, "'files'")
        if not isinstance(data, str):
            raise ImportFormatError(f"'files': {name!r} must be base64 text.")
        try:
            decoded[name] = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as e:
            raise ImportFormatError(f"'files': {name!r} is not valid base64.") from e
    return decoded


def _safe_relative(name: Any, where: str) -> PurePosixPath:
    """A file name inside outputs/: relative, no '..', no drive, no NUL (never written outside)."""
    ok = isinstance(name, str) and name and "\x00" not in name and "\\" not in name and len(name) < 512
    path = PurePosixPath(name) if ok else PurePosixPath("/")
    if not ok or path.is_absolute() or ".." in path.parts or ":" in path.parts[0] or not path.parts:
        raise ImportFormatError(f"{where}: {name!r} is not a safe file name inside outputs/.")
    return path


def _import_image_paths(metadata: dict[str, Any], files: dict[str, bytes], where: str) -> dict[str, Any]:
    """Exported relative image paths are marked for the outputs folder (see _write_files)."""
    images = metadata.get("images")
    if images is None:
        return metadata
    _need(isinstance(images, list), where, "'metadata.images' must be a list")
    result = []
    for image in images:
        if isinstance(image, dict) and isinstance(image.get("path"), str) and not Path(image["path"]).is_absolute():
            _safe_relative(image["path"], where)
            result.append({**image, "path": _Relative(image["path"])})
        elif isinstance(image, dict) and isinstance(image.get("path"), str):
            # an absolute path from another machine: never trust it to point at a readable file
            result.append({**image, "path": "", "missing": True})
        else:
            result.append(image)
    return {**metadata, "images": result}


class _Relative(str):
    """An image path still relative to outputs/, resolved once the files are written."""


def _is_relative_image(image: Any) -> bool:
    return isinstance(image, dict) and isinstance(image.get("path"), _Relative)


def _write_files(files: dict[str, bytes], outputs: Path, planned: list[_Planned]) -> list[Path]:
    """Put the export's image files under outputs/ (never overwriting a different file) and turn
    the images' relative paths into absolute ones there."""
    placed: dict[str, Path] = {}
    written: list[Path] = []
    try:
        for name, data in files.items():
            target = outputs / PurePosixPath(name)
            if target.exists() and target.read_bytes() != data:
                digest = hashlib.sha256(data).hexdigest()[:12]
                target = outputs / "imported" / digest / PurePosixPath(name).name
            if not target.exists():
                atomic_write_bytes(target, data)
                written.append(target)
            placed[name] = target.resolve()
    except OSError as e:
        for path in written:
            path.unlink(missing_ok=True)
        raise ImportFormatError(f"An image of the export could not be written: {e}") from e
    for plan in planned:
        for i, m in enumerate(plan.messages):
            images = m.metadata.get("images")
            if not isinstance(images, list) or not any(_is_relative_image(im) for im in images):
                continue
            fixed = []
            for image in images:
                if _is_relative_image(image):
                    name = str(image["path"])
                    path = placed.get(name, (outputs / PurePosixPath(name)).resolve())
                    image = {**image, "path": str(path)}
                fixed.append(image)
            plan.messages[i] = _replace_metadata(m, {**m.metadata, "images": fixed})
    return written


def _replace_metadata(m: MessageRecord, metadata: dict[str, Any]) -> MessageRecord:
    return MessageRecord(
        m.id,
        m.discussion_id,
        m.parent_id,
        m.sender,
        m.role,
        m.content,
        m.created,
        metadata,
        m.kind,
        m.rating,
        m.incomplete,
    )


def _with_fresh_ids(plan: _Planned) -> _Planned:
    mapping = {m.id: new_id() for m in plan.messages}
    discussion_id = new_id()
    record = plan.record
    record = DiscussionRecord(
        discussion_id,
        record.owner,
        record.title,
        record.personality,
        record.created,
        record.updated,
        mapping.get(record.current_leaf_id) if record.current_leaf_id else None,
    )
    messages = [
        MessageRecord(
            mapping[m.id],
            discussion_id,
            mapping.get(m.parent_id) if m.parent_id else None,
            m.sender,
            m.role,
            m.content,
            m.created,
            m.metadata,
            m.kind,
            m.rating,
            m.incomplete,
        )
        for m in plan.messages
    ]
    return _Planned(record, messages)


# -- the LoLLMs format ------------------------------------------------------------------------------
def _lollms_time(value: Any) -> float | None:
    if _is_time(value):
        return float(value)
    if isinstance(value, str) and value.strip():
        text = value.strip().replace("Z", "+00:00")
        try:
            return _dt.datetime.fromisoformat(text).timestamp()
        except ValueError:
            return None
    return None


def _plan_lollms(doc: list[Any], owner: str, default_personality: str) -> list[_Planned]:
    if not doc:
        raise ImportFormatError("The LoLLMs export holds no discussions.")
    planned = []
    base_time = time.time()
    for d, disc in enumerate(doc):
        where = _where(d)
        _need(isinstance(disc, dict), where, "must be an object with 'title' and 'messages'")
        where = _where(d, disc.get("title"))
        title = disc.get("title")
        _need(title is None or isinstance(title, str), where, "'title' must be text")
        raw = disc.get("messages")
        _need(isinstance(raw, list), where, "'messages' must be a list")
        planned.append(_plan_lollms_discussion(d, disc, raw, owner, default_personality, base_time))
    return planned


def _plan_lollms_discussion(
    d: int, disc: dict[str, Any], raw: list[Any], owner: str, default_personality: str, base_time: float
) -> _Planned:
    title = disc.get("title") or "Imported discussion"
    discussion_id = new_id()
    has_ids = all(isinstance(m, dict) and m.get("id") is not None for m in raw) and bool(raw)
    conditioning: list[str] = []
    kept: list[tuple[dict[str, Any], str]] = []  # (original, new id)
    id_map: dict[Any, str] = {}
    skipped_parent: dict[Any, Any] = {}
    for i, m in enumerate(raw):
        at = _where(d, title, i)
        _need(isinstance(m, dict), at, "must be an object")
        _need(isinstance(m.get("content"), str), at, "'content' must be text")
        _need(isinstance(m.get("sender", ""), str), at, "'sender' must be text")
        kind = m.get("type", m.get("message_type", 0))
        _need(isinstance(kind, int) and not isinstance(kind, bool), at, "'type' must be a whole number")
        rank = m.get("rank", 0)
        _need(isinstance(rank, (int, float)) and not isinstance(rank, bool), at, "'rank' must be a number")
        parent = m.get("parent", m.get("parent_message_id"))
        if kind == LOLLMS_CONDITIONING:
            conditioning.append(m["content"])
            if has_ids:
                skipped_parent[m["id"]] = parent
            continue
        new = new_id()
        if has_ids:
            _need(m["id"] not in id_map, at, f"the id {m['id']!r} appears twice")
            id_map[m["id"]] = new
        kept.append((m, new))
    _need(bool(kept), _where(d, title), "has no messages (only a conditioning)")

    personality = default_personality
    messages: list[MessageRecord] = []
    seen_user = False
    previous: str | None = None
    for i, (m, new) in enumerate(kept):
        role = _lollms_role(m)
        if has_ids:
            parent = m.get("parent", m.get("parent_message_id"))
            while parent in skipped_parent:  # a parent that was the conditioning: look above it
                parent = skipped_parent.pop(parent)
            parent_id = id_map.get(parent)
        else:
            parent_id = previous
        msg_kind = "welcome" if role == "assistant" and not seen_user and i == 0 else "normal"
        seen_user = seen_user or role == "user"
        extra = {k: v for k, v in m.items() if k not in ("content", "sender", "id", "parent", "parent_message_id")}
        metadata: dict[str, Any] = {"imported_from": "lollms", "lollms": extra}
        if i == 0 and conditioning:
            metadata["lollms"] = {**extra, "conditioning": "\n".join(conditioning)}
        if role == "assistant" and isinstance(m.get("model"), str) and m["model"]:
            metadata["model"] = m["model"]
        if isinstance(m.get("personality"), str) and m["personality"].count("/") == 2:
            personality = m["personality"]
        rank = m.get("rank", 0)
        rating = 1 if rank > 0 else -1 if rank < 0 else None
        created = _lollms_time(m.get("created_at")) or base_time + d + i * 1e-3
        messages.append(
            MessageRecord(
                new,
                discussion_id,
                parent_id,
                m.get("sender", ""),
                role,
                m["content"],
                created,
                metadata,
                msg_kind,
                rating,
                False,
            )
        )
        previous = new
    _check_tree(messages, _where(d, title))
    created = _lollms_time(disc.get("created_at")) or messages[0].created
    updated = max(m.created for m in messages)
    record = DiscussionRecord(discussion_id, owner, title, personality, created, updated, messages[-1].id)
    return _Planned(record, messages)


def _lollms_role(m: dict[str, Any]) -> str:
    sender_type = m.get("sender_type")
    if sender_type in (0, 1):
        return "user" if sender_type == 0 else "assistant"
    return "user" if str(m.get("sender", "")).strip().lower() in LOLLMS_USER_NAMES else "assistant"
