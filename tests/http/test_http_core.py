"""The HTTP/1.1 core under real clients: pipelining, chunked bodies, 100-continue, clients
that leave mid-stream, empty and oversized SSE answers; and the 2026-07-28 features the
official SDK drives (multi-round-trip requests, subscriptions/listen) through every HTTP shape."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp.types import ElicitRequestParams, ElicitResult, TextContent

from mcpchaos.protocol import codes
from mcpchaos.proxy.http import HttpOptions, HttpProxy
from mcpchaos.proxy.http_to_stdio import BridgeOptions, HttpToStdioBridge
from tests.forkserver import DEMO_SERVER

from .conftest import url_of
from .recording_upstream import RecordingUpstream
from .servers import demo_http_server

DEMO = DEMO_SERVER


@pytest.fixture
async def proxy(upstream: RecordingUpstream) -> AsyncIterator[HttpProxy]:
    server = HttpProxy(upstream.url, None, HttpOptions(max_message_bytes=1_000_000))
    await server.start("127.0.0.1", 0)
    try:
        yield server
    finally:
        await server.stop()


def post_bytes(body: dict[str, Any], extra: str = "", chunked: bool = False) -> bytes:
    raw = json.dumps(body).encode()
    head = (
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Accept: application/json, text/event-stream\r\n" + extra
    )
    if chunked:
        half = len(raw) // 2
        parts = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (half, raw[:half], len(raw) - half, raw[half:])
        return (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + parts
    return (head + f"Content-Length: {len(raw)}\r\n\r\n").encode() + raw


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One whole HTTP/1.1 response (Content-Length or chunked) from a raw connection."""
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        return status, headers, await reader.readexactly(int(headers["content-length"]))
    body = b""
    while True:
        size = int((await reader.readline()).strip(), 16)
        if size == 0:
            await reader.readline()
            return status, headers, body
        body += await reader.readexactly(size)
        await reader.readline()


def rpc(method: str, request_id: int) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": {}}


async def test_pipelined_requests_are_answered_in_order_on_one_connection(proxy: HttpProxy) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    try:
        writer.write(b"".join(post_bytes(rpc(f"m{i}", i)) for i in range(1, 6)))
        with anyio.fail_after(10):
            answers = [await read_response(reader) for _ in range(5)]
    finally:
        writer.close()
    assert [status for status, _, _ in answers] == [200] * 5
    assert [json.loads(body)["id"] for _, _, body in answers] == [1, 2, 3, 4, 5]
    assert [json.loads(body)["result"]["method"] for _, _, body in answers] == [f"m{i}" for i in range(1, 6)]


