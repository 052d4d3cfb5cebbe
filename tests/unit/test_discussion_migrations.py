"""Schema migrations: a database written by an older version opens, upgraded, with nothing lost."""

import sqlite3

import pytest

from gradio_app.discussions import schema
from gradio_app.discussions.schema import SCHEMA_VERSION, SchemaTooNew
from gradio_app.discussions.store import DiscussionStore

# The layout version 1 of the app wrote (kept here verbatim as a fixture: never derive it from
# the migration code under test). Kind and rating lived inside the metadata JSON then.
V1_FILE = """
CREATE TABLE discussions (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, title TEXT NOT NULL, personality TEXT NOT NULL,
    created REAL NOT NULL, updated REAL NOT NULL
);
CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    discussion_id TEXT NOT NULL REFERENCES discussions(id) DEFERRABLE INITIALLY DEFERRED,
    parent_id TEXT REFERENCES messages(id) DEFERRABLE INITIALLY DEFERRED,
    sender TEXT NOT NULL, role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    content TEXT NOT NULL, created REAL NOT NULL, metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX messages_by_discussion ON messages(discussion_id);
CREATE INDEX discussions_by_owner ON discussions(owner, updated);
INSERT INTO discussions VALUES ('d1', 'user:alice', 'Capitals', 'english/generic/lollms', 100, 200);
INSERT INTO discussions VALUES ('d2', 'user:bob', 'Empty one', 'english/generic/lollms', 300, 300);
INSERT INTO messages VALUES ('m1', 'd1', NULL, 'LoLLMs', 'assistant', 'Welcome!', 100, '{"kind": "welcome"}');
INSERT INTO messages VALUES ('m2', 'd1', 'm1', 'user', 'user', 'Capital of France?', 110, '{}');
INSERT INTO messages VALUES ('m3', 'd1', 'm2', 'LoLLMs', 'assistant', 'Lyon.', 120,
    '{"rating": -1, "seed": 7, "model": "tiny"}');
INSERT INTO messages VALUES ('m4', 'd1', 'm2', 'LoLLMs', 'assistant', 'Paris.', 130,
    '{"rating": 1, "seed": 8, "model": "tiny", "completion_tokens": 2}');
INSERT INTO messages VALUES ('m5', 'd1', 'm4', 'error', 'assistant', 'The model failed.', 140, '{"kind": "error"}');
PRAGMA user_version = 1;
"""


@pytest.fixture
def v1_file(tmp_path):
    path = tmp_path / "discussions.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(V1_FILE)
    conn.close()
    return path


def test_a_version_1_file_is_upgraded_to_the_latest_schema_with_its_data(v1_file):
    store = DiscussionStore(v1_file)
    assert store.upgraded_from == 1
    assert store._conn().execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    record, branch = store.branch("d1", owner="user:alice")
    # the current branch is explicit now: it ends at the newest message
    assert record.current_leaf_id == "m5"
    assert [(b.message.id, b.version, b.versions) for b in branch] == [
        ("m1", 1, 1),
        ("m2", 1, 1),
        ("m4", 2, 2),
        ("m5", 1, 1),
    ]
    by_id = {m.id: m for m in store.messages("d1", owner="user:alice")}
    # kind and rating moved from the metadata into their columns; the rest of the metadata stays
    assert by_id["m1"].kind == "welcome" and by_id["m1"].metadata == {}
    assert by_id["m5"].kind == "error"
    assert by_id["m3"].rating == -1 and by_id["m3"].metadata == {"seed": 7, "model": "tiny"}
    assert by_id["m4"].rating == 1 and by_id["m4"].metadata == {"seed": 8, "model": "tiny", "completion_tokens": 2}
    assert by_id["m2"].kind == "normal" and by_id["m2"].rating is None and not by_id["m2"].incomplete
    # a discussion without messages has no branch
    assert store.branch("d2", owner="user:bob")[1] == []
    # the old messages are searchable (the full-text index was built from them)
    assert [d.id for d in store.search("lyon", owner="user:alice")] == ["d1"]
    assert store.integrity_check() == "ok"
    store.close()


def test_an_upgraded_file_keeps_working_and_is_not_migrated_twice(v1_file):
    store = DiscussionStore(v1_file)
    store.switch_version("d1", "m4", -1, owner="user:alice")
    store.close()
    again = DiscussionStore(v1_file)
    assert again.upgraded_from == SCHEMA_VERSION
    assert again.branch("d1", owner="user:alice")[1][-1].message.content == "Lyon."
    again.close()


def test_a_file_from_a_newer_app_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "discussions.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE future (x)")
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(SchemaTooNew, match="99"):
        DiscussionStore(path)
    assert path.read_bytes() == before


def test_a_failing_migration_rolls_back_whole(v1_file, monkeypatch):
    def broken(conn, use_fts):
        conn.execute("ALTER TABLE messages ADD COLUMN half_done TEXT")
        raise sqlite3.OperationalError("disk on fire")

    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS[:2], broken])
    with pytest.raises(sqlite3.OperationalError, match="disk on fire"):
        schema.migrate(sqlite3.connect(v1_file, isolation_level=None))
    conn = sqlite3.connect(v1_file)
    # still exactly version 1: neither the v2 step nor the half-done v3 step stayed
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    columns = {r[1] for r in conn.execute("PRAGMA table_info(messages)")}
    assert "kind" not in columns and "half_done" not in columns
    assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 5
    conn.close()


def test_without_fts5_search_falls_back_to_like(tmp_path):
    store = DiscussionStore(tmp_path / "d.sqlite3", use_fts=False)
    assert not store.has_fts
    record, _ = store.create_discussion(owner="a", personality="p", title="t", first=[])
    from gradio_app.discussions.store import NewMessage

    store.add_message(record.id, None, NewMessage("user", "user", "searching for needles"), owner="a")
    assert [d.id for d in store.search("needle", owner="a")] == [record.id]
    store.close()


def test_an_unreadable_database_is_reported_and_left_as_it_is(tmp_path):
    from gradio_app.config import DataPaths
    from gradio_app.context import open_store

    paths = DataPaths(tmp_path).ensure()
    paths.discussions_db.write_bytes(b"this is not a database, but it may be someone's only copy" * 100)
    before = paths.discussions_db.read_bytes()
    notices = []
    assert open_store(paths, notices) is None
    assert "could not be opened" in notices[0] and "NOT saved" in notices[0]
    assert paths.discussions_db.read_bytes() == before
