"""session_expiry (HTTP, 2025-era sessions): the session expires under a call.

The call is answered HTTP 404 with a JSON-RPC error (-32600 "Session not found", the official
SDK server's answer for an unknown session), and the proxy ends the session as an expiry
does: every later request with its ``Mcp-Session-Id`` gets 404 and the session is ended
upstream (a DELETE). A correct client starts a new session (``initialize`` again) and may
retry the call. ``reach_server: true`` forwards the call first, so the server runs it and
only its answer is lost.

It fits client requests of a session (an ``Mcp-Session-Id`` the proxy knows) on HTTP;
stdio has no sessions to expire and 2026-07-28 has no sessions at all.
"""

from __future__ import annotations

import random
from typing import Any

from mcpchaos.config.faults import FaultSettings, FaultType
from mcpchaos.faults.base import Decision, Fault, register
from mcpchaos.intercept.context import Context
from mcpchaos.intercept.effects import Effect, Forward, HttpReply
from mcpchaos.protocol import codes
from mcpchaos.protocol.messages import Direction, Kind, Message, error_response
from mcpchaos.protocol.tracker import Phase


def applies(message: Message, ctx: Context, settings: FaultSettings) -> bool:
    session = ctx.session
    return (
        session.transport == "http"
        and ctx.direction is Direction.CLIENT_TO_SERVER
        and message.kind is Kind.REQUEST
        and message.method != "initialize"
        and session.tracker.phase is Phase.INITIALIZED
        and session.tracker.protocol_version is not None  # a handshake made it: a 2025-era session
    )


def decide(message: Message, ctx: Context, rng: random.Random, settings: FaultSettings) -> Decision:
    reach = settings.session_expiry.reach_server
    data = {"mcpchaos": {"fault": "session_expiry", "injected": True}}
    error = error_response(message.id, codes.INVALID_REQUEST, "Session not found", data)
    effects: list[Effect] = [Forward(message)] if reach else []
    effects.append(HttpReply(404, (), error))
    params: dict[str, Any] = {"http_status": 404, "reached_server": reach}
    return effects, params


SESSION_EXPIRY = register(Fault(FaultType.SESSION_EXPIRY, applies, decide))
