"""What machine clients get after a workflow's text (images, sources) and which files they may
fetch; the steps side channel of a stream. Pure functions: no app, no model."""

from gradio_app.api.answers import appendix, file_link, output_file
from gradio_app.api.openai_server import StepFeed
from gradio_app.workflows import events as ev


def test_images_become_links_only_inside_the_outputs_folder(tmp_path):
    outputs = tmp_path / "outputs"
    (outputs / "art").mkdir(parents=True)
    inside = outputs / "art" / "a b(1).png"
    inside.write_bytes(b"png")
    link = file_link(outputs, "http://host:7860/")
    images = [{"path": str(inside), "caption": "a [red]\nsquare"}, {"path": str(tmp_path / "secret.png")}]
    text = appendix("Done.", {"images": images}, link)
    assert text == "\n\n![a (red) square](http://host:7860/v1/files/art/a%20b%281%29.png)"


def test_sources_are_listed_unless_the_answer_links_them():
    sources = [{"index": 1, "title": "Ex [1]", "url": "https://example.org/a b"}, {"index": 2, "url": "https://e.org"}]
    listed = appendix("An answer [1].", {"sources": sources}, lambda p: None)
    assert listed == "\n\n**Sources**\n- [1] [Ex \\[1\\]](https://example.org/a%20b)\n- [2] [untitled](https://e.org)"
    written = "An answer [1].\n\n**Sources**\n- [1] [Ex](https://example.org/a%20b)"
    assert appendix(written, {"sources": sources}, lambda p: None) == ""
    assert appendix("Plain.", {}, lambda p: None) == ""


def test_output_files_never_leave_the_folder(tmp_path):
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    (outputs / "ok.png").write_bytes(b"x")
    (tmp_path / "settings.yaml").write_text("secret")
    (outputs / "escape").symlink_to(tmp_path / "settings.yaml")
    assert output_file(outputs, "ok.png") == (outputs / "ok.png").resolve()
    for bad in ("../settings.yaml", "/etc/passwd", "escape", "", "missing.png"):
        assert output_file(outputs, bad) is None, bad


def test_the_step_feed_sends_changes_and_ends_equal_to_the_stored_steps():
    feed = StepFeed()
    sent = []
    for event in [
        ev.StepStart("a", "Outer"),
        ev.StepText("a", "body"),
        ev.StepStart("b", "Inner", parent_id="a"),
        ev.StepEnd("b", "done", 0.5),
        ev.StepTitle("b", "Inner (renamed)"),
        ev.Notice("warning", "careful"),
        ev.TextChunk("answer"),
    ]:
        sent += feed.feed(event)
    assert [(s["id"], s["title"], s["status"]) for s in sent] == [
        ("a", "Outer", "pending"),
        ("b", "Inner", "pending"),
        ("b", "Inner", "done"),
        ("b", "Inner (renamed)", "done"),
        ("notice-1", "careful", "done"),
    ]
    stored = [
        {**sent[0], "status": "done", "content": "body", "duration_s": 1.0},
        sent[3],
        sent[4],
    ]
    final = feed.finish(stored)
    assert final == [stored[0]]  # only what changed since it was sent
    latest = {s["id"]: s for s in [*sent, *final]}
    assert list(latest.values()) == stored
