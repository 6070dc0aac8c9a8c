"""mcpchaos's exceptions, in one tree. Foreign exceptions are translated at the boundary.

::

    McpChaosError                 base: anything mcpchaos raises on purpose
    ├── ConfigError               a configuration or command line that cannot work (exit 2)
    │   └── ListenError           a listener could not bind its address (in use, no permission)
    ├── ClientAbortedError        a Disconnect effect cut the client's HTTP connection (intended)
    └── UpstreamError             the real server cannot be reached or started
        ├── UpstreamStartError    the server command could not be started (exit 126/127)
        ├── UpstreamUnavailableError   connection refused/reset, DNS failure (HTTP 502)
        ├── UpstreamTimeoutError       no response headers within the timeout (HTTP 504)
        ├── UpstreamTooLargeError      a response body or event over the size limit (HTTP 502)
        └── CircuitOpenError      the breaker toward the upstream is open: failed fast (HTTP 503)

Malformed protocol input is never an exception: it is a value (``protocol.Invalid``).

What an upstream failure means on the wire is written once, on its class: ``http_status``
(what an HTTP client gets) and ``rpc_code`` (the JSON-RPC error code of the request it
failed), so every shape (HTTP→HTTP, stdio→HTTP) answers the same failure the same way.
"""

from __future__ import annotations

import errno
import os
import socket

from mcpchaos.protocol import codes


class McpChaosError(Exception):
    """Base of every exception mcpchaos raises on purpose."""

    exit_code = 1


class ConfigError(McpChaosError):
    """A configuration or command line that cannot work; the message says how to fix it."""

    exit_code = 2


class ListenError(ConfigError):
    """A listener could not bind ``host:port``; ``option`` (when the command line knows it) is
    the option to change. Listeners raise it at their start (the foreign ``OSError`` translated
    where it happens); the command line names the option with :meth:`for_option`."""

    def __init__(self, host: str, port: int, error: OSError, option: str | None = None) -> None:
        self.host, self.port, self.error, self.option = host, port, error, option
        shown = f"[{host}]" if ":" in host else host
        super().__init__(f"cannot listen on {shown}:{port}: {_listen_reason(error, option)}")

    def for_option(self, option: str) -> ListenError:
        """The same failure, its message naming ``option`` as the thing to change."""
        return ListenError(self.host, self.port, self.error, option)


def _listen_reason(error: OSError, option: str | None) -> str:
    with_option = f" with {option}" if option else ""
    if isinstance(error, socket.gaierror):
        return "unknown host (give an IP address, or a name that resolves)"
    if error.errno == errno.EADDRINUSE:
        return f"address already in use (another process is using it; pick another port{with_option})"
    if error.errno == errno.EACCES:
        return f"permission denied (ports below 1024 need privileges; pick a port above 1024{with_option})"
    if error.errno == errno.EADDRNOTAVAIL:
        return "no such address on this machine (listen on 127.0.0.1, or 0.0.0.0 for every address)"
    reason = os.strerror(error.errno) if error.errno else str(error)
    return reason[:1].lower() + reason[1:]


class ClientAbortedError(McpChaosError):
    """A Disconnect effect aborted the client's HTTP connection on purpose. Raised to unwind
    the request handler; the HTTP servers catch it so it is never logged as a failure."""


class UpstreamError(McpChaosError):
    """The upstream MCP server cannot be reached or started."""

    http_status = 502
    rpc_code: int = codes.UPSTREAM_UNAVAILABLE
    counts_as_failure = True
    """Whether the circuit breaker counts it as the upstream failing."""


class UpstreamStartError(UpstreamError):
    """The server command could not be started."""

    def __init__(self, message: str, exit_code: int = 127) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class UpstreamUnavailableError(UpstreamError):
    """The upstream could not be reached or dropped the connection."""


class UpstreamTimeoutError(UpstreamError):
    """The upstream did not answer within the configured timeout."""

    http_status = 504
    rpc_code = codes.UPSTREAM_TIMEOUT


class UpstreamTooLargeError(UpstreamError):
    """The upstream sent a body or event larger than the configured limit."""

    rpc_code = codes.UPSTREAM_INVALID_RESPONSE
    counts_as_failure = False  # the upstream is up; its answer is over our limit


class CircuitOpenError(UpstreamError):
    """The circuit breaker toward the upstream is open: the request was not sent."""

    http_status = 503
    rpc_code = codes.CIRCUIT_OPEN
    counts_as_failure = False  # failing fast is the breaker working
