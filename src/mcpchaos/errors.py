"""mcpchaos's exceptions, in one tree. Foreign exceptions are translated at the boundary.

::

    McpChaosError                 base: anything mcpchaos raises on purpose
    ├── ConfigError               a configuration or command line that cannot work (exit 2)
    └── UpstreamError             the real server cannot be reached or started
        └── UpstreamStartError    the server command could not be started (exit 126/127)

Malformed protocol input is never an exception: it is a value (``protocol.Invalid``).
"""

from __future__ import annotations


class McpChaosError(Exception):
    """Base of every exception mcpchaos raises on purpose."""

    exit_code = 1


class ConfigError(McpChaosError):
    """A configuration or command line that cannot work; the message says how to fix it."""

    exit_code = 2


class UpstreamError(McpChaosError):
    """The upstream MCP server cannot be reached or started."""


class UpstreamStartError(UpstreamError):
    """The server command could not be started."""

    def __init__(self, message: str, exit_code: int = 127) -> None:
        super().__init__(message)
        self.exit_code = exit_code
