"""What the SDK hides: headers, streaming, resumption, statuses, limits, failures."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from mcpchaos.intercept.chain import InterceptorChain
from mcpchaos.intercept.context import Context
from mcpchaos.intercept.effects import Disconnect, Effects, EndStream, HttpReply
from mcpchaos.protocol import codes
from mcpchaos.protocol.messages import Message, error_response
from mcpchaos.protocol.sse import SseEvent, SseParser
from mcpchaos.proxy import exchange
from mcpchaos.proxy.http import HttpOptions, HttpProxy
from tests.http.mcp import HEADERS

from .conftest import url_of
from .recording_upstream import FLOOD_EVENTS, RecordingUpstream
from .servers import free_port


async def proxy_to(url: str, chain: InterceptorChain | None = None, **options: Any) -> HttpProxy:
    proxy = HttpProxy(url, chain, HttpOptions(**options))
    await proxy.start("127.0.0.1", 0)
    return proxy


def rpc(method: str, request_id: int | None = 1, **params: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
    if request_id is not None:
        message["id"] = request_id
    return message


async def sse_events(response: aiohttp.ClientResponse) -> AsyncIterator[tuple[float, SseEvent]]:
    parser = SseParser()
    async for chunk in response.content.iter_any():
        parser.feed(chunk)
        while isinstance(event := parser.next_event(), SseEvent):
            yield time.monotonic(), event


async def test_end_to_end_headers_pass_and_hop_by_hop_ones_do_not(upstream: RecordingUpstream) -> None:
    proxy = await proxy_to(upstream.url)
    try:
        async with aiohttp.ClientSession() as http:
            headers = {
                **HEADERS,
                "Authorization": "Bearer s3cret",
                "X-Custom": "kept",
                "Mcp-Session-Id": "abc",
                "MCP-Protocol-Version": "2025-11-25",
                "Connection": "keep-alive, X-Hop",
                "X-Hop": "dropped",
                "Proxy-Authorization": "dropped",
            }
            async with http.post(url_of(proxy), json=rpc("tools/list"), headers=headers) as response:
                assert response.status == 200
                assert response.headers["X-Upstream"] == "yes"
                assert (await response.json())["result"] == {"method": "tools/list"}
        seen = upstream.seen[-1].headers
        assert seen["Authorization"] == "Bearer s3cret"
        assert seen["X-Custom"] == "kept"
        assert seen["Mcp-Session-Id"] == "abc"
        assert seen["MCP-Protocol-Version"] == "2025-11-25"
        assert "X-Hop" not in seen
        assert "Proxy-Authorization" not in seen
    finally:
        await proxy.stop()


async def test_a_2026_07_28_request_keeps_its_mcp_method_and_name_headers(
    upstream: RecordingUpstream,
) -> None:
    proxy = await proxy_to(upstream.url)
    try:
        async with aiohttp.ClientSession() as http:
            headers = {
                **HEADERS,
                "MCP-Protocol-Version": "2026-07-28",
                "Mcp-Method": "tools/call",
                "Mcp-Name": "echo",
            }
            body = rpc("tools/call", name="echo", arguments={"text": "x"})
            async with http.post(url_of(proxy), json=body, headers=headers) as response:
                assert response.status == 200
        seen = upstream.seen[-1]
        assert seen.headers["Mcp-Method"] == "tools/call"
        assert seen.headers["Mcp-Name"] == "echo"
        assert json.loads(seen.body) == body
    finally:
        await proxy.stop()


async def test_sse_events_are_streamed_one_by_one_with_ids_comments_and_retry(
    upstream: RecordingUpstream,
) -> None:
    proxy = await proxy_to(upstream.url)
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.post(url_of(proxy), json=rpc("stream", 9), headers=HEADERS) as response,
        ):
            assert response.headers["Content-Type"].startswith("text/event-stream")
            events = [item async for item in sse_events(response)]
    finally:
        await proxy.stop()
    times = [t for t, _ in events]
    kinds = [(e.comments, e.id, e.retry, e.data) for _, e in events]
    assert kinds[0][0] == [" ping"]
    assert kinds[1][1:3] == ("prime-0", 500)
    assert [e.id for _, e in events[2:]] == ["ev-1", "ev-2", "ev-3", "ev-4"]
    assert json.loads(events[-1][1].data or "")["result"] == {"done": True}
    # The upstream pauses 0.25 s between events: had the proxy buffered the stream, all
    # events would arrive together at the end.
    assert times[-1] - times[2] > 0.4


async def test_a_get_stream_resumes_with_last_event_id(upstream: RecordingUpstream) -> None:
    proxy = await proxy_to(upstream.url)
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(
                url_of(proxy),
                headers={"Accept": "text/event-stream", "Last-Event-ID": "ev-3", "Mcp-Session-Id": "s"},
            ) as response,
        ):
            events = [event async for _, event in sse_events(response)]
    finally:
        await proxy.stop()
    assert upstream.seen[-1].headers["Last-Event-ID"] == "ev-3"
    assert events[0].id == "ev-10"
    assert json.loads(events[0].data or "")["params"] == {"after": "ev-3"}


async def test_other_paths_and_delete_are_relayed_untouched(upstream: RecordingUpstream) -> None:
    proxy = await proxy_to(upstream.url)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(
                f"http://127.0.0.1:{proxy.port}/.well-known/oauth-protected-resource?x=1"
            ) as r:
                assert r.status == 200
                assert await r.text() == "plain /.well-known/oauth-protected-resource"
            async with http.delete(url_of(proxy), headers={"Mcp-Session-Id": "s"}) as r:
                assert r.status == 204
        assert upstream.seen[0].path == "/.well-known/oauth-protected-resource?x=1"
        assert upstream.seen[1].method == "DELETE"
    finally:
        await proxy.stop()


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, codes.PARSE_ERROR),
        (b'{"id":5,"method":"x"}', "application/json", 400, codes.INVALID_REQUEST),
        (b'{"jsonrpc":"2.0","id":1,"method":"ping"}', "text/plain", 415, codes.UNSUPPORTED_MEDIA_TYPE),
        (
            b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"p":"' + b"x" * 5000 + b'"}}',
            "application/json",
            413,
            codes.REQUEST_TOO_LARGE,
        ),
    ],
)
async def test_bad_requests_get_a_status_and_a_json_rpc_error_body(
    upstream: RecordingUpstream, body: bytes, content_type: str, status: int, code: int
) -> None:
    proxy = await proxy_to(upstream.url, max_body_bytes=4096)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(
                url_of(proxy), data=body, headers={**HEADERS, "Content-Type": content_type}
            ) as response:
                assert response.status == status
                answer = await response.json()
                assert answer["error"]["code"] == code
                assert answer["jsonrpc"] == "2.0"
            async with http.post(url_of(proxy), json=rpc("still/works"), headers=HEADERS) as response:
                assert response.status == 200
        assert [json.loads(s.body)["method"] for s in upstream.seen] == ["still/works"]
    finally:
        await proxy.stop()


async def test_an_upstream_that_is_down_gives_502_with_a_json_rpc_error() -> None:
    proxy = await proxy_to(f"http://127.0.0.1:{free_port()}/mcp")
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.post(url_of(proxy), json=rpc("ping", 3), headers=HEADERS) as response,
        ):
            assert response.status == 502
            answer = await response.json()
            assert answer["id"] == 3
            assert answer["error"]["code"] == codes.UPSTREAM_UNAVAILABLE
    finally:
        await proxy.stop()


async def test_an_upstream_that_hangs_gives_504_after_the_timeout(upstream: RecordingUpstream) -> None:
    proxy = await proxy_to(upstream.url, upstream_timeout=0.3)
    try:
        started = time.monotonic()
        async with (
            aiohttp.ClientSession() as http,
            http.post(url_of(proxy), json=rpc("hang", 4), headers=HEADERS) as response,
        ):
            assert response.status == 504
            answer = await response.json()
        assert answer["id"] == 4
        assert answer["error"]["code"] == codes.UPSTREAM_TIMEOUT
        assert time.monotonic() - started < 5
    finally:
        await proxy.stop()


async def test_an_oversized_upstream_response_becomes_an_error(upstream: RecordingUpstream) -> None:
    proxy = await proxy_to(upstream.url, max_message_bytes=1_000_000)
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.post(url_of(proxy), json=rpc("huge", 6), headers=HEADERS) as response,
        ):
            assert response.status == 502
            answer = await response.json()
            assert answer["id"] == 6
            assert answer["error"]["code"] == codes.UPSTREAM_INVALID_RESPONSE
    finally:
        await proxy.stop()


async def test_a_non_json_upstream_error_is_relayed_as_it_is(upstream: RecordingUpstream) -> None:
    proxy = await proxy_to(upstream.url)
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.post(url_of(proxy), json=rpc("not-json", 7), headers=HEADERS) as response,
        ):
            assert response.status == 500
            assert await response.text() == "upstream exploded"
    finally:
        await proxy.stop()


async def test_a_client_leaving_mid_stream_releases_the_upstream_request(upstream: RecordingUpstream) -> None:
    proxy = await proxy_to(upstream.url)
    try:
        async with aiohttp.ClientSession() as http:
            response = await http.post(url_of(proxy), json=rpc("endless", 8), headers=HEADERS)
            await response.content.readline()
            response.close()  # the client goes away mid-stream
        async with asyncio.timeout(5):
            await upstream.stream_cancelled.wait()
    finally:
        await proxy.stop()


class Scripted:
    name = "scripted"

    def __init__(self, effects_for: Any) -> None:
        self.effects_for = effects_for

    def intercept(self, message: Message, ctx: Context) -> Effects | None:
        return self.effects_for(message)  # type: ignore[no-any-return]


async def test_an_http_reply_hook_answers_with_a_status_and_headers(upstream: RecordingUpstream) -> None:
    def rate_limit(message: Message) -> Effects | None:
        if message.method != "tools/call":
            return None
        error = error_response(message.id, -32000, "rate limited")
        return [HttpReply(429, (("Retry-After", "2"),), error)]

    proxy = await proxy_to(upstream.url, InterceptorChain([Scripted(rate_limit)]))
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.post(url_of(proxy), json=rpc("tools/call", 10), headers=HEADERS) as response,
        ):
            assert response.status == 429
            assert response.headers["Retry-After"] == "2"
            assert (await response.json())["error"]["message"] == "rate limited"
        assert upstream.seen == []
    finally:
        await proxy.stop()


async def test_a_disconnect_hook_closes_the_connection_abruptly(upstream: RecordingUpstream) -> None:
    proxy = await proxy_to(upstream.url, InterceptorChain([Scripted(lambda m: [Disconnect("test")])]))
    try:
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.ClientError):
                async with http.post(url_of(proxy), json=rpc("tools/list", 11), headers=HEADERS) as response:
                    await response.read()
    finally:
        await proxy.stop()


@pytest.mark.parametrize("where", ["before the answer", "mid-stream"])
async def test_an_injected_disconnect_logs_no_error_or_traceback(
    upstream: RecordingUpstream, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    def cut(message: Message) -> Effects | None:
        if where == "before the answer":
            return [Disconnect("test")] if message.method == "tools/call" else None
        params = message.params if isinstance(message.params, dict) else {}
        return [Disconnect("test")] if params.get("progress") == 2 else None

    proxy = await proxy_to(upstream.url, InterceptorChain([Scripted(cut)]))
    method = "tools/call" if where == "before the answer" else "stream"
    try:
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.ClientError):
                async with http.post(url_of(proxy), json=rpc(method, 13), headers=HEADERS) as response:
                    await response.read()
            # The proxy goes on serving.
            async with http.post(url_of(proxy), json=rpc("ping", 14), headers=HEADERS) as response:
                assert response.status == 200
    finally:
        await proxy.stop()
    noisy = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert noisy == []


async def test_a_real_failure_in_a_handler_is_still_logged_as_an_error(
    upstream: RecordingUpstream, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any) -> Any:
        raise RuntimeError("a real bug")

    proxy = await proxy_to(upstream.url)
    monkeypatch.setattr(exchange.Exchange, "start", broken)
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.post(url_of(proxy), json=rpc("ping", 15), headers=HEADERS) as response,
        ):
            assert response.status == 500
    finally:
        await proxy.stop()
    assert any(r.levelno >= logging.ERROR and r.exc_info for r in caplog.records)


async def test_an_end_stream_hook_cuts_an_sse_stream_midway(upstream: RecordingUpstream) -> None:
    def cut_at_second_progress(message: Message) -> Effects | None:
        params = message.params if isinstance(message.params, dict) else {}
        return [EndStream("test")] if params.get("progress") == 2 else None

    proxy = await proxy_to(upstream.url, InterceptorChain([Scripted(cut_at_second_progress)]))
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.post(url_of(proxy), json=rpc("stream", 12), headers=HEADERS) as response,
        ):
            events = [event async for _, event in sse_events(response)]
        assert [e.id for e in events if e.is_message] == ["ev-1"]  # cut before progress 2 and the result
    finally:
        await proxy.stop()


async def test_a_stray_extra_message_does_not_decide_the_clients_answer(upstream: RecordingUpstream) -> None:
    from mcpchaos.intercept.effects import Emit, Forward
    from mcpchaos.protocol.messages import Direction, result_response

    def forward_and_emit_a_stray(message: Message) -> Effects | None:
        if message.method != "tools/list":
            return None
        stray = result_response("stray-1", {})
        return [Forward(message), Emit(stray, Direction.CLIENT_TO_SERVER)]

    proxy = await proxy_to(upstream.url, InterceptorChain([Scripted(forward_and_emit_a_stray)]))
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.post(url_of(proxy), json=rpc("tools/list", 21), headers=HEADERS) as response,
        ):
            assert response.status == 200
            assert (await response.json())["result"] == {"method": "tools/list"}
    finally:
        await proxy.stop()
    assert len(upstream.seen) == 2  # the stray reached the server too


async def test_a_busy_stream_is_not_cut_by_the_request_timeout(upstream: RecordingUpstream) -> None:
    proxy = await proxy_to(upstream.url, request_timeout=0.2)
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.post(url_of(proxy), json=rpc("endless", 22), headers=HEADERS) as response,
        ):
            # An event every 50 ms: the 0.2 s limit is on silence, so the stream goes on.
            started = time.monotonic()
            count = 0
            async for _, _event in sse_events(response):
                count += 1
                if time.monotonic() - started > 0.7:
                    break
        assert count >= 8
    finally:
        await proxy.stop()


async def test_a_slow_reader_makes_the_proxy_stop_reading_upstream_not_buffer(
    upstream: RecordingUpstream,
) -> None:
    proxy = await proxy_to(upstream.url)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        body = json.dumps(rpc("flood", 30)).encode()
        writer.write(
            b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\n"
            b"Accept: application/json, text/event-stream\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )
        await writer.drain()
        await asyncio.sleep(1.5)  # the client reads nothing for a while
        stalled_at = upstream.flood_written
        # The upstream was held back (the proxy stopped reading it), not drained into proxy memory;
        # what did pass sits in kernel socket buffers and the proxy's bounded 1 MiB queue.
        assert stalled_at < FLOOD_EVENTS
        received = 0
        async with asyncio.timeout(30):
            while chunk := await reader.read(1 << 20):
                received += len(chunk)
        assert upstream.flood_written == FLOOD_EVENTS
        assert received > FLOOD_EVENTS * 1000
        writer.close()
    finally:
        await proxy.stop()
