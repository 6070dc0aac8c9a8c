"""What the raw HTTP tests and benchmarks send: the POST headers and a 2025-11-25 initialize."""

from __future__ import annotations

from typing import Any

HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
"""The headers of a Streamable HTTP POST."""

INITIALIZE: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"},
    },
}
"""A session-era initialize request."""
