"""The official MCP SDK client and server through ``mcpchaos proxy`` over real pipes."""

from __future__ import annotations

import sys

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from tests.forkserver import DEMO_SERVER
from tests.sdk_sessions import MODES, progress_and_logs, scripted_session, server_to_client_requests

DEMO = DEMO_SERVER


def direct() -> StdioServerParameters:
    return StdioServerParameters(command=DEMO[0], args=DEMO[1:])


def proxied(*proxy_args: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "mcpchaos", "proxy", *proxy_args, "--", *DEMO]
    )


@pytest.mark.parametrize("mode", MODES)
async def test_results_through_the_proxy_equal_a_direct_connection(mode: str) -> None:
    through_proxy = await scripted_session(proxied(), mode)
    direct_results = await scripted_session(direct(), mode)
    assert through_proxy == direct_results
    assert through_proxy["protocol"] == ("2025-11-25" if mode == "legacy" else "2026-07-28")
    assert through_proxy["echo"]["content"][0]["text"] == "héllo ✓ 😀"
    assert len(through_proxy["payload"]["content"][0]["text"]) == 300_000
    assert through_proxy["fail"]["is_error"] is True


@pytest.mark.parametrize("mode", MODES)
async def test_progress_and_logging_notifications_arrive_through_the_proxy(mode: str) -> None:
    progress_values, logs = await progress_and_logs(proxied(), mode)
    assert progress_values == [1, 2, 3, 4]
    assert any("sleeping" in line for line in logs)


async def test_server_to_client_requests_pass_through_the_proxy() -> None:
    texts = await server_to_client_requests(proxied())
    assert texts[0] == "confirmed=True"
    assert texts[1] == "sampled!"
    assert "file:///tmp/project" in texts[2]


@pytest.mark.parametrize("mode", MODES)
async def test_cancellation_reaches_the_server_and_the_session_goes_on(mode: str) -> None:
    with anyio.fail_after(30):
        async with Client(proxied(), mode=mode) as client:
            with pytest.raises(MCPError):
                # The SDK times the call out and sends notifications/cancelled through the proxy.
                await client.call_tool("slow", {"seconds": 20, "steps": 1}, read_timeout_seconds=0.5)
            stats: dict[str, int] = {}
            with anyio.fail_after(10):
                while stats.get("slow_cancelled", 0) < 1:
                    stats = (await client.call_tool("stats", {})).structured_content or {}
            assert stats["slow_started"] == 1
            assert stats["slow_completed"] == 0
            echoed = await client.call_tool("echo", {"text": "after cancel"})
            assert echoed.content[0].text == "after cancel"  # type: ignore[union-attr]
