"""``mcpchaos link``: a TCP relay with a simulated network in between, for any TCP service.

Each accepted connection gets a connection to the upstream and two shaped directions
(client → upstream is ``upstream``, upstream → client is ``downstream``). A simulated loss
resets both connections with RST (SO_LINGER 0); ``limit_data`` closes them; during a
partition nothing passes and new connections hang or are refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, cast

from mcpchaos.errors import ListenError
from mcpchaos.events import notify
from mcpchaos.netsim.controller import NetworkController
from mcpchaos.netsim.stream import ShapedSink
from mcpchaos.protocol.messages import Direction
from mcpchaos.transport.limits import ConnectionLimiter, reset_transport

log = logging.getLogger("mcpchaos.link")


@dataclass
class LinkStats:
    accepted: int = 0
    refused: int = 0
    resets: int = 0
    active: int = 0
    bytes_up: int = 0
    bytes_down: int = 0


class _TransportSink:
    """A ByteSink over a TCP transport. Closing it is a half-close (FIN), so the other
    direction can still carry the answer."""

    def __init__(self, side: _Side) -> None:
        self._side = side

    def write(self, data: bytes) -> None:
        transport = self._side.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    async def drain(self) -> None:
        await self._side.writable.wait()

    def close(self) -> None:
        transport = self._side.transport
        if transport is None or transport.is_closing():
            return
        if transport.can_write_eof():
            with contextlib.suppress(OSError, RuntimeError):
                transport.write_eof()
            self._side.eof_out = True
            self._side.close_if_done()
        else:
            transport.close()

    def abort(self) -> None:
        if self._side.transport is not None:
            self._side.transport.abort()

    @property
    def closing(self) -> bool:
        transport = self._side.transport
        return transport is None or transport.is_closing()


class _Side(asyncio.Protocol):
    """One TCP connection of a relayed pair. Bytes it receives go to ``out`` (the shaped
    sink toward the other connection) straight from ``data_received``: no task, no copy."""

    def __init__(self, pair: _Pair, upstream: bool) -> None:
        self.pair = pair
        self.upstream = upstream
        """True for the connection to the upstream service."""
        self.transport: asyncio.Transport | None = None
        self.out: ShapedSink | None = None
        self.writable = asyncio.Event()
        self.writable.set()
        self.lost = False
        self.early: list[bytes] = []
        self.eof_in = False
        """The peer half-closed: it sends no more."""
        self.eof_out = False
        """We half-closed toward the peer: we send no more."""
        self.peer_writable = self.writable
        """The other connection's write flow control (set once both are connected)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it
        if not self.upstream:
            self.pair.link._client_connected(self)

    def data_received(self, data: bytes) -> None:
        out = self.out
        if out is None:
            # Before the upstream is connected (uvloop may deliver data even though reading
            # was paused in connection_made): keep it, in order, for when it is.
            self.early.append(data)
            if self.transport is not None:
                self.transport.pause_reading()
            return
        stats = self.pair.link.stats
        if self.upstream:
            stats.bytes_down += len(data)
        else:
            stats.bytes_up += len(data)
        out.write(data)
        if out.backlogged or not self.peer_writable.is_set():
            self._pause_until_drained(out)

    def _pause_until_drained(self, out: ShapedSink) -> None:
        assert self.transport is not None
        self.transport.pause_reading()

        async def resume() -> None:
            with contextlib.suppress(Exception):
                await out.drain()
            if self.transport is not None and not self.transport.is_closing():
                self.transport.resume_reading()

        self.pair.spawn(resume())

    def eof_received(self) -> bool:
        self.eof_in = True
        if self.out is not None:
            self.out.close()  # pass the half-close on once the queued bytes are out
        self.close_if_done()
        return True

    def close_if_done(self) -> None:
        """Both ways half-closed: nothing more can pass, close the connection."""
        if self.eof_in and self.eof_out and self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.writable.set()
        if self.out is not None:
            self.out.close()
        self.pair.side_lost()

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()


class _Pair:
    """A client connection and its upstream connection."""

    def __init__(self, link: TcpLink) -> None:
        self.link = link
        self.client = _Side(self, upstream=False)
        self.upstream: _Side | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.done = False

    def peer(self, side: _Side) -> _Side:
        if side is self.client:
            return self.upstream if self.upstream is not None else side
        return self.client

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def kill(self) -> None:
        """Reset both connections (RST), as a lost connection looks."""
        for side in (self.client, self.upstream):
            if side is not None and side.transport is not None:
                reset_transport(side.transport)
        self._stop_writers()

    def _stop_writers(self) -> None:
        for side in (self.client, self.upstream):
            if side is not None and side.out is not None:
                side.out.stop()
        for task in list(self.tasks):
            task.cancel()

    def close(self) -> None:
        for side in (self.client, self.upstream):
            if side is not None and side.transport is not None:
                side.transport.close()

    def side_lost(self) -> None:
        sides = [self.client] + ([self.upstream] if self.upstream is not None else [])
        if all(side.lost for side in sides) or (self.upstream is None and self.client.lost):
            self._finish()
        else:
            # One side is gone: the other closes once what was queued toward it is delivered.
            for side in sides:
                if not side.lost and side.transport is not None and self.peer(side).lost:
                    peer_out = self.peer(side).out
                    if peer_out is None:
                        side.transport.close()

    def _finish(self) -> None:
        if self.done:
            return
        self.done = True
        self._stop_writers()
        for task in list(self.tasks):
            task.cancel()
        self.link._pair_done(self)


