"""MCP: an MCP client from PyPI (the official `mcp` SDK) lists and calls the app's tools: chat,
painting (the tiny Stable Diffusion model of tests/art/tiny_sd.py) and web search (offline here)."""

import asyncio
import base64
import io
import json
import re
import shutil

import httpx
import pytest
import yaml
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from PIL import Image

from gradio_app.config import BUILTIN_ZOO
from tests.art.tiny_sd import build_tiny_pipeline
from tests.conftest import LaunchedApp

pytestmark = [pytest.mark.ui, pytest.mark.slow]

TINY_ART = "english/art/gpt_for_art_tiny"
ABSENT_ART = "english/art/gpt_for_art_absent"


def art_copy(data, target: str, settings: dict) -> None:
    """A trusted copy of the built-in art personality in the user zoo, with its own settings."""
    folder = data / "personalities" / target
    shutil.copytree(BUILTIN_ZOO / "english/art/gpt_for_art", folder)
    (folder / ".trusted").write_text("trusted by the test\n", encoding="utf-8")
    (folder / "config_local.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("mcp")
    build_tiny_pipeline(root / "sd_models" / "tiny")
    data = root / "data"
    small = {"steps": 3, "width": 64, "height": 64, "seed": 5, "max_generation_prompt_size": 24}
    art_copy(data, TINY_ART, {**small, "model_name": "tiny"})
    art_copy(data, ABSENT_ART, {**small, "model_name": "absent"})
    launched = LaunchedApp(data, "--mcp", env={"PWEBUI_SD_MODELS": str(root / "sd_models")})
    yield launched
    launched.stop()


OUR_TOOLS = ["list_personalities", "chat_with_personality", "generate_image", "web_search_answer"]


async def with_session(url, action):
    async with streamable_http_client(url) as (read, write, _), ClientSession(read, write) as session:
        await session.initialize()
        return await action(session)


def run(app, action, timeout=600, query=""):
    return asyncio.run(asyncio.wait_for(with_session(f"{app.url}gradio_api/mcp/{query}", action), timeout))


def call(app, tool, arguments):
    return run(app, lambda s: s.call_tool(tool, arguments))


def test_tools_are_listed_with_descriptions(app):
    tools = run(app, lambda s: s.list_tools())
    by_name = {t.name: t for t in tools.tools}
    assert sorted(by_name) == sorted(OUR_TOOLS)  # the page's own events are not tools
    chat = by_name["chat_with_personality"]
    assert "personality" in chat.description.lower()
    assert set(chat.inputSchema["properties"]) == {"personality_id", "message"}
    paint = by_name["generate_image"]
    assert "stable diffusion" in paint.description.lower()
    assert paint.inputSchema["required"] == ["description"]
    assert paint.inputSchema["properties"]["personality_id"]["default"] == "english/art/gpt_for_art"
    search = by_name["web_search_answer"]
    assert "web" in search.description.lower()
    assert search.inputSchema["required"] == ["question"]


def test_the_page_events_stay_callable_with_mcp_on(app):
    """Hidden from the MCP list and the API docs, the page's events still work for gradio_client."""
    from gradio_client import Client

    client = Client(app.url, verbose=False)
    assert "/send" not in client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    chat = client.predict("Say hi.", api_name="/send")[0]
    assert [m["role"] for m in chat][-2:] == ["user", "assistant"]


def test_chat_with_a_personality_through_mcp(app):
    async def calls(session):
        listed = await session.call_tool("list_personalities", {})
        answer = await session.call_tool(
            "chat_with_personality", {"personality_id": "english/generic/lollms", "message": "Say hi."}
        )
        missing = await session.call_tool(
            "chat_with_personality", {"personality_id": "english/none/ghost", "message": "hi"}
        )
        return listed, answer, missing

    listed, answer, missing = run(app, calls)
    assert "english/generic/lollms" in listed.content[0].text
    assert not answer.isError
    assert answer.content[0].text.strip()
    assert missing.isError
    assert "no such personality" in missing.content[0].text


def test_generate_image_returns_the_painting(app):
    result = call(app, "generate_image", {"description": "a lighthouse at night", "personality_id": TINY_ART})
    assert not result.isError, result.content
    text, image, link = result.content
    assert text.type == "text" and text.text.startswith("**Prompt:** ")
    assert image.type == "image" and image.mimeType == "image/png"
    inline = Image.open(io.BytesIO(base64.b64decode(image.data)))
    assert inline.size == (256, 256)  # 64x64 painted, saved enlarged to carry the watermark
    assert link.type == "text" and link.text.startswith("Image URL: ")  # Gradio's copy of the file
    # the answer links the image under /v1/files/, like the OpenAI-compatible API: the same picture
    [url] = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text.text)
    assert url.startswith(f"{app.url}v1/files/art/") and url.endswith(".png")
    served = httpx.get(url, timeout=30)
    assert served.status_code == 200
    assert Image.open(io.BytesIO(served.content)).tobytes() == inline.tobytes()


def test_generate_image_without_a_model_says_where_to_put_one(app):
    result = call(app, "generate_image", {"description": "a cat", "personality_id": ABSENT_ART})
    assert result.isError
    message = result.content[0].text
    assert message.startswith("No Stable Diffusion model named 'absent' in ")
    assert "PWEBUI_SD_MODELS" in message


def test_web_search_offline_is_a_clear_error(app):
    """This machine has no internet: the tool fails and says so, never answering from memory."""
    result = call(app, "web_search_answer", {"question": "What is the tallest mountain on Earth?"})
    if not result.isError:  # online after all: the answer and its sources
        answer, sources = result.content
        assert answer.text.strip() and isinstance(json.loads(sources.text), list)
        return
    message = result.content[0].text
    assert message.startswith("Web search failed (offline)"), message
    assert "I could not search the web" in message and "will not answer from memory" in message
