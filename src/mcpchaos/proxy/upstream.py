"""The guarded upstream caller of the HTTP proxy and the stdio→HTTP bridge: one pool of
kept-alive connections toward the upstream, the circuit breaker in front of it, and the one
place an upstream failure is logged and counted."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from mcpchaos.config.addresses import http_url
from mcpchaos.errors import CircuitOpenError, UpstreamError
from mcpchaos.events import notify
from mcpchaos.proxy.breaker import BreakerState, CircuitBreaker
from mcpchaos.proxy.http_options import HttpOptions
from mcpchaos.transport.http import Headers, request_head
from mcpchaos.transport.http_client import UpstreamCall, UpstreamPool

log = logging.getLogger("mcpchaos.http")


class CallSink(Protocol):
    """A reader of one upstream response (see :class:`~mcpchaos.transport.http_client.ResponseSink`);
    ``failed`` says whether the failure is the upstream's (the breaker counts it)."""

    def head(self, status: int, headers: Headers) -> bool: ...

    def body(self, chunk: bytes) -> None: ...

    def done(self) -> None: ...

    def failed(self, error: UpstreamError) -> bool: ...


class _Guarded:
    """Between the pool and a sink: records outcomes in the breaker, logs failures once."""

    __slots__ = ("_sink", "_upstream", "body", "done")

    def __init__(self, upstream: GuardedUpstream, sink: CallSink) -> None:
        self._upstream = upstream
        self._sink = sink
        self.body = sink.body
        self.done = sink.done

    def head(self, status: int, headers: Headers) -> bool:
        breaker = self._upstream.breaker
        if breaker is not None:  # a 5xx is the upstream failing; any other status is it working
            breaker.record(status < 500, self._upstream.pool.loop.time())
        return self._sink.head(status, headers)

    def failed(self, error: UpstreamError) -> None:
        if self._sink.failed(error) and error.counts_as_failure:
            self._upstream.failure(error)


class StatusOnly:
    """A sink for a best-effort call (a DELETE ending a session) whose body nobody reads:
    ``status`` gets the answer's status, or -1 if none came."""

    def __init__(self, status: asyncio.Future[int] | None = None) -> None:
        self._status = status

    def _settle(self, value: int) -> None:
        if self._status is not None and not self._status.done():
            self._status.set_result(value)

    def head(self, status: int, headers: Headers) -> bool:
        self._settle(status)
        return True

    def body(self, chunk: bytes) -> None:
        return None

    def done(self) -> None:
        return None

    def failed(self, error: UpstreamError) -> bool:
        self._settle(-1)
        return False  # ending a session is not traffic the breaker judges


class GuardedUpstream:
    """Calls toward one upstream URL."""

    def __init__(self, url: str, options: HttpOptions, observers: list[Any]) -> None:
        self.url = url
        parsed = http_url(url)
        self.origin, self.path = parsed.origin, parsed.path
        self.target = self.path.encode()
        self.pool = UpstreamPool(
            parsed.host,
            parsed.port,
            options.connect_timeout,
            options.max_upstream_connections,
            tls=parsed.tls,
        )
        self._observers = observers
        self.breaker = CircuitBreaker(options.breaker) if options.breaker is not None else None
        if self.breaker is not None:
            self.breaker.on_transition(self._breaker_moved)

    def _breaker_moved(self, before: BreakerState, after: BreakerState) -> None:
        log.warning("circuit breaker toward %s: %s → %s", self.url, before.value, after.value)
        notify(self._observers, "breaker_transition", before.value, after.value)

    def call(
        self,
        method: str,
        target: bytes,
        headers: bytes,
        body: bytes | None,
        sink: CallSink,
        timeout: float,
        authority: str | None = None,
    ) -> UpstreamCall | None:
        """Send a request, unless the breaker is open (then ``sink.failed`` at once, None).
        ``authority`` is the Host to send (default: the upstream's own address)."""
        breaker = self.breaker
        if breaker is not None and not breaker.allow(self.pool.loop.time()):
            sink.failed(CircuitOpenError("the circuit breaker toward the upstream is open; failing fast"))
            return None
        length = None if body is None else len(body)
        head = request_head(method, target, authority or self.pool.authority, headers, length)
        return self.pool.request(head, body or b"", _Guarded(self, sink), timeout)

    def failure(self, error: UpstreamError) -> None:
        """An upstream failure (a sink said it was one): counted, logged, told."""
        if self.breaker is not None:
            self.breaker.record(False, self.pool.loop.time())
        log.warning("upstream request failed: %s", error)
        notify(self._observers, "transport_error", type(error).__name__)

    async def close(self) -> None:
        await self.pool.close()


__all__ = ["CallSink", "GuardedUpstream", "StatusOnly"]
