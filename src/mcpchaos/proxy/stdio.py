"""The stdio proxy: an MCP client launches us as its server; we launch the real server.

Lifecycle (the MCP specification's stdio rules, seen from the middle):

* client closes our stdin → requests already forwarded get their answers, then we close
  the server's stdin; all within ``shutdown_grace`` seconds, then SIGTERM, then SIGKILL;
  we exit with the server's code (0 if we had to stop it).
* the server exits or closes its stdout → every request still waiting for it gets a
  JSON-RPC error at once (-32010), we say why on stderr and exit with the server's code.
* SIGTERM/SIGINT/SIGHUP to us → the same shutdown toward the server, then exit 128+signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mcpchaos.events import notify
from mcpchaos.netsim.controller import NetworkController
from mcpchaos.netsim.stream import ShapedSink
from mcpchaos.protocol import codes
from mcpchaos.protocol.messages import Direction
from mcpchaos.protocol.ndjson import DEFAULT_MAX_LINE_BYTES, NdjsonFramer
from mcpchaos.proxy.chain import InterceptorChain
from mcpchaos.proxy.context import Session
from mcpchaos.proxy.pump import Pump
from mcpchaos.transport.pipes import ByteSink, ByteSource, open_sink, open_source
from mcpchaos.transport.stdio import ChildProcess, NdjsonEndpoint, exit_status, read_frames

log = logging.getLogger("mcpchaos.proxy")

_session_ordinals = itertools.count(1)


@dataclass(frozen=True, slots=True)
class StdioOptions:
    """Knobs of the stdio proxy."""

    max_message_bytes: int = DEFAULT_MAX_LINE_BYTES
    """Longest line accepted from either side; longer ones are answered/logged and skipped."""
    shutdown_grace: float = 1.5
    """Seconds the server gets to exit after its stdin closes, before SIGTERM. Below the
    SDK client's own 2 s, so the client never has to kill us mid-shutdown."""
    kill_after: float = 1.0
    """Seconds between SIGTERM and SIGKILL."""
    upstream_exit_wait: float = 0.5
    """After the server closed its stdout: how long to wait for it to exit before stopping it."""


