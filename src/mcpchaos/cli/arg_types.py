"""The argparse types every command shares: numbers, ports, sizes, each with a message that says
what was wrong."""

from __future__ import annotations

import argparse


def positive_float(text: str) -> float:
    """A number, zero or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0:  # nan too
        raise argparse.ArgumentTypeError(f"{text!r} must be zero or more")
    return value


def more_than_zero(text: str) -> float:
    value = positive_float(text)
    if not value > 0:  # nan too
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0")
    return value


def port_number(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (a number from 0 to 65535)")
    return int(text)


def size(text: str) -> int:
    """Sizes like 1048576, 512KiB, 16MiB, 1GiB."""
    units = {"kib": 1024, "mib": 1024**2, "gib": 1024**3, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "b": 1}
    lowered = text.strip().lower()
    for unit, factor in units.items():
        if lowered.endswith(unit):
            number, multiplier = lowered[: -len(unit)], factor
            break
    else:
        number, multiplier = lowered, 1
    try:
        value = int(float(number) * multiplier)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a size (examples: 1048576, 512KiB, 16MiB)"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1 byte")
    return value
