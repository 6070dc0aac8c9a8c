"""The demo server's tools, in process through the SDK client (no proxy)."""

from __future__ import annotations

import pytest
from mcp import Client
from mcp.types import TextContent

from mcpchaos.demo.server import build_server


def text_of(result: object) -> str:
    content = result.content  # type: ignore[attr-defined]
    assert isinstance(content[0], TextContent)
    return content[0].text


async def test_echo_payload_and_fail_behave_as_documented() -> None:
    async with Client(build_server()) as client:
        assert text_of(await client.call_tool("echo", {"text": "x"})) == "x"
        assert len(text_of(await client.call_tool("payload", {"size_bytes": 12345}))) == 12345
        failed = await client.call_tool("fail", {"message": "on demand"})
        assert failed.is_error
        assert "on demand" in text_of(failed)
        raised = await client.call_tool("fail", {"mode": "exception", "message": "kaboom"})
        assert raised.is_error


async def test_payload_sizes_are_capped() -> None:
    async with Client(build_server()) as client:
        assert text_of(await client.call_tool("payload", {"size_bytes": -5})) == ""


@pytest.mark.parametrize("uri", ["demo://info", "demo://item/3"])
async def test_resources_read(uri: str) -> None:
    async with Client(build_server()) as client:
        result = await client.read_resource(uri)
        assert result.contents


async def test_the_prompt_renders() -> None:
    async with Client(build_server()) as client:
        prompt = await client.get_prompt("summarize", {"text": "abc"})
        assert "abc" in str(prompt.messages[0].content)
