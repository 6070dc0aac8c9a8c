"""delay: the message is forwarded later; nothing else waits for it."""

from __future__ import annotations

import random

from mcpchaos.config.faults import FaultSettings, FaultType
from mcpchaos.faults.base import Decision, Fault, always, register
from mcpchaos.intercept.context import Context
from mcpchaos.intercept.effects import Forward
from mcpchaos.protocol.messages import Message


def decide(message: Message, ctx: Context, rng: random.Random, settings: FaultSettings) -> Decision:
    config = settings.delay_ms
    delay_ms = rng.uniform(config.min_ms, config.max_ms) if config.jitter else config.max_ms
    return [Forward(message, delay_ms / 1000)], {"delay_ms": round(delay_ms, 3)}


DELAY = register(Fault(FaultType.DELAY, always, decide))
