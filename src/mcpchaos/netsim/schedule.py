"""The pure schedule: ``plan(chunk, now, impairments)`` → pieces with send times, and
whether the connection must be reset or closed. No sockets, no clock, no global randomness:
time and a seeded generator come in as parameters, so it is tested without I/O and replays.

Bytes keep their order within a connection: a piece never goes before the one before it.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field

from mcpchaos.config.network import BandwidthConfig, Impairments, LatencyConfig, PacketLossConfig


class Action(enum.Enum):
    """What happens to the connection after this chunk."""

    NONE = "none"
    RESET = "reset"
    """Loss: the connection is reset (RST); this chunk is not delivered."""
    CLOSE = "close"
    """limit_data reached: the pieces are delivered, then the connection closes."""


@dataclass(frozen=True, slots=True)
class Plan:
    pieces: list[tuple[bytes, float]]
    """(bytes, absolute send time) in order."""
    action: Action = Action.NONE


class TokenBucket:
    """Bandwidth in virtual time: when may ``size`` more bytes go, at ``rate`` bytes/s."""

    __slots__ = ("_burst", "_rate", "_time", "_tokens")

    def __init__(self, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._time = 0.0

    def reserve(self, size: int, at: float) -> float:
        """Take ``size`` bytes' worth of tokens no earlier than ``at``; returns the send time."""
        if at > self._time:
            self._tokens = min(self._burst, self._tokens + (at - self._time) * self._rate)
            self._time = at
        self._tokens -= size
        if self._tokens >= 0:
            return max(at, self._time)
        wait = -self._tokens / self._rate
        self._tokens = 0.0
        self._time += wait
        return max(at, self._time)


def latency_s(config: LatencyConfig, rng: random.Random) -> float:
    """One chunk's added delay, in seconds."""
    jitter = config.jitter_ms
    if config.distribution == "uniform":
        delay = config.base_ms + (rng.uniform(-jitter, jitter) if jitter else 0.0)
    elif config.distribution == "normal":
        delay = rng.gauss(config.base_ms, jitter) if jitter else config.base_ms
    else:  # pareto: a heavy tail above the base
        delay = config.base_ms + (jitter * (rng.paretovariate(3.0) - 1.0) if jitter else 0.0)
    if config.spike_probability and rng.random() < config.spike_probability:
        delay *= config.spike_multiplier
    return max(delay, 0.0) / 1000


@dataclass(slots=True)
class Schedule:
    """The state of one direction of one connection."""

    rng: random.Random
    last_send_at: float = 0.0
    sent: int = 0
    bad_state: bool = False
    _bucket: TokenBucket | None = None
    _bucket_rate: float | None = None
    _closed: bool = field(default=False)

    def plan(
        self, chunk: bytes, now: float, impairments: Impairments, aggregate: TokenBucket | None = None
    ) -> Plan:
        """``aggregate`` is the link-wide bucket shared by all connections (this direction)."""
        if self._closed or not chunk or impairments.timeout_ms is not None:
            return Plan([])  # timeout: the bytes are dropped (the sink closes on a timer)
        if impairments.packet_loss is not None and self._lost(impairments.packet_loss):
            self._closed = True
            return Plan([], Action.RESET)
        action = Action.NONE
        if impairments.limit_data is not None:
            room = impairments.limit_data - self.sent
            if len(chunk) >= room:
                chunk = chunk[: max(room, 0)]
                action = Action.CLOSE
                self._closed = True
        self.sent += len(chunk)
        latency = latency_s(impairments.latency, self.rng) if impairments.latency else 0.0
        pieces: list[tuple[bytes, float]] = []
        leaves = now  # when the bytes leave the sender: bandwidth (and slicing) decide
        for index, piece in enumerate(self._slices(chunk, impairments)):
            if index and impairments.slicer is not None:
                leaves += impairments.slicer.delay_us / 1e6
            leaves = self._bandwidth(len(piece), leaves, impairments.bandwidth, aggregate)
            # ...and arrive a latency later: latency is added after the buckets, so one
            # connection's delay never holds up another's share of a shared bucket.
            at = max(leaves + latency, self.last_send_at)  # order within the connection
            self.last_send_at = at
            pieces.append((piece, at))
        return Plan(pieces, action)

    def _lost(self, loss: PacketLossConfig) -> bool:
        if loss.model == "bernoulli":
            return loss.probability > 0 and self.rng.random() < loss.probability
        if self.bad_state:
            if self.rng.random() < loss.bad_to_good:
                self.bad_state = False
        elif self.rng.random() < loss.good_to_bad:
            self.bad_state = True
        chance = loss.bad_probability if self.bad_state else loss.probability
        return chance > 0 and self.rng.random() < chance

    def _slices(self, chunk: bytes, impairments: Impairments) -> list[bytes]:
        slicer = impairments.slicer
        if slicer is None or len(chunk) <= slicer.average_size:
            return [chunk] if chunk else []
        pieces = []
        offset = 0
        while offset < len(chunk):
            variation = (
                self.rng.randint(-slicer.size_variation, slicer.size_variation)
                if slicer.size_variation
                else 0
            )
            size = max(1, slicer.average_size + variation)
            pieces.append(chunk[offset : offset + size])
            offset += size
        return pieces

    def _bandwidth(
        self, size: int, at: float, config: BandwidthConfig | None, aggregate: TokenBucket | None
    ) -> float:
        if config is None:
            return at
        if config.bytes_per_second is not None:
            if self._bucket is None or self._bucket_rate != config.bytes_per_second:
                self._bucket = TokenBucket(config.bytes_per_second, config.burst_bytes)
                self._bucket_rate = config.bytes_per_second
            at = self._bucket.reserve(size, at)
        if aggregate is not None:
            at = aggregate.reserve(size, at)
        return at
