"""duplicate: the message is delivered twice (a request reaches the server twice, a response
reaches the client twice)."""

from __future__ import annotations

import random

from mcpchaos.config.faults import FaultSettings, FaultType
from mcpchaos.faults.base import Decision, Fault, always, register
from mcpchaos.protocol.messages import Message
from mcpchaos.proxy.context import Context
from mcpchaos.proxy.effects import Forward


def decide(message: Message, ctx: Context, rng: random.Random, settings: FaultSettings) -> Decision:
    return [Forward(message), Forward(message)], {"copies": 2}


DUPLICATE = register(Fault(FaultType.DUPLICATE, always, decide))