class TcpLink:
    """Listen on (host, port); relay each connection to the upstream through the network."""

    def __init__(
        self,
        listen: tuple[str, int],
        upstream: tuple[str, int],
        controller: NetworkController,
        name: str | None = None,
        connect_timeout: float = 5.0,
        max_connections: int = 0,
    ) -> None:
        self.listen = listen
        self.upstream = upstream
        self.controller = controller
        self.name = name or f"{listen[0]}:{listen[1]}"
        self.connect_timeout = connect_timeout
        self.stats = LinkStats()
        self.limiter = ConnectionLimiter(max_connections, "reset")
        """Beyond ``max_connections`` open connections, new ones are reset."""
        self.limiter = ConnectionLimiter(max_connections, "reset")
        """Beyond ``max_connections`` open connections, new ones are reset."""
        self.observers: list[Any] = []
        """Told of connection_accepted / connection_refused / connection_closed / connection_reset."""
        self._server: asyncio.Server | None = None
        self._pairs: set[_Pair] = set()
        self.port: int | None = None

    async def start(self) -> int:
        """Listen; returns the port (useful with port 0). An address it cannot bind is a ListenError."""
        loop = asyncio.get_running_loop()
        factory = self.limiter.factory(lambda: _Pair(self).client)
        try:
            self._server = await loop.create_server(factory, self.listen[0], self.listen[1], backlog=1024)
        except OSError as exc:
            raise ListenError(self.listen[0], self.listen[1], exc) from None
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("link %s: %s:%d → %s:%d", self.name, self.listen[0], self.port, *self.upstream)
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for pair in list(self._pairs):
            pair.kill()
            pair._finish()

    def _count(self, size: int, up: bool) -> None:
        if up:
            self.stats.bytes_up += size
        else:
            self.stats.bytes_down += size

    def _client_connected(self, side: _Side) -> None:
        pair = side.pair
        self._pairs.add(pair)
        self.stats.active += 1
        assert side.transport is not None
        side.transport.pause_reading()  # until the upstream is connected
        pair.spawn(self._connect(pair))

    def _pair_done(self, pair: _Pair) -> None:
        if pair in self._pairs:
            self._pairs.discard(pair)
            self.stats.active -= 1
            notify(self.observers, "connection_closed")

    async def _connect(self, pair: _Pair) -> None:
        client = pair.client
        assert client.transport is not None
        if self.controller.partitioned:
            if self.controller.config.partition.new_connections == "refuse":
                self.stats.refused += 1
                notify(self.observers, "connection_refused")
                reset_transport(client.transport)
                return
            await self.controller.wait_healed()
        loop = asyncio.get_running_loop()
        upstream = _Side(pair, upstream=True)
        try:
            async with asyncio.timeout(self.connect_timeout):
                await loop.create_connection(lambda: upstream, *self.upstream)
        except (OSError, TimeoutError) as exc:
            log.warning("link %s: cannot reach %s:%d: %s", self.name, *self.upstream, exc)
            self.stats.refused += 1
            notify(self.observers, "connection_refused")
            reset_transport(client.transport)
            return
        pair.upstream = upstream
        client.peer_writable = upstream.writable
        upstream.peer_writable = client.writable
        self.stats.accepted += 1
        notify(self.observers, "connection_accepted")
        ordinal = self.controller.new_connection()

        def on_reset() -> None:
            self.stats.resets += 1
            notify(self.observers, "connection_reset")
            pair.kill()

        client.out = ShapedSink(
            _TransportSink(upstream),
            self.controller,
            ordinal,
            Direction.CLIENT_TO_SERVER,
            on_reset,
            pair.close,
        )
        upstream.out = ShapedSink(
            _TransportSink(client), self.controller, ordinal, Direction.SERVER_TO_CLIENT, on_reset, pair.close
        )
        for data in client.early:
            self._count(len(data), True)
            client.out.write(data)
        client.early.clear()
        if client.lost:  # the client left while we were connecting
            client.out.close()
            return
        if client.transport is not None and not client.transport.is_closing():
            client.transport.resume_reading()
