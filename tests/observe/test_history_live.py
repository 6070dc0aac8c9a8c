"""The history checker on real traffic: a fragile peer through the real proxy is caught, clean
sessions of both eras (official SDK client and server) pass, in the stdio and HTTP shapes."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anyio
import pytest
from mcp import Client, StdioServerParameters

from mcpchaos.cli.main import build_parser
from mcpchaos.cli.proxy_command import build_chain
from mcpchaos.config.faults import FaultConfig
from mcpchaos.faults.injector import FaultInjector
from mcpchaos.harness.control_client import ControlClient
from mcpchaos.harness.stack import free_port
from mcpchaos.history import check, tape
from mcpchaos.intercept.chain import InterceptorChain
from mcpchaos.observe.history import HistoryRecorder
from mcpchaos.proxy.http import HttpProxy
from tests.forkserver import DEMO_SERVER
from tests.http.servers import demo_http_server
from tests.rawpeer import FIXTURES, RawProxy
from tests.sdk_sessions import MODES

FRAGILE = [sys.executable, str(FIXTURES / "history_fragile_server.py")]
DEMO = DEMO_SERVER


async def _ctl(port: int, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mcpchaos", "ctl", "--control", str(port), "check", *args,
        stdout=asyncio.subprocess.PIPE, env=dict(os.environ),
    )  # fmt: skip
    async with asyncio.timeout(30):
        out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode()


async def _read_until(proxy: RawProxy, wanted: int) -> list[dict[str, Any]]:
    """Messages from the proxy until ``wanted`` of them answered or asked something."""
    seen: list[dict[str, Any]] = []
    while len(seen) < wanted:
        seen.append(await proxy.read())
    return seen


async def test_a_fragile_server_through_the_real_proxy_is_caught_by_ctl_check() -> None:
    port = free_port()
    proxy = await RawProxy.start(FRAGILE, "--history", "--control", str(port))
    try:
        await proxy.initialize()
        await proxy.send({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "twice"}})
        assert [m.get("id") for m in await _read_until(proxy, 2)] == [1, 1]
        params = {"name": "backwards", "_meta": {"progressToken": "tok"}}
        await proxy.send({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": params})
        seen = await _read_until(proxy, 3)
        assert [m.get("params", {}).get("progress") for m in seen[:2]] == [2, 1]
        await proxy.send({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "ask"}})
        seen = await _read_until(proxy, 3)
        assert [m.get("id") for m in seen] == ["p1", "p1", 3]
        await proxy.send({"jsonrpc": "2.0", "id": "p1", "result": {}})

        code, out = await _ctl(port, "--json")
        assert code == 1, out
        report = ControlReport(out)
        assert report.unexplained == {"one_response": 2, "progress_monotonic": 2, "no_id_reuse": 2}
        twice = report.first("one_response", "server")
        assert twice["session"] == "stdio-1"
        assert twice["ids"] == [1]
        assert len(twice["messages"]) == 3  # the request and both answers, by their ordinals
        assert report.first("no_id_reuse", "client")["ids"] == ["p1"]  # the server is the client's requester

        code, out = await _ctl(port)
        assert code == 1
        assert "no_id_reuse: session stdio-1 (client side)" in out
        assert "6 violation(s)" in out
    finally:
        await proxy.close()


class ControlReport:
    def __init__(self, text: str) -> None:
        import json

        self.data = json.loads(text)
        self.unexplained = self.data["unexplained_by_rule"]

    def first(self, rule: str, wire: str) -> dict[str, Any]:
        return next(v for v in self.data["violations"] if v["rule"] == rule and v["wire"] == wire)


async def _clean_session(client: Client) -> None:
    values: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        values.append(progress)

    await client.list_tools()
    await client.call_tool("echo", {"text": "hi"})
    await client.call_tool("slow", {"seconds": 0.05, "steps": 3}, progress_callback=on_progress)
    await client.call_tool("fail", {"message": "nope"})
    await client.read_resource("demo://info")
    await client.get_prompt("summarize", {"text": "chaos"})
    assert values == [1, 2, 3]


@pytest.mark.parametrize("mode", MODES)
async def test_a_clean_sdk_session_over_stdio_passes_the_checker_in_both_eras(mode: str) -> None:
    port = free_port()
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcpchaos", "proxy", "--history", "--control", str(port), "--", *DEMO],
        env=dict(os.environ),
    )
    control = ControlClient(f"http://127.0.0.1:{port}")
    try:
        with anyio.fail_after(30):
            async with Client(params, mode=mode) as client:
                await _clean_session(client)
                report = await control.history_check()
    finally:
        await control.close()
    assert report["violations"] == [], report["violations"]
    assert report["clean"]
    assert report["messages"] >= 2 * 14  # both wires of every request, response and progress
    assert report["unanswered_total"] == 0


@pytest.fixture(scope="module")
def demo_url() -> Any:
    with demo_http_server() as url:
        yield url


@pytest.fixture
async def recorded_proxy(demo_url: str) -> AsyncIterator[tuple[HttpProxy, HistoryRecorder]]:
    chain = InterceptorChain()
    recorder = chain.recorder = HistoryRecorder()
    proxy = HttpProxy(demo_url, chain)
    await proxy.start("127.0.0.1", 0)
    try:
        yield proxy, recorder
    finally:
        await proxy.stop()


@pytest.mark.parametrize("mode", MODES)
async def test_a_clean_sdk_session_over_http_passes_the_checker_in_both_eras(
    mode: str, recorded_proxy: tuple[HttpProxy, HistoryRecorder]
) -> None:
    proxy, recorder = recorded_proxy
    with anyio.fail_after(30):
        async with Client(f"http://127.0.0.1:{proxy.port}{proxy.mcp_path}", mode=mode) as client:
            await _clean_session(client)
    result = check(recorder.histories())
    assert result.violations == []
    assert result.messages >= 2 * 14
    if mode == "auto":  # 2026-07-28: each request is a session; its mirrored headers were checked
        headers = [
            e.meta["headers"]
            for h in recorder.histories()
            for e in h.view()
            if e.meta and "headers" in e.meta
        ]
        assert any(h.get("mcp-method") == "tools/call" and h.get("mcp-name") == "echo" for h in headers)


def test_without_history_the_chain_has_no_recorder_and_no_extra_interceptor() -> None:
    parser = build_parser()
    off, _ = build_chain(parser.parse_args(["proxy", "--", "x"]), controlled=True)
    on, _ = build_chain(parser.parse_args(["proxy", "--history", "--", "x"]), controlled=True)
    assert off.recorder is None
    assert isinstance(on.recorder, HistoryRecorder)
    assert [i.name for i in off.interceptors] == [i.name for i in on.interceptors] == ["faults"]


async def test_violations_an_injected_duplicate_causes_are_marked_induced_and_leave_the_check_clean(
    demo_url: str,
) -> None:
    config = FaultConfig.model_validate(
        {
            "fault_probability": 1.0,
            "enabled_faults": {"duplicate": True},
            "match": {"methods": ["tools/call"]},
            "seed": 1,
        }
    )
    injector = FaultInjector(config)
    chain = InterceptorChain([injector])
    recorder = chain.recorder = HistoryRecorder()
    injector.on_fault(recorder.fault)
    proxy = HttpProxy(demo_url, chain)
    await proxy.start("127.0.0.1", 0)
    try:
        with anyio.fail_after(30):
            async with Client(f"http://127.0.0.1:{proxy.port}{proxy.mcp_path}", mode="legacy") as client:
                await client.call_tool("echo", {"text": "twice"})
    finally:
        await proxy.stop()
    result = check(recorder.histories())
    assert injector.injected == 1
    assert result.violations, "a duplicated request reuses its id in flight on the server side"
    assert all(v.induced for v in result.violations)
    assert "no_id_reuse" in result.counts(True)
    assert result.clean


async def test_the_stdio_to_http_bridge_records_both_sides_too(demo_url: str) -> None:
    port = free_port()
    proxy = await RawProxy.start([], "--upstream", demo_url, "--history", "--control", str(port))
    control = ControlClient(f"http://127.0.0.1:{port}")
    try:
        await proxy.initialize()
        listed = await proxy.request(1, "tools/list")
        assert listed["result"]["tools"]
        report = await control.history_check()
        live = tape.parse((await control.history_tape()).splitlines())  # GET /history?format=tape
    finally:
        await control.close()
        await proxy.close()
    assert report["clean"], report["violations"]
    assert report["sessions"] == 1
    assert live.sessions() == [1]
    assert isinstance(live.header["t0"], float)
    assert {line["wire"] for line in live.lines if line.get("method") == "tools/list"} == {"client", "server"}
    assert (
        report["messages"] >= 2 * 3
    )  # initialize, its result, initialized, tools/list, its result: both sides


async def test_the_proxys_own_error_answer_is_the_client_sides_response() -> None:
    # Nothing listens upstream: the proxy answers the call itself (-32010), which no pump writes.
    chain = InterceptorChain()
    recorder = chain.recorder = HistoryRecorder()
    proxy = HttpProxy(f"http://127.0.0.1:{free_port()}/mcp", chain)
    await proxy.start("127.0.0.1", 0)
    call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "echo", "arguments": {}}}
    call["params"]["_meta"] = {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}  # type: ignore[index]
    headers = {
        "Accept": "application/json, text/event-stream",
        "Mcp-Method": "tools/call",
        "Mcp-Name": "echo",
    }
    try:
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{proxy.port}{proxy.mcp_path}"
            async with asyncio.timeout(30), http.post(url, json=call, headers=headers) as response:
                assert response.status == 502
                answer = await response.json()
    finally:
        await proxy.stop()
    assert answer["id"] == 7
    result = check(recorder.histories())
    client_side = [u for u in result.unanswered if u.wire == "client"]
    assert client_side == []  # the client was answered: the history says so
    assert result.as_dict()["unanswered_by_wire"].get("client", 0) == 0
