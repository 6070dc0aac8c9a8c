"""The official MCP SDK client and server through ``mcpchaos proxy`` over real pipes."""

from __future__ import annotations

import sys

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.context import ClientRequestContext
from mcp.shared.exceptions import MCPError
from mcp.types import (
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequestParams,
    ElicitResult,
    ListRootsResult,
    LoggingMessageNotificationParams,
    Root,
    TextContent,
)

from tests.http.test_http_sdk import scripted_session

DEMO = [sys.executable, "-m", "mcpchaos", "demo-server"]
MODES = ["legacy", "auto"]


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
    progress_values: list[float] = []
    logs: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        progress_values.append(progress)

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        logs.append(str(params.data))

    with anyio.fail_after(30):
        async with Client(proxied(), mode=mode, logging_callback=on_log, log_level="debug") as client:
            result = await client.call_tool(
                "slow",
                {"seconds": 0.2, "steps": 4},
                progress_callback=on_progress,
            )
    assert result.content[0].text == "slept 0.2s"  # type: ignore[union-attr]
    assert progress_values == [1, 2, 3, 4]
    assert any("sleeping" in line for line in logs)


async def test_server_to_client_requests_pass_through_the_proxy() -> None:
    async def on_elicit(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        return ElicitResult(action="accept", content={"confirm": True})

    async def on_sample(
        context: ClientRequestContext, params: CreateMessageRequestParams
    ) -> CreateMessageResult:
        return CreateMessageResult(
            role="assistant", content=TextContent(type="text", text="sampled!"), model="m"
        )

    async def on_roots(context: ClientRequestContext) -> ListRootsResult:
        return ListRootsResult(roots=[Root(uri="file:///tmp/project")])

    with anyio.fail_after(30):
        async with Client(
            proxied(),
            mode="legacy",
            elicitation_callback=on_elicit,
            sampling_callback=on_sample,
            list_roots_callback=on_roots,
        ) as client:
            asked = await client.call_tool("ask_user", {"question": "Proceed?"})
            sampled = await client.call_tool("sample", {"prompt": "say something"})
            roots = await client.call_tool("list_client_roots", {})
    assert asked.content[0].text == "confirmed=True"  # type: ignore[union-attr]
    assert sampled.content[0].text == "sampled!"  # type: ignore[union-attr]
    assert "file:///tmp/project" in roots.content[0].text  # type: ignore[union-attr]


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
