"""The discussions database schema and its forward migrations.

`PRAGMA user_version` holds the schema version. Each migration takes the database from version
N to N+1 inside the opening transaction, so a database is always at one well-defined version:
an interrupted upgrade rolls back whole. Never edit a released migration; add the next one.

Foreign keys are DEFERRABLE and have no ON DELETE actions: the store deletes explicitly (whole
subtrees at once), which keeps deep message chains (thousands of parent links) away from SQLite's
cascade recursion limit, while the commit still checks that nothing points at a deleted row.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

# v1: the first layout (message kind and rating lived inside the metadata JSON).
_V1 = """
CREATE TABLE discussions (
    id          TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    title       TEXT NOT NULL,
    personality TEXT NOT NULL,
    created     REAL NOT NULL,
    updated     REAL NOT NULL
);
CREATE TABLE messages (
    id            TEXT PRIMARY KEY,
    discussion_id TEXT NOT NULL REFERENCES discussions(id) DEFERRABLE INITIALLY DEFERRED,
    parent_id     TEXT REFERENCES messages(id) DEFERRABLE INITIALLY DEFERRED,
    sender        TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    content       TEXT NOT NULL,
    created       REAL NOT NULL,
    metadata      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX messages_by_discussion ON messages(discussion_id);
CREATE INDEX discussions_by_owner ON discussions(owner, updated);
"""

# v2: kind, rating and the crash flag become columns; the current branch becomes explicit.
_V2 = """
ALTER TABLE discussions ADD COLUMN current_leaf_id TEXT
    REFERENCES messages(id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'normal';
ALTER TABLE messages ADD COLUMN rating INTEGER;
ALTER TABLE messages ADD COLUMN incomplete INTEGER NOT NULL DEFAULT 0;
CREATE INDEX messages_by_parent ON messages(parent_id);
UPDATE messages SET
    kind = COALESCE(json_extract(metadata, '$.kind'), 'normal'),
    rating = json_extract(metadata, '$.rating'),
    metadata = json_remove(metadata, '$.kind', '$.rating')
WHERE json_valid(metadata);
UPDATE discussions SET current_leaf_id = (
    SELECT m.id FROM messages m WHERE m.discussion_id = discussions.id
    ORDER BY m.created DESC, m.rowid DESC LIMIT 1
);
"""

# v3: full-text search over message content (FTS5, kept in sync by triggers).
_V3_FTS = """
CREATE VIRTUAL TABLE messages_fts USING fts5(
    content, content='messages', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts(rowid, content) VALUES (new.rowid, new.content);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
    INSERT INTO messages_fts(rowid, content) VALUES (new.rowid, new.content);
END;
INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');
"""


def fts5_available(conn: sqlite3.Connection) -> bool:
    """Whether this SQLite build has FTS5 (almost all do; search falls back to LIKE otherwise)."""
    try:
        conn.execute("CREATE VIRTUAL TABLE temp._fts5_probe USING fts5(x)")
        conn.execute("DROP TABLE temp._fts5_probe")
        return True
    except sqlite3.OperationalError:
        return False


def _script(sql: str) -> Callable[[sqlite3.Connection, bool], None]:
    def run(conn: sqlite3.Connection, use_fts: bool) -> None:
        for statement in _statements(sql):
            conn.execute(statement)

    return run


def _v3(conn: sqlite3.Connection, use_fts: bool) -> None:
    if use_fts and fts5_available(conn):
        _script(_V3_FTS)(conn, use_fts)


# MIGRATIONS[i] upgrades a database from version i to i + 1 (version 0 = empty file).
MIGRATIONS: list[Callable[[sqlite3.Connection, bool], None]] = [_script(_V1), _script(_V2), _v3]
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(RuntimeError):
    """The database was written by a newer version of the app; we refuse to touch it."""


def _statements(sql: str) -> list[str]:
    """Split a script into statements (`sqlite3.complete_statement` keeps trigger bodies whole)."""
    statements, current = [], ""
    for line in sql.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements


def migrate(conn: sqlite3.Connection, use_fts: bool = True) -> int:
    """Bring the database to SCHEMA_VERSION in one transaction; returns the version found."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = conn.execute("PRAGMA user_version").fetchone()[0]
        if found > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"The discussions database has schema version {found}, newer than this app's "
                f"{SCHEMA_VERSION}. Update the app; the database was left untouched."
            )
        for version in range(found, SCHEMA_VERSION):
            MIGRATIONS[version](conn, use_fts)
        if found != SCHEMA_VERSION:
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return found