class StdioProxy:
    """One client on our stdio ↔ one server child process, through an interceptor chain."""

    def __init__(
        self,
        command: Sequence[str],
        chain: InterceptorChain | None = None,
        options: StdioOptions | None = None,
        client_in_fd: int = 0,
        client_out_fd: int = 1,
        network: NetworkController | None = None,
    ) -> None:
        self.command = list(command)
        self.network = network
        self.chain = chain if chain is not None else InterceptorChain()
        self.options = options if options is not None else StdioOptions()
        self._client_fds = (client_in_fd, client_out_fd)
        ordinal = next(_session_ordinals)
        self.session = Session(id=f"stdio-{ordinal}", ordinal=ordinal, transport="stdio")
        self.pump: Pump | None = None
        self.child: ChildProcess | None = None
        self._stop_signal: asyncio.Future[int] | None = None

    async def run(self, handle_signals: bool = False) -> int:
        """Serve until one side ends; return the exit status for the proxy process.

        Raises :class:`~mcpchaos.errors.UpstreamStartError` if the server cannot start.
        """
        loop = asyncio.get_running_loop()
        child = await ChildProcess.spawn(self.command)
        self.child = child
        client_source = await open_source(self._client_fds[0])
        client_sink = await open_sink(self._client_fds[1])
        if self.network is not None:
            # Simulated network under the pipes: server-bound bytes are "upstream",
            # client-bound bytes "downstream"; a simulated loss breaks the connection.
            connection = self.network.new_connection()
            lost = lambda: self._disconnect("simulated network loss")  # noqa: E731
            child.sink = ShapedSink(child.sink, self.network, connection, Direction.CLIENT_TO_SERVER, lost)
            client_sink = ShapedSink(client_sink, self.network, connection, Direction.SERVER_TO_CLIENT, lost)
        log.info("started server pid %d: %s", child.pid, " ".join(self.command))
        client = NdjsonEndpoint(client_sink, "client")
        server = NdjsonEndpoint(child.sink, "server")
        pump = Pump(self.session, self.chain, client, server, on_disconnect=self._disconnect)
        self.pump = pump
        notify(self.chain.observers, "session_started", self.session)
        self._stop_signal = loop.create_future()
        signals = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP) if handle_signals else ()
        for signum in signals:
            loop.add_signal_handler(signum, self._on_signal, signum)

        client_task = asyncio.create_task(
            self._relay(client_source, Direction.CLIENT_TO_SERVER, pump, child.sink), name="client-reader"
        )
        server_task = asyncio.create_task(
            self._relay(child.source, Direction.SERVER_TO_CLIENT, pump, client_sink), name="server-reader"
        )
        exit_task = asyncio.create_task(child.wait_exit(), name="server-exit")
        try:
            waiting: set[asyncio.Future[Any]] = {client_task, server_task, exit_task, self._stop_signal}
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if self._stop_signal in done:
                received = self._stop_signal.result()
                log.info("received %s; stopping the server", signal.Signals(received).name)
                await child.stop(self.options.shutdown_grace, self.options.kill_after)
                await child.reap()
                return 128 + received
            if client_task in done and server_task not in done and exit_task not in done:
                return await self._client_closed(child, client_sink, server_task)
            return await self._server_gone(child, client_sink, server_task)
        finally:
            for signum in signals:
                loop.remove_signal_handler(signum)
            for task in (client_task, server_task, exit_task):
                task.cancel()
            await asyncio.gather(client_task, server_task, exit_task, return_exceptions=True)
            pump.close()
            notify(self.chain.observers, "session_ended", self.session)
            if child.returncode is None:  # an unexpected error path: never leave it behind
                child.signal(signal.SIGKILL)
                await child.reap()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client_sink.drain(), 1.0)
            client_sink.close()
            if isinstance(client_sink, ShapedSink):  # let delayed bytes out before we exit
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(client_sink.wait_closed(), 5.0)
            client_source.close()

    async def _relay(self, source: ByteSource, direction: Direction, pump: Pump, sink: ByteSink) -> None:
        framer = NdjsonFramer(self.options.max_message_bytes)
        await read_frames(source, framer, lambda frame: pump.receive(direction, frame), sink.drain)

    async def _client_closed(
        self, child: ChildProcess, client_sink: ByteSink, server_task: asyncio.Task[None]
    ) -> int:
        log.info("client closed stdin; shutting the server down")
        # Requests already sent still get their answers (a client that writes its requests
        # and closes, e.g. stdin from a file), within the grace period.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.shutdown_grace
        assert self.pump is not None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(deadline):
                await child.sink.drain()
                await self.pump.wait_answered(Direction.CLIENT_TO_SERVER)
        remaining = max(deadline - loop.time(), 0.2)
        await child.stop(remaining, self.options.kill_after)
        # Whatever the server wrote before exiting still reaches the client.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server_task, 0.5)
        code = await child.reap()
        if code is None:
            return 1
        if code < 0:  # stopped by our own signal as part of a normal shutdown
            log.info("server stopped by %s during shutdown", signal.Signals(-code).name)
            return 0
        return code

    async def _server_gone(
        self, child: ChildProcess, client_sink: ByteSink, server_task: asyncio.Task[None]
    ) -> int:
        # Let the reader deliver what the server wrote before dying (bounded), then wait
        # briefly for the exit code.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(server_task), 0.2)
        try:
            async with asyncio.timeout(self.options.upstream_exit_wait):
                await child.wait_exit()
        except TimeoutError:
            log.warning("server closed its stdout but is still running; stopping it")
            await child.stop(0.0, self.options.kill_after)
        code = await child.reap()
        status = exit_status(code) if code is not None else 1
        assert self.pump is not None
        text = f"mcpchaos: the upstream server exited (status {status}) before answering"
        answered = self.pump.fail_pending(Direction.CLIENT_TO_SERVER, codes.UPSTREAM_UNAVAILABLE, text)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client_sink.drain(), 1.0)
        log.error(
            "the upstream server (pid %d) exited with status %d; answered %d pending request(s) with %d",
            child.pid,
            status,
            answered,
            codes.UPSTREAM_UNAVAILABLE,
        )
        return status

    def _disconnect(self, reason: str) -> None:
        """A Disconnect effect: on stdio the connection is the server's pipes, so break
        them and stop the server, as a crashed connection would; pending requests then get
        the upstream-gone error."""
        if self.child is not None:
            self.child.sink.abort()
            self.child.signal(signal.SIGTERM)

    def _on_signal(self, signum: int) -> None:
        if self._stop_signal is not None and not self._stop_signal.done():
            self._stop_signal.set_result(signum)
