"""Promises of the MCP listener that docs/security.md states and no other test held: a
kept-alive connection idle past --idle-timeout is closed, and --allowed-hosts /
--allowed-origins replace the loopback defaults."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from mcpchaos.protocol import codes
from mcpchaos.proxy.http import HttpOptions, HttpProxy

from .recording_upstream import RecordingUpstream
from .test_http_core import post_bytes, raw_exchange, read_response, rpc


async def test_a_kept_alive_connection_idle_past_the_idle_timeout_is_closed(
    upstream: RecordingUpstream,
) -> None:
    proxy = HttpProxy(upstream.url, None, HttpOptions(idle_timeout=0.4))
    await proxy.start("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(post_bytes(rpc("ping", 1)))
        status, _, _ = await asyncio.wait_for(read_response(reader), 10)
        assert status == 200
        began = time.monotonic()
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed by the proxy, no bytes
        assert 0.3 < time.monotonic() - began < 5
        writer.close()
    finally:
        await proxy.stop()


@pytest.mark.parametrize(
    ("host", "origin", "status"),
    [
        ("proxy.example:8080", "", 200),
        ("PROXY.example", "https://app.example", 200),
        ("127.0.0.1", "", 421),  # the loopback defaults are gone once a list is given
        ("proxy.example:8080", "http://localhost:3000", 403),
        ("proxy.example:8080", "https://evil.example", 403),
    ],
)
async def test_configured_hosts_and_origins_replace_the_loopback_defaults(
    upstream: RecordingUpstream, host: str, origin: str, status: int
) -> None:
    options = HttpOptions(allowed_hosts=("proxy.example:*",), allowed_origins=("https://app.example",))
    proxy = HttpProxy(upstream.url, None, options)
    await proxy.start("127.0.0.1", 0)
    try:
        extra = f"Origin: {origin}\r\n" if origin else ""
        request = post_bytes(rpc("ping", 1), extra).replace(b"Host: 127.0.0.1", f"Host: {host}".encode())
        got, _, body = await raw_exchange(proxy.port, request)
    finally:
        await proxy.stop()
    assert got == status
    if status != 200:
        assert json.loads(body)["error"]["code"] == codes.HOST_OR_ORIGIN_NOT_ALLOWED
        assert upstream.seen == []
