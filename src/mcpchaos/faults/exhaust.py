"""resource_exhaustion: a memory spike (allocate and touch N MB, free after the hold) or a
CPU spike in the proxy, capped by the configuration; the message itself goes on."""

from __future__ import annotations

import random

from mcpchaos.config.faults import FaultSettings, FaultType
from mcpchaos.faults.base import Decision, Fault, register
from mcpchaos.intercept.context import Context
from mcpchaos.intercept.effects import Exhaust, Forward
from mcpchaos.protocol.messages import Message


def applies(message: Message, ctx: Context, settings: FaultSettings) -> bool:
    config = settings.resource_exhaustion
    return config.memory_spike or config.cpu_spike


def decide(message: Message, ctx: Context, rng: random.Random, settings: FaultSettings) -> Decision:
    config = settings.resource_exhaustion
    kinds = [kind for kind, on in (("memory", config.memory_spike), ("cpu", config.cpu_spike)) if on]
    kind = rng.choice(kinds)
    if kind == "memory":
        effect = Exhaust("memory", config.memory_spike_mb, config.memory_hold_ms / 1000)
        params = {"spike": "memory", "mb": config.memory_spike_mb, "hold_ms": config.memory_hold_ms}
    else:
        effect = Exhaust("cpu", config.cpu_spike_ms, in_thread=config.cpu_mode == "thread")
        params = {"spike": "cpu", "ms": config.cpu_spike_ms, "mode": config.cpu_mode}
    return [effect, Forward(message)], params


EXHAUST = register(Fault(FaultType.RESOURCE_EXHAUSTION, applies, decide))
