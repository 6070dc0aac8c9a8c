"""duplicate: the message is delivered twice (a request reaches the server twice, a response
reaches the client twice)."""

from __future__ import annotations

import random

from mcpchaos.config.faults import FaultSettings, FaultType
from mcpchaos.faults.base import Decision, Fault, always, register
from mcpchaos.intercept.context import Context
from mcpchaos.intercept.effects import Forward
from mcpchaos.protocol.messages import Message


def decide(message: Message, ctx: Context, rng: random.Random, settings: FaultSettings) -> Decision:
    return [Forward(message), Forward(message)], {"copies": 2}


DUPLICATE = register(Fault(FaultType.DUPLICATE, always, decide))
