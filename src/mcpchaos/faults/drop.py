"""drop: the message is not forwarded and nothing answers it."""

from __future__ import annotations

import random

from mcpchaos.config.faults import FaultSettings, FaultType
from mcpchaos.faults.base import Decision, Fault, always, register
from mcpchaos.intercept.context import Context
from mcpchaos.intercept.effects import Drop
from mcpchaos.protocol.messages import Message


def decide(message: Message, ctx: Context, rng: random.Random, settings: FaultSettings) -> Decision:
    return [Drop("drop fault")], {}


DROP = register(Fault(FaultType.DROP, always, decide))
