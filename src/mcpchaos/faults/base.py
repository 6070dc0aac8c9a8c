"""What a fault kind is, and the registry of them.

A fault kind is a module-level object with a ``kind``, an ``applies(message)`` test (error
makes no sense for a notification, say) and a pure ``decide``: the message, its context,
a generator seeded for this message and the settings in force → effects plus the
parameters to log. No I/O, no clock, no global randomness. A new fault = one module that
calls :func:`register`, plus its test.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mcpchaos.config.faults import FaultSettings, FaultType
from mcpchaos.intercept.context import Context
from mcpchaos.intercept.effects import Effect
from mcpchaos.protocol.messages import Message

Decision = tuple[list[Effect], dict[str, Any]]
"""The effects to apply, and the parameters of the fault for the fault log."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault kind."""

    kind: FaultType
    applies: Callable[[Message, Context, FaultSettings], bool]
    decide: Callable[[Message, Context, random.Random, FaultSettings], Decision]


REGISTRY: dict[FaultType, Fault] = {}


def register(fault: Fault) -> Fault:
    """Add a fault kind to the registry (each fault module calls this once)."""
    REGISTRY[fault.kind] = fault
    return fault


def always(message: Message, ctx: Context, settings: FaultSettings) -> bool:
    """``applies`` for faults that fit every message."""
    return True


def load_all() -> dict[FaultType, Fault]:
    """Import every fault module (they register themselves) and return the registry."""
    from mcpchaos.faults import (  # noqa: F401
        corruption,
        delay,
        drop,
        duplicate,
        era_downgrade,
        error,
        exhaust,
        header_mismatch,
        input_required,
        list_changed,
        missing_capability,
        reorder,
        result_shape,
        session_expiry,
        subscription,
        task,
    )

    return REGISTRY
