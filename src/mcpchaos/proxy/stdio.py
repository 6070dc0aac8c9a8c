"""The stdio proxy: an MCP client launches us as its server; we launch the real server.

Lifecycle (the MCP specification's stdio rules, seen from the middle):

* client closes our stdin → requests already forwarded get their answers, then we close
  the server's stdin; all within ``shutdown_grace`` seconds, then SIGTERM, then SIGKILL;
  we exit with the server's code (0 if we had to stop it).
* the server exits or closes its stdout → every request still waiting for it gets a
  JSON-RPC error at once (-32010), we say why on stderr and exit with the server's code;
  with the ``on-failure`` restart policy (:mod:`mcpchaos.proxy.restart`) a failed server is
  started again instead, after a backoff, and the client's initialize is replayed to it.
* SIGTERM/SIGINT/SIGHUP to us → the same shutdown toward the server, then exit 128+signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from mcpchaos.events import notify
from mcpchaos.intercept.chain import InterceptorChain
from mcpchaos.intercept.context import Session
from mcpchaos.netsim.controller import NetworkController
from mcpchaos.netsim.stream import ShapedSink
from mcpchaos.protocol import codes
from mcpchaos.protocol.messages import Direction, Kind, Message
from mcpchaos.protocol.ndjson import DEFAULT_MAX_LINE_BYTES, NdjsonFramer
from mcpchaos.protocol.tracker import Phase
from mcpchaos.proxy.pump import Pump
from mcpchaos.proxy.restart import RestartPolicy, UpstreamEndpoint
from mcpchaos.transport.pipes import ByteSink, ByteSource, open_sink, open_source
from mcpchaos.transport.stdio import ChildProcess, Frame, NdjsonEndpoint, exit_status, read_frames

log = logging.getLogger("mcpchaos.proxy")

_REPLAY_ID = "mcpchaos-replay-initialize"
"""The id of a replayed initialize: its answer is recognised and swallowed by it."""
_INITIALIZED = b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n'

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
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    """Whether and how a failed server is started again (default: never)."""


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
        self.upstream = UpstreamEndpoint(self.options.restart)
        self.restarts = 0
        self._stop_signal: asyncio.Future[int] | None = None
        self._connection: int | None = None
        # For restarts: the client's initialize (replayed to a new server) and whether the
        # client sent notifications/initialized after it.
        self._initialize: Message | None = None
        self._initialized_sent = False
        self._replay: asyncio.Future[Message] | None = None

    async def run(self, handle_signals: bool = False) -> int:
        """Serve until one side ends; return the exit status for the proxy process.

        Raises :class:`~mcpchaos.errors.UpstreamStartError` if the server cannot start.
        """
        loop = asyncio.get_running_loop()
        child = await ChildProcess.spawn(self.command)
        client_source = await open_source(self._client_fds[0])
        client_sink = await open_sink(self._client_fds[1])
        if self.network is not None:
            # Simulated network under the pipes: server-bound bytes are "upstream",
            # client-bound bytes "downstream"; a simulated loss breaks the connection.
            self._connection = self.network.new_connection()
            client_sink = ShapedSink(
                client_sink, self.network, self._connection, Direction.SERVER_TO_CLIENT, self._lost
            )
        self._started(child)
        self.upstream.attach(NdjsonEndpoint(child.sink, "server"))
        client = NdjsonEndpoint(client_sink, "client")
        pump = Pump(self.session, self.chain, client, self.upstream, on_disconnect=self._disconnect)
        self.pump = pump
        notify(self.chain.observers, "session_started", self.session)
        self._stop_signal = loop.create_future()
        signals = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP) if handle_signals else ()
        for signum in signals:
            loop.add_signal_handler(signum, self._on_signal, signum)

        restarting = self.options.restart.mode == "on-failure"
        from_client = self._from_client if restarting else partial(pump.receive, Direction.CLIENT_TO_SERVER)
        client_task = asyncio.create_task(
            self._relay(client_source, from_client, partial(self._drain_both, client_sink)),
            name="client-reader",
        )
        server_task = self._read_server(child, client_sink)
        exit_task = asyncio.create_task(child.wait_exit(), name="server-exit")
        status = 0  # the last failed server's status, once one failed
        try:
            while True:
                waiting: set[asyncio.Future[Any]] = {client_task, server_task, exit_task, self._stop_signal}
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if self._stop_signal in done:
                    return await self._stopped(child)
                if client_task in done and server_task not in done and exit_task not in done:
                    if not self.upstream.live:  # the client left while a new server initialized
                        await child.stop(0.0, self.options.kill_after)
                        return self._give_up(child, status)
                    return await self._client_closed(child, client_sink, server_task)
                status, again = await self._server_gone(child, client_sink, server_task)
                if not again:
                    if status != 0 and self.restarts:
                        log.error("giving up after %d restart(s) of the upstream server", self.restarts)
                    return self._give_up(child, status)
                self.restarts += 1
                new_child = await self._restart(status, client_task)
                if new_child is None:
                    if self._stop_signal.done():
                        return await self._stopped(child)
                    return self._give_up(child, status)  # the client left during the backoff
                child = new_child
                server_task = self._read_server(child, client_sink)
                exit_task = asyncio.create_task(child.wait_exit(), name="server-exit")
                await self._replay_initialize(child, {client_task, server_task, exit_task, self._stop_signal})
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

    def _started(self, child: ChildProcess) -> None:
        """A server process runs: put the simulated network under its stdin."""
        self.child = child
        if self.network is not None and self._connection is not None:
            child.sink = ShapedSink(
                child.sink, self.network, self._connection, Direction.CLIENT_TO_SERVER, self._lost
            )
        log.info("started server pid %d: %s", child.pid, " ".join(self.command))

    def _read_server(self, child: ChildProcess, client_sink: ByteSink) -> asyncio.Task[None]:
        return asyncio.create_task(
            self._relay(child.source, self._from_server, client_sink.drain), name="server-reader"
        )

    async def _relay(
        self, source: ByteSource, deliver: Callable[[Frame], None], after_chunk: Callable[[], object]
    ) -> None:
        framer = NdjsonFramer(self.options.max_message_bytes)
        await read_frames(source, framer, deliver, after_chunk)

    async def _drain_both(self, client_sink: ByteSink) -> None:
        """Backpressure after a chunk from the client: toward the running server (nothing to
        wait for during a restart: the restart queue is bounded), and toward the client itself,
        which the proxy answers directly (a malformed line, an injected error): a client that
        does not read its answers stops being read, as a server's full stdout would stop it."""
        sink = self.upstream.sink
        if sink is not None:
            await sink.drain()
        await client_sink.drain()

    def _from_client(self, frame: Frame) -> None:
        """A client frame, when restarts are on: remember the handshake to replay it."""
        if type(frame) is Message and frame.kind is not Kind.RESULT:
            method = frame.method
            if method == "initialize" and frame.kind is Kind.REQUEST:
                self._initialize = frame
                self._initialized_sent = False
            elif method == "notifications/initialized":
                self._initialized_sent = True
        assert self.pump is not None
        self.pump.receive(Direction.CLIENT_TO_SERVER, frame)

    def _from_server(self, frame: Frame) -> None:
        """A server frame; the answer to a replayed initialize is ours, not the client's."""
        replay = self._replay
        if (
            replay is not None
            and type(frame) is Message
            and frame.kind.is_response
            and frame.id == _REPLAY_ID
            and not replay.done()
        ):
            replay.set_result(frame)
            return
        assert self.pump is not None
        self.pump.receive(Direction.SERVER_TO_CLIENT, frame)

    async def _stopped(self, child: ChildProcess) -> int:
        assert self._stop_signal is not None
        received = self._stop_signal.result()
        log.info("received %s; stopping the server", signal.Signals(received).name)
        await child.stop(self.options.shutdown_grace, self.options.kill_after)
        await child.reap()
        status = self._give_up(child, 128 + received)  # requests queued for a restart get -32010
        self._answer_pending(f"before the proxy was stopped by {signal.Signals(received).name}")
        return status

    def _answer_pending(self, why: str) -> None:
        """The proxy gives up on the server: every request it still owes an answer gets
        -32010 (as on a crash), never silence (the run's end drains them to the client)."""
        assert self.pump is not None
        text = f"mcpchaos: the upstream server did not answer {why}"
        answered = self.pump.fail_pending(Direction.CLIENT_TO_SERVER, codes.UPSTREAM_UNAVAILABLE, text)
        if answered:
            log.warning(
                "answered %d request(s) still pending at shutdown with %d",
                answered,
                codes.UPSTREAM_UNAVAILABLE,
            )

    def _give_up(self, child: ChildProcess, status: int) -> int:
        """End for good: requests still queued for a server that will not come get -32010."""
        queued = self.upstream.clear()
        if queued and self.pump is not None:
            text = f"mcpchaos: the upstream server exited (status {status}) and was not restarted"
            self.pump.fail_pending(Direction.CLIENT_TO_SERVER, codes.UPSTREAM_UNAVAILABLE, text)
        return status

    async def _restart(self, status: int, client_task: asyncio.Task[None]) -> ChildProcess | None:
        """Wait the backoff, then start a new server. None if the client left or a stop
        signal came meanwhile. A server command that cannot start any more ends the proxy."""
        policy = self.options.restart
        delay = policy.delay(self.restarts)
        log.warning(
            "restarting the upstream server in %.2fs (restart %d of %d; it exited with status %d)",
            delay,
            self.restarts,
            policy.max_restarts,
            status,
        )
        notify(self.chain.observers, "upstream_restarted", self.restarts, status)
        assert self._stop_signal is not None
        watch: set[asyncio.Future[Any]] = {client_task, self._stop_signal}
        await asyncio.wait(watch, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        if client_task.done() or self._stop_signal.done():
            return None
        child = await ChildProcess.spawn(self.command)
        self._started(child)
        return child

    async def _replay_initialize(self, child: ChildProcess, watch: set[asyncio.Future[Any]]) -> None:
        """Bring a new server to where the old one was, then let the queued messages through.

        The client's initialize (with an id of ours) and notifications/initialized are
        replayed; the new server's answer is swallowed. A sessionless (2026-07-28) client
        never sent initialize: nothing to replay. If the server dies meanwhile, the caller's
        loop sees it among ``watch``; if it does not answer in time or refuses, it is stopped
        and counts as another failure.
        """
        initialize = self._initialize
        tracker = self.session.tracker
        if initialize is not None and tracker.phase is Phase.INITIALIZED:
            loop = asyncio.get_running_loop()
            self._replay = loop.create_future()
            try:
                child.sink.write(initialize.replace(id=_REPLAY_ID).wire + b"\n")
                done, _ = await asyncio.wait(
                    {self._replay, *watch},
                    timeout=self.options.restart.replay_timeout,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if self._replay not in done:
                    if not done:
                        log.error("the restarted server did not answer the replayed initialize; stopping it")
                        child.signal(signal.SIGKILL)
                    return
                answer = self._replay.result()
            except (ConnectionError, OSError):
                return  # its stdin is already gone: the exit will be seen by the caller
            finally:
                self._replay = None
            if answer.kind is not Kind.RESULT:
                log.error(
                    "the restarted server refused the replayed initialize (%r); stopping it",
                    answer.wire,
                )
                child.signal(signal.SIGKILL)
                return
            if self._initialized_sent:
                child.sink.write(_INITIALIZED)
        self.upstream.attach(NdjsonEndpoint(child.sink, "server"))
        log.warning("the upstream server runs again (pid %d)", child.pid)

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
        grace = self.options.shutdown_grace
        self._answer_pending(f"before the proxy shut down (shutdown grace {grace:g}s)")
        code = await child.reap()
        if code is None:
            return 1
        if code < 0:  # stopped by our own signal as part of a normal shutdown
            log.info("server stopped by %s during shutdown", signal.Signals(-code).name)
            return 0
        return code

    async def _server_gone(
        self, child: ChildProcess, client_sink: ByteSink, server_task: asyncio.Task[None]
    ) -> tuple[int, bool]:
        """The server ended: answer what it left pending; returns its status and whether
        the restart policy starts a new one."""
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
        again = self.options.restart.should_restart(status, self.restarts)
        # Requests still queued from an earlier restart never reached this server: they wait on.
        keep = self.upstream.queued_ids() if again else ()
        answered = self.pump.fail_pending(Direction.CLIENT_TO_SERVER, codes.UPSTREAM_UNAVAILABLE, text, keep)
        if again:
            self.upstream.detach()  # from now on the client's messages wait (or fail fast)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client_sink.drain(), 1.0)
        log.error(
            "the upstream server (pid %d) exited with status %d; answered %d pending request(s) with %d",
            child.pid,
            status,
            answered,
            codes.UPSTREAM_UNAVAILABLE,
        )
        return status, again

    def _lost(self) -> None:
        self._disconnect("simulated network loss")

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
