"""One HTTP/1.1 exchange as the server sees it: the parsed :class:`Request` and the
:class:`ResponseWriter` that answers it, whose states are a table (h11's ``_state.py`` is the
model): WAITING → DONE (a whole response) or WAITING → STREAMING → DONE; ABORTED from
anywhere. Anything else is refused and logged. The connection it writes to is
:class:`~mcpchaos.transport.http_server.ServerConnection`.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from typing import Protocol

from mcpchaos.transport.http import REQUEST_DROP, request_block

log = logging.getLogger("mcpchaos.http.server")

_REASONS = {
    100: "Continue",
    200: "OK",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    408: "Request Timeout",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    421: "Misdirected Request",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_NO_BODY = frozenset({204, 304})
"""Statuses that never carry a body (nor a Content-Length)."""


def status_line(status: int) -> bytes:
    reason = _REASONS.get(status, "Unknown")
    return b"HTTP/1.1 %d %s\r\n" % (status, reason.encode())


class Request:
    """One parsed request: its head, and its whole body (``b""`` if none)."""

    __slots__ = ("_forward", "body", "headers", "http10", "index", "keep_alive", "method", "target")

    def __init__(self) -> None:
        self.method = ""
        self.target = b""
        """The request target as sent (path and query, undecoded)."""
        self.headers: list[tuple[bytes, bytes]] = []
        """Every header field as sent, in order (names in their own case)."""
        self.index: dict[bytes, bytes] = {}
        """Lower-cased name → value (the last one when repeated), for lookups."""
        self.body = b""
        self.keep_alive = True
        self.http10 = False
        self._forward: list[bytes] = []
        """The header lines to relay upstream, built as the head is parsed."""

    def add_header(self, name: bytes, value: bytes) -> None:
        """One header field as parsed (the connection calls it for each, in order)."""
        self.headers.append((name, value))
        lower = name.lower()
        self.index[lower] = value
        if lower not in REQUEST_DROP:
            self._forward.append(name + b": " + value + b"\r\n")

    def forward_block(self) -> bytes:
        """The headers to send upstream: all but the hop-by-hop ones (see transport.http)."""
        if b"connection" in self.index:  # it may name more hop-by-hop fields
            return request_block(self.headers, self.index)
        return b"".join(self._forward)

    def header(self, name: bytes) -> str | None:
        """The value of header ``name`` (lower-case bytes), or None."""
        value = self.index.get(name)
        return value.decode("latin-1") if value is not None else None

    @property
    def path(self) -> bytes:
        """The target without its query."""
        target = self.target
        cut = target.find(b"?")
        return target if cut < 0 else target[:cut]


class State(enum.Enum):
    WAITING = "waiting"
    """Nothing sent yet: any response may still be chosen."""
    STREAMING = "streaming"
    """A head went out with a body of unknown length (chunked); more chunks may follow."""
    DONE = "done"
    """A whole response went out."""
    ABORTED = "aborted"
    """The connection was cut (by us or the client); nothing more can be sent."""


_SEND, _START, _WRITE, _END = "send", "start", "write", "end"
_TRANSITIONS: dict[tuple[State, str], State] = {
    (State.WAITING, _SEND): State.DONE,
    (State.WAITING, _START): State.STREAMING,
    (State.STREAMING, _WRITE): State.STREAMING,
    (State.STREAMING, _END): State.DONE,
}
"""Every allowed move; ``abort`` is allowed from any state and leads to ABORTED."""


class Connection(Protocol):
    """What a writer needs of its connection."""

    write_paused: bool

    def write(self, data: bytes) -> None: ...

    def response_done(self, writer: ResponseWriter) -> None: ...

    def abort(self) -> None: ...


class ResponseWriter:
    """The response to one request. Writes go straight to the transport (no buffering here)."""

    __slots__ = ("_conn", "_drained", "_on_lost", "chunked", "head_request", "keep_alive", "state", "status")

    def __init__(self, conn: Connection, keep_alive: bool, chunked: bool, head_request: bool = False) -> None:
        self._conn = conn
        self.head_request = head_request
        """The request is a HEAD: a whole response says its body's length and sends no body
        (a kept-alive client would read that body as the next response)."""
        self.keep_alive = keep_alive
        """The connection stays open after this response (its next request may follow)."""
        self.chunked = chunked
        """Streams use chunked encoding (HTTP/1.1); an HTTP/1.0 stream ends with the connection."""
        self.state = State.WAITING
        self.status = 0
        self._on_lost: Callable[[], None] | None = None
        self._drained: list[Callable[[], None]] = []

    def _move(self, action: str) -> bool:
        after = _TRANSITIONS.get((self.state, action))
        if after is None:
            if self.state is not State.ABORTED:  # writing to a cut connection is expected, not a bug
                log.warning("HTTP response: %s refused in state %s", action, self.state.value)
            return False
        self.state = after
        return True

    def _head(self, status: int, headers: bytes, extra: bytes) -> bytes:
        connection = b"" if self.keep_alive else b"Connection: close\r\n"
        return status_line(status) + headers + extra + connection + b"\r\n"

    def send(self, status: int, headers: bytes, body: bytes = b"", framed: bool = False) -> None:
        """A whole response. ``headers`` is a block of ``Name: value\\r\\n`` lines (no
        Content-Length, no Connection: both are this writer's, unless ``framed``: the answer
        to a HEAD request, whose headers carry the length of a body that is not sent)."""
        if not self._move(_SEND):
            return
        self.status = status
        if framed or status in _NO_BODY:
            self._conn.write(self._head(status, headers, b""))
        else:
            length = b"Content-Length: %d\r\n" % len(body)
            self._conn.write(self._head(status, headers, length) + (b"" if self.head_request else body))
        self._conn.response_done(self)

    def start(self, status: int, headers: bytes) -> None:
        """Start a streamed response (an SSE stream, a relayed body of unknown length)."""
        if not self._move(_START):
            return
        self.status = status
        if not self.chunked:
            self.keep_alive = False
        extra = b"Transfer-Encoding: chunked\r\n" if self.chunked else b""
        self._conn.write(self._head(status, headers, extra))

    def write(self, data: bytes) -> None:
        if not data or not self._move(_WRITE):
            return
        self._conn.write(b"%x\r\n%s\r\n" % (len(data), data) if self.chunked else data)

    def end(self) -> None:
        """End a streamed response."""
        if not self._move(_END):
            return
        if self.chunked:
            self._conn.write(b"0\r\n\r\n")
        self._conn.response_done(self)

    def abort(self) -> None:
        """Cut the connection now (a crash as the client sees it)."""
        if self.state is State.ABORTED:
            return
        self.state = State.ABORTED
        self._conn.abort()

    @property
    def open(self) -> bool:
        """Something can still be sent."""
        return self.state is State.WAITING or self.state is State.STREAMING

    @property
    def paused(self) -> bool:
        """The client is not reading: its transport's buffer is over the high-water mark."""
        return self._conn.write_paused

    def when_drained(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the client has taken what is buffered (at once if nothing is)."""
        if not self._conn.write_paused:
            callback()
        else:
            self._drained.append(callback)

    def drained(self) -> None:
        callbacks, self._drained = self._drained, []
        for callback in callbacks:
            callback()

    def on_lost(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` if the connection goes away before this response is done."""
        self._on_lost = callback

    def lost(self) -> None:
        if self.state is State.DONE:
            return
        self.state = State.ABORTED
        callback, self._on_lost = self._on_lost, None
        if callback is not None:
            callback()


__all__ = ["Connection", "Request", "ResponseWriter", "State", "status_line"]
