"""Both bridges with the official SDK client and server: HTTP → stdio and stdio → HTTP."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anyio
import psutil
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.context import ClientRequestContext
from mcp.types import ElicitRequestParams, ElicitResult, TextContent

from mcpchaos.protocol import codes
from mcpchaos.proxy.http_to_stdio import HttpToStdioBridge
from tests.forkserver import DEMO_SERVER
from tests.http.mcp import HEADERS, INITIALIZE
from tests.sdk_sessions import MODES, scripted_session

DEMO = DEMO_SERVER


@pytest.fixture
async def bridge() -> AsyncIterator[HttpToStdioBridge]:
    server = HttpToStdioBridge(DEMO)
    await server.start("127.0.0.1", 0)
    try:
        yield server
    finally:
        await server.stop()


def bridge_url(server: HttpToStdioBridge) -> str:
    return f"http://127.0.0.1:{server.port}/mcp"


def text_of(result: Any) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


def server_children() -> set[int]:
    return {
        p.pid for p in psutil.Process().children(recursive=True) if "demo-server" in " ".join(p.cmdline())
    }


@pytest.mark.parametrize("mode", MODES)
async def test_an_http_client_in_front_of_a_stdio_server_sees_what_a_stdio_client_sees(
    bridge: HttpToStdioBridge, mode: str
) -> None:
    via_bridge = await scripted_session(bridge_url(bridge), mode)
    direct = await scripted_session(StdioServerParameters(command=DEMO[0], args=DEMO[1:]), mode)
    assert via_bridge == direct


async def test_bridge_sessions_never_share_a_process(bridge: HttpToStdioBridge) -> None:
    with anyio.fail_after(30):
        async with (
            Client(bridge_url(bridge), mode="legacy") as first,
            Client(bridge_url(bridge), mode="legacy") as second,
        ):
            await first.call_tool("slow", {"seconds": 0.01, "steps": 1})
            first_stats = (await first.call_tool("stats", {})).structured_content
            second_stats = (await second.call_tool("stats", {})).structured_content
            assert len(bridge.sessions) == 2
    assert first_stats is not None
    assert second_stats is not None
    assert first_stats["slow_started"] == 1
    assert second_stats["slow_started"] == 0


async def test_sessionless_clients_share_a_process_but_never_each_others_answers(
    bridge: HttpToStdioBridge,
) -> None:
    async def client_run(name: str) -> list[str]:
        async with Client(bridge_url(bridge)) as client:  # 2026-07-28: no session
            return [text_of(await client.call_tool("echo", {"text": f"{name}-{i}"})) for i in range(15)]

    with anyio.fail_after(60):
        results = await asyncio.gather(*(client_run(name) for name in ("a", "b", "c")))
    for name, texts in zip(("a", "b", "c"), results, strict=True):
        assert texts == [f"{name}-{i}" for i in range(15)]
    assert len(bridge.sessions) == 0


async def test_server_to_client_requests_cross_the_http_to_stdio_bridge(bridge: HttpToStdioBridge) -> None:
    async def on_elicit(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        return ElicitResult(action="accept", content={"confirm": False})

    with anyio.fail_after(30):
        async with Client(bridge_url(bridge), mode="legacy", elicitation_callback=on_elicit) as client:
            assert text_of(await client.call_tool("ask_user", {"question": "sure?"})) == "confirmed=False"


async def test_delete_stops_the_session_process_and_a_crashed_one_answers_404(
    bridge: HttpToStdioBridge,
) -> None:
    before = server_children()
    url = bridge_url(bridge)
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=INITIALIZE, headers=HEADERS) as response:
            session_id = response.headers["Mcp-Session-Id"]
            await response.read()
        assert len(server_children() - before) == 1
        session = {**HEADERS, "Mcp-Session-Id": session_id}
        async with http.delete(url, headers=session) as response:
            assert response.status == 200
        assert server_children() == before

        async with http.post(url, json=INITIALIZE, headers=HEADERS) as response:
            session = {**HEADERS, "Mcp-Session-Id": response.headers["Mcp-Session-Id"]}
            await response.read()
        crash = {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "fail", "arguments": {"mode": "crash"}},
        }
        async with http.post(url, json=crash, headers=session) as response:
            body = await response.read()
        assert str(codes.UPSTREAM_UNAVAILABLE).encode() in body
        ping = {"jsonrpc": "2.0", "id": 3, "method": "ping"}
        async with http.post(url, json=ping, headers=session) as response:
            assert response.status == 404


@pytest.mark.parametrize("mode", MODES)
async def test_a_stdio_client_in_front_of_an_http_server_sees_what_an_http_client_sees(
    upstream_url: str, mode: str
) -> None:
    bridge_params = StdioServerParameters(
        command=sys.executable, args=["-m", "mcpchaos", "proxy", "--upstream", upstream_url]
    )
    via_bridge = await scripted_session(bridge_params, mode)
    direct = await scripted_session(upstream_url, mode)
    assert via_bridge == direct


async def test_server_to_client_requests_cross_the_stdio_to_http_bridge(stateful_url: str) -> None:
    async def on_elicit(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        return ElicitResult(action="accept", content={"confirm": True})

    params = StdioServerParameters(
        command=sys.executable, args=["-m", "mcpchaos", "proxy", "--upstream", stateful_url]
    )
    with anyio.fail_after(30):
        async with Client(params, mode="legacy", elicitation_callback=on_elicit) as client:
            assert text_of(await client.call_tool("ask_user", {"question": "sure?"})) == "confirmed=True"


async def test_the_http_to_stdio_bridge_limits_connections_too() -> None:
    from mcpchaos.proxy.http import HttpOptions

    server = HttpToStdioBridge(DEMO, options=HttpOptions(max_connections=1))
    await server.start("127.0.0.1", 0)
    try:
        _, kept = await asyncio.open_connection("127.0.0.1", server.port)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        answer = await asyncio.wait_for(reader.read(4096), 5)
        assert answer.startswith(b"HTTP/1.1 503")
        assert str(codes.TOO_MANY_CONNECTIONS).encode() in answer
        writer.close()
        kept.close()
    finally:
        await server.stop()


@pytest.mark.parametrize("expiry", ["idle", "max_age"])
async def test_an_expired_bridge_session_stops_its_process_and_answers_404(expiry: str) -> None:
    from mcpchaos.intercept.chain import InterceptorChain
    from mcpchaos.observe.metrics import Metrics
    from mcpchaos.proxy.http import HttpOptions

    chain = InterceptorChain()
    metrics = Metrics().observe(chain)
    # Long enough that the session outlives the process scan just below on a loaded machine
    # (0.5 s idle beat it 2 runs in 10 at load 6-9).
    limit = {"session_idle_timeout": 3.0} if expiry == "idle" else {"session_max_age": 5.0}
    server = HttpToStdioBridge(DEMO, chain, HttpOptions(**limit))  # type: ignore[arg-type]
    await server.start("127.0.0.1", 0)
    before = server_children()
    url = bridge_url(server)
    ping = {"jsonrpc": "2.0", "id": 3, "method": "ping"}
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(url, json=INITIALIZE, headers=HEADERS) as response:
                session = {**HEADERS, "Mcp-Session-Id": response.headers["Mcp-Session-Id"]}
                await response.read()
            assert len(server_children() - before) == 1
            async with asyncio.timeout(10):
                if expiry == "idle":
                    while server.expired == 0:  # noqa: ASYNC110 - bounded wait for the sweep
                        await asyncio.sleep(0.05)
                else:  # used all along: only its age ends it
                    while True:
                        async with http.post(url, json=ping, headers=session) as response:
                            if response.status == 404:
                                break
                            assert response.status == 200
                        await asyncio.sleep(0.05)
            async with http.post(url, json=ping, headers=session) as response:
                assert response.status == 404
            async with asyncio.timeout(10):
                while server_children() != before:  # noqa: ASYNC110 - bounded wait for the stop
                    await asyncio.sleep(0.05)
            # Counted before the fresh session below, which a loaded machine may keep past 3 s.
            assert server.expired == 1
            assert metrics.as_dict()["sessions"]["expired"] == 1
            async with http.post(url, json=INITIALIZE, headers=HEADERS) as response:
                assert response.status == 200  # the client starts over with a fresh process
    finally:
        await server.stop()


async def test_an_injected_disconnect_on_the_bridge_logs_no_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from mcpchaos.intercept.chain import InterceptorChain
    from mcpchaos.intercept.context import Context
    from mcpchaos.intercept.effects import Disconnect, Effects
    from mcpchaos.protocol.messages import Message

    class CutToolCalls:
        name = "cut"

        def intercept(self, message: Message, ctx: Context) -> Effects | None:
            return [Disconnect("test")] if message.method == "tools/call" else None

    server = HttpToStdioBridge(DEMO, InterceptorChain([CutToolCalls()]))
    await server.start("127.0.0.1", 0)
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "echo", "arguments": {}}}
    try:
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.ClientError):
                async with http.post(bridge_url(server), json=call, headers=HEADERS) as response:
                    await response.read()
    finally:
        await server.stop()
    assert [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []


TINY_SERVER = """
import json, sys
for line in sys.stdin:
    message = json.loads(line)
    if message.get("method") == "initialize":
        info = {"name": "t", "version": "0"}
        result = {"protocolVersion": "2025-11-25", "capabilities": {}, "serverInfo": info}
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}) + "\\n")
        sys.stdout.flush()
