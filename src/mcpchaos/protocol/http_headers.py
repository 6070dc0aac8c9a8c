"""MCP's HTTP routing headers, derived from a message (sans-IO).

A 2026-07-28 request over Streamable HTTP must repeat parts of its body in headers:
``MCP-Protocol-Version`` (the body's ``params._meta`` protocol version), ``Mcp-Method`` and,
for ``tools/call`` / ``prompts/get`` / ``resources/read``, ``Mcp-Name``. A 2025-era request
after the handshake carries ``MCP-Protocol-Version`` with the negotiated version. A proxy
that turns stdio into HTTP has to write them itself.
"""

from __future__ import annotations

import base64
import re
from typing import Any, Final

from mcpchaos.protocol.messages import Kind, Message

PROTOCOL_VERSION_META_KEY: Final = "io.modelcontextprotocol/protocolVersion"
NAME_PARAMS: Final = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
"""Methods whose target is mirrored in ``Mcp-Name``, and the params key holding it."""

_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")
_BASE64_WRAPPED = re.compile(r"=\?base64\?[A-Za-z0-9+/=]*\?=")


def header_value(value: str) -> str:
    """A header-safe form of ``value``: as it is when it is printable ASCII without edge
    spaces, else ``=?base64?...?=`` (the MCP specification's encoding for other values)."""
    if _PRINTABLE_ASCII.fullmatch(value) and value == value.strip() and not _BASE64_WRAPPED.fullmatch(value):
        return value
    return f"=?base64?{base64.b64encode(value.encode()).decode('ascii')}?="


def body_protocol_version(message: Message) -> str | None:
    """The protocol version a 2026-07-28 request names in ``params._meta``, if any."""
    params = message.params
    if not isinstance(params, dict):
        return None
    meta = params.get("_meta")
    if not isinstance(meta, dict):
        return None
    version = meta.get(PROTOCOL_VERSION_META_KEY)
    return version if isinstance(version, str) else None


def routing_headers(message: Message, negotiated_version: str | None) -> dict[str, str]:
    """The MCP headers to send ``message`` with over Streamable HTTP."""
    headers: dict[str, str] = {}
    version = body_protocol_version(message) or negotiated_version
    if version is not None:
        headers["MCP-Protocol-Version"] = version
    method = message.method
    if message.kind is Kind.REQUEST and method is not None and body_protocol_version(message) is not None:
        headers["Mcp-Method"] = method
        key = NAME_PARAMS.get(method)
        params = message.params
        if key is not None and isinstance(params, dict) and isinstance(params.get(key), str):
            headers["Mcp-Name"] = header_value(params[key])
    return headers


MIRRORED: Final = (b"mcp-method", b"mcp-name", b"mcp-protocol-version")
"""The headers a 2026-07-28 request mirrors from its body (lower-case, as indexed)."""


CREDENTIALS: Final = (b"authorization", b"proxy-authorization", b"cookie")
"""Credential headers the history records too (so a tape shows a client sent them; a tape
redacts their values by default, ``GET /history`` always)."""


def recorded_headers(index: dict[bytes, bytes]) -> dict[str, Any] | None:
    """The mirrored MCP headers of a request (2026-07-28) and its credential headers, as the
    history records them (``{"headers": {name: value}}``), or None when it has neither."""
    names: list[bytes] = [name for name in MIRRORED if name in index] if b"mcp-method" in index else []
    names += [name for name in CREDENTIALS if name in index]
    if not names:
        return None
    return {"headers": {name.decode(): index[name].decode("latin-1") for name in names}}
