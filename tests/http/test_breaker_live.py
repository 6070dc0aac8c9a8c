"""The circuit breaker against real upstream processes: opens, fails fast, half-opens, closes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import aiohttp
import anyio

from mcpchaos.intercept.chain import InterceptorChain
from mcpchaos.observe.metrics import Metrics
from mcpchaos.protocol import codes
from mcpchaos.proxy.breaker import BreakerConfig
from mcpchaos.proxy.http import HttpOptions, HttpProxy

from .servers import free_port, wait_for_port

HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "MCP-Protocol-Version": "2025-11-25",
}
PING = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}


def start_upstream(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mcpchaos",
            "demo-server",
            "--transport",
            "http",
            "--port",
            str(port),
            "--stateless",
            "--json-response",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    wait_for_port(port, process)
    return process


def kill(process: subprocess.Popen[bytes]) -> None:
    process.kill()
    process.wait()


async def post(http: aiohttp.ClientSession, url: str) -> tuple[int, int | None, float]:
    started = time.monotonic()
    async with http.post(url, json=PING, headers=HEADERS) as response:
        body = await response.json(content_type=None)
    error = body.get("error") if isinstance(body, dict) else None
    return response.status, (error or {}).get("code"), time.monotonic() - started


async def test_the_breaker_opens_fails_fast_half_opens_and_closes_on_recovery() -> None:
    port = free_port()
    upstream = start_upstream(port)
    chain = InterceptorChain()
    metrics = Metrics().observe(chain)
    breaker = BreakerConfig(failure_rate=0.5, window_s=30, min_requests=3, open_s=1.0, probes=1)
    proxy = HttpProxy(
        f"http://127.0.0.1:{port}/mcp", chain, HttpOptions(breaker=breaker, connect_timeout=1.0)
    )
    await proxy.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{proxy.port}/mcp"
    try:
        async with aiohttp.ClientSession() as http:
            assert (await post(http, url))[0] == 200
            kill(upstream)  # the upstream dies
            # 1 success + 2 failures in the window: 2/3 >= 0.5 with 3 outcomes → open
            failures = [await post(http, url) for _ in range(2)]
            assert [status for status, _, _ in failures] == [502, 502]
            assert proxy.breaker is not None
            assert proxy.breaker.state.value == "open"
            status, code, elapsed = await post(http, url)
            assert (status, code) == (503, codes.CIRCUIT_OPEN)  # fails fast, no connection attempt
            assert elapsed < 0.5
            upstream = start_upstream(port)  # the upstream comes back
            with anyio.fail_after(10):
                while (await post(http, url))[0] != 200:  # noqa: ASYNC110 - bounded retry
                    await anyio.sleep(0.1)
            assert proxy.breaker.state.value == "closed"
    finally:
        await proxy.stop()
        kill(upstream)
    transitions = [(t["from"], t["to"]) for t in metrics.as_dict()["breaker"]["transitions"]]
    assert ("closed", "open") in transitions
    assert ("open", "half_open") in transitions
    assert ("half_open", "closed") in transitions


async def test_upstream_death_under_load_answers_every_in_flight_request() -> None:
    port = free_port()
    upstream = start_upstream(port)
    proxy = HttpProxy(f"http://127.0.0.1:{port}/mcp", InterceptorChain(), HttpOptions(upstream_timeout=5))
    await proxy.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{proxy.port}/mcp"
    slow = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": "slow", "arguments": {"seconds": 30, "steps": 1}},
    }
    try:
        async with aiohttp.ClientSession() as http:

            async def one() -> int:
                async with http.post(url, json=slow, headers=HEADERS) as response:
                    await response.read()
                    return response.status

            calls = [asyncio.create_task(one()) for _ in range(20)]
            await asyncio.sleep(0.5)  # let them reach the server
            started = time.monotonic()
            kill(upstream)  # the upstream dies with 20 calls in flight
            with anyio.fail_after(5):  # nothing hangs
                statuses = await asyncio.gather(*calls)
            assert time.monotonic() - started < 5
    finally:
        await proxy.stop()
    assert statuses == [502] * 20


async def test_the_stdio_to_http_bridge_breaker_fails_fast_and_closes_on_recovery() -> None:
    from tests.rawpeer import RawProxy

    port = free_port()
    upstream = start_upstream(port)
    bridge = await RawProxy.start(
        [],
        "--upstream",
        f"http://127.0.0.1:{port}/mcp",
        "--breaker",
        "--breaker-min",
        "3",
        "--breaker-open",
        "1",
        "--breaker-probes",
        "1",
    )
    try:
        assert "result" in await bridge.request(1, "tools/list", {})
        kill(upstream)  # the upstream dies: 1 success + 2 failures → open
        for request_id in (2, 3):
            failed = await bridge.request(request_id, "tools/list", {})
            assert failed["error"]["code"] == codes.UPSTREAM_UNAVAILABLE
        started = time.monotonic()
        fast = await bridge.request(4, "tools/list", {})
        assert fast["error"]["code"] == codes.CIRCUIT_OPEN
        assert time.monotonic() - started < 0.5
        upstream = start_upstream(port)  # the upstream comes back; after 1 s a probe closes it
        with anyio.fail_after(10):
            for request_id in range(5, 1000):
                if "result" in await bridge.request(request_id, "tools/list", {}):
                    break
                await anyio.sleep(0.1)
        assert await bridge.close() == 0
        assert "circuit breaker toward" in bridge.stderr
        assert "half_open → closed" in bridge.stderr
    finally:
        await bridge.kill()
        kill(upstream)
