"""Export and import: a lossless JSON round trip (tree, metadata, images), readable Markdown, the
LoLLMs export format, and malformed uploads that import nothing."""

import base64
import json
from pathlib import Path

import pytest

from gradio_app.discussions.export import export_document, export_json, export_markdown, write_export
from gradio_app.discussions.imports import ImportFormatError, import_bytes
from gradio_app.discussions.store import DiscussionNotFound, DiscussionStore, NewMessage

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


class App:
    """A data folder: its store and its outputs/."""

    def __init__(self, root: Path) -> None:
        self.outputs = root / "outputs"
        self.outputs.mkdir(parents=True)
        self.store = DiscussionStore(root / "discussions.sqlite3")

    def import_(self, data: bytes, owner: str = "alice"):
        return import_bytes(self.store, data, owner=owner, outputs=self.outputs, default_personality="english/x/y")

    def export(self, owner: str = "alice", ids=None) -> dict:
        doc = export_document(self.store, ids, owner=owner, outputs=self.outputs)
        doc.pop("exported_at")
        return doc

    def count(self) -> int:
        return len(self.store.list_discussions(owner=None))


@pytest.fixture
def app(tmp_path):
    a = App(tmp_path / "a")
    yield a
    a.store.close()


@pytest.fixture
def other(tmp_path):
    b = App(tmp_path / "b")
    yield b
    b.store.close()


def fill(app: App) -> list[str]:
    """Two discussions of alice with everything a discussion can hold, and one of bob."""
    store = app.store
    picture = app.outputs / "art" / "castle.png"
    picture.parent.mkdir()
    picture.write_bytes(PNG)
    record, (welcome, question) = store.create_discussion(
        owner="alice",
        personality="english/art/gpt_for_art",
        title="Un château ✨",
        first=[NewMessage("Artbot", "assistant", "Hello!", kind="welcome"), NewMessage("user", "user", "A castle")],
    )
    meta = {
        "params": {"temperature": 0.7, "seed": 5},
        "completion_tokens": 12,
        "tokens_per_second": 33.3,
        "model": "tiny",
        "steps": [
            {"id": "s1", "parent_id": None, "title": "Prompt", "status": "done", "duration_s": 0.2, "content": "…"}
        ],
        "images": [{"path": str(picture), "caption": "A castle at night", "seed": 5}],
        "sources": [{"index": 1, "title": "Castles", "url": "http://127.0.0.1/castles", "passage": "Stone walls"}],
    }
    first = store.add_message(
        record.id, question.id, NewMessage("Artbot", "assistant", "Here it is", metadata=meta), owner="alice"
    )
    store.rate(record.id, first.id, 1, owner="alice")
    store.add_message(record.id, question.id, NewMessage("Artbot", "assistant", "Another one"), owner="alice")
    edited = store.add_message(record.id, welcome.id, NewMessage("user", "user", "A castle by day"), owner="alice")
    store.add_message(
        record.id, edited.id, NewMessage("Artbot", "assistant", "Half an ans", incomplete=True), owner="alice"
    )
    store.switch_version(record.id, first.id, 0, owner="alice")  # the user went back to the first answer
    second, (q2,) = store.create_discussion(
        owner="alice", personality="english/generic/lollms", title="Errors", first=[NewMessage("user", "user", "hi")]
    )
    store.add_message(second.id, q2.id, NewMessage("error", "assistant", "No model", kind="error"), owner="alice")
    store.create_discussion(owner="bob", personality="p", title="Bob's secret", first=[NewMessage("user", "user", "x")])
    return [record.id, second.id]


def test_json_round_trip_is_identical(app, other):
    fill(app)
    exported = export_json(app.store, None, owner="alice", outputs=app.outputs)
    result = other.import_(exported, owner="carol")
    assert len(result.discussions) == 2 and result.files == 1
    assert other.export(owner="carol") == app.export(owner="alice")
    # the image file came along, into the importing app's own outputs/
    doc = app.export()
    assert doc["files"] == {"art/castle.png": base64.b64encode(PNG).decode()}
    imported = {d.title: d for d in other.store.list_discussions(owner="carol")}
    messages = other.store.messages(imported["Un château ✨"].id, owner="carol")
    image = next(m for m in messages if m.metadata.get("images")).metadata["images"][0]
    assert Path(image["path"]) == (other.outputs / "art" / "castle.png").resolve()
    assert Path(image["path"]).read_bytes() == PNG
    # and the stored rows are the same, field by field (tree, order, flags, ratings, metadata)
    originals = {d.title: d for d in app.store.list_discussions(owner="alice")}
    for title, record in originals.items():
        theirs = imported[title]
        assert (theirs.id, theirs.personality, theirs.created, theirs.updated, theirs.current_leaf_id) == (
            record.id,
            record.personality,
            record.created,
            record.updated,
            record.current_leaf_id,
        )
        mine = app.store.messages(record.id, owner="alice")
        copy = other.store.messages(theirs.id, owner="carol")
        strip = lambda ms: [  # noqa: E731
            (m.id, m.parent_id, m.sender, m.role, m.kind, m.content, m.created, m.rating, m.incomplete) for m in ms
        ]
        assert strip(copy) == strip(mine)
        assert [m.metadata for m in copy if not m.metadata.get("images")] == [
            m.metadata for m in mine if not m.metadata.get("images")
        ]


