"""Scripted personalities in a launched app, through gradio_client: the art personality with the
tiny Stable Diffusion model (PWEBUI_SD_MODELS), Tree of Thoughts, Stop, and what is served."""

import shutil
import time
from pathlib import Path

import httpx
import pytest
import yaml
from gradio_client import Client

from gradio_app.config import BUILTIN_ZOO
from tests.art.tiny_sd import build_tiny_pipeline
from tests.conftest import LaunchedApp

pytestmark = [pytest.mark.ui, pytest.mark.slow]

ART = "english/art/gpt_for_art_tiny"
TOT = "english/thinking/tree_of_thoughts_small"


def install_copy(data: Path, source: str, target: str, settings: dict) -> None:
    """A copy of a built-in personality in the app's user zoo, trusted, with its own settings."""
    folder = data / "personalities" / target
    shutil.copytree(BUILTIN_ZOO / source, folder)
    (folder / ".trusted").write_text("trusted by the test\n", encoding="utf-8")
    (folder / "config_local.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("scripted-app")
    build_tiny_pipeline(root / "sd_models" / "tiny")
    data = root / "data"
    install_copy(data, "english/art/gpt_for_art", ART, {"steps": 3, "width": 64, "height": 64, "seed": 5})
    small = {"depth": 2, "breadth": 2, "max_thought_tokens": 20, "max_judgement_tokens": 12, "max_summary_tokens": 32}
    install_copy(data, "english/thinking/tree_of_thoughts", TOT, small)
    launched = LaunchedApp(data, env={"PWEBUI_SD_MODELS": str(root / "sd_models")})
    yield launched
    launched.stop()


def text_of(message):
    return "".join(part.get("text", "") for part in message["content"] if part.get("type") == "text")


def files_of(chat):
    return [part for m in chat for part in m["content"] if part.get("type") == "file"]


def steps_of(chat):
    return [m["metadata"] for m in chat if m.get("metadata") and m["metadata"].get("title")]


def chat_with(app, personality_id):
    c = Client(app.url, verbose=False)
    c.predict(personality_id, api_name="/select_personality")
    return c


def test_art_shows_steps_progress_and_the_image_then_repaints_an_edited_description(app):
    c = chat_with(app, ART)
    job = c.submit("a lighthouse at night", api_name="/send")
    updates = [chat for chat, _ in job]
    final = job.result()[0]
    # while it ran: the imagining step pending, then the painting step with its progress
    seen = [s for chat in updates for s in steps_of(chat)]
    assert any(s["title"].startswith("🎨 Imagining") and s["status"] == "pending" for s in seen)
    painting = [s for s in seen if s["title"].startswith("🖌️ Painting") and s["status"] == "pending"]
    assert any(s.get("log", "").endswith("steps") for s in painting)
    # at the end: both steps done, the prompt used, and the image
    done = steps_of(final)
    assert [s["title"] for s in done] == ["🎨 Imagined the picture", "🖌️ Painted the picture with tiny"]
    assert all(s["status"] == "done" for s in done)
    answer = next(text_of(m) for m in final if text_of(m).startswith("**Prompt:** "))
    description = answer.removeprefix("**Prompt:** ").split("\n\n_Seed")[0]
    [image] = files_of(final)
    assert image["alt_text"] == description
    # a change: a new image from an edited description
    final2 = c.predict("now make it a day view", api_name="/send")[0]
    images = files_of(final2)
    assert len(images) == 2 and images[0]["alt_text"] == description
    assert images[1]["alt_text"] != description
    assert Path(images[1]["file"]).read_bytes() != Path(images[0]["file"]).read_bytes()


def test_generated_images_are_served_and_nothing_else_of_the_data_folder(app):
    c = chat_with(app, ART)
    c.predict("a red boat", api_name="/send")
    outputs = app.data_dir / "outputs" / "art"
    [first, *_] = sorted(outputs.glob("*.png"))
    ok = httpx.get(f"{app.url}gradio_api/file={first}", timeout=10)
    assert ok.status_code == 200 and ok.content[:8] == b"\x89PNG\r\n\x1a\n"
    private = app.data_dir / "app.log"
    link = outputs / "link-to-log.png"
    link.symlink_to(private)  # even a link planted inside outputs/ does not reach outside it
    for target in (private, outputs / ".." / ".." / "app.log", link, app.data_dir / "personalities"):
        refused = httpx.get(f"{app.url}gradio_api/file={target}", timeout=10)
        assert refused.status_code in (400, 403, 404), target
        assert "running at" not in refused.text


def test_tree_of_thoughts_shows_the_tree_then_the_answer(app):
    c = chat_with(app, TOT)
    job = c.submit("How can a small town reduce its traffic jams?", api_name="/send")
    updates = [chat for chat, _ in job]
    final = job.result()[0]
    assert any(s["status"] == "pending" for chat in updates for s in steps_of(chat))  # visible while running
    steps = steps_of(final)
    levels = [s for s in steps if not s.get("parent_id")]
    assert [s["title"].split(":")[0] for s in levels] == ["🌳 Level 1 of 2", "🌳 Level 2 of 2"]
    children = [s for s in steps if s.get("parent_id") == levels[0]["id"]]
    assert len(children) == 3 and sum("✅ chosen" in s["title"] for s in children) == 1
    assert all(s["status"] == "done" for s in steps)
    assert text_of(final[-1]).strip()  # the synthesized answer closes the turn


def test_stop_interrupts_tree_of_thoughts_within_a_second(app):
    c = chat_with(app, TOT)
    job = c.submit("Explain in depth why the sky is blue.", api_name="/send")
    for chat, _ in job:
        if any(s["title"].startswith("💭 Thought 1.2") for s in steps_of(chat)):
            break
    stopped_at = time.monotonic()
    c.predict(api_name="/stop")
    final = job.result(timeout=30)[0]
    assert time.monotonic() - stopped_at < 3  # Stop within a second, plus the client round trips
    steps = steps_of(final)
    assert steps and all(s["status"] == "done" for s in steps)  # nothing left spinning
    assert any(s.get("log") == "stopped" for s in steps)