async def test_a_chunked_request_body_reaches_the_upstream_whole(
    proxy: HttpProxy, upstream: RecordingUpstream
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    try:
        writer.write(post_bytes(rpc("chunked", 7), chunked=True))
        with anyio.fail_after(10):
            status, _, body = await read_response(reader)
    finally:
        writer.close()
    assert status == 200
    assert json.loads(body)["result"] == {"method": "chunked"}
    assert json.loads(upstream.seen[-1].body) == rpc("chunked", 7)


async def test_a_100_continue_client_is_told_to_go_on_and_then_answered(proxy: HttpProxy) -> None:
    raw = json.dumps(rpc("after-continue", 3)).encode()
    head = (
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Accept: application/json\r\n"
        f"Expect: 100-continue\r\nContent-Length: {len(raw)}\r\n\r\n"
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    try:
        writer.write(head.encode())
        with anyio.fail_after(10):
            assert await reader.readline() == b"HTTP/1.1 100 Continue\r\n"
            assert await reader.readline() == b"\r\n"
            writer.write(raw)  # only now the body
            status, _, body = await read_response(reader)
    finally:
        writer.close()
    assert status == 200
    assert json.loads(body)["result"] == {"method": "after-continue"}


async def test_a_client_that_leaves_mid_stream_cuts_the_upstream_stream_and_others_go_on(
    proxy: HttpProxy, upstream: RecordingUpstream
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(post_bytes(rpc("endless", 5)))
    with anyio.fail_after(10):
        assert (await reader.readline()).startswith(b"HTTP/1.1 200")
        while b"notifications/progress" not in await reader.readline():
            pass  # the stream is flowing
    writer.transport.abort()  # the client goes away mid-stream
    with anyio.fail_after(10):
        await upstream.stream_cancelled.wait()  # the upstream saw its stream end
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    try:
        writer.write(post_bytes(rpc("next", 6)))
        with anyio.fail_after(10):
            status, _, body = await read_response(reader)
    finally:
        writer.close()
    assert (status, json.loads(body)["id"]) == (200, 6)


async def test_an_empty_sse_answer_reaches_the_client_at_once_as_it_would_directly(proxy: HttpProxy) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    try:
        started = time.monotonic()
        writer.write(post_bytes(rpc("empty-sse", 8)))
        with anyio.fail_after(10):
            status, headers, body = await read_response(reader)
    finally:
        writer.close()
    assert (status, body) == (200, b"")
    assert headers["content-type"] == "text/event-stream"
    assert time.monotonic() - started < 5  # not the request timeout (300 s)


async def test_an_sse_event_over_the_limit_answers_its_request_with_an_error_at_once(
    proxy: HttpProxy,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    try:
        writer.write(post_bytes(rpc("big-event", 9)))
        with anyio.fail_after(10):
            status, _, body = await read_response(reader)
    finally:
        writer.close()
    assert status == 200  # the stream had started: the error is its last event
    events = [json.loads(line[5:]) for line in body.split(b"\n") if line.startswith(b"data:")]
    assert events[-1]["id"] == 9
    assert events[-1]["error"]["code"] == codes.UPSTREAM_INVALID_RESPONSE


# ---- the official SDK: 2026-07-28 features through every HTTP shape -------------------------


async def confirm_twice(url: str) -> tuple[str | None, list[str], list[str]]:
    """Call the demo's ``confirm`` (a multi-round-trip request on 2026-07-28) twice."""
    asked: list[str] = []

    async def on_elicit(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"confirm": len(asked) == 1})

    texts: list[str] = []
    with anyio.fail_after(30):
        async with Client(url, mode="auto", elicitation_callback=on_elicit) as client:
            for question in ("Proceed?", "Really?"):
                result = await client.call_tool("confirm", {"question": question})
                assert isinstance(result.content[0], TextContent)
                texts.append(result.content[0].text)
            return client.protocol_version, asked, texts


async def listen_then_call(url: str) -> tuple[dict[str, Any], str]:
    """Open a subscriptions/listen stream, call a tool while it is open, close it."""
    with anyio.fail_after(30):
        async with Client(url, mode="auto") as client, client.listen(tools_list_changed=True) as subscription:
            result = await client.call_tool("echo", {"text": "while listening"})
            assert isinstance(result.content[0], TextContent)
            return subscription.honored.model_dump(exclude_none=True), result.content[0].text


async def test_a_multi_round_trip_call_and_a_subscription_through_the_http_proxy_equal_direct() -> None:
    with demo_http_server() as direct_url:
        proxy = HttpProxy(direct_url)
        await proxy.start("127.0.0.1", 0)
        try:
            through = (await confirm_twice(url_of(proxy)), await listen_then_call(url_of(proxy)))
        finally:
            await proxy.stop()
        direct = (await confirm_twice(direct_url), await listen_then_call(direct_url))
    assert through == direct
    (version, asked, texts), (honored, echoed) = through
    assert version == "2026-07-28"
    assert asked == ["Proceed?", "Really?"]
    assert texts == ["confirmed=True", "confirmed=False"]
    assert honored == {"tools_list_changed": True}
    assert echoed == "while listening"


async def test_a_multi_round_trip_call_and_a_subscription_through_the_http_to_stdio_bridge() -> None:
    bridge = HttpToStdioBridge(DEMO)
    await bridge.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{bridge.port}/mcp"
    try:
        (version, asked, texts), (honored, echoed) = (await confirm_twice(url), await listen_then_call(url))
    finally:
        await bridge.stop()
    assert version == "2026-07-28"
    assert asked == ["Proceed?", "Really?"]  # every round reached the same process
    assert texts == ["confirmed=True", "confirmed=False"]
    assert honored == {"tools_list_changed": True}
    assert echoed == "while listening"


# ---- the HTTP→stdio bridge's sessions ---------------------------------------------------------


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"},
    },
}


class Recorder:
    """A pump observer that keeps the session events."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def session_started(self, session: object) -> None:
        self.events.append("started")

    def session_ended(self, session: object) -> None:
        self.events.append("ended")


async def test_clients_that_abandon_initialize_leave_no_process_behind_on_the_bridge() -> None:
    from mcpchaos.intercept.chain import InterceptorChain

    chain = InterceptorChain()
    recorder = Recorder()
    chain.observers.append(recorder)
    # A server that never answers: every client gives up before learning its session id.
    bridge = HttpToStdioBridge(["sleep", "600"], chain, bridge=BridgeOptions(max_sessions=3))
    await bridge.start("127.0.0.1", 0)
    try:
        for _ in range(6):
            _, writer = await asyncio.open_connection("127.0.0.1", bridge.port)
            writer.write(post_bytes(INITIALIZE))
            await writer.drain()
            with anyio.fail_after(10):
                while not bridge.sessions.ids() and not recorder.events:  # noqa: ASYNC110 - bounded
                    await asyncio.sleep(0.01)
            writer.transport.abort()  # gave up before the answer
            with anyio.fail_after(10):
                while len(bridge.sessions) > 0:  # noqa: ASYNC110 - bounded wait for the cleanup
                    await asyncio.sleep(0.01)
        with anyio.fail_after(20):
            while recorder.events.count("ended") < 6:  # noqa: ASYNC110 - bounded
                await asyncio.sleep(0.05)
        assert recorder.events.count("started") == 6  # the bridge's sessions reach the metrics
    finally:
        await bridge.stop()


async def test_the_bridge_evicts_its_least_recently_used_session_beyond_max_sessions() -> None:
    import aiohttp

    from tests.http.mcp import HEADERS

    bridge = HttpToStdioBridge(DEMO, bridge=BridgeOptions(max_sessions=2))
    await bridge.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{bridge.port}/mcp"
    try:
        async with aiohttp.ClientSession() as http:
            ids = []
            for _ in range(3):
                async with http.post(url, json=INITIALIZE, headers=HEADERS) as response:
                    assert response.status == 200
                    ids.append(response.headers["Mcp-Session-Id"])
                    await response.read()
            ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
            async with http.post(url, json=ping, headers={**HEADERS, "Mcp-Session-Id": ids[0]}) as response:
                assert response.status == 404  # the oldest was evicted (its process stopped)
            async with http.post(url, json=ping, headers={**HEADERS, "Mcp-Session-Id": ids[2]}) as response:
                assert response.status == 200
        assert len(bridge.sessions) == 2
    finally:
        await bridge.stop()


# ---- what an upstream needs to protect itself, through the proxy ------------------------------


async def raw_exchange(port: int | None, request: bytes) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        with anyio.fail_after(10):
            return await read_response(reader)
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("extra", "status"),
    [
        ("", 200),
        ("Origin: http://localhost:3000\r\n", 200),
        ("Origin: http://evil.example\r\n", 403),
    ],
)
async def test_the_listener_checks_origin_like_the_sdk(proxy: HttpProxy, extra: str, status: int) -> None:
    answer, _, body = await raw_exchange(proxy.port, post_bytes(rpc("ping", 1), extra))
    assert answer == status
    if status != 200:
        assert json.loads(body)["error"]["code"] == codes.HOST_OR_ORIGIN_NOT_ALLOWED


async def test_a_foreign_host_is_refused_421_by_the_proxy_and_the_bridge(
    proxy: HttpProxy, upstream: RecordingUpstream
) -> None:
    evil = post_bytes(rpc("ping", 1)).replace(b"Host: 127.0.0.1", b"Host: evil.example:8000")
    status, _, body = await raw_exchange(proxy.port, evil)
    assert status == 421
    assert "Invalid Host header" in json.loads(body)["error"]["message"]
    assert upstream.seen == []  # never reached the upstream
    bridge = HttpToStdioBridge(DEMO)
    await bridge.start("127.0.0.1", 0)
    try:
        status, _, _ = await raw_exchange(bridge.port, evil)
    finally:
        await bridge.stop()
    assert status == 421


async def test_forward_host_sends_the_clients_host_upstream(upstream: RecordingUpstream) -> None:
    for forward, expected in ((False, f"127.0.0.1:{upstream.port}"), (True, "localhost:4242")):
        proxy = HttpProxy(upstream.url, None, HttpOptions(forward_host=forward))
        await proxy.start("127.0.0.1", 0)
        try:
            request = post_bytes(rpc("ping", 1)).replace(b"Host: 127.0.0.1", b"Host: localhost:4242")
            assert (await raw_exchange(proxy.port, request))[0] == 200
        finally:
            await proxy.stop()
        assert upstream.seen[-1].headers["Host"] == expected


async def test_oauth_resource_urls_name_the_proxy_not_the_upstream(proxy: HttpProxy) -> None:
    host = f"127.0.0.1:{proxy.port}"
    post = post_bytes(rpc("needs-auth", 1)).replace(b"Host: 127.0.0.1", f"Host: {host}".encode())
    status, headers, _ = await raw_exchange(proxy.port, post)
    assert status == 401
    assert (
        f'resource_metadata="http://{host}/.well-known/oauth-protected-resource/mcp"'
        in (headers["www-authenticate"])
    )
    get = f"GET /.well-known/oauth-protected-resource/mcp HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    status, _, body = await raw_exchange(proxy.port, get)
    assert status == 200
    metadata = json.loads(body)
    assert metadata["resource"] == f"http://{host}/mcp"
    assert metadata["authorization_servers"] == ["http://auth.example"]  # other servers untouched


async def test_a_request_with_a_fractional_id_is_answered_with_that_id(proxy: HttpProxy) -> None:
    body = b'{"jsonrpc":"2.0","id":4.0,"method":"ping"}'
    request = (
        b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    status, _, answer = await raw_exchange(proxy.port, request)
    assert status == 400
    error = json.loads(answer)
    assert error["id"] == 4.0
    assert error["error"]["code"] == codes.INVALID_REQUEST


async def test_an_idle_upstream_connection_is_closed_after_the_keepalive(
    upstream: RecordingUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mcpchaos.transport import http_client

    monkeypatch.setattr(http_client, "IDLE_KEEPALIVE", 0.2)
    server = HttpProxy(upstream.url)
    await server.start("127.0.0.1", 0)
    try:
        assert (await raw_exchange(server.port, post_bytes(rpc("ping", 1))))[0] == 200
        pool = server.upstream.pool
        assert pool.open_connections == 1  # kept alive for the next request
        with anyio.fail_after(10):
            while pool.open_connections:  # noqa: ASYNC110 - bounded wait for the sweep
                await asyncio.sleep(0.05)
        assert (await raw_exchange(server.port, post_bytes(rpc("ping", 2))))[0] == 200  # reconnects
    finally:
        await server.stop()
