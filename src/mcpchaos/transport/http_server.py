"""The server side of the HTTP/1.1 core: one asyncio Protocol per client connection.

httptools (llhttp, Node's parser, in C) parses requests; everything else is a few plain
objects, because per request this is the hot path of every HTTP shape of the proxy.
Measured here against aiohttp's server: see BENCHMARKS.md.

* Keep-alive and pipelining: requests are answered strictly in order; those that arrive while
  one is being answered wait (parsed) in a short queue, and reading stops while it is full.
* Limits: a request head must arrive within ``header_timeout`` of the connection opening or of
  its first byte (a slow head on a kept-alive connection too); a body within ``body_timeout``
  of its head and at most ``max_body_bytes`` (413 before reading it when Content-Length says
  so); a kept-alive connection may sit ``idle_timeout`` between requests.
* ``Expect: 100-continue`` is answered ``100 Continue`` when the body is wanted.
* Flow control both ways: a client that does not read makes :attr:`ResponseWriter.paused` true
  (the transport's buffer is over its high-water mark) and :meth:`ResponseWriter.when_drained`
  lets the writer's source stop reading its own input until the client catches up.

A handler gets each whole request (head and body) and a
:class:`~mcpchaos.transport.http_message.ResponseWriter` (its states: that module).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Protocol, cast

import httptools

from mcpchaos.transport.http_message import Request, ResponseWriter, State

log = logging.getLogger("mcpchaos.http.server")

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_MAX_PIPELINED = 16
"""Requests parsed ahead of the one being answered; reading pauses beyond it."""
_MAX_HEAD_BYTES = 64 * 1024
"""A request head larger than this is refused (431)."""


class Handler(Protocol):
    def __call__(self, request: Request, writer: ResponseWriter) -> None:
        """Answer ``request`` through ``writer`` (now or later). Must not raise."""
        ...


class ServerLimits:
    """What the front allows a client; one shared object for every connection."""

    __slots__ = ("body_timeout", "header_timeout", "idle_timeout", "max_body_bytes", "on_too_slow", "reject")

    def __init__(
        self,
        max_body_bytes: int,
        header_timeout: float,
        body_timeout: float,
        idle_timeout: float,
        reject: Callable[[int, str], bytes],
        on_too_slow: Callable[[], None] | None = None,
    ) -> None:
        self.max_body_bytes = max_body_bytes
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.idle_timeout = idle_timeout
        self.reject = reject
        """(status, text) → a whole response the connection sends before closing (413, 408…)."""
        self.on_too_slow = on_too_slow
        """Told when a connection is closed for a head or body that did not arrive in time."""


class ServerConnection(asyncio.Protocol):
    """One client connection: parse, queue, hand each request to the handler in order."""

    def __init__(self, handler: Handler, limits: ServerLimits) -> None:
        self._handler = handler
        self._limits = limits
        self._parser = httptools.HttpRequestParser(self)
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._current: Request | None = None
        """The request being parsed."""
        self._body: list[bytes] = []
        self._body_size = 0
        self._head_size = 0
        self._last_name = b""
        self._ready: deque[Request] = deque()
        """Whole requests waiting for the one being answered."""
        self._answering: ResponseWriter | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._deadline: float | None = None
        self._why = ""
        self._read_paused = False
        self._closing = False
        self._idle = False
        """The timer is the idle one (between requests), not a head or body deadline."""
        self.write_paused = False

    # ---- asyncio callbacks -----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._arm(self._limits.header_timeout, "the request head did not arrive")

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        if self._idle:
            # The first byte of a new request on a kept-alive connection: from idle to head time.
            self._arm(self._limits.header_timeout, "the request head did not arrive")
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse(400, "protocol upgrades are not supported")
        except httptools.HttpParserError as exc:
            if not self._closing:
                self._refuse(400, f"malformed HTTP request: {exc}")

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self._stop_timer()
        self._ready.clear()
        answering, self._answering = self._answering, None
        if answering is not None:
            answering.lost()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        if self._answering is not None:
            self._answering.drained()

    # ---- httptools callbacks ---------------------------------------------------------

    def on_message_begin(self) -> None:
        self._current = Request()
        self._body = []
        self._body_size = 0
        self._head_size = 0

    def on_url(self, url: bytes) -> None:
        assert self._current is not None
        self._current.target += url
        self._head_size += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        request = self._current
        assert request is not None
        self._head_size += len(name) + len(value)
        if self._head_size > _MAX_HEAD_BYTES:
            self._refuse(431, "the request head is too large")
            raise httptools.HttpParserCallbackError("head too large")
        request.add_header(name, value)

    def on_headers_complete(self) -> None:
        request = self._current
        assert request is not None
        parser = self._parser
        request.method = parser.get_method().decode("ascii", "replace")
        request.http10 = parser.get_http_version() == "1.0"
        request.keep_alive = parser.should_keep_alive()
        limits = self._limits
        declared = request.index.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limits.max_body_bytes:
            self._refuse(413, f"Request body exceeds the proxy's limit of {limits.max_body_bytes} bytes")
            raise httptools.HttpParserCallbackError("body too large")
        if self._answering is None:
            # Waiting for a body (if any) now; the head timer is done with.
            self._arm(limits.body_timeout, f"the body did not arrive within {limits.body_timeout:g}s")
            expect = request.index.get(b"expect")
            if expect is not None and expect.lower() == b"100-continue" and self._transport is not None:
                self._transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > self._limits.max_body_bytes:
            limit = self._limits.max_body_bytes
            self._refuse(413, f"Request body exceeds the proxy's limit of {limit} bytes")
            raise httptools.HttpParserCallbackError("body too large")
        self._body.append(body)

    def on_message_complete(self) -> None:
        request = self._current
        assert request is not None
        self._current = None
        if self._body:
            request.body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
            self._body = []
        if self._answering is None:
            self._disarm()
            self._dispatch(request)
        else:
            self._ready.append(request)
            if len(self._ready) >= _MAX_PIPELINED and self._transport is not None and not self._read_paused:
                self._read_paused = True
                self._transport.pause_reading()

    # ---- answering -------------------------------------------------------------------

    def _dispatch(self, request: Request) -> None:
        writer = ResponseWriter(
            self, request.keep_alive, chunked=not request.http10, head_request=request.method == "HEAD"
        )
        self._answering = writer
        try:
            self._handler(request, writer)
        except Exception:  # a bug in a handler costs this request, never the connection's peers
            log.exception("internal error handling %s %r", request.method, request.target[:200])
            if writer.state is State.WAITING:
                writer.send(500, b"Content-Type: text/plain\r\n", b"internal error")
            elif writer.open:
                writer.abort()

    def response_done(self, writer: ResponseWriter) -> None:
        """``writer`` sent its last byte: next request, or idle, or close."""
        if writer is not self._answering:
            return
        self._answering = None
        if self._closing or self._transport is None:
            return
        if not writer.keep_alive:
            self._close()
            return
        if self._ready:
            request = self._ready.popleft()
            if self._read_paused and len(self._ready) < _MAX_PIPELINED // 2:
                self._read_paused = False
                self._transport.resume_reading()
            self._dispatch(request)
        elif self._current is not None:  # the next request is arriving: its body clock runs
            self._arm(self._limits.body_timeout, "the body did not arrive")
        else:
            self._arm(self._limits.idle_timeout, "")
            self._idle = True

    def write(self, data: bytes) -> None:
        if self._transport is not None and not self._closing:
            self._transport.write(data)

    def abort(self) -> None:
        self._closing = True
        self._stop_timer()
        if self._transport is not None:
            self._transport.abort()

    def _close(self) -> None:
        self._closing = True
        self._stop_timer()
        if self._transport is not None:
            self._transport.close()

    def _refuse(self, status: int, text: str) -> None:
        """Answer a request that cannot be served (malformed, too large, too slow) and close."""
        if self._closing:
            return
        if self._answering is None and self._transport is not None:
            self._transport.write(self._limits.reject(status, text))
        self._close()

    # ---- the one deadline of a connection (head, body or idle) -------------------------
    # Moving a deadline is a float assignment; the one timer behind it is re-armed only when
    # it would fire too late (and, when it fires early, for what is left): a request no longer
    # pays a timer's arm and cancel three times over.

    def _arm(self, seconds: float, why: str) -> None:
        self._idle = False
        if seconds <= 0:
            self._deadline = None
            return
        at = self._loop.time() + seconds
        self._deadline = at
        self._why = why
        if self._timer is None or self._timer_at > at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self._loop.call_at(at, self._expired)
            self._timer_at = at

    def _disarm(self) -> None:
        self._deadline = None  # the timer, if any, fires and finds nothing to do

    def _stop_timer(self) -> None:
        self._deadline = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline is None or self._closing:
            return
        if self._loop.time() < deadline:  # moved later since: wait for the rest
            self._timer = self._loop.call_at(deadline, self._expired)
            self._timer_at = deadline
            return
        self._deadline = None
        if self._answering is not None:
            return
        why = self._why
        if why:
            log.info("closing a client connection: %s", why)
            if self._limits.on_too_slow is not None:
                self._limits.on_too_slow()
            self._refuse(408, f"Request Timeout: {why}")
        else:
            self._close()  # idle between requests: close quietly


__all__ = ["Handler", "ServerConnection", "ServerLimits"]
