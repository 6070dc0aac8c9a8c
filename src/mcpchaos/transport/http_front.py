"""The HTTP front every HTTP-facing shape of the proxy shares: listening, the connection limit,
the per-connection limits, reading a client's JSON-RPC message, and the error bodies mcpchaos
answers with itself (JSON-RPC errors in a JSON body, with the HTTP status their meaning has).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from mcpchaos.errors import ListenError
from mcpchaos.protocol import codes
from mcpchaos.protocol.host_check import HostPolicy, for_listener
from mcpchaos.protocol.messages import Invalid, Message, MessageId, error_response, parse
from mcpchaos.transport.http import JSON, media_type
from mcpchaos.transport.http_message import Request, ResponseWriter, status_line
from mcpchaos.transport.http_server import Handler, ServerConnection, ServerLimits
from mcpchaos.transport.limits import ConnectionLimiter

log = logging.getLogger("mcpchaos.http")

JSON_HEADER = b"Content-Type: application/json\r\n"


@dataclass(frozen=True, slots=True)
class FrontLimits:
    """What one client may do (the ``--max-*`` and ``--*-timeout`` options of the listener)."""

    max_body_bytes: int
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    idle_timeout: float = 75.0
    max_connections: int = 0
    over_limit: str = "503"
    allowed_hosts: tuple[str, ...] | None = None
    """Host values the listener accepts (None: loopback names on a loopback listener, anything
    elsewhere); DNS-rebinding protection as the official SDK does it."""
    allowed_origins: tuple[str, ...] | None = None
    """Origin values accepted (a request without Origin always is)."""


def error_bytes(status: int, code: int, text: str, request_id: MessageId | None = None) -> bytes:
    """A whole HTTP response whose body is a JSON-RPC error; the connection closes after it."""
    body = error_response(request_id, code, text).wire
    return (
        status_line(status)
        + JSON_HEADER
        + b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body)
        + body
    )


def _refusal(status: int, text: str) -> bytes:
    code = codes.REQUEST_TOO_LARGE if status == 413 else codes.INVALID_REQUEST
    return error_bytes(status, code, text)


def send_error(
    writer: ResponseWriter,
    status: int,
    code: int,
    text: str,
    request_id: MessageId | None = None,
    headers: bytes = b"",
) -> None:
    """Answer with a JSON-RPC error body (a whole response, or an event on a started stream)."""
    send_message(writer, status, error_response(request_id, code, text), headers)


def send_message(writer: ResponseWriter, status: int, message: Message, headers: bytes = b"") -> None:
    writer.send(status, headers + JSON_HEADER, message.wire)


def read_message(request: Request) -> Message | tuple[int, Message]:
    """The JSON-RPC message a client POSTed, or (status, error) to answer instead: 415 for
    another Content-Type or a compressed body (the proxy reads every message; MCP bodies are
    not compressed), 400 for bytes that are not a JSON-RPC message (413 and 408 come from
    the connection itself, before the body is read)."""
    content_type = media_type(request.index.get(b"content-type"))
    if content_type != JSON:
        shown = content_type.decode("latin-1") if content_type else ""
        text = f"Unsupported Media Type: Content-Type must be application/json, got {shown!r}"
        return 415, error_response(None, codes.UNSUPPORTED_MEDIA_TYPE, text)
    coding = request.index.get(b"content-encoding")
    if coding is not None and coding.strip().lower() not in (b"", b"identity"):
        shown = coding.decode("latin-1")
        text = f"Unsupported Media Type: Content-Encoding {shown!r}; send the JSON-RPC body uncompressed"
        return 415, error_response(None, codes.UNSUPPORTED_MEDIA_TYPE, text)
    item = parse(request.body)
    if isinstance(item, Invalid):
        log.warning("invalid message from an HTTP client: %s: %r", item.reason, request.body[:200])
        # Answered with the request's id whenever it could be read (docs/protocol.md).
        return 400, error_response(item.echo_id if item.is_request else None, item.code, item.reason)
    return item


class HttpFront:
    """Listen on (host, port); every accepted connection is a :class:`ServerConnection`
    handing whole requests to ``handler``, counted by a :class:`ConnectionLimiter`."""

    def __init__(self, handler: Handler, limits: FrontLimits, observers: list[Any] | None = None) -> None:
        self._handler = handler
        self._front_limits = limits
        self._policy: HostPolicy | None = None
        # Head timeouts are the connection's own (every request's head, not only the first).
        self.limiter = ConnectionLimiter(limits.max_connections, limits.over_limit, 0.0)
        self._limits = ServerLimits(
            limits.max_body_bytes,
            limits.header_timeout,
            limits.body_timeout,
            limits.idle_timeout,
            _refusal,
            self._too_slow,
        )
        self.limiter.observers = observers if observers is not None else []
        self._server: asyncio.Server | None = None
        self._connections: set[ServerConnection] = set()
        self.port: int | None = None

    def _too_slow(self) -> None:
        self.limiter.slow_closed += 1

    def _connection(self) -> asyncio.BaseProtocol:
        if not self.limiter.admit():
            return self.limiter.refusal()
        handler = self._handler if self._policy is None else self._checked
        return _TrackedConnection(handler, self._limits, self._connections, self.limiter)

    def _checked(self, request: Request, writer: ResponseWriter) -> None:
        """The Host and Origin check in front of the handler (421 / 403, a JSON-RPC error body)."""
        assert self._policy is not None
        rejection = self._policy.check(request.header(b"host"), request.header(b"origin"))
        if rejection is None:
            self._handler(request, writer)
        else:
            log.warning("refused a request: %s", rejection.message)
            send_message(writer, rejection.status, rejection.response())

    async def start(self, host: str, port: int) -> int:
        """Listen; returns the port (useful with port 0). A port in use is a ListenError."""
        limits = self._front_limits
        self._policy = for_listener(host, limits.allowed_hosts, limits.allowed_origins)
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(self._connection, host, port, backlog=1024)
        except OSError as exc:
            raise ListenError(host, port, exc) from None
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for conn in list(self._connections):
            conn.abort()
        self._connections.clear()


class _TrackedConnection(ServerConnection):
    """A connection the front counts (no wrapper in the data path) and can close when it stops."""

    def __init__(
        self,
        handler: Handler,
        limits: ServerLimits,
        registry: set[ServerConnection],
        limiter: ConnectionLimiter,
    ) -> None:
        super().__init__(handler, limits)
        self._registry = registry
        self._limiter = limiter
        registry.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._registry.discard(self)
        self._limiter.release()
        super().connection_lost(exc)


__all__ = [
    "JSON_HEADER",
    "FrontLimits",
    "HttpFront",
    "error_bytes",
    "read_message",
    "send_error",
    "send_message",
]
