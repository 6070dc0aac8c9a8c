"""result_shape: a result that lies about its shape or its freshness (server → client).

Modes (``result_shape.modes``, one drawn among those that fit the result):

- ``missing_result_type``: ``resultType`` removed (2026-07-28 requires it on every result);
- ``wrong_result_type``: ``resultType`` set to ``result_shape.result_type``;
- ``long_ttl``: ``ttlMs`` set to ``result_shape.ttl_ms`` on a cacheable result (the list
  methods, ``resources/read``, ``server/discover``): a client that honours it serves stale data;
- ``public_scope``: ``cacheScope: "public"`` on a cacheable result (private data offered to
  shared caches);
- ``late_result`` (HTTP): the client's response stream is closed first and the result comes
  after it, to nowhere: in 2026-07-28 a closed stream is a cancelled request, with no
  resumption, so the client must give the call up (or retry), not wait.

Responses are drawn for only when ``match.message_classes`` names them (``server_response``).
"""

from __future__ import annotations

import random
from typing import Any, Final

from mcpchaos.config.faults import FaultSettings, FaultType
from mcpchaos.config.protocol_faults import ResultShapeMode
from mcpchaos.faults.base import Decision, Fault, register
from mcpchaos.intercept.context import Context
from mcpchaos.intercept.effects import EndStream, Forward
from mcpchaos.protocol.messages import Direction, Kind, Message

CACHEABLE: Final = frozenset(
    {
        "tools/list",
        "prompts/list",
        "resources/list",
        "resources/templates/list",
        "resources/read",
        "server/discover",
    }
)
"""Methods whose results carry the 2026-07-28 caching hints (``ttlMs``, ``cacheScope``)."""


def _result(message: Message) -> dict[str, Any] | None:
    result = message.payload.get("result")
    return result if isinstance(result, dict) else None


def _fits(mode: ResultShapeMode, message: Message, ctx: Context) -> bool:
    result = _result(message)
    if result is None:
        return False
    if mode is ResultShapeMode.MISSING_RESULT_TYPE:
        return "resultType" in result
    if mode in (ResultShapeMode.LONG_TTL, ResultShapeMode.PUBLIC_SCOPE):
        return ctx.request_method in CACHEABLE
    if mode is ResultShapeMode.LATE_RESULT:
        return ctx.session.transport == "http"
    return True


def _fitting(message: Message, ctx: Context, settings: FaultSettings) -> list[ResultShapeMode]:
    return [mode for mode in settings.result_shape.modes if _fits(mode, message, ctx)]


def applies(message: Message, ctx: Context, settings: FaultSettings) -> bool:
    return (
        message.kind is Kind.RESULT
        and ctx.direction is Direction.SERVER_TO_CLIENT
        and bool(_fitting(message, ctx, settings))
    )


def decide(message: Message, ctx: Context, rng: random.Random, settings: FaultSettings) -> Decision:
    config = settings.result_shape
    mode = rng.choice(_fitting(message, ctx, settings))
    params: dict[str, Any] = {"mode": mode.value}
    result = dict(_result(message) or {})
    if mode is ResultShapeMode.LATE_RESULT:
        # EndStream drops the message being handled: the result arrives after the close.
        return [EndStream("result_shape late_result: the stream closed before its result")], params
    if mode is ResultShapeMode.MISSING_RESULT_TYPE:
        params["was"] = result.pop("resultType", None)
    elif mode is ResultShapeMode.WRONG_RESULT_TYPE:
        params["was"] = result.get("resultType")
        result["resultType"] = params["result_type"] = config.result_type
    elif mode is ResultShapeMode.LONG_TTL:
        params["was"] = result.get("ttlMs")
        result["ttlMs"] = params["ttl_ms"] = config.ttl_ms
    else:
        params["was"] = result.get("cacheScope")
        result["cacheScope"] = "public"
    return [Forward(message.replace(result=result))], params


RESULT_SHAPE = register(Fault(FaultType.RESULT_SHAPE, applies, decide))
