"""Relaying a request that carries no MCP messages (OAuth metadata, health checks, DELETE):
the upstream's answer goes to the client as it came, streamed, with flow control."""

from __future__ import annotations

import logging
from collections.abc import Callable

from mcpchaos.errors import UpstreamError
from mcpchaos.transport.http import Headers, find, response_block
from mcpchaos.transport.http_client import UpstreamCall
from mcpchaos.transport.http_front import send_error
from mcpchaos.transport.http_message import Request, ResponseWriter, State

log = logging.getLogger("mcpchaos.http")

StatusHook = Callable[[Request, int], None]
"""Told the upstream's status for a relayed request (a DELETE ends a session on 2xx)."""
HeadersHook = Callable[[Request, int, Headers], Headers]
"""Changes the upstream's response headers before they are relayed."""
BodyHook = Callable[[Request, bytes], bytes]
"""Changes a whole (buffered) response body before it is relayed."""
_BUFFERED = 1024 * 1024
"""An answer of a known length up to this is sent whole (Content-Length kept); larger or
unknown-length ones are streamed."""


class RawRelay:
    """The pool's sink for one relayed request."""

    __slots__ = (
        "_body_hook",
        "_buffer",
        "_head",
        "_headers_hook",
        "_request",
        "_status_hook",
        "_writer",
        "call",
    )

    def __init__(
        self,
        writer: ResponseWriter,
        request: Request,
        on_status: StatusHook | None = None,
        headers_hook: HeadersHook | None = None,
        body_hook: BodyHook | None = None,
    ) -> None:
        self._writer = writer
        self._request = request
        self._status_hook = on_status
        self._headers_hook = headers_hook
        self._body_hook = body_hook
        """Set: the body is read whole (whatever its size, within the upstream's) and changed."""
        self._buffer: list[bytes] | None = None
        self.call: UpstreamCall | None = None
        writer.on_lost(self._client_gone)
        self._head = (0, b"")

    def head(self, status: int, headers: Headers) -> bool:
        if self._status_hook is not None:
            self._status_hook(self._request, status)
        if self._headers_hook is not None:
            headers = self._headers_hook(self._request, status, headers)
        length = find(headers, b"content-length")
        block = response_block(headers)
        if self._request.method == "HEAD":  # headers only, the length of a body not sent kept
            kept = b"Content-Length: " + length + b"\r\n" if length is not None else b""
            self._writer.send(status, block + kept, framed=True)
            return True
        small = length is not None and length.isdigit() and int(length) <= _BUFFERED
        if status in (204, 304) or small or self._body_hook is not None:
            self._buffer = []
            self._head = (status, block)
        else:
            self._writer.start(status, block)
        return False

    def body(self, chunk: bytes) -> None:
        if self._buffer is not None:
            self._buffer.append(chunk)
            return
        writer = self._writer
        writer.write(chunk)
        call = self.call
        if writer.paused and call is not None:
            call.pause()
            writer.when_drained(call.resume)

    def done(self) -> None:
        writer = self._writer
        if writer.state is State.DONE:
            return
        if self._buffer is not None:
            body = b"".join(self._buffer)
            if self._body_hook is not None:
                body = self._body_hook(self._request, body)
            writer.send(self._head[0], self._head[1], body)
        elif writer.state is State.STREAMING:
            writer.end()

    def failed(self, error: UpstreamError) -> bool:
        writer = self._writer
        if writer.state is State.WAITING:
            send_error(writer, error.http_status, error.rpc_code, f"mcpchaos: {error}")
        elif writer.open:
            # The status line is gone already: the only honest signal left is to cut the
            # connection, so the client sees a truncated body, not a second response.
            log.warning("upstream broke mid-body on %r: %s", self._request.target[:100], error)
            writer.abort()
        return True

    def _client_gone(self) -> None:
        if self.call is not None:
            self.call.cancel()
