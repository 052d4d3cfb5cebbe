"""DiscussionStore on a real SQLite file: discussions, the message tree, search, ownership,
concurrent writers."""

import sqlite3
import threading

import pytest

from gradio_app.discussions.store import (
    DiscussionNotFound,
    DiscussionStore,
    MessageNotFound,
    MessageRecord,
    NewMessage,
    StoreError,
    fts_query,
    new_id,
)


@pytest.fixture
def store(tmp_path):
    s = DiscussionStore(tmp_path / "discussions.sqlite3")
    yield s
    s.close()


def user(text):
    return NewMessage("user", "user", text)


def ai(text, **metadata):
    return NewMessage("lollms", "assistant", text, metadata=metadata)


def start(store, owner="alice", first="What is the capital of France?", title=None):
    record, messages = store.create_discussion(
        owner=owner,
        personality="english/generic/lollms",
        title=title or first,
        first=[NewMessage("LoLLMs", "assistant", "Welcome!", kind="welcome"), user(first)],
    )
    return record, messages


def contents(store, discussion_id, owner="alice"):
    _, branch = store.branch(discussion_id, owner=owner)
    return [(b.message.content, b.version, b.versions) for b in branch]


def test_the_file_is_in_wal_mode_with_foreign_keys_and_the_latest_schema(store, tmp_path):
    conn = store._conn()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
    assert store.has_fts
    raw = sqlite3.connect(tmp_path / "discussions.sqlite3")
    assert {"discussions", "messages", "messages_fts"} <= {
        r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")
    }
    raw.close()


def test_create_stores_the_first_messages_as_a_chain_and_the_branch_ends_at_the_last(store):
    record, messages = start(store)
    assert [m.parent_id for m in messages] == [None, messages[0].id]
    assert record.current_leaf_id == messages[1].id
    assert contents(store, record.id) == [("Welcome!", 1, 1), ("What is the capital of France?", 1, 1)]
    assert store.get_discussion(record.id, owner="alice").title == "What is the capital of France?"


def test_list_is_newest_activity_first_and_per_owner(store):
    first, m1 = start(store, first="one")
    start(store, first="two")
    start(store, owner="bob", first="bob's")
    assert [d.title for d in store.list_discussions(owner="alice")] == ["two", "one"]
    store.add_message(first.id, m1[-1].id, ai("an answer"), owner="alice")
    assert [d.title for d in store.list_discussions(owner="alice")] == ["one", "two"]
    assert [d.title for d in store.list_discussions(owner="bob")] == ["bob's"]
    assert len(store.list_discussions(owner=None)) == 3  # single-user mode sees everything


def test_regenerate_adds_siblings_and_the_versions_can_be_stepped_through(store):
    record, (_, question) = start(store)
    a1 = store.add_message(record.id, question.id, ai("Paris."), owner="alice")
    a2 = store.add_message(record.id, question.id, ai("It is Paris!"), owner="alice")
    a3 = store.add_message(record.id, question.id, ai("Paris, of course."), owner="alice")
    assert contents(store, record.id)[-1] == ("Paris, of course.", 3, 3)
    assert store.switch_version(record.id, a3.id, -1, owner="alice") == a2.id
    assert contents(store, record.id)[-1] == ("It is Paris!", 2, 3)
    assert store.switch_version(record.id, a2.id, -5, owner="alice") == a1.id  # clamped
    assert contents(store, record.id)[-1] == ("Paris.", 1, 3)
    # nothing was overwritten: all three answers are stored
    assert len(store.messages(record.id, owner="alice")) == 5


def test_editing_a_user_message_branches_and_each_branch_keeps_its_continuation(store):
    record, (welcome, question) = start(store)
    answer = store.add_message(record.id, question.id, ai("Paris."), owner="alice")
    follow = store.add_message(record.id, answer.id, user("And Germany?"), owner="alice")
    store.add_message(record.id, follow.id, ai("Berlin."), owner="alice")
    edited = store.add_message(record.id, welcome.id, user("What is the capital of Italy?"), owner="alice")
    store.add_message(record.id, edited.id, ai("Rome."), owner="alice")
    assert contents(store, record.id) == [
        ("Welcome!", 1, 1),
        ("What is the capital of Italy?", 2, 2),
        ("Rome.", 1, 1),
    ]
    # stepping back to the first version of the question brings its whole branch back
    store.switch_version(record.id, edited.id, -1, owner="alice")
    assert [c for c, _, _ in contents(store, record.id)] == [
        "Welcome!",
        "What is the capital of France?",
        "Paris.",
        "And Germany?",
        "Berlin.",
    ]


