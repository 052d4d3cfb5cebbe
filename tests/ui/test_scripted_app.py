"""Scripted personalities in a launched app, through gradio_client: the art personality with the
tiny Stable Diffusion model (PWEBUI_SD_MODELS), Tree of Thoughts, GPT 4 Internet (searching a
loopback site through its SearXNG API), Stop, and what is served."""

import json
import shutil
import time
from pathlib import Path

import httpx
import pytest
import yaml
from gradio_client import Client

from gradio_app.config import BUILTIN_ZOO
from gradio_app.web.citations import cited_numbers
from gradio_app.web.extract import extract_main_text
from tests.art.tiny_sd import build_tiny_pipeline
from tests.conftest import LaunchedApp, chat_texts
from tests.web.site import ARTICLES, Site

pytestmark = [pytest.mark.ui, pytest.mark.slow]

ART = "english/art/gpt_for_art_tiny"
TOT = "english/thinking/tree_of_thoughts_small"
WEB = "english/internet/gpt4internet_local"
# From pressing Stop to the finished turn in the client: the app ends a scripted turn at most
# STOP_GRACE_S (0.75 s) after Stop, usually within a token or a 0.1 s poll (measured ~0.3 s on a
# loaded 2-core machine); the rest is the client's two round trips (/stop, the last update).
STOP_BOUND_S = 1.5


def install_copy(data: Path, source: str, target: str, settings: dict) -> None:
    """A copy of a built-in personality in the app's user zoo, trusted, with its own settings."""
    folder = data / "personalities" / target
    shutil.copytree(BUILTIN_ZOO / source, folder)
    (folder / ".trusted").write_text("trusted by the test\n", encoding="utf-8")
    (folder / "config_local.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")


@pytest.fixture(scope="module")
def site():
    """The loopback website: its articles, and SearXNG's search API over them."""
    s = Site("127.0.0.1")
    yield s
    s.close()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("scripted-app")
    build_tiny_pipeline(root / "sd_models" / "tiny")
    data = root / "data"
    install_copy(data, "english/art/gpt_for_art", ART, {"steps": 3, "width": 64, "height": 64, "seed": 5})
    small = {"depth": 2, "breadth": 2, "max_thought_tokens": 20, "max_judgement_tokens": 12, "max_summary_tokens": 32}
    install_copy(data, "english/thinking/tree_of_thoughts", TOT, small)
    install_copy(data, "english/internet/gpt4internet", WEB, {})
    config = data / "personalities" / WEB / "config.yaml"  # greedy answers: the same answer every run
    config.write_text(config.read_text().replace("model_temperature: 0.2", "model_temperature: 0.0"))
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
    assert time.monotonic() - stopped_at < STOP_BOUND_S
    steps = steps_of(final)
    assert steps and all(s["status"] == "done" for s in steps)  # nothing left spinning
    assert any(s.get("log") == "stopped" for s in steps)


def search_the_test_site(c, site):
    """Choose SearXNG in the personality's settings, as a user would, pointed at the loopback site
    (whose pages the address rule allows only through allow_private_addresses)."""
    form = c.predict(WEB, api_name="/personality_settings")
    fields = {f["name"]: f for f in form["fields"]}
    assert "searxng" in fields["search_backend"]["options"] and fields["searxng_url"]["type"] == "str"
    values = {"search_backend": "searxng", "searxng_url": site.url(""), "allow_private_addresses": True}
    c.predict(WEB, {**values, "max_answer_size": 64, "num_results": 3}, api_name="/save_personality_settings")


def step_titles(chat):
    return [s["title"] for s in steps_of(chat)]


