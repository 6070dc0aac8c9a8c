"""The simplest possible TCP relay (uvloop, protocols, no shaping): the floor any link can
reach on this machine. ``python -m bench.plain_relay LISTEN_PORT UPSTREAM_PORT``."""

from __future__ import annotations

import asyncio
import sys

import uvloop


class Relay(asyncio.Protocol):
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.peer: asyncio.Transport | None = None
        self.early: list[bytes] = []
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.connecting = asyncio.ensure_future(self.connect())

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        back = Back(self)
        await loop.create_connection(lambda: back, "127.0.0.1", self.upstream_port)
        self.peer = back.transport
        for data in self.early:
            self.peer.write(data)  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        if self.peer is None:
            self.early.append(data)
        else:
            self.peer.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None:
            self.peer.close()


class Back(asyncio.Protocol):
    def __init__(self, front: Relay) -> None:
        self.front = front
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        assert self.front.transport is not None
        self.front.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.front.transport is not None:
            self.front.transport.close()


async def main(listen: int, upstream: int) -> None:
    server = await asyncio.get_running_loop().create_server(lambda: Relay(upstream), "127.0.0.1", listen)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1]), int(sys.argv[2])))