def test_the_current_branch_survives_reopening_the_file(store, tmp_path):
    record, (_, question) = start(store)
    a1 = store.add_message(record.id, question.id, ai("Paris."), owner="alice")
    store.add_message(record.id, question.id, ai("Paris!"), owner="alice")
    store.switch_version(record.id, a1.id, 0, owner="alice")
    store.close()
    again = DiscussionStore(tmp_path / "discussions.sqlite3")
    assert again.upgraded_from == 3  # nothing to migrate
    assert contents(again, record.id)[-1] == ("Paris.", 1, 2)
    again.close()


def test_deleting_a_message_removes_its_subtree_and_moves_to_a_sibling(store):
    record, (_, question) = start(store)
    a1 = store.add_message(record.id, question.id, ai("Paris."), owner="alice")
    store.add_message(record.id, a1.id, user("Thanks"), owner="alice")
    a2 = store.add_message(record.id, question.id, ai("Paris!"), owner="alice")
    store.delete_message(record.id, a2.id, owner="alice")
    assert [c for c, _, _ in contents(store, record.id)] == [
        "Welcome!",
        "What is the capital of France?",
        "Paris.",
        "Thanks",
    ]
    store.delete_message(record.id, a1.id, owner="alice")
    assert contents(store, record.id)[-1] == ("What is the capital of France?", 1, 1)
    assert len(store.messages(record.id, owner="alice")) == 2
    assert store.integrity_check() == "ok"


def test_a_thousand_message_chain_is_read_and_deleted_whole(store):
    record, messages = start(store)
    parent, chain = messages[-1].id, []
    for i in range(1000):
        chain.append(
            MessageRecord(new_id(), record.id, parent, "x", "assistant" if i % 2 == 0 else "user", f"m{i}", i, {})
        )
        parent = chain[-1].id
    with store.transaction() as conn:
        conn.executemany(
            "INSERT INTO messages (id, discussion_id, parent_id, sender, role, content, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(m.id, m.discussion_id, m.parent_id, m.sender, m.role, m.content, m.created) for m in chain],
        )
    store.set_current_leaf(record.id, parent, owner="alice")
    _, branch = store.branch(record.id, owner="alice")
    assert len(branch) == 1002 and branch[-1].message.content == "m999"
    store.delete_message(record.id, messages[-1].id, owner="alice")  # the whole chain below
    assert len(store.messages(record.id, owner="alice")) == 1
    store.delete_discussion(record.id, owner="alice")
    assert store.list_discussions(owner="alice") == []
    assert store.integrity_check() == "ok"


def test_partial_answers_are_flagged_incomplete_until_finished(store):
    record, (_, question) = start(store)
    answer = store.add_message(
        record.id, question.id, NewMessage("lollms", "assistant", "", incomplete=True), owner="alice"
    )
    assert store.is_live(answer.id)
    store.update_message(record.id, answer.id, owner="alice", content="Par", incomplete=True)
    saved = store.get_message(record.id, answer.id, owner="alice")
    assert saved.incomplete and saved.content == "Par"
    store.update_message(
        record.id, answer.id, owner="alice", content="Paris.", metadata={"completion_tokens": 3}, incomplete=False
    )
    done = store.get_message(record.id, answer.id, owner="alice")
    assert not done.incomplete and done.metadata == {"completion_tokens": 3}
    assert not store.is_live(answer.id)


def test_metadata_is_stored_as_is(store):
    record, (_, question) = start(store)
    metadata = {
        "params": {"temperature": 0.7, "top_k": 40},
        "seed": 42,
        "steps": [{"id": "s1", "parent_id": None, "title": "Search", "status": "done", "duration_s": 0.5}],
        "sources": [{"index": 1, "title": "Ünïcode ✓", "url": "http://x", "passage": "…"}],
        "nested": {"a": [1, 2, {"b": None}]},
    }
    answer = store.add_message(record.id, question.id, ai("ok", **metadata), owner="alice")
    assert store.get_message(record.id, answer.id, owner="alice").metadata == metadata


def test_ratings_are_up_down_or_none(store):
    record, (_, question) = start(store)
    answer = store.add_message(record.id, question.id, ai("Paris."), owner="alice")
    store.rate(record.id, answer.id, 1, owner="alice")
    assert store.get_message(record.id, answer.id, owner="alice").rating == 1
    store.rate(record.id, answer.id, None, owner="alice")
    assert store.get_message(record.id, answer.id, owner="alice").rating is None
    with pytest.raises(StoreError):
        store.rate(record.id, answer.id, 5, owner="alice")


