"""Holes a probe found on the HTTP side (issue 17), each reproduced against the real proxy over
real sockets: slow bodies on relayed paths, slow second heads, phantom sessions, content
codings, a GET stream's head, malformed requests."""

from __future__ import annotations

import asyncio
import gzip
import logging
import sys
import time

import orjson
import pytest

from mcpchaos.protocol import codes
from mcpchaos.proxy.http import HttpOptions, HttpProxy

from .recording_upstream import RecordingUpstream
from .servers import demo_http_server
from .test_http_core import post_bytes, read_response


async def started(upstream: RecordingUpstream, **options: object) -> HttpProxy:
    proxy = HttpProxy(upstream.url, None, HttpOptions(**options))  # type: ignore[arg-type]
    await proxy.start("127.0.0.1", 0)
    return proxy


@pytest.mark.parametrize("head", [b"POST /other HTTP/1.1", b"DELETE /mcp HTTP/1.1"])
async def test_a_relayed_request_whose_body_trickles_gets_408(
    upstream: RecordingUpstream, head: bytes
) -> None:
    proxy = await started(upstream, body_timeout=0.3)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(head + b"\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\nx")
        began = time.monotonic()
        answer = await asyncio.wait_for(reader.read(), 10)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
        assert time.monotonic() - began < 5
        writer.close()
        assert upstream.seen == []
    finally:
        await proxy.stop()


