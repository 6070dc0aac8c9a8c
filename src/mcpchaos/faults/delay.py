"""delay: the message is forwarded later; nothing else waits for it."""

from __future__ import annotations

import random

from mcpchaos.config.faults import FaultSettings, FaultType
from mcpchaos.faults.base import Decision, Fault, always, register
from mcpchaos.protocol.messages import Message
from mcpchaos.proxy.context import Context
from mcpchaos.proxy.effects import Forward


def decide(message: Message, ctx: Context, rng: random.Random, settings: FaultSettings) -> Decision:
    config = settings.delay_ms
    delay_ms = rng.uniform(config.min_ms, config.max_ms) if config.jitter else config.max_ms
    return [Forward(message, delay_ms / 1000)], {"delay_ms": round(delay_ms, 3)}


DELAY = register(Fault(FaultType.DELAY, always, decide))
