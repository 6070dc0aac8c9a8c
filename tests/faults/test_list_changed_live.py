"""list_changed through the real HTTP proxy to the official SDK client: the notification goes
before a call's answer and the answer still arrives, in both eras (the 2026-07-28 demo server
answers a call with a JSON body, which holds one message: the proxy streams it instead, as
tests/http/test_extra_messages.py shows for a raw client). Judging the SDK client in auto mode
found the answer lost behind the notice before that."""

from __future__ import annotations

import pytest
from mcp import Client
from mcp.types import TextContent

from tests.faults.live import on_http, rule


async def echo(client: Client) -> str:
    result = await client.call_tool("echo", {"text": "hello"})
    return " ".join(block.text for block in result.content if isinstance(block, TextContent))


@pytest.mark.parametrize("era", ["legacy", "auto"])
async def test_on_http_the_answer_after_an_injected_list_changed_reaches_the_client(
    stateful_url: str, era: str
) -> None:
    config = rule({"list_changed": True}, classes=("server_response",))
    # A lost answer would wait for the read timeout: fail in seconds, not at the SDK's default.
    text, records = await on_http(config, echo, stateful_url, mode=era, read_timeout_seconds=5)
    assert text == "hello"
    assert [r["fault"] for r in records] == ["list_changed"]
