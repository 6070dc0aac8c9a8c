"""Connection limits: a storm of connections against --max-connections (scaled down; the
10,000-attempt storm is in bench/)."""

from __future__ import annotations

import asyncio
import os
import time

import aiohttp
import orjson

from mcpchaos.protocol import codes
from mcpchaos.proxy.http import HttpOptions, HttpProxy
from tests.http.mcp import HEADERS

from .recording_upstream import RecordingUpstream


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_a_connection_storm_never_exceeds_the_limit_and_the_rest_get_a_clean_503(
    upstream: RecordingUpstream,
) -> None:
    proxy = HttpProxy(upstream.url, options=HttpOptions(max_connections=50))
    await proxy.start("127.0.0.1", 0)
    baseline = fds()
    held: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    try:
        held = list(
            await asyncio.gather(*(asyncio.open_connection("127.0.0.1", proxy.port) for _ in range(150)))
        )
        answers = await asyncio.gather(
            *(asyncio.wait_for(reader.read(4096), 0.5) for reader, _ in held), return_exceptions=True
        )
        rejected = [a for a in answers if isinstance(a, bytes) and a.startswith(b"HTTP/1.1 503")]
        assert proxy.limiter.peak <= 50
        assert len(rejected) == 100
        body = orjson.loads(rejected[0].split(b"\r\n\r\n", 1)[1])
        assert body["error"]["code"] == codes.TOO_MANY_CONNECTIONS
        # A fresh request during the storm gets its clean answer at once.
        started = time.monotonic()
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"http://127.0.0.1:{proxy.port}/mcp",
                json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                headers=HEADERS,
            ) as response,
        ):
            assert response.status == 503
        assert time.monotonic() - started < 1.0
    finally:
        for _, writer in held:
            writer.close()
    try:
        async with asyncio.timeout(5):
            while proxy.limiter.active > 0:  # noqa: ASYNC110 - bounded wait for the closes to land
                await asyncio.sleep(0.02)
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"http://127.0.0.1:{proxy.port}/mcp",
                json={"jsonrpc": "2.0", "id": 2, "method": "ping"},
                headers=HEADERS,
            ) as response,
        ):
            assert response.status == 200  # room again: served
    finally:
        await proxy.stop()
    async with asyncio.timeout(5):
        while fds() > baseline:  # noqa: ASYNC110 - bounded wait for sockets to close
            await asyncio.sleep(0.02)


async def test_a_slowloris_head_is_cut_off_with_408(upstream: RecordingUpstream) -> None:
    proxy = HttpProxy(upstream.url, options=HttpOptions(header_timeout=0.3))
    await proxy.start("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # ...and the rest never comes
        started = time.monotonic()
        answer = await asyncio.wait_for(reader.read(), 5)
        assert answer.startswith(b"HTTP/1.1 408")
        assert 0.25 < time.monotonic() - started < 3
        writer.close()
        assert proxy.limiter.slow_closed == 1
    finally:
        await proxy.stop()


async def test_a_body_that_trickles_too_slowly_gets_408(upstream: RecordingUpstream) -> None:
    proxy = HttpProxy(upstream.url, options=HttpOptions(body_timeout=0.3))
    await proxy.start("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(
            b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"jsonrpc"'
        )  # 10 of 100 bytes
        answer = await asyncio.wait_for(reader.read(4096), 5)
        assert answer.startswith(b"HTTP/1.1 408")
        assert b"did not arrive" in answer
        writer.close()
        assert upstream.seen == []
    finally:
        await proxy.stop()


async def test_a_prompt_client_is_not_affected_by_the_head_timeout(upstream: RecordingUpstream) -> None:
    proxy = HttpProxy(upstream.url, options=HttpOptions(header_timeout=0.2))
    await proxy.start("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as http:
            for i in range(3):
                async with http.post(
                    f"http://127.0.0.1:{proxy.port}/mcp",
                    json={"jsonrpc": "2.0", "id": i, "method": "ping"},
                    headers=HEADERS,
                ) as response:
                    assert response.status == 200
                await asyncio.sleep(0.3)  # kept alive past the head timeout: still served
    finally:
        await proxy.stop()
