"""header_mismatch (HTTP, 2026-07-28): a request goes upstream with a mirrored header that
disagrees with its body (``Mcp-Method``, ``Mcp-Name`` or ``MCP-Protocol-Version``), or
without it (``omit``). The body is untouched: a correct server answers -32020 HeaderMismatch,
and one that routes on the header while executing the body is the confused deputy the
headers exist to prevent.

It fits 2026-07-28 requests on HTTP only (stdio has no headers; a 2025-era request mirrors
nothing). The exchange writes the request's headers from :attr:`Message.header_overrides`.
"""

from __future__ import annotations

import random

from mcpchaos.config.faults import FaultSettings, FaultType
from mcpchaos.config.protocol_faults import MirroredHeader
from mcpchaos.faults.base import Decision, Fault, register
from mcpchaos.intercept.context import Context
from mcpchaos.intercept.effects import Forward
from mcpchaos.protocol.http_headers import NAME_PARAMS, body_protocol_version
from mcpchaos.protocol.messages import Direction, Kind, Message

_WIRE_NAMES = {
    MirroredHeader.METHOD: "Mcp-Method",
    MirroredHeader.NAME: "Mcp-Name",
    MirroredHeader.PROTOCOL_VERSION: "MCP-Protocol-Version",
}


def _fitting(message: Message, settings: FaultSettings) -> list[MirroredHeader]:
    """The configured headers this request carries."""
    named = message.method in NAME_PARAMS
    return [h for h in settings.header_mismatch.headers if h is not MirroredHeader.NAME or named]


def applies(message: Message, ctx: Context, settings: FaultSettings) -> bool:
    return (
        ctx.session.transport == "http"
        and ctx.direction is Direction.CLIENT_TO_SERVER
        and message.kind is Kind.REQUEST
        and body_protocol_version(message) is not None
        and bool(_fitting(message, settings))
    )


def _wrong_value(header: MirroredHeader, message: Message) -> str:
    """A plausible value that is not the body's (an intermediary would route on it)."""
    if header is MirroredHeader.METHOD:
        return "tools/list" if message.method != "tools/list" else "prompts/list"
    if header is MirroredHeader.PROTOCOL_VERSION:
        return "2025-11-25"
    params = message.params
    key = NAME_PARAMS.get(message.method or "", "name")
    body_value = params.get(key) if isinstance(params, dict) else None
    return f"{body_value}-mismatch" if isinstance(body_value, str) else "mcpchaos-mismatch"


def decide(message: Message, ctx: Context, rng: random.Random, settings: FaultSettings) -> Decision:
    header = rng.choice(_fitting(message, settings))
    value = None if settings.header_mismatch.omit else _wrong_value(header, message)
    changed = message.with_header_overrides(((_WIRE_NAMES[header], value),))
    return [Forward(changed)], {"header": _WIRE_NAMES[header], "value": value}


HEADER_MISMATCH = register(Fault(FaultType.HEADER_MISMATCH, applies, decide))