"""
"""Answers ``initialize`` and nothing else: starts in milliseconds (no SDK import)."""


async def test_the_bridge_starts_at_most_max_processes_servers_and_counts_them() -> None:
    from mcpchaos.intercept.chain import InterceptorChain
    from mcpchaos.observe.metrics import Metrics
    from mcpchaos.proxy.http_to_stdio import BridgeOptions

    chain = InterceptorChain()
    metrics = Metrics().observe(chain)
    server = HttpToStdioBridge(
        [sys.executable, "-c", TINY_SERVER], chain, bridge=BridgeOptions(max_processes=2)
    )
    await server.start("127.0.0.1", 0)
    url = bridge_url(server)
    try:
        async with aiohttp.ClientSession() as http:
            sessions = []
            for _ in range(2):
                async with http.post(url, json=INITIALIZE, headers=HEADERS) as response:
                    assert response.status == 200
                    sessions.append(response.headers["Mcp-Session-Id"])
                    await response.read()
            async with http.delete(url, headers={**HEADERS, "Mcp-Session-Id": sessions[0]}) as response:
                assert response.status == 200
            async with asyncio.timeout(10):
                while metrics.as_dict()["server_processes"]["alive"] != 1:  # noqa: ASYNC110 - bounded
                    await asyncio.sleep(0.05)
            # One process is free again, but the bound is on the processes started, over the life.
            async with http.post(url, json=INITIALIZE, headers=HEADERS) as response:
                assert response.status == 502
                body = await response.text()
            assert "2 server processes started, the limit (--max-server-processes 2)" in body
    finally:
        await server.stop()
    counted = metrics.as_dict()["server_processes"]
    assert (counted["started"], counted["refused"]) == (2, 1)
    assert "mcpchaos_server_processes_total" in metrics.prometheus().decode()
