"""Connection limits for the listening side: a count of open connections, and what a
connection over the limit gets (an HTTP 503 with a JSON-RPC error body, or a reset)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable
from typing import Any

from mcpchaos.events import notify
from mcpchaos.protocol import codes
from mcpchaos.protocol.messages import error_response


def _reject_body() -> bytes:
    body = error_response(
        None, codes.TOO_MANY_CONNECTIONS, "mcpchaos: too many connections; retry later"
    ).wire
    return (
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
        b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


def reset_transport(transport: asyncio.Transport) -> None:
    """Close with RST rather than FIN (SO_LINGER 0), as a lost or refused connection looks."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


class _Rejected(asyncio.Protocol):
    """A connection over the limit: answered at once and closed."""

    def __init__(self, limiter: ConnectionLimiter) -> None:
        self._limiter = limiter

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._limiter.rejected += 1
        notify(self._limiter.observers, "connection_refused")
        if self._limiter.reject_with == "503":
            transport.write(_REJECT)  # type: ignore[attr-defined]
            transport.close()
        else:
            reset_transport(transport)  # type: ignore[arg-type]


_HEAD_END = b"\r\n\r\n"
_TOO_SLOW = (
    b"HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\nConnection: close\r\n"
    b"Content-Length: 0\r\n\r\n"
)


class _Counted(asyncio.Protocol):
    """Wraps the real protocol of an accepted connection to keep the count right, and to
    close a connection whose first request head does not arrive in time (slowloris)."""

    def __init__(self, inner: Any, limiter: ConnectionLimiter) -> None:
        self._inner = inner
        self._limiter = limiter
        self._head_timer: asyncio.TimerHandle | None = None
        self._tail = b""
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        if self._limiter.header_timeout:
            self._head_timer = asyncio.get_running_loop().call_later(
                self._limiter.header_timeout, self._too_slow
            )
        self._inner.connection_made(transport)

    def _too_slow(self) -> None:
        self._head_timer = None
        self._limiter.slow_closed += 1
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(_TOO_SLOW)  # type: ignore[attr-defined]
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._limiter.release()
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._head_timer is not None:
            seen = self._tail + data
            if _HEAD_END in seen:
                self._head_timer.cancel()
                self._head_timer = None
            else:
                self._tail = seen[-3:]
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        result: bool | None = self._inner.eof_received()
        return result

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class ConnectionLimiter:
    """At most ``limit`` open connections (0: no limit); beyond it, ``reject_with``."""

    def __init__(self, limit: int, reject_with: str = "503", header_timeout: float = 0.0) -> None:
        self.limit = limit
        self.reject_with = reject_with
        self.header_timeout = header_timeout
        """Seconds a new connection gets to send its first request head (0: no limit)."""
        self.slow_closed = 0
        self.active = 0
        self.accepted = 0
        self.rejected = 0
        self.peak = 0
        self.observers: list[Any] = []
        """Told of connection_accepted / connection_refused / connection_closed."""

    def factory(self, inner: Callable[[], Any]) -> Callable[[], asyncio.BaseProtocol]:
        """A protocol factory: counted connections of ``inner``, or rejected ones."""

        def make() -> asyncio.BaseProtocol:
            if not self.admit():
                return _Rejected(self)
            return _Counted(inner(), self)

        return make

    def admit(self) -> bool:
        """A connection arrives: count it, or False when it is over the limit (the caller
        then serves it the :meth:`refusal` protocol). A protocol that counts itself (the HTTP
        front's) calls :meth:`release` when it closes, instead of being wrapped."""
        if self.limit and self.active >= self.limit:
            return False
        self.active += 1
        self.accepted += 1
        self.peak = max(self.peak, self.active)
        notify(self.observers, "connection_accepted")
        return True

    def release(self) -> None:
        """An admitted connection closed."""
        self.active -= 1
        notify(self.observers, "connection_closed")

    def refusal(self) -> asyncio.BaseProtocol:
        """The protocol for a connection over the limit (answered at once and closed)."""
        return _Rejected(self)

    def as_dict(self) -> dict[str, int]:
        return {
            "limit": self.limit,
            "active": self.active,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "peak": self.peak,
        }


_REJECT = _reject_body()
