"""The stdio client: spawns the server command per client and speaks NDJSON over its pipes.

Each connection (one process) has its own table of pending requests, so a killed process
fails exactly its own requests (transport ``process_exited``) even while a new one starts.
Request ids grow across processes, so an id is never reused within a client.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any

from mcpchaos.harness.load.fast_http import HandshakeRejectedError, RequestFailedError
from mcpchaos.harness.load.recorder import Recorder, Ticket
from mcpchaos.harness.load.wire import PreparedOp, initialize_bytes, request_bytes
from mcpchaos.protocol.client_wire import INITIALIZED, SESSIONLESS_ERA, is_response, loads, method_not_found
from mcpchaos.protocol.ndjson import NEED_DATA, NdjsonFramer

_REMEMBERED_TICKETS = 10_000
"""A duplicate of an answer older than this many requests counts as unexpected."""

_CLOSE_GRACE_S = 1.0
"""After closing stdin, how long a server gets to exit before its process group is killed."""


class _Connection:
    """One server process, its reader task and the requests waiting on it."""

    def __init__(self, process: asyncio.subprocess.Process, client: StdioClient) -> None:
        self.process = process
        self.pending: dict[int, tuple[Ticket | None, asyncio.Future[dict[str, Any] | None]]] = {}
        self.tickets: dict[int, Ticket] = {}
        """The last requests sent on this connection (to tell duplicates from unknown ids);
        bounded, so a long run does not keep every ticket alive."""
        self.reader = asyncio.create_task(self._read(client))

    def write(self, line: bytes) -> None:
        stdin = self.process.stdin
        if stdin is None or stdin.is_closing():
            raise RequestFailedError("process_exited")
        stdin.write(line + b"\n")

    async def _read(self, client: StdioClient) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        framer = NdjsonFramer()
        try:
            while chunk := await stdout.read(65536):
                framer.feed(chunk)
                while (frame := framer.next_frame()) is not NEED_DATA:
                    if isinstance(frame, bytes):
                        self._route(frame, client)
        except (ConnectionError, OSError):
            pass
        finally:
            # The process is gone (or its stdout is): whatever still waits will never be answered.
            for ticket, future in self.pending.values():
                if ticket is not None:
                    client.recorder.transport(ticket, "process_exited")
                if not future.done():
                    future.set_result(None)
            self.pending.clear()
            client.connection_ended(self)

    def _route(self, frame: bytes, client: StdioClient) -> None:
        message = loads(frame)
        if message is None:
            return  # corrupt line: its request may still be answered, or end by deadline
        if "method" in message:
            if "id" in message:  # a server-to-client request: we offer no such feature
                with contextlib.suppress(RequestFailedError, OSError):
                    self.write(method_not_found(message["id"]))
            return
        if not is_response(message):
            return
        request_id = message.get("id")
        entry = self.pending.pop(request_id, None) if isinstance(request_id, int) else None
        if entry is not None:
            ticket, future = entry
            if ticket is not None:
                client.recorder.response(ticket, message)
            if not future.done():
                future.set_result(message)
            return
        known = self.tickets.get(request_id) if isinstance(request_id, int) else None
        if known is not None:
            client.recorder.response(known, message)  # duplicate, or a late answer after a deadline
        else:
            client.recorder.unexpected()


_RETRY_FIRST_S, _RETRY_MAX_S = 0.1, 5.0
"""The backoff before starting a server again after a failed start: 0.1 s, doubled, ≤ 5 s."""
_MAX_FAILED_STARTS = 5
"""Failed starts in a row after which a client stops starting its server (its requests then
end as transport ``start_failed`` at once): the processes a run spawns stay bounded."""


class StdioClient:
    """One MCP session with a server process of its own."""

    def __init__(
        self,
        command: Sequence[str],
        env: Mapping[str, str] | None,
        protocol: str,
        reinitialize: bool,
        deadline_s: float | None,
        recorder: Recorder,
        on_session: Callable[[], None],
        *,
        stderr: int | IO[bytes] = asyncio.subprocess.DEVNULL,
        startup_s: float = 30.0,
    ) -> None:
        """``stderr``: where the server processes' stderr goes (default: nowhere); ``startup_s``:
        the deadline of a process start with its handshake (apart from a call's)."""
        self._command = list(command)
        self._stderr = stderr
        self._env = dict(env) if env is not None else None
        self._protocol = protocol
        self._reinitialize = reinitialize
        self._deadline_s = deadline_s
        self._startup_s = startup_s
        self.recorder = recorder
        self._on_session = on_session
        self._connection: _Connection | None = None
        self._all: set[_Connection] = set()
        self._next_id = 0
        self._gave_up = False
        self._failed_starts = 0
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        async with asyncio.timeout(self._startup_s):
            await self._ensure()

    def drop_session(self) -> None:
        """Kill the server process: the next request spawns a new one and re-initializes."""
        connection, self._connection = self._connection, None
        if connection is not None:
            _kill(connection.process)

    def connection_ended(self, connection: _Connection) -> None:
        self._all.discard(connection)
        if self._connection is connection:
            self._connection = None
            if not self._reinitialize:
                self._gave_up = True

    async def close(self) -> None:
        """Close stdin (a polite server exits), then kill the process group after a bound."""
        self._connection = None
        for connection in list(self._all):
            stdin = connection.process.stdin
            if stdin is not None:
                stdin.close()
            try:
                async with asyncio.timeout(_CLOSE_GRACE_S):
                    await connection.process.wait()
            except TimeoutError:
                _kill(connection.process)
                await connection.process.wait()
            with contextlib.suppress(asyncio.CancelledError):
                await connection.reader

    async def _ensure(self) -> _Connection:
        connection = self._connection
        if connection is not None:
            return connection
        async with self._lock:
            if self._connection is not None:
                return self._connection
            if self._gave_up:
                raise RequestFailedError("session_lost")
            if self._failed_starts >= _MAX_FAILED_STARTS:
                raise RequestFailedError("start_failed")  # given up: a run spawns a bounded number
            if self._failed_starts:
                # A server that keeps failing to start is not restarted in a storm: each new
                # try waits twice as long as the last (bounded), so a run spawns few processes.
                await asyncio.sleep(min(_RETRY_FIRST_S * 2 ** (self._failed_starts - 1), _RETRY_MAX_S))
            process = await asyncio.create_subprocess_exec(
                *self._command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=self._stderr,
                env=self._env,
                start_new_session=True,  # its own process group: killing it takes its children too
            )
            connection = _Connection(process, self)
            self._all.add(connection)
            try:
                if self._protocol != SESSIONLESS_ERA:
                    await self._initialize(connection)
            except BaseException:
                _kill(process)
                self._failed_starts += 1
                raise
            self._failed_starts = 0
            self._connection = connection
            self._on_session()
            return connection

    async def _initialize(self, connection: _Connection) -> None:
        """``initialize`` then ``notifications/initialized``, reported to the recorder as a
        handshake (not a request)."""
        self._next_id += 1
        request_id = self._next_id
        future: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()
        connection.pending[request_id] = (None, future)
        connection.write(initialize_bytes(request_id))
        opened = False
        answer: dict[str, Any] | None = None
        try:
            answer = await future
            if answer is None:
                raise RequestFailedError("process_exited")
            if "error" in answer:
                raise HandshakeRejectedError(answer)
            connection.write(INITIALIZED)
            opened = True
        finally:
            self.recorder.handshake(sent=True, opened=opened, answer=answer)

    async def call(self, op: PreparedOp, ticket: Ticket) -> None:
        """Send one request and record its single outcome."""
        connection: _Connection | None = None
        request_id = 0
        try:
            if self._connection is None:  # start-up has its own deadline, not the call's
                try:
                    async with asyncio.timeout(self._startup_s):
                        connection = await self._ensure()
                except TimeoutError:
                    raise RequestFailedError("startup_timeout") from None
            async with asyncio.timeout(self._deadline_s):
                connection = await self._ensure()
                self._next_id += 1
                request_id = self._next_id
                future: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()
                connection.pending[request_id] = (ticket, future)
                connection.tickets[request_id] = ticket
                if len(connection.tickets) > _REMEMBERED_TICKETS:
                    del connection.tickets[next(iter(connection.tickets))]  # the oldest
                ticket.sent = True
                connection.write(request_bytes(request_id, op))
                await future  # the reader records the outcome (answer or process exit)
        except TimeoutError:
            if connection is not None:
                connection.pending.pop(request_id, None)
            self.recorder.deadline(ticket)
        except RequestFailedError as failure:
            if connection is not None:
                connection.pending.pop(request_id, None)
            self.recorder.transport(ticket, failure.kind)
        except HandshakeRejectedError as refused:
            self.recorder.transport(ticket, "handshake_rejected", str(refused))  # the call never went
        except OSError as error:  # could not spawn, or a broken pipe
            if connection is not None:
                connection.pending.pop(request_id, None)
            self.recorder.transport(ticket, "spawn_failed" if connection is None else "process_exited")
            del error


def _kill(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
