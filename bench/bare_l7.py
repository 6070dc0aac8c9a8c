"""The floor of an HTTP-aware relay on this machine: asyncio Protocols on uvloop, httptools on
both sides, orjson on every body, one kept-alive upstream connection per client connection,
and nothing else (no limits, no timeouts, no sessions, no chain, no pipelining, no streaming).
It is what the issue's "bare prototype" measured; ``bench/floor.sh`` runs it beside the link
and the proxy.

    .venv/bin/python -m bench.bare_l7 LISTEN_PORT UPSTREAM_PORT
"""

from __future__ import annotations

import asyncio
import sys
from typing import cast

import httptools
import orjson
import uvloop


class _Upstream(asyncio.Protocol):
    def __init__(self, front: _Front) -> None:
        self.front = front
        self.parser = httptools.HttpResponseParser(self)
        self.body: list[bytes] = []
        self.content_type = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"content-type":
            self.content_type = value

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        body = b"".join(self.body)
        self.body = []
        orjson.loads(body)
        head = b"HTTP/1.1 %d OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n" % (
            self.parser.get_status_code(),
            self.content_type,
            len(body),
        )
        assert self.front.transport is not None
        self.front.transport.write(head + body)


class _Front(asyncio.Protocol):
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.parser = httptools.HttpRequestParser(self)
        self.headers: list[bytes] = []
        self.body: list[bytes] = []
        self.url = b""
        self.upstream: _Upstream | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_url(self, url: bytes) -> None:
        self.url = url

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() not in (b"host", b"content-length", b"connection"):
            self.headers.append(b"%s: %s\r\n" % (name, value))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        body = b"".join(self.body)
        headers = b"".join(self.headers)
        self.body, self.headers = [], []
        orjson.loads(body)
        request = b"POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%sContent-Length: %d\r\n\r\n" % (
            self.url,
            self.upstream_port,
            headers,
            len(body),
        )
        if self.upstream is None or self.upstream.transport is None:
            asyncio.get_running_loop().create_task(self._connect(request + body))
        else:
            self.upstream.transport.write(request + body)

    async def _connect(self, first: bytes) -> None:
        loop = asyncio.get_running_loop()
        _, upstream = await loop.create_connection(lambda: _Upstream(self), "127.0.0.1", self.upstream_port)
        self.upstream = upstream
        assert upstream.transport is not None
        upstream.transport.write(first)


async def serve(listen_port: int, upstream_port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Front(upstream_port), "127.0.0.1", listen_port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(serve(int(sys.argv[1]), int(sys.argv[2])))
