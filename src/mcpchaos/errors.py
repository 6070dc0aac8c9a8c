"""mcpchaos's exceptions, in one tree. Foreign exceptions are translated at the boundary.

::

    McpChaosError                 base: anything mcpchaos raises on purpose
    ├── ConfigError               a configuration or command line that cannot work (exit 2)
    ├── ClientAbortedError        a Disconnect effect cut the client's HTTP connection (intended)
    └── UpstreamError             the real server cannot be reached or started
        ├── UpstreamStartError    the server command could not be started (exit 126/127)
        ├── UpstreamUnavailableError   connection refused/reset, DNS failure (HTTP 502)
        ├── UpstreamTimeoutError       no response headers within the timeout (HTTP 504)
        ├── UpstreamTooLargeError      a response body or event over the size limit (HTTP 502)
        └── CircuitOpenError      the breaker toward the upstream is open: failed fast (HTTP 503)

Malformed protocol input is never an exception: it is a value (``protocol.Invalid``).
"""

from __future__ import annotations


class McpChaosError(Exception):
    """Base of every exception mcpchaos raises on purpose."""

    exit_code = 1


class ConfigError(McpChaosError):
    """A configuration or command line that cannot work; the message says how to fix it."""

    exit_code = 2


class ClientAbortedError(McpChaosError):
    """A Disconnect effect aborted the client's HTTP connection on purpose. Raised to unwind
    the request handler; the HTTP servers catch it so it is never logged as a failure."""


class UpstreamError(McpChaosError):
    """The upstream MCP server cannot be reached or started."""


class UpstreamStartError(UpstreamError):
    """The server command could not be started."""

    def __init__(self, message: str, exit_code: int = 127) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class UpstreamUnavailableError(UpstreamError):
    """The upstream could not be reached or dropped the connection."""


class UpstreamTimeoutError(UpstreamError):
    """The upstream did not answer within the configured timeout."""


class UpstreamTooLargeError(UpstreamError):
    """The upstream sent a body or event larger than the configured limit."""


class CircuitOpenError(UpstreamError):
    """The circuit breaker toward the upstream is open: the request was not sent."""