def test_gpt4internet_searches_reads_and_answers_with_checked_sources_saved_with_the_discussion(app, site):
    c = chat_with(app, WEB)
    search_the_test_site(c, site)
    job = c.submit("When was the Kessin lighthouse built?", api_name="/send")
    updates = [chat for chat, _ in job]
    final = job.result()[0]
    query = site.log.searches[-1]["q"]  # what the app asked the SearXNG API
    assert "kessin" in query.lower()
    # the steps, visible while they ran, then done: query, search, reading, passages
    seen = [(s["title"], s["status"]) for chat in updates for s in steps_of(chat)]
    assert ("Writing a search query", "pending") in seen  # (reading a loopback page is too quick to catch)
    titles = step_titles(final)
    assert titles[:2] == ["Writing a search query", f"Searching the web for “{query}”"]
    assert titles[2].startswith("Reading ") and titles[3] == "Picking the relevant passages"
    assert titles[4].startswith("📚 Sources (")
    assert all(s["status"] == "done" for s in steps_of(final))
    reading = next(m for m in final if (m.get("metadata") or {}).get("title", "").startswith("Reading "))
    assert f"✓ {site.url('/articles/kessin-lighthouse.html')}" in text_of(reading)
    # the answer: cites numbered passages, ends with the Sources list
    answer = next(t for role, t in chat_texts(final) if role == "assistant" and "**Sources" in t)
    body, _, listing = answer.partition("**Sources")
    cited = cited_numbers(body)
    assert cited, answer
    assert site.url("/articles/kessin-lighthouse.html") in listing
    # saved with the discussion: reopen it, and read the stored sources from its export
    [listed] = [d for d in c.predict("", api_name="/list_discussions") if "Kessin" in d["label"]]
    c.predict(api_name="/new_discussion")
    reopened, *_ = c.predict(listed["id"], api_name="/open_discussion")
    assert chat_texts(reopened) == chat_texts(final) and step_titles(reopened) == titles
    exported = json.loads(Path(c.predict(listed["id"], "json", api_name="/export_discussion")).read_text())
    stored = [m for m in exported["discussions"][0]["messages"] if m["role"] == "assistant"][-1]
    assert stored["metadata"]["workflow_data"]["search_query"] == query
    sources = {s["index"]: s for s in stored["metadata"]["sources"]}
    for number in cited:  # every [n] names a passage that really is in the page the site served
        source = sources[number]
        page = ARTICLES[source["url"].removeprefix(site.url(""))][0]
        assert source["passage"] and source["passage"] in extract_main_text(page, source["url"])


def test_stop_while_gpt4internet_reads_a_slow_page_ends_the_turn_within_a_second(app, site):
    c = chat_with(app, WEB)
    search_the_test_site(c, site)
    site.page_delay_s = 60  # the site holds every article back: the reading step waits
    try:
        seen = len(site.log.requests)
        job = c.submit("How tall is the Kessin lighthouse?", api_name="/send")
        # Stop once the chat shows the reading step, still running: the step that started right
        # after the search is on screen while the page is held back (no later event brings it).
        for chat, _ in job:
            if ("Reading 1 page", "pending") in [(s["title"], s["status"]) for s in steps_of(chat)]:
                break
        else:
            raise AssertionError("the reading step never showed while it ran")
        deadline = time.monotonic() + 30  # and the app is waiting for the page
        while not any(path.startswith("/articles/") for path, _ in site.log.requests[seen:]):
            assert time.monotonic() < deadline, "the app never asked for a page"
            time.sleep(0.05)
        stopped_at = time.monotonic()
        c.predict(api_name="/stop")
        final = job.result(timeout=30)[0]
        elapsed = time.monotonic() - stopped_at
    finally:
        site.page_delay_s = 0
    assert elapsed < STOP_BOUND_S, elapsed
    steps = steps_of(final)
    assert steps and all(s["status"] == "done" for s in steps)  # nothing left spinning
    assert [s["title"] for s in steps if s.get("log") == "stopped"] == ["⏹️ Reading 1 page"]
    assert not any("**Sources" in t for _, t in chat_texts(final))  # no answer pretended
    # the discussion stays usable: the next question is answered from the pages
    chat = c.predict("When was the Kessin lighthouse built?", api_name="/send")[0]
    assert any("**Sources" in t for _, t in chat_texts(chat))
