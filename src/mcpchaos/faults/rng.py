"""Deterministic randomness per message.

Every random choice for a message derives from (seed, session ordinal, direction, message
ordinal), never from one shared generator whose order would depend on scheduling: the same
seed on the same traffic gives the same faults however sessions interleave.
"""

from __future__ import annotations

import random

from mcpchaos.protocol.messages import Direction

_MASK = (1 << 64) - 1
_DIRECTION_SALT = {Direction.CLIENT_TO_SERVER: 0x1F3D5B79, Direction.SERVER_TO_CLIENT: 0x2E4C6A88}


def _splitmix64(value: int) -> int:
    value = (value + 0x9E3779B97F4A7C15) & _MASK
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK
    return value ^ (value >> 31)


def message_key(seed: int, session_ordinal: int, direction: Direction, ordinal: int, salt: int = 0) -> int:
    """A 64-bit key unique to one message (and one use, by ``salt``) under ``seed``."""
    key = _splitmix64(seed & _MASK)
    key = _splitmix64(key ^ session_ordinal)
    key = _splitmix64(key ^ _DIRECTION_SALT[direction])
    key = _splitmix64(key ^ ordinal)
    return _splitmix64(key ^ salt) if salt else key


def uniform(key: int) -> float:
    """A float in [0, 1) from a key (53 bits, like random.random)."""
    return (key >> 11) * (1.0 / (1 << 53))


def generator(key: int) -> random.Random:
    """A generator for the further choices about one message (which fault, its parameters)."""
    return random.Random(key)