def test_someone_elses_discussion_is_not_found_for_every_operation(store):
    record, (_, question) = start(store, owner="alice")
    attempts = [
        lambda: store.get_discussion(record.id, owner="bob"),
        lambda: store.branch(record.id, owner="bob"),
        lambda: store.messages(record.id, owner="bob"),
        lambda: store.rename(record.id, "mine now", owner="bob"),
        lambda: store.delete_discussion(record.id, owner="bob"),
        lambda: store.add_message(record.id, question.id, user("hi"), owner="bob"),
        lambda: store.update_message(record.id, question.id, owner="bob", content="x"),
        lambda: store.rate(record.id, question.id, 1, owner="bob"),
        lambda: store.delete_message(record.id, question.id, owner="bob"),
        lambda: store.switch_version(record.id, question.id, 1, owner="bob"),
    ]
    for attempt in attempts:
        with pytest.raises(DiscussionNotFound):
            attempt()
    assert store.search("capital", owner="bob") == []
    # and everything is still there for alice
    assert contents(store, record.id)[-1][0] == "What is the capital of France?"
    assert store.get_discussion(record.id, owner="alice").title == "What is the capital of France?"


def test_a_message_of_another_discussion_is_not_found(store):
    mine, _ = start(store)
    _, (_, foreign) = start(store, first="other")
    with pytest.raises(MessageNotFound):
        store.add_message(mine.id, foreign.id, user("hi"), owner="alice")


@pytest.mark.parametrize("use_fts", [True, False], ids=["fts5", "like"])
def test_search_by_title_and_content(store, use_fts):
    paris, (_, q) = start(store, first="Capitals", title="Capitals of Europe")
    store.add_message(paris.id, q.id, ai("The café in Paris serves croissants."), owner="alice")
    rome, _ = start(store, first="Tell me about Rome")
    start(store, owner="bob", first="croissants for bob")

    def found(query):
        return {d.id for d in store.search(query, owner="alice", use_fts=use_fts)}

    assert found("europe") == {paris.id}  # title
    assert found("croissant") == {paris.id}  # content (a prefix with FTS5, a substring with LIKE)
    assert found("rome") == {rome.id}
    assert found("nothing like this") == set()
    assert found("") == {paris.id, rome.id}
    assert found('"; DROP TABLE messages; --') == set()  # inert
    assert found("100%_") == set()


def test_fts_queries_are_built_from_words_only():
    assert fts_query('hello "world" OR NOT x*') == '"hello"* "world"* "OR"* "NOT"* "x"*'
    assert fts_query("?!") == ""


def test_titles_are_trimmed_and_cannot_be_empty(store):
    record, _ = start(store)
    assert store.rename(record.id, "  A   new\ntitle ", owner="alice").title == "A new title"
    with pytest.raises(StoreError, match="empty"):
        store.rename(record.id, "   ", owner="alice")


def test_concurrent_writers_lose_nothing(tmp_path):
    store = DiscussionStore(tmp_path / "d.sqlite3")
    errors = []

    def writer(n):
        try:
            record, messages = start(store, owner=f"user{n}", first=f"thread {n}")
            parent = messages[-1].id
            for i in range(25):
                parent = store.add_message(record.id, parent, ai(f"{n}-{i}"), owner=f"user{n}").id
                store.update_message(record.id, parent, owner=f"user{n}", content=f"{n}-{i}!")
                store.list_discussions(owner=f"user{n}")
        except Exception as e:  # collected and reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    for n in range(8):
        (record,) = store.list_discussions(owner=f"user{n}")
        _, branch = store.branch(record.id, owner=f"user{n}")
        assert [b.message.content for b in branch[2:]] == [f"{n}-{i}!" for i in range(25)]
    assert store.integrity_check() == "ok"
    store.close()


def test_a_failed_write_leaves_nothing_behind(store):
    record, (_, question) = start(store)
    with pytest.raises(StoreError):
        store.add_message(record.id, question.id, NewMessage("x", "system", "bad role"), owner="alice")  # type: ignore[arg-type]

    def half_done():
        with store.transaction() as conn:
            conn.execute("UPDATE discussions SET title = 'half' WHERE id = ?", (record.id,))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        half_done()
    assert store.get_discussion(record.id, owner="alice").title == "What is the capital of France?"
    assert len(store.messages(record.id, owner="alice")) == 2
