from __future__ import annotations

import random

from mcpchaos.config.faults import FaultConfig, FaultSettings
from mcpchaos.config.load import validate
from mcpchaos.intercept.context import Context, Session
from mcpchaos.protocol.messages import Direction


def ctx(
    direction: Direction = Direction.CLIENT_TO_SERVER,
    transport: str = "stdio",
    ordinal: int = 0,
    session: Session | None = None,
    request_method: str | None = None,
) -> Context:
    return Context(session or Session("s-1", 1, transport), direction, ordinal, 0.0, request_method)


def settings(**data: object) -> FaultSettings:
    return validate(FaultConfig, data).settings_for(None)


def rng(seed: int = 1) -> random.Random:
    return random.Random(seed)
