"""DiscussionStore: every discussion and message, in one SQLite file in the data folder.

Why SQLite and how it stays intact:
- WAL journal + synchronous=FULL: a commit is on disk before the call returns, and a process
  killed at any moment (kill -9) leaves the last committed state readable; a half-written
  transaction is rolled back when the file is next opened.
- Every write is one transaction (`BEGIN IMMEDIATE` ... `COMMIT`), so a discussion is never
  half-created, half-imported or half-deleted.
- Gradio calls handlers from many threads: each thread gets its own connection (WAL lets readers
  run beside the writer) and writers queue on one lock, so no thread ever sees SQLITE_BUSY.

Messages form a tree: `parent_id` links each message to the one it answers or follows.
Regenerating adds a sibling under the same parent (versions), editing a user message adds a
sibling branch, and `discussions.current_leaf_id` says which branch the user last saw.

Ownership: every read and write names an `owner`. `owner=None` means "any owner" and is only
used in single-user mode; otherwise a discussion of someone else is reported as not found, the
same answer as for an id that does not exist.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from gradio_app.discussions.schema import migrate

Role = Literal["user", "assistant"]
Kind = Literal["normal", "welcome", "error"]
KINDS: tuple[str, ...] = ("normal", "welcome", "error")
ROLES: tuple[str, ...] = ("user", "assistant")
MAX_TITLE = 200


class StoreError(Exception):
    """A discussion operation that cannot be done; the message is for the user."""


class DiscussionNotFound(StoreError):
    """No such discussion for this owner (someone else's discussion looks exactly like this)."""


class MessageNotFound(StoreError):
    """No such message in this discussion."""


@dataclass(frozen=True)
class DiscussionRecord:
    id: str
    owner: str
    title: str
    personality: str
    created: float
    updated: float
    current_leaf_id: str | None = None


@dataclass(frozen=True)
class MessageRecord:
    id: str
    discussion_id: str
    parent_id: str | None
    sender: str
    role: Role
    content: str
    created: float
    metadata: dict[str, Any] = field(default_factory=dict)
    kind: Kind = "normal"
    rating: int | None = None
    incomplete: bool = False


@dataclass(frozen=True)
class BranchMessage:
    """A message on the current branch, with its place among its siblings (1-based)."""

    message: MessageRecord
    version: int = 1
    versions: int = 1


@dataclass(frozen=True)
class NewMessage:
    """What a caller provides to add a message (the store assigns id and time)."""

    sender: str
    role: Role
    content: str
    kind: Kind = "normal"
    metadata: dict[str, Any] = field(default_factory=dict)
    incomplete: bool = False


def new_id() -> str:
    """Random, unguessable ids: knowing one discussion id tells nothing about another."""
    return uuid.uuid4().hex


_DISCUSSION_COLUMNS = "id, owner, title, personality, created, updated, current_leaf_id"
_MESSAGE_COLUMNS = "id, discussion_id, parent_id, sender, role, content, created, metadata, kind, rating, incomplete"


def _discussion(row: sqlite3.Row | tuple[Any, ...]) -> DiscussionRecord:
    return DiscussionRecord(*row)


def _message(row: sqlite3.Row | tuple[Any, ...]) -> MessageRecord:
    mid, did, parent, sender, role, content, created, metadata, kind, rating, incomplete = row
    try:
        meta = json.loads(metadata) if metadata else {}
    except ValueError:
        meta = {"unreadable_metadata": metadata}
    return MessageRecord(mid, did, parent, sender, role, content, created, meta, kind, rating, bool(incomplete))


def _dumps(metadata: dict[str, Any]) -> str:
    return json.dumps(metadata, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def fts_query(text: str) -> str:
    """User text -> an FTS5 query: every word must appear (as a prefix), punctuation is inert."""
    words = re.findall(r"\w+", text, flags=re.UNICODE)
    return " ".join(f'"{w}"*' for w in words)


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class DiscussionStore:
    def __init__(self, path: Path | str, *, use_fts: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._write_lock = threading.RLock()
        self._closed = False
        # Messages this process is writing right now (streaming); an incomplete message not in
        # this set was interrupted (the app stopped while writing it).
        self._live: set[str] = set()
        conn = self._conn()
        with self._write_lock:
            self.upgraded_from = migrate(conn, use_fts)  # first: a refused file stays byte-identical
            conn.execute("PRAGMA journal_mode=WAL")
        self.has_fts = (
            conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='messages_fts'").fetchone()
            is not None
        )

    # -- connections and transactions ------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise StoreError("The discussion store is closed.")
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so every write is explicit.
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction: all of it is committed, or none of it."""
        conn = self._conn()
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for multi-statement reads."""
        conn = self._conn()
        if conn.in_transaction:  # nested inside a write on this thread
            yield conn
            return
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def close(self) -> None:
        self._closed = True
        with self._connections_lock:
            for conn in self._connections:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._connections.clear()
        self._local = threading.local()

    def integrity_check(self) -> str:
        return self._conn().execute("PRAGMA integrity_check").fetchone()[0]

    # -- discussions -------------------------------------------------------------------------
    def _get_discussion(self, conn: sqlite3.Connection, discussion_id: str, owner: str | None) -> DiscussionRecord:
        row = conn.execute(f"SELECT {_DISCUSSION_COLUMNS} FROM discussions WHERE id = ?", (discussion_id,)).fetchone()
        if row is None or (owner is not None and row[1] != owner):
            raise DiscussionNotFound(f"No such discussion: {discussion_id!r}.")
        return _discussion(row)

    def get_discussion(self, discussion_id: str, *, owner: str | None) -> DiscussionRecord:
        return self._get_discussion(self._conn(), str(discussion_id), owner)

    def create_discussion(
        self,
        *,
        owner: str,
        personality: str,
        title: str,
        first: Iterable[NewMessage] = (),
        discussion_id: str | None = None,
        created: float | None = None,
    ) -> tuple[DiscussionRecord, list[MessageRecord]]:
        """A new discussion with its first messages (a chain: welcome, then the user's message).

        `created` is when the discussion started (the page was opened): the conditioning's date
        placeholders use it, so the prompt stays the same every time the discussion is reopened."""
        now = time.time()
        started = created if created is not None else now
        record = DiscussionRecord(discussion_id or new_id(), owner, _clean_title(title), personality, started, now)
        with self._write() as conn:
            conn.execute(
                f"INSERT INTO discussions ({_DISCUSSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (record.id, record.owner, record.title, record.personality, started, now),
            )
            added, parent = [], None
            for message in first:
                parent = self._insert(conn, record.id, parent, message, now).id
                added.append(parent)
            records = [self._get_message(conn, record.id, mid) for mid in added]
            if parent is not None:
                self._set_leaf(conn, record.id, parent, now)
                record = replace(record, current_leaf_id=parent)
        return record, records

    def list_discussions(self, *, owner: str | None, limit: int | None = None) -> list[DiscussionRecord]:
        """Newest activity first."""
        sql = f"SELECT {_DISCUSSION_COLUMNS} FROM discussions"
        args: list[Any] = []
        if owner is not None:
            sql += " WHERE owner = ?"
            args.append(owner)
        sql += " ORDER BY updated DESC, rowid DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [_discussion(r) for r in self._conn().execute(sql, args)]

    def search(self, query: str, *, owner: str | None, use_fts: bool | None = None) -> list[DiscussionRecord]:
        """Discussions whose title contains `query`, or with a message containing all its words."""
        query = query.strip()
        if not query:
            return self.list_discussions(owner=owner)
        use_fts = self.has_fts if use_fts is None else use_fts and self.has_fts
        args: list[Any] = [_like_pattern(query)]
        if use_fts and fts_query(query):
            content = (
                "SELECT m.discussion_id FROM messages_fts f JOIN messages m ON m.rowid = f.rowid "
                "WHERE messages_fts MATCH ?"
            )
            args.append(fts_query(query))
        else:
            content = "SELECT discussion_id FROM messages WHERE content LIKE ? ESCAPE '\\'"
            args.append(_like_pattern(query))
        sql = f"SELECT {_DISCUSSION_COLUMNS} FROM discussions WHERE (title LIKE ? ESCAPE '\\' OR id IN ({content}))"
        if owner is not None:
            sql += " AND owner = ?"
            args.append(owner)
        sql += " ORDER BY updated DESC, rowid DESC"
        return [_discussion(r) for r in self._conn().execute(sql, args)]

    def rename(self, discussion_id: str, title: str, *, owner: str | None) -> DiscussionRecord:
        title = _clean_title(title)
        if not title:
            raise StoreError("A title cannot be empty.")
        with self._write() as conn:
            self._get_discussion(conn, discussion_id, owner)
            conn.execute("UPDATE discussions SET title = ? WHERE id = ?", (title, discussion_id))
            return self._get_discussion(conn, discussion_id, owner)

    def delete_discussion(self, discussion_id: str, *, owner: str | None) -> None:
        with self._write() as conn:
            self._get_discussion(conn, discussion_id, owner)
            conn.execute("UPDATE discussions SET current_leaf_id = NULL WHERE id = ?", (discussion_id,))
            conn.execute("DELETE FROM messages WHERE discussion_id = ?", (discussion_id,))
            conn.execute("DELETE FROM discussions WHERE id = ?", (discussion_id,))

    # -- messages ------------------------------------------------------------------------------
    def _insert(
        self, conn: sqlite3.Connection, discussion_id: str, parent_id: str | None, m: NewMessage, now: float
    ) -> MessageRecord:
        if m.role not in ROLES:
            raise StoreError(f"Unknown role {m.role!r}.")
        if m.kind not in KINDS:
            raise StoreError(f"Unknown message kind {m.kind!r}.")
        record = MessageRecord(
            new_id(),
            discussion_id,
            parent_id,
            m.sender,
            m.role,
            m.content,
            now,
            dict(m.metadata),
            m.kind,
            None,
            m.incomplete,
        )
        conn.execute(
            f"INSERT INTO messages ({_MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
            (
                record.id,
                discussion_id,
                parent_id,
                m.sender,
                m.role,
                m.content,
                now,
                _dumps(m.metadata),
                m.kind,
                int(m.incomplete),
            ),
        )
        return record

    def _get_message(self, conn: sqlite3.Connection, discussion_id: str, message_id: str) -> MessageRecord:
        row = conn.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ? AND discussion_id = ?", (message_id, discussion_id)
        ).fetchone()
        if row is None:
            raise MessageNotFound(f"No such message in this discussion: {message_id!r}.")
        return _message(row)

    def _set_leaf(self, conn: sqlite3.Connection, discussion_id: str, leaf_id: str | None, now: float) -> None:
        conn.execute(
            "UPDATE discussions SET current_leaf_id = ?, updated = ? WHERE id = ?", (leaf_id, now, discussion_id)
        )

    def get_message(self, discussion_id: str, message_id: str, *, owner: str | None) -> MessageRecord:
        with self._read() as conn:
            self._get_discussion(conn, discussion_id, owner)
            return self._get_message(conn, discussion_id, message_id)

    def add_message(
        self, discussion_id: str, parent_id: str | None, message: NewMessage, *, owner: str | None
    ) -> MessageRecord:
        """Add `message` under `parent_id` and make it the end of the current branch."""
        now = time.time()
        with self._write() as conn:
            self._get_discussion(conn, discussion_id, owner)
            if parent_id is not None:
                self._get_message(conn, discussion_id, parent_id)
            record = self._insert(conn, discussion_id, parent_id, message, now)
            self._set_leaf(conn, discussion_id, record.id, now)
        if message.incomplete:
            self._live.add(record.id)
        return record

    def update_message(
        self,
        discussion_id: str,
        message_id: str,
        *,
        owner: str | None,
        content: str | None = None,
        metadata: dict[str, Any] | None = None,
        kind: Kind | None = None,
        incomplete: bool | None = None,
        touch: bool = True,
    ) -> MessageRecord:
        """Change a message in place (streamed text, the final answer, an edit)."""
        sets, args = [], []
        for column, value in (("content", content), ("kind", kind)):
            if value is not None:
                sets.append(f"{column} = ?")
                args.append(value)
        if metadata is not None:
            sets.append("metadata = ?")
            args.append(_dumps(metadata))
        if incomplete is not None:
            sets.append("incomplete = ?")
            args.append(int(incomplete))
        if kind is not None and kind not in KINDS:
            raise StoreError(f"Unknown message kind {kind!r}.")
        with self._write() as conn:
            self._get_discussion(conn, discussion_id, owner)
            self._get_message(conn, discussion_id, message_id)
            if sets:
                conn.execute(f"UPDATE messages SET {', '.join(sets)} WHERE id = ?", (*args, message_id))
            if touch:
                conn.execute("UPDATE discussions SET updated = ? WHERE id = ?", (time.time(), discussion_id))
            record = self._get_message(conn, discussion_id, message_id)
        if incomplete is False:
            self._live.discard(message_id)
        return record

    def rate(self, discussion_id: str, message_id: str, rating: int | None, *, owner: str | None) -> None:
        if rating not in (None, -1, 1):
            raise StoreError("A rating is 1 (thumbs up), -1 (thumbs down) or empty.")
        with self._write() as conn:
            self._get_discussion(conn, discussion_id, owner)
            self._get_message(conn, discussion_id, message_id)
            conn.execute("UPDATE messages SET rating = ? WHERE id = ?", (rating, message_id))

    def is_live(self, message_id: str) -> bool:
        """Whether this process is still writing the message (an incomplete one that is not was
        interrupted)."""
        return message_id in self._live

    def mark_live(self, message_id: str) -> None:
        self._live.add(message_id)

    def release(self, message_id: str) -> None:
        self._live.discard(message_id)

    # -- the tree ---------------------------------------------------------------------------
    def messages(self, discussion_id: str, *, owner: str | None) -> list[MessageRecord]:
        """Every message of the discussion (all branches), oldest first."""
        with self._read() as conn:
            self._get_discussion(conn, discussion_id, owner)
            rows = conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE discussion_id = ? ORDER BY rowid", (discussion_id,)
            ).fetchall()
        return [_message(r) for r in rows]

    def branch(self, discussion_id: str, *, owner: str | None) -> tuple[DiscussionRecord, list[BranchMessage]]:
        """The discussion and its current branch (root to current leaf) with version numbers."""
        with self._read() as conn:
            record = self._get_discussion(conn, discussion_id, owner)
            rows = conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE discussion_id = ? ORDER BY rowid", (discussion_id,)
            ).fetchall()
        messages = [_message(r) for r in rows]
        return record, branch_of(messages, record.current_leaf_id)

    def switch_version(self, discussion_id: str, message_id: str, step: int, *, owner: str | None) -> str:
        """Show the sibling `step` places away from `message_id` (clamped); returns its id.

        The branch continues below it along the newest child at each level."""
        with self._write() as conn:
            self._get_discussion(conn, discussion_id, owner)
            target = self._get_message(conn, discussion_id, message_id)
            siblings = self._children(conn, discussion_id, target.parent_id)
            index = siblings.index(target.id)
            chosen = siblings[max(0, min(len(siblings) - 1, index + step))]
            leaf = self._newest_leaf_below(conn, discussion_id, chosen)
            self._set_leaf(conn, discussion_id, leaf, time.time())
        return chosen

    def set_current_leaf(self, discussion_id: str, message_id: str | None, *, owner: str | None) -> None:
        """Make the branch ending at `message_id` current (None: the discussion shows nothing)."""
        with self._write() as conn:
            self._get_discussion(conn, discussion_id, owner)
            if message_id is not None:
                self._get_message(conn, discussion_id, message_id)
            self._set_leaf(conn, discussion_id, message_id, time.time())

    def delete_message(self, discussion_id: str, message_id: str, *, owner: str | None) -> None:
        """Delete a message and everything below it; the branch moves to a remaining sibling
        (newest first) or to the parent."""
        with self._write() as conn:
            record = self._get_discussion(conn, discussion_id, owner)
            target = self._get_message(conn, discussion_id, message_id)
            doomed = [
                r[0]
                for r in conn.execute(
                    "WITH RECURSIVE sub(id) AS (SELECT ? UNION ALL "
                    "SELECT m.id FROM messages m JOIN sub ON m.parent_id = sub.id) SELECT id FROM sub",
                    (message_id,),
                )
            ]
            leaf = record.current_leaf_id
            if leaf in doomed or leaf is None:
                conn.execute("UPDATE discussions SET current_leaf_id = NULL WHERE id = ?", (discussion_id,))
            for chunk in range(0, len(doomed), 500):
                ids = doomed[chunk : chunk + 500]
                conn.execute(f"DELETE FROM messages WHERE id IN ({','.join('?' * len(ids))})", ids)
            if leaf in doomed or leaf is None:
                remaining = self._children(conn, discussion_id, target.parent_id)
                leaf = self._newest_leaf_below(conn, discussion_id, remaining[-1]) if remaining else target.parent_id
            self._set_leaf(conn, discussion_id, leaf, time.time())

    def _children(self, conn: sqlite3.Connection, discussion_id: str, parent_id: str | None) -> list[str]:
        if parent_id is None:
            rows = conn.execute(
                "SELECT id FROM messages WHERE discussion_id = ? AND parent_id IS NULL ORDER BY rowid",
                (discussion_id,),
            )
        else:
            rows = conn.execute(
                "SELECT id FROM messages WHERE discussion_id = ? AND parent_id = ? ORDER BY rowid",
                (discussion_id, parent_id),
            )
        return [r[0] for r in rows]

    def _newest_leaf_below(self, conn: sqlite3.Connection, discussion_id: str, message_id: str) -> str:
        current = message_id
        while True:
            children = self._children(conn, discussion_id, current)
            if not children:
                return current
            current = children[-1]

    # -- bulk (export / import) ---------------------------------------------------------------
    def insert_tree(self, conn: sqlite3.Connection, record: DiscussionRecord, messages: list[MessageRecord]) -> None:
        """Insert a whole discussion as given (ids, times, tree). Call inside `transaction()`."""
        conn.execute(
            f"INSERT INTO discussions ({_DISCUSSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                record.id,
                record.owner,
                _clean_title(record.title),
                record.personality,
                record.created,
                record.updated,
                record.current_leaf_id,
            ),
        )
        conn.executemany(
            f"INSERT INTO messages ({_MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    m.id,
                    record.id,
                    m.parent_id,
                    m.sender,
                    m.role,
                    m.content,
                    m.created,
                    _dumps(m.metadata),
                    m.kind,
                    m.rating,
                    int(m.incomplete),
                )
                for m in messages
            ],
        )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction for bulk work (import): everything or nothing."""
        with self._write() as conn:
            yield conn

    def ids_in_use(self, conn: sqlite3.Connection, discussion_ids: list[str], message_ids: list[str]) -> set[str]:
        used: set[str] = set()
        for table, ids in (("discussions", discussion_ids), ("messages", message_ids)):
            for chunk in range(0, len(ids), 500):
                part = ids[chunk : chunk + 500]
                rows = conn.execute(f"SELECT id FROM {table} WHERE id IN ({','.join('?' * len(part))})", part)
                used.update(r[0] for r in rows)
        return used


def _clean_title(title: str) -> str:
    return " ".join(str(title).split())[:MAX_TITLE]


def branch_of(messages: list[MessageRecord], leaf_id: str | None) -> list[BranchMessage]:
    """Walk from the leaf up to the root; number each step among its siblings (in insert order)."""
    by_id = {m.id: m for m in messages}
    siblings: dict[str | None, list[str]] = {}
    for m in messages:
        siblings.setdefault(m.parent_id, []).append(m.id)
    path: list[MessageRecord] = []
    seen: set[str] = set()
    current = by_id.get(leaf_id) if leaf_id else None
    while current is not None and current.id not in seen:
        seen.add(current.id)
        path.append(current)
        current = by_id.get(current.parent_id) if current.parent_id else None
    path.reverse()
    out = []
    for m in path:
        group = siblings.get(m.parent_id, [m.id])
        out.append(BranchMessage(m, group.index(m.id) + 1, len(group)))
    return out
