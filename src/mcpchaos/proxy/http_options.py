"""The knobs every HTTP shape of the proxy shares (the HTTP proxy and both bridges)."""

from __future__ import annotations

from dataclasses import dataclass

from mcpchaos.protocol.ndjson import DEFAULT_MAX_LINE_BYTES
from mcpchaos.proxy.breaker import BreakerConfig
from mcpchaos.transport.http_front import FrontLimits


@dataclass(frozen=True, slots=True)
class HttpOptions:
    """Knobs of the HTTP proxy and the bridges."""

    max_body_bytes: int = DEFAULT_MAX_LINE_BYTES
    """Largest request body accepted from a client (413 above it)."""
    max_message_bytes: int = DEFAULT_MAX_LINE_BYTES
    """Largest upstream JSON body or SSE event (the client gets a JSON-RPC error above it)."""
    upstream_timeout: float = 30.0
    """Seconds to wait for the upstream's response headers (504 after it)."""
    request_timeout: float = 300.0
    """Longest a client request is held when nothing will answer it (e.g. a dropped message)."""
    connect_timeout: float = 5.0
    """Seconds to open a connection to the upstream."""
    max_sessions: int = 10_000
    """Sessions at most; beyond it the least recently used is evicted (404 for its next request)."""
    session_idle_timeout: float | None = None
    """Seconds a session may go unused before it expires (None: never)."""
    session_max_age: float | None = None
    """Seconds a session may live at all, used or not, before it expires (None: forever)."""
    breaker: BreakerConfig | None = None
    """A circuit breaker toward the upstream (None: no breaker)."""
    max_connections: int = 0
    """Open client connections at most (0: no limit)."""
    header_timeout: float = 10.0
    """Seconds a connection gets to send a request head (408 and closed after it)."""
    body_timeout: float = 30.0
    """Seconds to receive a request body once its head arrived (408 after it)."""
    idle_timeout: float = 75.0
    """Seconds a kept-alive connection may sit idle between requests."""
    over_limit: str = "503"
    """A connection over the limit gets ``503`` (a JSON-RPC error body) or ``reset``."""
    max_upstream_connections: int = 0
    """Connections to the upstream at most (0: no limit); requests beyond it wait their turn."""
    allowed_hosts: tuple[str, ...] | None = None
    """Host values the listener accepts (None: loopback names on a loopback listener)."""
    allowed_origins: tuple[str, ...] | None = None
    """Origin values the listener accepts (a request without Origin always is)."""
    forward_host: bool = False
    """Send the client's Host upstream instead of the upstream's own address (so an upstream's
    own Host checks see what the client sent)."""

    def front_limits(self) -> FrontLimits:
        return FrontLimits(
            max_body_bytes=self.max_body_bytes,
            header_timeout=self.header_timeout,
            body_timeout=self.body_timeout,
            idle_timeout=self.idle_timeout,
            max_connections=self.max_connections,
            over_limit=self.over_limit,
            allowed_hosts=self.allowed_hosts,
            allowed_origins=self.allowed_origins,
        )
