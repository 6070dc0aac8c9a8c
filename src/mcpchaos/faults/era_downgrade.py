"""era_downgrade: a request is answered as a server of the other protocol era would answer it.

- A 2026-07-28 request (``server/discover``, or any request whose ``params._meta`` names a
  protocol version) gets -32022 UnsupportedProtocolVersion with ``data: {supported, requested}``
  naming handshake-era versions, so a client that speaks both falls back to ``initialize``;
  with ``legacy_body`` it gets what a handshake-era server sends instead: on HTTP the SDK 1.x
  400 body (-32000 "Bad Request: Unsupported protocol version ..."), on stdio -32601.
- ``initialize`` (a legacy client) gets -32022 naming only 2026-07-28, as a 2026-only
  server answers it.

On HTTP the error travels as a 400, the status the official SDK server gives these codes.
The request never reaches the server. Only the handshake methods (``server/discover``,
``initialize``) need naming in ``match.methods`` to be reached; any other 2026-07-28 request
matches as usual.
"""

from __future__ import annotations

import random
from typing import Any

from mcpchaos.config.faults import FaultSettings, FaultType
from mcpchaos.faults.base import Decision, Fault, register
from mcpchaos.intercept.context import Context
from mcpchaos.intercept.effects import Effect, HttpReply, Reply
from mcpchaos.protocol import codes
from mcpchaos.protocol.http_headers import body_protocol_version
from mcpchaos.protocol.messages import Direction, Kind, Message, error_response

_DISCOVER = "server/discover"


def _requested(message: Message) -> str | None:
    """The version a request asks for: the body's ``_meta`` one, or ``initialize``'s."""
    if message.method == "initialize":
        params = message.params
        version = params.get("protocolVersion") if isinstance(params, dict) else None
        return version if isinstance(version, str) else "unknown"
    return body_protocol_version(message)


def applies(message: Message, ctx: Context, settings: FaultSettings) -> bool:
    return (
        message.kind is Kind.REQUEST
        and ctx.direction is Direction.CLIENT_TO_SERVER
        and (message.method in ("initialize", _DISCOVER) or body_protocol_version(message) is not None)
    )


def _mark(**extra: Any) -> dict[str, Any]:
    return {"fault": "era_downgrade", "injected": True, **extra}


def decide(message: Message, ctx: Context, rng: random.Random, settings: FaultSettings) -> Decision:
    config = settings.era_downgrade
    requested = _requested(message) or "unknown"
    http = ctx.session.transport == "http"
    if message.method == "initialize":
        # A 2026-only server: the handshake era is not one it speaks.
        supported = list(config.modern_versions)
        data = {"supported": supported, "requested": requested, "mcpchaos": _mark(answered_as="modern")}
        error = error_response(
            message.id, codes.UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version", data
        )
        params: dict[str, Any] = {"answered_as": "modern", "code": codes.UNSUPPORTED_PROTOCOL_VERSION}
    elif config.legacy_body:
        supported = list(config.legacy_versions)
        if http:
            # What the TypeScript SDK 1.x answers (id null, no -32022: no sign the server is modern).
            versions = ", ".join(supported)
            text = f"Bad Request: Unsupported protocol version: {requested} (supported versions: {versions})"
            error = error_response(
                None, codes.SDK_CONNECTION_CLOSED, text, {"mcpchaos": _mark(answered_as="legacy")}
            )
        else:
            error = error_response(
                message.id,
                codes.METHOD_NOT_FOUND,
                "Method not found",
                {"mcpchaos": _mark(answered_as="legacy")},
            )
        params = {"answered_as": "legacy", "code": error.payload["error"]["code"]}
    else:
        supported = list(config.legacy_versions)
        data = {"supported": supported, "requested": requested, "mcpchaos": _mark(answered_as="legacy")}
        error = error_response(
            message.id, codes.UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version", data
        )
        params = {"answered_as": "legacy", "code": codes.UNSUPPORTED_PROTOCOL_VERSION}
    params["requested"] = requested
    params["supported"] = supported
    effects: list[Effect] = [HttpReply(400, (), error)] if http else [Reply(error)]
    if http:
        params["http_status"] = 400
    return effects, params


ERA_DOWNGRADE = register(Fault(FaultType.ERA_DOWNGRADE, applies, decide))
