"""The bytes the fast clients send, prepared once per operation (no pydantic per request)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from mcpchaos.harness.load.settings import Operation
from mcpchaos.protocol.client_wire import SESSIONLESS_ERA, initialize_params, sessionless
from mcpchaos.protocol.client_wire import request_bytes as _request_bytes

CLIENT_INFO: Final = {"name": "mcpchaos-load", "version": "1"}


@dataclass(frozen=True, slots=True)
class PreparedOp:
    """An operation ready to send: its method, params (with the 2026-07-28 envelope) and the
    routing headers an HTTP request needs."""

    name: str
    method: str
    params: dict[str, Any]
    headers: dict[str, str]


def prepare(op: Operation, protocol: str) -> PreparedOp:
    if protocol == SESSIONLESS_ERA:
        params, headers = sessionless(op.method, dict(op.params))
    else:
        params, headers = dict(op.params), {}
    return PreparedOp(op.name, op.method, params, headers)


def request_bytes(request_id: int, op: PreparedOp) -> bytes:
    return _request_bytes(request_id, op.method, op.params)


def initialize_bytes(request_id: int) -> bytes:
    return _request_bytes(request_id, "initialize", initialize_params(CLIENT_INFO))


class Chooser:
    """Seeded weighted choice over the prepared operations (one per client)."""

    def __init__(self, ops: Sequence[PreparedOp], weights: Sequence[float], seed: int) -> None:
        self._ops = list(ops)
        self._cum: list[float] = []
        total = 0.0
        for weight in weights:
            total += weight
            self._cum.append(total)
        self._rng = random.Random(seed)

    def next(self) -> PreparedOp:
        if len(self._ops) == 1:
            return self._ops[0]
        return self._rng.choices(self._ops, cum_weights=self._cum)[0]
