"""corruption: the other side receives a damaged message (one mode, chosen among those that
fit the message: method modes need a method, id modes an id)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Final

from mcpchaos.config.faults import CorruptionMode, FaultSettings, FaultType
from mcpchaos.faults.base import Decision, Fault, register
from mcpchaos.intercept.context import Context
from mcpchaos.intercept.effects import Effect, Emit, Forward
from mcpchaos.protocol.messages import Kind, Message, result_response

_HAS_METHOD = (Kind.REQUEST, Kind.NOTIFICATION)
_HAS_ID = (Kind.REQUEST, Kind.RESULT, Kind.ERROR)


def _fits(mode: CorruptionMode, message: Message) -> bool:
    if mode in (CorruptionMode.METHOD_SUFFIX, CorruptionMode.NULL_PARAMS):
        return message.kind in _HAS_METHOD
    if mode is CorruptionMode.REPLACE_ID:
        return message.kind in _HAS_ID
    return True


def _midpoint(message: Message) -> int:
    return max(1, len(message.wire) // 2)


def _wrong_types(message: Message, rng: random.Random) -> Message:
    if message.kind in _HAS_METHOD:
        return message.replace(method=12345, params="corrupted")
    return message.replace(id={"mcpchaos": "corrupted"})


_CORRUPT: Final[dict[CorruptionMode, Callable[[Message, random.Random], Message]]] = {
    CorruptionMode.METHOD_SUFFIX: lambda m, rng: m.replace(method=f"{m.method}_corrupted"),
    CorruptionMode.JSONRPC_VERSION: lambda m, rng: m.replace(jsonrpc="1.0"),
    CorruptionMode.NULL_PARAMS: lambda m, rng: m.replace(params=None),
    CorruptionMode.REPLACE_ID: lambda m, rng: m.replace(id=f"mcpchaos-corrupted-{rng.getrandbits(32):08x}"),
    CorruptionMode.TRUNCATED_JSON: lambda m, rng: m.with_wire_bytes(m.wire[: _midpoint(m)]),
    CorruptionMode.INVALID_UTF8: lambda m, rng: m.with_wire_bytes(
        m.wire[: _midpoint(m)] + b"\xff\xfe" + m.wire[_midpoint(m) :]
    ),
    CorruptionMode.SPLIT_LINE: lambda m, rng: m.with_wire_bytes(
        m.wire[: _midpoint(m)] + b"\n" + m.wire[_midpoint(m) :]
    ),
    CorruptionMode.WRONG_TYPES: _wrong_types,
    CorruptionMode.UNKNOWN_RESPONSE_ID: lambda m, rng: m,
}


def applies(message: Message, ctx: Context, settings: FaultSettings) -> bool:
    return any(_fits(mode, message) for mode in settings.corruption_config.modes)


def decide(message: Message, ctx: Context, rng: random.Random, settings: FaultSettings) -> Decision:
    modes = [mode for mode in settings.corruption_config.modes if _fits(mode, message)]
    mode = rng.choice(modes)
    effects: list[Effect] = [Forward(_CORRUPT[mode](message, rng))]
    params: dict[str, object] = {"mode": mode.value}
    if mode is CorruptionMode.UNKNOWN_RESPONSE_ID:
        # The stray goes first: on Streamable HTTP a request's answer ends its response stream,
        # so a client that stops reading at its answer (every SDK) would never see it after.
        params["unknown_id"] = unknown_id = f"mcpchaos-unknown-{rng.getrandbits(32):08x}"
        effects.insert(0, Emit(result_response(unknown_id, {}), ctx.direction))
    return effects, params


CORRUPTION = register(Fault(FaultType.CORRUPTION, applies, decide))
