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
import socket
import struct
from dataclasses import dataclass, field

from mcpchaos.netsim.controller import NetworkController
from mcpchaos.netsim.stream import ShapedSink
from mcpchaos.protocol.messages import Direction
from mcpchaos.transport.pipes import READ_CHUNK, StreamSink

log = logging.getLogger("mcpchaos.link")


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST rather than FIN (SO_LINGER 0), as a lost connection looks."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class _TcpSink(StreamSink):
    """Closing one direction of a relayed TCP connection is a half-close (FIN), so the
    other direction can still carry the answer."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        super().__init__(writer)
        self._tcp_writer = writer

    def close(self) -> None:
        if self._tcp_writer.is_closing():
            return
        if self._tcp_writer.can_write_eof():
            with contextlib.suppress(OSError, RuntimeError):
                self._tcp_writer.write_eof()
        else:
            self._tcp_writer.close()


@dataclass
class LinkStats:
    accepted: int = 0
    refused: int = 0
    resets: int = 0
    active: int = 0
    bytes_up: int = 0
    bytes_down: int = 0


@dataclass(eq=False)
class _Connection:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def kill(self) -> None:
        reset(self.client)
        if self.upstream is not None:
            reset(self.upstream)
        for task in self.tasks:
            task.cancel()


class TcpLink:
    """Listen on (host, port); relay each connection to the upstream through the network."""

    def __init__(
        self,
        listen: tuple[str, int],
        upstream: tuple[str, int],
        controller: NetworkController,
        name: str | None = None,
        connect_timeout: float = 5.0,
    ) -> None:
        self.listen = listen
        self.upstream = upstream
        self.controller = controller
        self.name = name or f"{listen[0]}:{listen[1]}"
        self.connect_timeout = connect_timeout
        self.stats = LinkStats()
        self._server: asyncio.Server | None = None
        self._connections: set[_Connection] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self.port: int | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, self.listen[0], self.listen[1])
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("link %s: %s:%d → %s:%d", self.name, self.listen[0], self.port, *self.upstream)
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for connection in list(self._connections):
            connection.kill()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._serve(reader, writer))
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = _Connection(writer)
        self._connections.add(connection)
        self.stats.active += 1
        try:
            if self.controller.partitioned:
                if self.controller.config.partition.new_connections == "refuse":
                    self.stats.refused += 1
                    reset(writer)
                    return
                await self.controller.wait_healed()
            try:
                async with asyncio.timeout(self.connect_timeout):
                    up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            except (OSError, TimeoutError) as exc:
                log.warning("link %s: cannot reach %s:%d: %s", self.name, *self.upstream, exc)
                self.stats.refused += 1
                reset(writer)
                return
            connection.upstream = up_writer
            self.stats.accepted += 1
            ordinal = self.controller.new_connection()

            def on_reset() -> None:
                self.stats.resets += 1
                connection.kill()

            to_upstream = ShapedSink(
                StreamSink(up_writer), self.controller, ordinal, Direction.CLIENT_TO_SERVER, on_reset
            )
            to_client = ShapedSink(
                StreamSink(writer), self.controller, ordinal, Direction.SERVER_TO_CLIENT, on_reset
            )
            connection.tasks = [
                asyncio.create_task(self._pipe(reader, to_upstream, True)),
                asyncio.create_task(self._pipe(up_reader, to_client, False)),
            ]
            await asyncio.gather(*connection.tasks, return_exceptions=True)
            await asyncio.gather(to_upstream.wait_closed(), to_client.wait_closed(), return_exceptions=True)
        finally:
            self.stats.active -= 1
            self._connections.discard(connection)
            for stream in (connection.client, connection.upstream):
                if stream is not None and not stream.is_closing():
                    stream.close()

    async def _pipe(self, reader: asyncio.StreamReader, sink: ShapedSink, up: bool) -> None:
        try:
            while chunk := await reader.read(READ_CHUNK):
                if up:
                    self.stats.bytes_up += len(chunk)
                else:
                    self.stats.bytes_down += len(chunk)
                sink.write(chunk)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            sink.close()


def parse_host_port(value: str, what: str) -> tuple[str, int]:
    """``HOST:PORT`` → (host, port), with an error that names the option."""
    from mcpchaos.errors import ConfigError

    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{what} must be HOST:PORT (e.g. 127.0.0.1:9000), got {value!r}")
    return host.strip("[]"), int(port)
