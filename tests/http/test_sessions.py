"""The session manager: LRU eviction and idle expiry answer 404, end the upstream session,
and the client can initialize again."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp import web

from mcpchaos.intercept.chain import InterceptorChain
from mcpchaos.intercept.context import Context
from mcpchaos.intercept.effects import Drop, Effects
from mcpchaos.observe.metrics import Metrics
from mcpchaos.protocol.messages import Direction, Kind, Message
from mcpchaos.proxy.breaker import BreakerConfig, BreakerState
from mcpchaos.proxy.http import HttpOptions, HttpProxy
from tests.http.mcp import HEADERS, INITIALIZE


async def initialize(http: aiohttp.ClientSession, url: str) -> str:
    async with http.post(url, json=INITIALIZE, headers=HEADERS) as response:
        await response.read()
        return response.headers["Mcp-Session-Id"]


async def ping(http: aiohttp.ClientSession, url: str, session_id: str) -> tuple[int, Any]:
    headers = {**HEADERS, "Mcp-Session-Id": session_id, "MCP-Protocol-Version": "2025-11-25"}
    async with http.post(
        url, json={"jsonrpc": "2.0", "id": 2, "method": "ping"}, headers=headers
    ) as response:
        return response.status, await response.read()


async def test_the_least_recently_used_session_is_evicted_and_answers_404(stateful_url: str) -> None:
    chain = InterceptorChain()
    metrics = Metrics().observe(chain)
    proxy = HttpProxy(stateful_url, chain, HttpOptions(max_sessions=2))
    await proxy.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{proxy.port}/mcp"
    try:
        async with aiohttp.ClientSession() as http:
            first = await initialize(http, url)
            second = await initialize(http, url)
            assert (await ping(http, url, first))[0] == 200  # first is now the most recent
            third = await initialize(http, url)  # evicts second
            status, body = await ping(http, url, second)
            assert status == 404
            assert b"initialize again" in body
            assert (await ping(http, url, first))[0] == 200
            assert (await ping(http, url, third))[0] == 200
            fourth = await initialize(http, url)  # the client starts over
            assert (await ping(http, url, fourth))[0] == 200
            # The proxy ended the evicted session at the upstream too.
            async with asyncio.timeout(5):
                while (await ping_upstream(http, stateful_url, second)) != 404:  # noqa: ASYNC110 - bounded
                    await asyncio.sleep(0.05)
    finally:
        await proxy.stop()
    assert metrics.as_dict()["sessions"]["evicted"] == 2


async def ping_upstream(http: aiohttp.ClientSession, url: str, session_id: str) -> int:
    return (await ping(http, url, session_id))[0]


async def test_an_idle_session_expires_and_answers_404(stateful_url: str) -> None:
    chain = InterceptorChain()
    metrics = Metrics().observe(chain)
    proxy = HttpProxy(stateful_url, chain, HttpOptions(session_idle_timeout=0.3))
    await proxy.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{proxy.port}/mcp"
    try:
        async with aiohttp.ClientSession() as http:
            session_id = await initialize(http, url)
            assert (await ping(http, url, session_id))[0] == 200
            async with asyncio.timeout(5):
                while proxy.sessions.expired == 0:  # noqa: ASYNC110 - bounded wait for the sweep
                    await asyncio.sleep(0.05)
            assert (await ping(http, url, session_id))[0] == 404
    finally:
        await proxy.stop()
    assert metrics.as_dict()["sessions"]["expired"] == 1


async def test_a_session_older_than_the_maximum_age_expires_although_in_use(stateful_url: str) -> None:
    chain = InterceptorChain()
    metrics = Metrics().observe(chain)
    proxy = HttpProxy(stateful_url, chain, HttpOptions(session_max_age=0.5))
    await proxy.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{proxy.port}/mcp"
    try:
        async with aiohttp.ClientSession() as http:
            session_id = await initialize(http, url)
            async with asyncio.timeout(5):
                # Used all the time, so never idle: only its age ends it.
                while (status := (await ping(http, url, session_id))[0]) == 200:  # noqa: ASYNC110 - bounded
                    await asyncio.sleep(0.05)
            assert status == 404
            fresh = await initialize(http, url)
            assert (await ping(http, url, fresh))[0] == 200
            # The proxy ended the old session at the upstream too.
            async with asyncio.timeout(5):
                while (await ping_upstream(http, stateful_url, session_id)) != 404:  # noqa: ASYNC110 - bounded
                    await asyncio.sleep(0.05)
    finally:
        await proxy.stop()
    assert metrics.as_dict()["sessions"]["expired"] >= 1
    assert b"mcpchaos_sessions_expired_total" in metrics.prometheus()


async def test_a_session_the_upstream_lost_is_forgotten_at_once(stateful_url: str) -> None:
    chain = InterceptorChain()
    metrics = Metrics().observe(chain)
    proxy = HttpProxy(stateful_url, chain, HttpOptions(session_idle_timeout=3600))
    await proxy.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{proxy.port}/mcp"
    try:
        async with aiohttp.ClientSession() as http:
            session_id = await initialize(http, url)
            assert (await ping(http, url, session_id))[0] == 200
            # The upstream loses the session behind the proxy's back (as a restart would).
            headers = {"Mcp-Session-Id": session_id, "MCP-Protocol-Version": "2025-11-25"}
            async with http.delete(stateful_url, headers=headers) as response:
                assert response.status < 300
            status, body = await ping(http, url, session_id)
            assert status == 404  # the upstream's own 404, relayed
            assert b"ended by the proxy" not in body
            assert session_id not in proxy.sessions
            status, body = await ping(http, url, session_id)
            assert status == 404
            assert b"ended by the proxy" in body
            fresh = await initialize(http, url)
            assert (await ping(http, url, fresh))[0] == 200
    finally:
        await proxy.stop()
    assert proxy.sessions.lost_count == 1
    assert metrics.as_dict()["sessions"]["expired"] == 1


class HideServerNotifications:
    """Drops the upstream's notifications (the ``slow`` tool's log and progress), so a request
    in flight has sent nothing to its client yet; ``started`` is set at the first one."""

    name = "hide-notifications"

    def __init__(self) -> None:
        self.started = asyncio.Event()

    def intercept(self, message: Message, ctx: Context) -> Effects | None:
        if ctx.direction is Direction.SERVER_TO_CLIENT and message.kind is Kind.NOTIFICATION:
            self.started.set()
            return [Drop("test")]
        return None


def slow_call(seconds: float) -> dict[str, Any]:
    arguments = {"seconds": seconds, "steps": 1}
    return {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": "slow", "arguments": arguments},
    }


async def call_in_session(http: aiohttp.ClientSession, url: str, session_id: str) -> tuple[int, bytes]:
    """A long ``slow`` call in ``session_id``: its status and the whole body (JSON or SSE)."""
    headers = {**HEADERS, "Mcp-Session-Id": session_id, "MCP-Protocol-Version": "2025-11-25"}
    async with http.post(url, json=slow_call(30), headers=headers) as response:
        return response.status, await response.read()


async def test_a_request_in_flight_when_its_session_is_evicted_is_answered_404(stateful_url: str) -> None:
    hide = HideServerNotifications()
    proxy = HttpProxy(stateful_url, InterceptorChain([hide]), HttpOptions(max_sessions=1))
    await proxy.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{proxy.port}/mcp"
    try:
        async with aiohttp.ClientSession() as http:
            first = await initialize(http, url)
            call = asyncio.create_task(call_in_session(http, url, first))
            async with asyncio.timeout(5):
                await hide.started.wait()  # the call runs upstream; its client has no headers yet
                await initialize(http, url)  # evicts the first session: the proxy ends it upstream
                status, body = await call
            assert status == 404
            assert b"initialize again" in body
            assert b'"id":7' in body
    finally:
        await proxy.stop()


async def test_a_request_whose_stream_started_gets_an_error_when_its_session_is_evicted(
    stateful_url: str,
) -> None:
    proxy = HttpProxy(stateful_url, InterceptorChain(), HttpOptions(max_sessions=1))
    await proxy.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{proxy.port}/mcp"
    try:
        async with aiohttp.ClientSession() as http:
            first = await initialize(http, url)
            headers = {**HEADERS, "Mcp-Session-Id": first, "MCP-Protocol-Version": "2025-11-25"}
            async with asyncio.timeout(5), http.post(url, json=slow_call(30), headers=headers) as response:
                assert response.status == 200  # the tool's log notification started the stream
                await response.content.readuntil(b"\n\n")
                await initialize(http, url)  # evicts the first session
                rest = await response.read()
            assert b'"id":7' in rest
            assert b"initialize again" in rest
    finally:
        await proxy.stop()


async def test_a_request_in_flight_when_its_session_reaches_its_max_age_is_answered_404(
    stateful_url: str,
) -> None:
    hide = HideServerNotifications()
    proxy = HttpProxy(stateful_url, InterceptorChain([hide]), HttpOptions(session_max_age=0.5))
    await proxy.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{proxy.port}/mcp"
    try:
        async with aiohttp.ClientSession() as http:
            session_id = await initialize(http, url)
            async with asyncio.timeout(5):
                status, body = await call_in_session(http, url, session_id)
            assert hide.started.is_set()
            assert status == 404
            assert b"initialize again" in body
    finally:
        await proxy.stop()


async def test_a_session_busy_with_a_long_request_is_not_idle(stateful_url: str) -> None:
    # The call takes 1.5 s, three idle timeouts: it is use, not idleness, so it completes.
    proxy = HttpProxy(stateful_url, options=HttpOptions(session_idle_timeout=0.5))
    await proxy.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{proxy.port}/mcp"
    headers_for = {**HEADERS, "MCP-Protocol-Version": "2025-11-25"}
    try:
        async with aiohttp.ClientSession() as http:
            session_id = await initialize(http, url)
            headers = {**headers_for, "Mcp-Session-Id": session_id}
            async with asyncio.timeout(10):
                async with http.post(url, json=slow_call(1.5), headers=headers) as response:
                    assert response.status == 200
                    assert b"slept 1.5s" in await response.read()
                assert proxy.sessions.expired == 0
                # Idle from the end of that call on: it expires like any idle session.
                async with asyncio.timeout(5):
                    while proxy.sessions.expired == 0:  # noqa: ASYNC110 - bounded, swept every 0.5 s or so
                        await asyncio.sleep(0.05)
    finally:
        await proxy.stop()


class CuttingUpstream:
    """A Streamable HTTP upstream whose DELETE cuts the session's open stream abruptly (no
    answer, a broken chunked body): what some servers do when a session ends under a request."""

    def __init__(self) -> None:
        self.deleted: dict[str, asyncio.Event] = {}
        self.sessions = 0
        self.streaming = asyncio.Event()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method == "DELETE":
            self.deleted[request.headers["Mcp-Session-Id"]].set()
            return web.Response(status=200)
        body = await request.json()
        if body["method"] == "initialize":
            self.sessions += 1
            session_id = f"s{self.sessions}"
            self.deleted[session_id] = asyncio.Event()
            answer = {"jsonrpc": "2.0", "id": body["id"], "result": {"protocolVersion": "2025-11-25"}}
            return web.json_response(answer, headers={"Mcp-Session-Id": session_id})
        if "id" not in body:
            return web.Response(status=202)
        stream = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await stream.prepare(request)
        await stream.write(b": working\n\n")
        self.streaming.set()
        await self.deleted[request.headers["Mcp-Session-Id"]].wait()
        assert request.transport is not None
        request.transport.abort()  # cut, mid-body
        return stream


async def test_an_upstream_cutting_an_evicted_sessions_stream_is_no_breaker_failure() -> None:
    upstream = CuttingUpstream()
    app = web.Application()
    app.router.add_route("*", "/mcp", upstream.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    breaker = BreakerConfig(failure_rate=0.5, min_requests=1, window_s=10, open_s=10, probes=1)
    proxy = HttpProxy(f"http://127.0.0.1:{port}/mcp", options=HttpOptions(max_sessions=1, breaker=breaker))
    await proxy.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{proxy.port}/mcp"
    try:
        async with aiohttp.ClientSession() as http:
            first = await initialize(http, url)
            headers = {**HEADERS, "Mcp-Session-Id": first, "MCP-Protocol-Version": "2025-11-25"}
            call = asyncio.create_task(http.post(url, json=slow_call(30), headers=headers))
            async with asyncio.timeout(5):
                await upstream.streaming.wait()
                await initialize(http, url)  # evicts the first session; the proxy DELETEs it
                response = await call
                body = await response.read()
            assert b"initialize again" in body  # 404, or the error on the started stream
            assert proxy.breaker is not None
            assert proxy.breaker.state is BreakerState.CLOSED
    finally:
        await proxy.stop()
        await runner.cleanup()