def test_the_export_holds_only_the_owners_discussions_and_the_format_version(app):
    fill(app)
    doc = app.export()
    assert doc["format"] == "personalities-webui/discussions" and doc["version"] == 1
    assert sorted(d["title"] for d in doc["discussions"]) == ["Errors", "Un château ✨"]
    assert "owner" not in json.dumps(doc["discussions"])


def test_importing_the_same_file_twice_makes_a_copy_with_new_ids(app):
    ids = fill(app)
    exported = export_json(app.store, [ids[0]], owner="alice", outputs=app.outputs)
    result = app.import_(exported)
    (copy,) = result.discussions
    assert copy.id not in ids
    original = app.store.branch(ids[0], owner="alice")[1]
    copied = app.store.branch(copy.id, owner="alice")[1]
    assert [(b.message.content, b.version, b.versions) for b in copied] == [
        (b.message.content, b.version, b.versions) for b in original
    ]
    assert {b.message.id for b in copied}.isdisjoint({b.message.id for b in original})


def test_someone_elses_discussion_cannot_be_exported(app, tmp_path):
    ids = fill(app)
    with pytest.raises(DiscussionNotFound):
        export_document(app.store, [ids[0]], owner="bob", outputs=app.outputs)
    with pytest.raises(DiscussionNotFound):
        write_export(app.store, [ids[0]], owner="bob", fmt="json", outputs=app.outputs, folder=tmp_path / "dl")
    assert not (tmp_path / "dl").exists() or not any((tmp_path / "dl").iterdir())


def test_markdown_shows_the_current_branch_readably(app):
    ids = fill(app)
    text = export_markdown(app.store, [ids[0]], owner="alice")
    assert text.startswith("# Un château ✨")
    assert "**You**" in text and "A castle" in text and "Here it is" in text
    assert "version 1/2" in text  # the answer shown has another version
    assert "12 tokens · 33.3 tokens/s · tiny" in text
    assert "![A castle at night](" in text
    assert "Another one" not in text and "Half an ans" not in text  # other branches are not shown
    both = export_markdown(app.store, None, owner="alice")
    assert "# Errors" in both and "⚠️ Error" in both


def test_lollms_2023_export_is_imported(app):
    result = app.import_((FIXTURES / "lollms_export_2023.json").read_bytes())
    assert result.source == "lollms" and len(result.discussions) == 2
    by_title = {d.title: d for d in result.discussions}
    code = by_title["Python list comprehension"]
    assert code.personality == "english/x/y"  # the 2023 export does not say: the default one
    _, branch = app.store.branch(code.id, owner="alice")
    messages = [b.message for b in branch]
    assert [(m.role, m.kind) for m in messages] == [
        ("assistant", "welcome"),
        ("user", "normal"),
        ("assistant", "normal"),
        ("user", "normal"),
        ("assistant", "normal"),
    ]
    assert messages[0].sender == "gpt4all" and messages[1].sender == "user"
    assert messages[2].content.startswith("Use a list comprehension:\n\n```python")
    assert [m.rating for m in messages] == [None, None, 1, None, -1]  # rank 2 -> up, rank -1 -> down
    assert [m.parent_id for m in messages[1:]] == [m.id for m in messages[:-1]]  # one chain
    # the conditioning is not a chat message, but it is kept
    assert "smart and helpful Assistant" in messages[0].metadata["lollms"]["conditioning"]
    assert messages[2].metadata["imported_from"] == "lollms"
    poem = app.store.branch(by_title["Un poème"].id, owner="alice")[1]
    assert [(b.message.role, b.message.content[:10]) for b in poem] == [
        ("user", "Écris un h"),
        ("assistant", "Vagues sur"),
    ]


