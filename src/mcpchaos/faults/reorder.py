"""reorder: the message is held until the next message of its session and direction has
passed (the injector releases it then), or at most ``reorder.max_hold_ms``."""

from __future__ import annotations

import random

from mcpchaos.config.faults import FaultSettings, FaultType
from mcpchaos.faults.base import Decision, Fault, always, register
from mcpchaos.intercept.context import Context
from mcpchaos.intercept.effects import Hold
from mcpchaos.protocol.messages import Message


def hold_key(ctx: Context) -> str:
    """The key a reordered message is held under (unique per message)."""
    return f"reorder:{ctx.direction.value}:{ctx.ordinal}"


def decide(message: Message, ctx: Context, rng: random.Random, settings: FaultSettings) -> Decision:
    max_hold_ms = settings.reorder.max_hold_ms
    return [Hold(message, hold_key(ctx), max_hold_ms / 1000)], {"max_hold_ms": max_hold_ms}


REORDER = register(Fault(FaultType.REORDER, always, decide))
