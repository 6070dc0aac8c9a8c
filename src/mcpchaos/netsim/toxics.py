"""Toxiproxy's toxics as data, and their mapping onto a :class:`NetworkConfig`. Pure: no I/O.

Toxiproxy's ``upstream`` stream is client → server bytes, ``downstream`` server → client,
the same words as our directions. A toxic's ``toxicity`` is the chance that it reaches a
given connection; the draw is deterministic in (seed, connection ordinal, toxic name), so a
connection keeps its draw while toxics around it change.

=============  ========================================  =====================================
type           attributes (Toxiproxy's units)            network simulator
=============  ========================================  =====================================
latency        latency ms, jitter ms                     ``latency.base_ms``, ``jitter_ms``
bandwidth      rate KB/s                                 ``bandwidth.bytes_per_second`` = rate × 1000,
                                                         a burst of 100 ms worth
slow_close     delay ms                                  ``slow_close_ms`` (both directions)
timeout        timeout ms (0: never close)               ``timeout_ms``: drop bytes, close after
reset_peer     timeout ms                                ``reset_after_ms``: RST after
slicer         average_size, size_variation B, delay µs  ``slicer``
limit_data     bytes                                     ``limit_data``
=============  ========================================  =====================================

Several toxics of one kind on one stream add up (latencies add) or the strictest wins
(the smallest rate, limit or timeout), as a chain of Toxiproxy toxics would behave.

An attribute is at most the simulator's bound for its field (:data:`MAXIMUM`), else
Toxiproxy's own (an int64); :func:`network_config` refuses toxics whose sum goes past a bound.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from mcpchaos.config.network import (
    BandwidthConfig,
    Impairments,
    LatencyConfig,
    NetworkConfig,
    SlicerConfig,
)

ToxicType = Literal["latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer", "limit_data"]
Stream = Literal["upstream", "downstream"]

ATTRIBUTES: dict[str, dict[str, int]] = {
    "latency": {"latency": 0, "jitter": 0},
    "bandwidth": {"rate": 0},
    "slow_close": {"delay": 0},
    "timeout": {"timeout": 0},
    "reset_peer": {"timeout": 0},
    "slicer": {"average_size": 0, "size_variation": 0, "delay": 0},
    "limit_data": {"bytes": 0},
}
"""Each type's attributes and their defaults (what Toxiproxy reports for a missing one)."""

TOXIC_TYPES: tuple[str, ...] = get_args(ToxicType)

INT64_MAX = 2**63 - 1
"""Toxiproxy's attributes are Go int64s: the largest value of an attribute not in MAXIMUM."""

MAXIMUM: dict[tuple[str, str], int] = {
    ("latency", "latency"): 600_000,  # LatencyConfig.base_ms
    ("latency", "jitter"): 600_000,  # LatencyConfig.jitter_ms
    ("slow_close", "delay"): 600_000,  # NetworkConfig.slow_close_ms
    ("timeout", "timeout"): 86_400_000,  # Impairments.timeout_ms
    ("reset_peer", "timeout"): 86_400_000,  # Impairments.reset_after_ms
    ("slicer", "delay"): 10_000_000,  # SlicerConfig.delay_us
}
"""The largest value of an attribute, where the network simulator's field has a bound."""


class ToxicError(ValueError):
    """A toxic that cannot be built (the API answers 400)."""