def test_lollms_export_with_ids_keeps_the_tree(app):
    (record,) = app.import_((FIXTURES / "lollms_export_2024.json").read_bytes()).discussions
    assert record.personality == "english/generic/lollms"
    _, branch = app.store.branch(record.id, owner="alice")
    assert [(b.message.sender, b.message.role, b.version, b.versions) for b in branch] == [
        ("lollms", "assistant", 1, 1),
        ("ParisNeo", "user", 1, 1),  # sender_type 0: the user, whatever their name
        ("lollms", "assistant", 2, 2),  # the regenerated answer: a sibling of the first
    ]
    last = branch[-1].message
    assert last.content == "Maybe Pixel, for a curious cat." and last.rating == 1
    assert last.metadata["model"] == "Mistral-7B-Instruct-v0.2.Q4_K_M.gguf"
    assert last.created > branch[1].message.created


def ours(discussions, files=None, version=1):
    return json.dumps(
        {
            "format": "personalities-webui/discussions",
            "version": version,
            "discussions": discussions,
            "files": files or {},
        }
    ).encode()


def disc(messages, **extra):
    return {"id": "d1", "title": "T", "personality": "p", "created": 1.0, "updated": 2.0, "messages": messages, **extra}


def msg(mid, parent=None, **extra):
    base = {"id": mid, "parent_id": parent, "sender": "u", "role": "user", "content": "hi", "created": 1.0}
    return {**base, **extra}


GOOD = disc([msg("m1")], current_leaf_id="m1")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", "empty"),
        (b"\xff\xfe\x00\x01binary", "not UTF-8"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2", "not valid JSON"),
        (b'"just a string"', "neither an object nor a list"),
        (b'{"hello": "world"}', "not a discussions export"),
        (ours([GOOD], version=7), "format version 7"),
        (ours([GOOD], version="1"), "no valid format version"),
        (ours([disc([msg("m1", role="system")])]), "message 1: 'role'"),
        (ours([disc([msg("m1", content=None)])]), "'content' must be text"),
        (ours([disc([msg("m1"), msg("m1")])]), "appears twice"),
        (ours([disc([msg("m1", parent="ghost")])]), "unknown parent"),
        (ours([disc([msg("m1", parent="m2"), msg("m2", parent="m1")])]), "loop"),
        (ours([disc([msg("m1", rating=5)])]), "'rating'"),
        (ours([disc([msg("m1", metadata=[1])])]), "'metadata' must be an object"),
        (ours([disc([msg("m1")], current_leaf_id="nope")]), "current_leaf_id"),
        (ours([GOOD, disc([msg("m9")], created="yesterday")]), "discussion 2"),
        (ours([GOOD], files={"../../escape.png": "AAAA"}), "not a safe file name"),
        (ours([GOOD], files={"/etc/evil.png": "AAAA"}), "not a safe file name"),
        (ours([GOOD], files={"ok.png": "!!! not base64"}), "not valid base64"),
        (ours([disc([msg("m1", metadata={"images": [{"path": "../../x.png"}]})])]), "not a safe file name"),
        (b"[]", "holds no discussions"),
        (b'[{"title": "x", "messages": [{"sender": "user"}]}]', "'content' must be text"),
        (b'[{"title": "x", "messages": "nope"}]', "'messages' must be a list"),
        (b'[{"title": "x", "messages": [{"content": "c", "type": 1}]}]', "only a conditioning"),
        (b'[{"title": "ok", "messages": [{"content": "c"}]}, 5]', "discussion 2: must be an object"),
    ],
)
def test_malformed_uploads_say_what_is_wrong_and_import_nothing(app, data, error):
    fill(app)
    before = app.export()
    files_before = sorted(p for p in app.outputs.rglob("*"))
    with pytest.raises(ImportFormatError, match=error):
        app.import_(data)
    assert app.export() == before
    assert app.count() == 3
    assert sorted(p for p in app.outputs.rglob("*")) == files_before
    assert not (app.outputs.parent.parent / "escape.png").exists()


def test_absolute_image_paths_from_elsewhere_are_not_trusted(app):
    doc = ours([disc([msg("m1", role="assistant", metadata={"images": [{"path": "/etc/passwd", "caption": "x"}]})])])
    (record,) = app.import_(doc).discussions
    (message,) = app.store.messages(record.id, owner="alice")
    assert message.metadata["images"] == [{"path": "", "caption": "x", "missing": True}]


def test_an_image_name_already_used_by_another_file_is_not_overwritten(app, other):
    fill(app)
    exported = export_json(app.store, None, owner="alice", outputs=app.outputs)
    mine = other.outputs / "art" / "castle.png"
    mine.parent.mkdir()
    mine.write_bytes(b"a different picture")
    other.import_(exported)
    assert mine.read_bytes() == b"a different picture"
    placed = [
        m.metadata["images"][0]["path"]
        for d in other.store.list_discussions(owner="alice")
        for m in other.store.messages(d.id, owner="alice")
        if m.metadata.get("images")
    ]
    assert len(placed) == 1 and Path(placed[0]).read_bytes() == PNG and "imported" in placed[0]
