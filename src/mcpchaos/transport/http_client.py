"""The client side of the HTTP/1.1 core: a bounded keep-alive pool toward one upstream origin.

One asyncio Protocol per upstream connection, httptools (llhttp) parsing responses. A request
is handed a :class:`ResponseSink` whose methods are called as the response arrives (head, each
body chunk, the end, or a failure): no task and no queue per request, so a relayed answer costs
a few callbacks. The caller can :meth:`UpstreamCall.pause` reading (flow control: its own
reader is slow) and :meth:`UpstreamCall.cancel` (the upstream sees the connection close).

Foreign failures (OSError, parser errors, timeouts) become :mod:`mcpchaos.errors` here, at
the boundary. A connection is reused only when its response was read to its end and both
sides allow keep-alive; a reused connection that fails before any byte of its answer (the
upstream closed it while idle) is retried once on a fresh one.

Why one module of ≈ 440 lines: the call, the connection and the pool hand a request between
them (waiting → sent → retried → kept-alive or dropped) through each other's private state;
split, each would have to expose that state to the other two.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections import deque
from typing import Protocol, cast

import httptools

from mcpchaos.deadlines import Deadline, Deadlines
from mcpchaos.errors import (
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamTooLargeError,
    UpstreamUnavailableError,
)

log = logging.getLogger("mcpchaos.http.client")

Headers = list[tuple[bytes, bytes]]
IDLE_KEEPALIVE = 15.0
"""Seconds an upstream connection is kept unused before it is closed (aiohttp's default):
servers close idle connections themselves, and one closed under a request costs a retry."""


class ResponseSink(Protocol):
    """Who reads an upstream response, as it arrives."""

    def head(self, status: int, headers: Headers) -> bool:
        """The status line and headers arrived. Return True when the body is bounded by the
        same timeout as the head (a JSON answer), False for a stream that may last."""
        ...

    def body(self, chunk: bytes) -> None: ...

    def done(self) -> None:
        """The whole response arrived."""
        ...

    def failed(self, error: UpstreamError) -> None:
        """No (whole) response will come; called at most once, never after ``done``."""
        ...


class UpstreamCall:
    """One request: waiting for a connection, sent, or finished."""

    __slots__ = (
        "_conn",
        "_kept",
        "_kept_size",
        "_pool",
        "_timer",
        "body",
        "finished",
        "head_timeout",
        "request",
        "retried",
        "sink",
    )

    def __init__(
        self, pool: UpstreamPool, request: bytes, body: bytes, sink: ResponseSink, head_timeout: float
    ) -> None:
        self._pool = pool
        self.request = request
        self.body = body
        self.sink = sink
        self.head_timeout = head_timeout
        self._conn: _Connection | None = None
        self._timer: Deadline | None = None
        self.finished = False
        self.retried = False
        self._kept: list[bytes] = []
        self._kept_size = 0

    def keep(self, chunk: bytes, limit: int) -> None:
        """Collect a body meant to be read whole (a JSON answer); beyond ``limit`` bytes the
        call fails with UpstreamTooLargeError instead of buffering more."""
        self._kept_size += len(chunk)
        if self._kept_size > limit:
            self.fail(UpstreamTooLargeError(f"upstream response body exceeds the limit of {limit} bytes"))
        else:
            self._kept.append(chunk)

    def kept(self) -> bytes:
        """The body collected by :meth:`keep` (taken: a second call returns nothing)."""
        kept, self._kept = self._kept, []
        return kept[0] if len(kept) == 1 else b"".join(kept)

    def pause(self) -> None:
        """Stop reading the response (the upstream's TCP window then holds it back)."""
        if self._conn is not None and self._conn.transport is not None:
            self._conn.transport.pause_reading()

    def resume(self) -> None:
        if self._conn is not None and self._conn.transport is not None:
            self._conn.transport.resume_reading()

    def cancel(self) -> None:
        """Give the request up: its connection is closed (never reused mid-answer)."""
        if self.finished:
            return
        conn = self._end()
        if conn is not None:
            conn.drop()
        else:
            self._pool.forget_waiter(self)

    # -- used by the pool and the connection --

    def arm(self) -> None:
        """Start (or restart) the ``head_timeout`` clock of this call."""
        self._disarm()
        if self.head_timeout > 0:
            deadlines = self._pool.deadlines(self.head_timeout)
            self._timer = deadlines.call_later(self._pool.loop, self._timed_out)

    def _disarm(self) -> None:
        timer = self._timer
        if timer is not None:
            self._timer = None
            self._pool.deadlines(self.head_timeout).leave(timer)

    def _timed_out(self) -> None:
        self._timer = None
        seconds = self.head_timeout
        if self.finished:
            return
        conn = self._conn
        what = "response" if conn is None or not conn.head_seen else "response body"
        self.fail(UpstreamTimeoutError(f"no {what} from {self._pool.url} within {seconds:g}s"))

    def fail(self, error: UpstreamError) -> None:
        if self.finished:
            return
        conn = self._end()
        if conn is not None:
            conn.drop()
        self.sink.failed(error)

    def complete(self) -> None:
        self._end()
        self.sink.done()

    def _end(self) -> _Connection | None:
        """The call is over: no clock, no connection; returns the connection it had."""
        self.finished = True
        self._disarm()
        conn, self._conn = self._conn, None
        return conn


class _Connection(asyncio.Protocol):
    """One kept-alive connection; carries one call at a time."""

    def __init__(self, pool: UpstreamPool) -> None:
        self._pool = pool
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self.call: UpstreamCall | None = None
        self._headers: Headers = []
        self.head_seen = False
        self._received = False
        self._reusable = True
        self._until_close = False
        self._head_only = False
        self._body_clock = False
        self.used = 0
        self.idle_since = 0.0
        self.closed = False

    def start(self, call: UpstreamCall) -> None:
        assert self.transport is not None
        self.call = call
        call._conn = self
        self._headers = []
        self.head_seen = self._received = self._until_close = self._body_clock = False
        self._head_only = call.request.startswith(b"HEAD ")
        self.used += 1
        call.arm()
        self.transport.write(call.request + call.body if call.body else call.request)

    def drop(self) -> None:
        """Close now (a call gave up or failed on it); never reused."""
        self.call = None
        self._reusable = False
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    # -- asyncio --

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self._received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            call = self.call
            if call is not None:
                call.fail(UpstreamUnavailableError(f"the upstream sent a malformed HTTP response: {exc}"))
            self.drop()
            return
        if self._body_clock and self.call is not None:
            # A bounded body that did not come with its head: it gets the timeout anew.
            self._body_clock = False
            self.call.arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._pool.lost(self)
        call, self.call = self.call, None
        if call is None or call.finished:
            return
        if self.head_seen and self._until_close:
            call.complete()  # a body delimited by the connection's end
        elif not self._received and self.used > 1 and not call.retried:
            call.retried = True  # the upstream closed this idle connection as we wrote: once more
            call._conn = None
            self._pool.send(call)
        else:
            reason = f": {exc}" if exc else ""
            where = "mid-body" if self.head_seen else "before answering"
            call.fail(UpstreamUnavailableError(f"upstream connection closed {where}{reason}"))

    # -- httptools --

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        call = self.call
        if call is None:
            return
        parser = self._parser
        status = parser.get_status_code()
        if status < 200:  # 100 Continue and friends: the real head is still to come
            self._headers = []
            return
        self.head_seen = True
        self._reusable = parser.should_keep_alive()
        names = {name.lower() for name, _ in self._headers}
        self._until_close = b"content-length" not in names and b"transfer-encoding" not in names
        bounded = call.sink.head(status, self._headers)
        if call.finished:
            return
        if bounded:
            self._body_clock = True  # re-armed only if the body is still to come (see above)
        else:
            call._disarm()
        if self._head_only:
            self._reusable = False
            self.on_message_complete()

    def on_body(self, body: bytes) -> None:
        call = self.call
        if call is not None:
            call.sink.body(body)

    def on_message_complete(self) -> None:
        call, self.call = self.call, None
        if call is None or not self.head_seen:
            return
        reusable = self._reusable and not self.closed
        call.complete()
        if reusable:
            self._pool.release(self)
        else:
            self.drop()


class UpstreamPool:
    """Connections to ``host:port``: at most ``max_connections`` open (0: no limit), at most
    ``max_idle`` kept between requests. Requests beyond the limit wait their turn, in order."""

    def __init__(
        self,
        host: str,
        port: int,
        connect_timeout: float = 5.0,
        max_connections: int = 0,
        max_idle: int = 256,
        tls: bool = False,
    ) -> None:
        self.host = host
        self._ssl: ssl.SSLContext | None = ssl.create_default_context() if tls else None
        self.port = port
        self.url = f"{host}:{port}"
        self.authority = (f"[{host}]" if ":" in host else host) + f":{port}"
        self._connect_timeout = connect_timeout
        self._max = max_connections
        self._max_idle = max_idle
        self._sweeper: asyncio.TimerHandle | None = None
        self._idle: list[_Connection] = []
        self._open = 0
        self._waiting: deque[UpstreamCall] = deque()
        self._connecting: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._deadlines: dict[float, Deadlines] = {}
        """Response deadlines, one timer per length (a FIFO needs one length)."""

    def deadlines(self, seconds: float) -> Deadlines:
        deadlines = self._deadlines.get(seconds)
        if deadlines is None:
            deadlines = self._deadlines[seconds] = Deadlines(seconds)
        return deadlines

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running loop (the pool may be made before it runs)."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def request(self, head: bytes, body: bytes, sink: ResponseSink, head_timeout: float) -> UpstreamCall:
        """Send a request (``head`` is the whole request head, blank line included)."""
        call = UpstreamCall(self, head, body, sink, head_timeout)
        self.send(call)
        return call

    def send(self, call: UpstreamCall) -> None:
        if self._closed:
            call.fail(UpstreamUnavailableError("the proxy is stopping"))
            return
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed:
                conn.start(call)
                return
        if self._max and self._open >= self._max:
            self._waiting.append(call)
            return
        self._open += 1
        task = self.loop.create_task(self._connect(call))
        self._connecting.add(task)
        task.add_done_callback(self._connecting.discard)

    async def _connect(self, call: UpstreamCall) -> None:
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, protocol = await self.loop.create_connection(
                    lambda: _Connection(self), self.host, self.port, ssl=self._ssl
                )
        except asyncio.CancelledError:
            self._open -= 1
            call.fail(UpstreamUnavailableError("the proxy is stopping"))
            raise
        except (OSError, TimeoutError) as exc:
            self._open -= 1
            why = f"no connection within {self._connect_timeout:g}s" if isinstance(exc, TimeoutError) else exc
            call.fail(UpstreamUnavailableError(f"cannot reach {self.url}: {why}"))
            self._next_waiter()
            return
        conn = protocol
        assert isinstance(conn, _Connection)
        if call.finished:  # given up while connecting: keep the connection for the next one
            self.release(conn)
        else:
            conn.start(call)

    def release(self, conn: _Connection) -> None:
        """``conn`` finished a response and may be reused."""
        if self._waiting:
            conn.start(self._waiting.popleft())
        elif len(self._idle) < self._max_idle and not self._closed:
            conn.idle_since = self.loop.time()
            self._idle.append(conn)
            if self._sweeper is None:
                self._sweeper = self.loop.call_later(IDLE_KEEPALIVE / 2, self._sweep)
        else:
            conn.drop()

    def _sweep(self) -> None:
        """Close connections idle for longer than IDLE_KEEPALIVE (oldest are first in the list:
        connections are taken from its end)."""
        self._sweeper = None
        cutoff = self.loop.time() - IDLE_KEEPALIVE
        stale = 0
        while stale < len(self._idle) and self._idle[stale].idle_since < cutoff:
            stale += 1
        for conn in self._idle[:stale]:
            conn.drop()
        del self._idle[:stale]
        if self._idle and not self._closed:
            self._sweeper = self.loop.call_later(IDLE_KEEPALIVE / 2, self._sweep)

    def lost(self, conn: _Connection) -> None:
        self._open -= 1
        if conn in self._idle:
            self._idle.remove(conn)
        self._next_waiter()

    def _next_waiter(self) -> None:
        while self._waiting and (not self._max or self._open < self._max):
            call = self._waiting.popleft()
            if not call.finished:
                self.send(call)
                return

    def forget_waiter(self, call: UpstreamCall) -> None:
        with contextlib.suppress(ValueError):
            self._waiting.remove(call)

    @property
    def open_connections(self) -> int:
        return self._open

    async def close(self) -> None:
        """Close every connection; calls still waiting fail."""
        self._closed = True
        for task in list(self._connecting):
            task.cancel()
        await asyncio.gather(*self._connecting, return_exceptions=True)
        while self._waiting:
            self._waiting.popleft().fail(UpstreamUnavailableError("the proxy is stopping"))
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for conn in self._idle:
            conn.drop()
        self._idle.clear()


__all__ = ["Headers", "ResponseSink", "UpstreamCall", "UpstreamPool"]
