"""MCP: an MCP client from PyPI (the official `mcp` SDK) lists and calls the app's tools."""

import asyncio

import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import LaunchedApp

pytestmark = [pytest.mark.ui, pytest.mark.slow]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    launched = LaunchedApp(tmp_path_factory.mktemp("mcp-data"), "--mcp")
    yield launched
    launched.stop()


async def with_session(url, action):
    async with streamable_http_client(url) as (read, write, _), ClientSession(read, write) as session:
        await session.initialize()
        return await action(session)


def run(app, action):
    return asyncio.run(asyncio.wait_for(with_session(f"{app.url}gradio_api/mcp/", action), 180))


def test_tools_are_listed_with_descriptions(app):
    tools = run(app, lambda s: s.list_tools())
    by_name = {t.name: t for t in tools.tools}
    assert "chat_with_personality" in by_name
    assert "list_personalities" in by_name
    chat = by_name["chat_with_personality"]
    assert "personality" in chat.description.lower()
    assert set(chat.inputSchema["properties"]) == {"personality_id", "message"}


def test_chat_with_a_personality_through_mcp(app):
    async def call(session):
        listed = await session.call_tool("list_personalities", {})
        answer = await session.call_tool(
            "chat_with_personality", {"personality_id": "english/generic/lollms", "message": "Say hi."}
        )
        missing = await session.call_tool(
            "chat_with_personality", {"personality_id": "english/none/ghost", "message": "hi"}
        )
        return listed, answer, missing

    listed, answer, missing = run(app, call)
    assert "english/generic/lollms" in listed.content[0].text
    assert not answer.isError
    assert answer.content[0].text.strip()
    assert missing.isError
    assert "no such personality" in missing.content[0].text