class Toxic(BaseModel):
    """One toxic, in Toxiproxy's JSON shape."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    type: ToxicType
    stream: Stream = "downstream"
    toxicity: float = Field(1.0, ge=0, le=1)
    attributes: dict[str, float] = Field(default_factory=dict)

    def attribute(self, key: str) -> float:
        return self.attributes.get(key, ATTRIBUTES[self.type][key])

    def as_json(self) -> dict[str, Any]:
        # Whole numbers go out as integers: clients in typed languages decode them as ints.
        attributes = {
            key: int(value) if float(value).is_integer() else value
            for key, value in ((key, self.attribute(key)) for key in ATTRIBUTES[self.type])
        }
        return {
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "attributes": attributes,
        }


def parse_toxic(body: Any, existing: Toxic | None = None) -> Toxic:
    """A toxic from a request body; with ``existing``, the body updates it (attributes merge).

    Unknown attributes are ignored, as Toxiproxy does; a number out of range is refused."""
    if not isinstance(body, dict):
        raise ToxicError("the body must be a JSON object")
    data: dict[str, Any] = existing.model_dump() if existing is not None else {}
    for key in ("name", "type", "stream", "toxicity"):
        if key in body and body[key] is not None:
            data[key] = body[key]
    toxic_type = data.get("type")
    if toxic_type not in TOXIC_TYPES:
        raise ToxicError(f"invalid toxic type {toxic_type!r}: one of {', '.join(TOXIC_TYPES)}")
    if data.get("stream", "downstream") not in ("upstream", "downstream"):
        raise ToxicError("stream was invalid, can be either upstream or downstream")
    data.setdefault("name", f"{toxic_type}_{data.get('stream', 'downstream')}")
    attributes = dict(data.get("attributes") or {})
    given = body.get("attributes") or {}
    if not isinstance(given, dict):
        raise ToxicError("attributes must be a JSON object")
    for key, value in given.items():
        if key not in ATTRIBUTES[toxic_type]:
            continue
        maximum = MAXIMUM.get((toxic_type, key), INT64_MAX)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= maximum:
            raise ToxicError(f"attribute {key} must be a number from 0 to {maximum}")
        attributes[key] = value
    data["attributes"] = attributes
    toxicity = data.get("toxicity", 1.0)
    if isinstance(toxicity, bool) or not isinstance(toxicity, int | float) or not 0 <= toxicity <= 1:
        raise ToxicError("toxicity must be a number from 0 to 1")
    if not isinstance(data["name"], str) or not data["name"]:
        raise ToxicError("name must be a non-empty string")
    return Toxic.model_validate(data)


def reaches(toxic: Toxic, seed: int, connection: int) -> bool:
    """Whether ``toxic`` applies to connection number ``connection`` (its toxicity)."""
    if toxic.toxicity >= 1:
        return True
    if toxic.toxicity <= 0:
        return False
    return random.Random(f"{seed}/{connection}/{toxic.name}").random() < toxic.toxicity


def network_config(base: NetworkConfig, toxics: Iterable[Toxic]) -> NetworkConfig:
    """``base`` with ``toxics`` applied on top (a toxic's field wins over the base's).

    Raises :class:`pydantic.ValidationError` when the result is out of the simulator's
    bounds (latencies that add up to more than it takes)."""
    directions: dict[str, dict[str, Any]] = {
        "upstream": base.upstream.model_dump(exclude_none=True),
        "downstream": base.downstream.model_dump(exclude_none=True),
    }
    slow_close = base.slow_close_ms
    seen: set[tuple[str, str]] = set()
    for toxic in toxics:
        fields = directions[toxic.stream]
        first = (toxic.stream, toxic.type) not in seen  # the first toxic replaces the base's
        seen.add((toxic.stream, toxic.type))
        if toxic.type == "slow_close":
            slow_close = toxic.attribute("delay") if first else max(slow_close, toxic.attribute("delay"))
        else:
            _apply(fields, toxic, first)
    return base.model_copy(
        update={
            "upstream": Impairments.model_validate(directions["upstream"]),
            "downstream": Impairments.model_validate(directions["downstream"]),
            "slow_close_ms": slow_close,
        }
    )


def _apply(fields: dict[str, Any], toxic: Toxic, first: bool) -> None:
    get = toxic.attribute
    if toxic.type == "latency":
        base, jitter = get("latency"), get("jitter")
        if not first and "latency" in fields:
            base += fields["latency"]["base_ms"]
            jitter += fields["latency"]["jitter_ms"]
        fields["latency"] = LatencyConfig(base_ms=base, jitter_ms=jitter).model_dump()
    elif toxic.type == "bandwidth":
        rate = get("rate") * 1000
        if rate <= 0:  # Toxiproxy: a rate of 0 limits nothing
            if first:
                fields.pop("bandwidth", None)
            return
        current = fields.get("bandwidth", {}).get("bytes_per_second")
        if not first and current:
            rate = min(rate, current)
        # Toxiproxy paces every chunk and has no burst beyond its 100 ms slices: 100 ms worth.
        burst = max(int(rate / 10), 1)
        fields["bandwidth"] = BandwidthConfig(bytes_per_second=rate, burst_bytes=burst).model_dump()
    elif toxic.type == "slicer":
        size = max(int(get("average_size")), 1)
        fields["slicer"] = SlicerConfig(
            average_size=size,
            size_variation=min(int(get("size_variation")), size - 1),
            delay_us=get("delay"),
        ).model_dump()
    else:
        key = {"timeout": "timeout_ms", "reset_peer": "reset_after_ms", "limit_data": "limit_data"}[
            toxic.type
        ]
        value = max(int(get("bytes")), 1) if toxic.type == "limit_data" else get("timeout")
        current = fields.get(key)
        if first or current is None:
            fields[key] = value
        elif toxic.type == "timeout" and 0 in (value, current):
            fields[key] = max(value, current)  # a timeout of 0 never closes: the other decides
        else:
            fields[key] = min(value, current)
