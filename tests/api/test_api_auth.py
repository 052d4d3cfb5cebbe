"""With --auth, every machine-facing route needs the user's credentials too: the /v1 API (through
the official openai client) and the MCP server (through the official mcp client). Users can also
come from the PWEBUI_AUTH variable (a Hugging Face Space secret)."""

import asyncio
import base64
import os

import httpx
import openai
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import LaunchedApp

pytestmark = [pytest.mark.ui, pytest.mark.slow]

MODEL = "english/generic/lollms"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    os.environ["PWEBUI_AUTH"] = "# Space secret\nbob:b0b:with:colons\n"
    try:
        launched = LaunchedApp(tmp_path_factory.mktemp("auth-api"), "--auth", "alice:wonder land", "--mcp")
    finally:
        del os.environ["PWEBUI_AUTH"]
    yield launched
    launched.stop()


def test_v1_refuses_strangers_and_wrong_passwords(app):
    assert httpx.get(f"{app.url}v1/models", timeout=30).status_code == 401
    wrong = openai.OpenAI(base_url=f"{app.url}v1", api_key="alice:nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()
    with pytest.raises(openai.AuthenticationError):
        wrong.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])


def test_a_signed_in_user_uses_v1_with_their_credentials(app):
    client = openai.OpenAI(base_url=f"{app.url}v1", api_key="alice:wonder land", max_retries=0, timeout=120)
    assert MODEL in [m.id for m in client.models.list().data]
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Say hello."}], stream=True, max_tokens=8, seed=1
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text.strip()
    basic = base64.b64encode(b"bob:b0b:with:colons").decode()  # a user from PWEBUI_AUTH, over HTTP Basic
    response = httpx.get(f"{app.url}v1/models", headers={"Authorization": f"Basic {basic}"}, timeout=30)
    assert response.status_code == 200


def test_the_page_itself_asks_for_a_sign_in(app):
    response = httpx.get(f"{app.url}gradio_api/info", timeout=30)
    assert response.status_code in (401, 403)
    login = httpx.post(f"{app.url}login", data={"username": "bob", "password": "b0b:with:colons"}, timeout=30)
    assert login.status_code == 200 and login.json().get("success") is True


async def list_and_chat(url, headers):
    async with (
        httpx.AsyncClient(headers=headers, timeout=300) as http,
        streamable_http_client(url, http_client=http) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        tools = await session.list_tools()
        answer = await session.call_tool("chat_with_personality", {"personality_id": MODEL, "message": "Say hi."})
        return tools, answer


def test_mcp_needs_the_credentials_too(app):
    url = f"{app.url}gradio_api/mcp/"
    refused = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, timeout=30)
    assert refused.status_code == 401
    headers = {"Authorization": "Bearer alice:wonder land"}
    tools, answer = asyncio.run(asyncio.wait_for(list_and_chat(url, headers), 600))
    assert "chat_with_personality" in {t.name for t in tools.tools}
    # the tools run without Gradio's queue, whose loopback client could not sign in
    assert not answer.isError, answer.content
    assert answer.content[0].text.strip()


def test_v1_files_take_the_same_credentials(app):
    (app.data_dir / "outputs" / "probe.txt").write_text("served", encoding="utf-8")
    url = f"{app.url}v1/files/probe.txt"
    assert httpx.get(url, timeout=30).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer alice:nope"}, timeout=30).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer alice:wonder land"}, timeout=30).text == "served"
