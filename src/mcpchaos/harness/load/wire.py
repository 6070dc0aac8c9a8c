"""The bytes the fast clients send, prepared once per operation (no pydantic per request)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from mcpchaos.harness.load.settings import Operation
from mcpchaos.protocol.http_headers import PROTOCOL_VERSION_META_KEY, routing_headers
from mcpchaos.protocol.messages import Kind, Message

SESSION_ERA: Final = "2025-11-25"
SESSIONLESS_ERA: Final = "2026-07-28"
CLIENT_CAPABILITIES_META_KEY: Final = "io.modelcontextprotocol/clientCapabilities"
CLIENT_INFO: Final = {"name": "mcpchaos-load", "version": "1"}

POST_HEADERS: Final = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZED: Final = orjson.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"})
METHOD_NOT_FOUND: Final = -32601


@dataclass(frozen=True, slots=True)
class PreparedOp:
    """An operation ready to send: its method, params (with the 2026-07-28 envelope) and the
    routing headers an HTTP request needs."""

    name: str
    method: str
    params: dict[str, Any]
    headers: dict[str, str]


def prepare(op: Operation, protocol: str) -> PreparedOp:
    params = dict(op.params)
    if protocol == SESSIONLESS_ERA:
        # Sessionless requests repeat the protocol version and capabilities in every body.
        meta = dict(params.get("_meta") or {})
        meta[PROTOCOL_VERSION_META_KEY] = protocol
        meta.setdefault(CLIENT_CAPABILITIES_META_KEY, {})
        params["_meta"] = meta
        payload = {"jsonrpc": "2.0", "id": 0, "method": op.method, "params": params}
        headers = routing_headers(Message(Kind.REQUEST, payload), None)
    else:
        headers = {}
    return PreparedOp(op.name, op.method, params, headers)


def request_bytes(request_id: int, op: PreparedOp) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "id": request_id, "method": op.method, "params": op.params})


def initialize_bytes(request_id: int) -> bytes:
    return orjson.dumps(
        {
            "jsonrpc": "2.0",
            "id": request_id,
            "method": "initialize",
            "params": {"protocolVersion": SESSION_ERA, "capabilities": {}, "clientInfo": CLIENT_INFO},
        }
    )


def method_not_found(request_id: Any) -> bytes:
    """Our answer to a server-to-client request (sampling, elicitation, roots): we offer none."""
    return orjson.dumps(
        {
            "jsonrpc": "2.0",
            "id": request_id,
            "error": {"code": METHOD_NOT_FOUND, "message": "Method not found"},
        }
    )


def loads(raw: bytes | str) -> dict[str, Any] | None:
    """A JSON object, or None for anything else (corrupt bytes, a batch, a scalar)."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def is_response(message: dict[str, Any]) -> bool:
    return "method" not in message and ("result" in message or "error" in message)


class Chooser:
    """Seeded weighted choice over the prepared operations (one per client)."""

    def __init__(self, ops: Sequence[PreparedOp], weights: Sequence[float], seed: int) -> None:
        self._ops = list(ops)
        self._cum: list[float] = []
        total = 0.0
        for weight in weights:
            total += weight
            self._cum.append(total)
        self._rng = random.Random(seed)

    def next(self) -> PreparedOp:
        if len(self._ops) == 1:
            return self._ops[0]
        return self._rng.choices(self._ops, cum_weights=self._cum)[0]
