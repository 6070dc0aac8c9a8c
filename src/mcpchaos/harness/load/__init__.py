"""Load drivers: closed- and open-loop MCP clients that record every request's outcome.

``LoadDriver`` runs fast raw clients (aiohttp over Streamable HTTP, NDJSON over stdio) and,
for realism, a share of official SDK clients; a :class:`Recorder` keeps outcomes, HDR
latency and Jepsen-style id accounting per phase and per time bucket.
"""

from mcpchaos.harness.load.driver import HttpTarget, LoadDriver, StdioTarget, open_sessions
from mcpchaos.harness.load.recorder import Recorder, Ticket
from mcpchaos.harness.load.settings import LoadSettings, Operation

__all__ = [
    "HttpTarget",
    "LoadDriver",
    "LoadSettings",
    "Operation",
    "Recorder",
    "StdioTarget",
    "Ticket",
    "open_sessions",
]
