"""What an MCP client puts on the wire, shared by mcpchaos's own clients (the harness's load
driver, the Locust users): protocol eras, the 2026-07-28 envelope, ready-made bytes. Sans-IO and
light to import (Locust's gevent processes import it without the asyncio machinery)."""

from __future__ import annotations

from typing import Any, Final

import orjson

from mcpchaos.protocol.http_headers import PROTOCOL_VERSION_META_KEY, routing_headers
from mcpchaos.protocol.messages import Kind, Message

SESSION_ERA: Final = "2025-11-25"
"""The newest protocol version with the ``initialize`` handshake and sessions."""
SESSIONLESS_ERA: Final = "2026-07-28"
"""The sessionless protocol: every request carries its version and capabilities."""
CLIENT_CAPABILITIES_META_KEY: Final = "io.modelcontextprotocol/clientCapabilities"

POST_HEADERS: Final = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZED: Final = orjson.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"})
METHOD_NOT_FOUND: Final = -32601


def sessionless(method: str, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """2026-07-28: ``params`` with the version and capabilities every request repeats, and the
    routing headers an HTTP request with them needs."""
    meta = dict(params.get("_meta") or {})
    meta[PROTOCOL_VERSION_META_KEY] = SESSIONLESS_ERA
    meta.setdefault(CLIENT_CAPABILITIES_META_KEY, {})
    params = {**params, "_meta": meta}
    payload = {"jsonrpc": "2.0", "id": 0, "method": method, "params": params}
    return params, routing_headers(Message(Kind.REQUEST, payload), None)


def initialize_params(client_info: dict[str, str]) -> dict[str, Any]:
    return {"protocolVersion": SESSION_ERA, "capabilities": {}, "clientInfo": client_info}


def request_bytes(request_id: int, method: str, params: dict[str, Any]) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})


def method_not_found(request_id: Any) -> bytes:
    """Our answer to a server-to-client request (sampling, elicitation, roots): we offer none."""
    error = {"code": METHOD_NOT_FOUND, "message": "Method not found"}
    return orjson.dumps({"jsonrpc": "2.0", "id": request_id, "error": error})


def loads(raw: bytes | str) -> dict[str, Any] | None:
    """A JSON object, or None for anything else (corrupt bytes, a batch, a scalar)."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def is_response(message: dict[str, Any]) -> bool:
    return "method" not in message and ("result" in message or "error" in message)