async def test_a_slow_second_head_on_a_kept_alive_connection_gets_the_header_timeout(
    upstream: RecordingUpstream,
) -> None:
    proxy = await started(upstream, header_timeout=0.3, idle_timeout=60)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(post_bytes({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        status, _, _ = await asyncio.wait_for(read_response(reader), 10)
        assert status == 200
        writer.write(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # ...and the rest never comes
        began = time.monotonic()
        answer = await asyncio.wait_for(reader.read(), 10)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
        assert time.monotonic() - began < 5  # the header timeout, not the 60 s idle one
        writer.close()
    finally:
        await proxy.stop()


async def test_an_upstream_400_carrying_a_session_id_makes_no_session(upstream: RecordingUpstream) -> None:
    proxy = await started(upstream, max_sessions=5)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        for request_id in range(8):
            writer.write(post_bytes({"jsonrpc": "2.0", "id": request_id, "method": "missing-session"}))
            status, headers, _ = await asyncio.wait_for(read_response(reader), 10)
            assert status == 400
            assert headers.get("mcp-session-id", "").startswith("fresh-")  # relayed as it came
        writer.close()
        assert len(proxy.sessions) == 0
        assert [seen.method for seen in upstream.seen] == ["POST"] * 8  # no DELETE of an evicted phantom
    finally:
        await proxy.stop()


async def test_every_upstream_request_asks_for_identity_encoding(upstream: RecordingUpstream) -> None:
    proxy = await started(upstream)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(
            post_bytes({"jsonrpc": "2.0", "id": 1, "method": "ping"}, "Accept-Encoding: gzip, br\r\n")
        )
        assert (await asyncio.wait_for(read_response(reader), 10))[0] == 200
        writer.write(b"GET /other HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip\r\n\r\n")
        assert (await asyncio.wait_for(read_response(reader), 10))[0] == 200
        writer.close()
        assert [seen.headers.get("Accept-Encoding") for seen in upstream.seen] == ["identity", "identity"]
    finally:
        await proxy.stop()


async def test_a_compressed_relayed_answer_keeps_its_content_encoding(upstream: RecordingUpstream) -> None:
    proxy = await started(upstream)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"GET /gzipped HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        status, headers, body = await asyncio.wait_for(read_response(reader), 10)
        writer.close()
        assert status == 200
        assert headers.get("content-encoding") == "gzip"
        assert gzip.decompress(body) == b"plain /gzipped" * 10
    finally:
        await proxy.stop()


async def test_a_compressed_mcp_answer_the_proxy_cannot_read_is_a_502_naming_the_coding(
    upstream: RecordingUpstream,
) -> None:
    proxy = await started(upstream)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(post_bytes({"jsonrpc": "2.0", "id": 7, "method": "gzipped-json"}))
        status, _, body = await asyncio.wait_for(read_response(reader), 10)
        writer.close()
        assert status == 502
        error = orjson.loads(body)
        assert error["id"] == 7
        assert error["error"]["code"] == codes.UPSTREAM_INVALID_RESPONSE
        assert "gzip" in error["error"]["message"]
    finally:
        await proxy.stop()


async def test_a_compressed_request_body_is_refused_with_415(upstream: RecordingUpstream) -> None:
    proxy = await started(upstream)
    try:
        body = gzip.compress(orjson.dumps({"jsonrpc": "2.0", "id": 3, "method": "ping"}))
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(
            b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Accept: application/json, text/event-stream\r\nContent-Encoding: gzip\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body
        )
        status, _, answer = await asyncio.wait_for(read_response(reader), 10)
        writer.close()
        assert status == 415
        assert "Content-Encoding" in orjson.loads(answer)["error"]["message"]
        assert upstream.seen == []
    finally:
        await proxy.stop()


async def test_a_get_streams_head_reaches_the_client_before_its_first_event(
    upstream: RecordingUpstream,
) -> None:
    proxy = await started(upstream)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(
            b"GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
            b"Mcp-Session-Id: s-quiet\r\nX-Test-Quiet-Stream: 1\r\n\r\n"
        )
        status_line = await asyncio.wait_for(reader.readline(), 5)  # the upstream sent it at once
        assert status_line.startswith(b"HTTP/1.1 200")
        writer.close()
    finally:
        await proxy.stop()


async def test_a_malformed_http_request_gets_a_json_rpc_400_and_no_error_log(
    upstream: RecordingUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = await started(upstream)
    try:
        with caplog.at_level(logging.INFO):
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.write(b"GARBAGE \x00\x01 NOT HTTP\r\n\r\n")
            answer = await asyncio.wait_for(reader.read(), 10)
            writer.close()
        assert answer.startswith(b"HTTP/1.1 400")
        error = orjson.loads(answer.split(b"\r\n\r\n", 1)[1])
        assert error["error"]["code"] == codes.INVALID_REQUEST
        assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    finally:
        await proxy.stop()


_CLOSING_UPSTREAM = r"""
import asyncio, sys

async def serve(reader, writer):
    try:
        while True:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 0.3)  # idle 0.3 s: closed
            length = next((int(l.split(b":")[1]) for l in head.split(b"\r\n")
                           if l.lower().startswith(b"content-length:")), 0)
            await reader.readexactly(length)
            body = b'{"jsonrpc":"2.0","id":1,"result":{}}'
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(body) + body)
            await writer.drain()
    except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError):
        writer.close()

async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
"""


async def test_a_pooled_connection_the_upstream_closed_during_a_stall_is_retried_not_a_502() -> None:
    upstream = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CLOSING_UPSTREAM, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert upstream.stdout is not None
        port = int(await asyncio.wait_for(upstream.stdout.readline(), 30))
        proxy = HttpProxy(f"http://127.0.0.1:{port}/mcp", None, HttpOptions())
        await proxy.start("127.0.0.1", 0)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.write(post_bytes({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
            assert (await asyncio.wait_for(read_response(reader), 10))[0] == 200
            # The event loop stalls (a CPU-bound moment) past the upstream's keep-alive: its
            # close of the pooled connection is not seen before the next request reuses it.
            time.sleep(1.0)  # noqa: ASYNC251 - the stall is the point: the loop must not run
            writer.write(post_bytes({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
            status, _, body = await asyncio.wait_for(read_response(reader), 10)
            writer.close()
            assert status == 200, body
        finally:
            await proxy.stop()
    finally:
        upstream.kill()
        await upstream.wait()


async def test_made_up_session_ids_the_upstream_refuses_do_not_evict_a_real_session() -> None:
    # The fuzz suite's find: any unseen Mcp-Session-Id was bound at once, and past --max-sessions
    # evicted the least recently used real session. Now only an id the upstream accepts is bound.
    initialize = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"},
        },
    }
    with demo_http_server() as url:
        proxy = HttpProxy(url, None, HttpOptions(max_sessions=3))
        await proxy.start("127.0.0.1", 0)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.write(post_bytes(initialize))
            status, headers, _ = await asyncio.wait_for(read_response(reader), 30)
            assert status == 200
            session = headers["mcp-session-id"]
            # Concurrently (as the fuzzer sent them): all in flight before any 404 comes back.
            others = [await asyncio.open_connection("127.0.0.1", proxy.port) for _ in range(6)]
            for number, (_, other) in enumerate(others):
                made_up = f"Mcp-Session-Id: made-up-{number}\r\n"
                other.write(post_bytes({"jsonrpc": "2.0", "id": 1, "method": "ping"}, made_up))
            for other_reader, other in others:
                assert (await asyncio.wait_for(read_response(other_reader), 30))[0] == 404  # the upstream's
                other.close()
            assert len(proxy.sessions) == 1
            writer.write(
                post_bytes({"jsonrpc": "2.0", "id": 2, "method": "ping"}, f"Mcp-Session-Id: {session}\r\n")
            )
            assert (await asyncio.wait_for(read_response(reader), 30))[0] == 200
            writer.close()
        finally:
            await proxy.stop()
