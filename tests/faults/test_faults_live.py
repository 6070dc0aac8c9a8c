"""Every fault kind through the real proxy, with the official SDK client and server, on
stdio and on Streamable HTTP: what the client observes, and what the fault log says."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import TextContent

from mcpchaos.config.faults import FaultConfig
from mcpchaos.config.load import validate
from mcpchaos.faults.injector import FaultInjector
from mcpchaos.intercept.chain import InterceptorChain
from mcpchaos.protocol import codes
from mcpchaos.proxy.http import HttpProxy
from tests.faults.live import Scenario, on_http, on_stdio, rule
from tests.http.mcp import HEADERS


@pytest.fixture(params=["stdio", "http"])
def run(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Callable[[dict[str, Any], Scenario], Awaitable[Any]]:
    if request.param == "stdio":
        return lambda config, scenario: on_stdio(config, scenario, tmp_path)
    upstream = request.getfixturevalue("stateful_url")
    return lambda config, scenario: on_http(config, scenario, upstream)


def text(result: Any) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


async def echo_error(client: Client) -> Any:
    try:
        return await client.call_tool("echo", {"text": "x"}, read_timeout_seconds=5)
    except MCPError as exc:
        return exc.error


async def test_delay_holds_the_message_and_the_answer_still_comes(run: Any) -> None:
    async def scenario(client: Client) -> tuple[float, str]:
        started = time.monotonic()
        result = await client.call_tool("echo", {"text": "late"})
        return time.monotonic() - started, text(result)

    (elapsed, answer), records = await run(
        rule({"delay": True}, delay_ms={"min_ms": 300, "max_ms": 300}), scenario
    )
    assert answer == "late"
    assert elapsed >= 0.3
    assert [r["fault"] for r in records] == ["delay"]
    assert records[0]["params"]["delay_ms"] == 300


async def test_a_delay_of_d_makes_a_call_of_about_d_not_twice_d(run: Any) -> None:
    # The top level at p = 1, no match: every call is delayed once (its request), not its answer.
    delay = 0.4

    async def scenario(client: Client) -> list[float]:
        await client.list_tools()  # the SDK's own tools/list before a first call, out of the timing
        took = []
        for i in range(4):
            started = time.monotonic()
            await client.call_tool("echo", {"text": f"d{i}"})
            took.append(time.monotonic() - started)
        return took

    config = {
        "seed": 1,
        "fault_probability": 1.0,
        "enabled_faults": {"delay": True},
        "delay_ms": {"min_ms": delay * 1000, "max_ms": delay * 1000},
    }
    took, records = await run(config, scenario)
    assert all(delay <= t < 1.5 * delay + 0.15 for t in took), took
    assert [(r["direction"], r["method"]) for r in records] == [("client_to_server", "tools/list")] + [
        ("client_to_server", "tools/call")
    ] * 4


async def test_an_injected_error_reaches_the_client_marked_as_injected(run: Any) -> None:
    error, records = await run(rule({"error": True}, error_config={"types": ["internal_error"]}), echo_error)
    assert error.code == codes.INTERNAL_ERROR
    assert error.data["mcpchaos"]["injected"] is True
    assert records[0]["params"]["error_type"] == "internal_error"


async def test_corruption_reaches_the_server_which_rejects_the_method(run: Any) -> None:
    config = rule({"corruption": True}, corruption_config={"modes": ["method_suffix"]})
    error, records = await run(config, echo_error)
    assert error.code == codes.METHOD_NOT_FOUND  # the server saw tools/call_corrupted
    assert records[0]["params"]["mode"] == "method_suffix"


async def test_a_dropped_request_is_never_answered_so_the_client_times_out(run: Any) -> None:
    async def scenario(client: Client) -> str:
        with pytest.raises(MCPError):
            await client.call_tool("echo", {"text": "lost"}, read_timeout_seconds=0.5)
        return text(await client.call_tool("payload", {"size_bytes": 4}))

    after, records = await run(rule({"drop": True}), scenario)
    assert after == "mcpc"  # the session goes on
    assert [r["fault"] for r in records] == ["drop"]


async def test_a_duplicated_request_reaches_the_server_twice(run: Any) -> None:
    async def scenario(client: Client) -> int:
        # The demo server may be shared with earlier tests: count from what it says now.
        before = ((await client.call_tool("stats", {})).structured_content or {}).get("slow_started", 0)
        await client.call_tool("slow", {"seconds": 0.05, "steps": 1})
        stats: dict[str, Any] = {}
        with anyio.fail_after(5):
            while stats.get("slow_started", 0) < before + 2:
                stats = (await client.call_tool("stats", {})).structured_content or {}
        started: int = stats["slow_started"] - before
        return started

    started, records = await run(rule({"duplicate": True}, tools=("slow",)), scenario)
    assert started == 2
    assert [r["fault"] for r in records] == ["duplicate"]


async def test_a_duplicated_response_is_survived_by_the_client(run: Any) -> None:
    async def scenario(client: Client) -> list[str]:
        return [text(await client.call_tool("echo", {"text": f"n{i}"})) for i in range(3)]

    answers, records = await run(rule({"duplicate": True}, classes=("server_response",)), scenario)
    assert answers == ["n0", "n1", "n2"]
    assert len(records) == 3


async def test_reordered_requests_both_get_their_answers(run: Any) -> None:
    async def scenario(client: Client) -> list[str]:
        results: dict[str, str] = {}

        async def one(name: str) -> None:
            results[name] = text(await client.call_tool("echo", {"text": name}))

        async with anyio.create_task_group() as group:
            group.start_soon(one, "a")
            group.start_soon(one, "b")
        return sorted(results.values())

    config = rule({"reorder": True}, reorder={"max_hold_ms": 2000})
    config["rules"][0]["match"]["first_n"] = 1
    answers, records = await run(config, scenario)
    assert answers == ["a", "b"]
    assert [r["fault"] for r in records] == ["reorder"]


async def test_a_cpu_spike_stalls_the_proxy_but_the_call_completes(run: Any) -> None:
    async def scenario(client: Client) -> tuple[float, str]:
        started = time.monotonic()
        answer = text(await client.call_tool("echo", {"text": "burn"}))
        return time.monotonic() - started, answer

    config = rule(
        {"resource_exhaustion": True}, resource_exhaustion={"memory_spike": False, "cpu_spike_ms": 200}
    )
    (elapsed, answer), records = await run(config, scenario)
    assert answer == "burn"
    assert elapsed >= 0.2
    assert records[0]["params"] == {"spike": "cpu", "ms": 200.0, "mode": "event_loop"}


@pytest.mark.parametrize(
    ("error_type", "status", "header"),
    [("rate_limited", 429, "Retry-After"), ("unauthorized", 401, "WWW-Authenticate")],
)
async def test_on_http_errors_take_their_transport_form(
    stateful_url: str, error_type: str, status: int, header: str
) -> None:
    import aiohttp

    config = rule({"error": True}, error_config={"types": [error_type], "retry_after_s": 3})
    proxy = HttpProxy(stateful_url, InterceptorChain([FaultInjector(validate(FaultConfig, config))]))
    await proxy.start("127.0.0.1", 0)
    body = {
        "jsonrpc": "2.0",
        "id": 5,
        "method": "tools/call",
        "params": {"name": "echo", "arguments": {"text": "x"}},
    }
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"http://127.0.0.1:{proxy.port}/mcp", json=body, headers=HEADERS) as response,
        ):
            assert response.status == status
            assert header in response.headers
            answer = await response.json()
        assert answer["id"] == 5
        assert answer["error"]["data"]["mcpchaos"]["error_type"] == error_type
    finally:
        await proxy.stop()


async def test_on_http_connection_refused_closes_the_connection(stateful_url: str) -> None:
    import aiohttp

    config = rule({"error": True}, error_config={"types": ["connection_refused"]})
    proxy = HttpProxy(stateful_url, InterceptorChain([FaultInjector(validate(FaultConfig, config))]))
    await proxy.start("127.0.0.1", 0)
    body = {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "echo", "arguments": {}}}
    try:
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.ClientError):
                async with http.post(
                    f"http://127.0.0.1:{proxy.port}/mcp", json=body, headers={"Accept": "application/json"}
                ) as response:
                    await response.read()
    finally:
        await proxy.stop()
