"""``NetworkConfig``: impairments of the byte streams under any transport.

Impairments are given per direction (``upstream``: bytes from the client toward the server;
``downstream``: bytes from the server toward the client) or for ``both``; a direction's own
setting wins over ``both``. ``NetworkConfig()`` impairs nothing.

Latency is **per direction**: ``latency: {base_ms: 50}`` under ``both`` adds 50 ms to each
direction, so a request/response round trip gets about 100 ms more.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from mcpchaos.config.model import StrictModel


class LatencyConfig(StrictModel):
    """The specification's LatencySimulation: a base, jitter, and occasional spikes."""

    base_ms: float = Field(0.0, ge=0, le=600_000)
    """Added to every chunk, milliseconds."""
    jitter_ms: float = Field(0.0, ge=0, le=600_000)
    """Spread around the base: uniform ±jitter, or the standard deviation (normal), or the
    scale (pareto: base + a heavy tail)."""
    distribution: Literal["uniform", "normal", "pareto"] = "uniform"
    spike_probability: float = Field(0.0, ge=0, le=1)
    """Chance that a chunk's delay is multiplied by ``spike_multiplier``."""
    spike_multiplier: float = Field(10.0, ge=1, le=1000)


class PacketLossConfig(StrictModel):
    """Loss on a byte stream is a reset: a chunk that is 'lost' resets the connection (RST)."""

    probability: float = Field(0.0, ge=0, le=1)
    """Chance per chunk (bernoulli model), or the loss chance in the good state (gilbert_elliott)."""
    model: Literal["bernoulli", "gilbert_elliott"] = "bernoulli"
    good_to_bad: float = Field(0.01, ge=0, le=1)
    """gilbert_elliott: chance per chunk of moving from the good to the bad state."""
    bad_to_good: float = Field(0.3, ge=0, le=1)
    """gilbert_elliott: chance per chunk of moving back."""
    bad_probability: float = Field(0.5, ge=0, le=1)
    """gilbert_elliott: loss chance per chunk in the bad state (bursts)."""


class BandwidthConfig(StrictModel):
    """A token bucket per connection (and optionally one shared by all connections)."""

    bytes_per_second: float | None = Field(None, gt=0)
    """Per connection and direction."""
    aggregate_bytes_per_second: float | None = Field(None, gt=0)
    """Shared by every connection of this link, per direction."""
    burst_bytes: int = Field(16_384, ge=1)
    """How far ahead of the rate a connection may send at once."""


class SlicerConfig(StrictModel):
    """Split each write into small pieces with delays between them (Toxiproxy's slicer)."""

    average_size: int = Field(64, ge=1)
    size_variation: int = Field(0, ge=0)
    delay_us: float = Field(0.0, ge=0, le=10_000_000)
    """Pause between pieces, microseconds."""


class Impairments(StrictModel):
    """What happens to the bytes going one way."""

    latency: LatencyConfig | None = None
    packet_loss: PacketLossConfig | None = None
    bandwidth: BandwidthConfig | None = None
    slicer: SlicerConfig | None = None
    limit_data: int | None = Field(None, ge=1)
    """Close the connection after this many bytes have gone this way (Toxiproxy's limit_data)."""
    timeout_ms: float | None = Field(None, ge=0, le=86_400_000)
    """Drop every byte going this way, and close the connection this long after the impairment
    reaches it (0: never close, drop until removed) (Toxiproxy's timeout)."""
    reset_after_ms: float | None = Field(None, ge=0, le=86_400_000)
    """Reset the connection (RST) this long after the impairment reaches it; bytes pass until
    then (Toxiproxy's reset_peer)."""


class PartitionConfig(StrictModel):
    """A blackhole: connections stay open but nothing passes; then traffic resumes."""

    active: bool = False
    """Start partitioned (the control API partitions and heals at run time)."""
    duration_ms: float | None = Field(None, ge=0)
    """Heal by itself after this long; None: until healed."""
    new_connections: Literal["hang", "refuse"] = "hang"
    """During a partition new connections wait for the heal (hang) or are reset (refuse)."""


class NetworkConfig(StrictModel):
    """All impairments of one link. ``NetworkConfig()`` impairs nothing."""

    both: Impairments = Field(default_factory=Impairments)
    upstream: Impairments = Field(default_factory=Impairments)
    """Client → server bytes (overrides ``both`` field by field)."""
    downstream: Impairments = Field(default_factory=Impairments)
    """Server → client bytes (overrides ``both`` field by field)."""
    partition: PartitionConfig = Field(default_factory=PartitionConfig)
    slow_close_ms: float = Field(0.0, ge=0, le=600_000)
    """Delay the close of a connection by this long (Toxiproxy's slow_close)."""
    seed: int | None = None
    """Randomness per connection derives from (seed, connection ordinal, direction)."""

    def for_direction(self, upstream: bool) -> Impairments:
        """The impairments in force one way: the direction's own fields, else ``both``'s."""
        own = self.upstream if upstream else self.downstream
        return Impairments(
            latency=own.latency or self.both.latency,
            packet_loss=own.packet_loss or self.both.packet_loss,
            bandwidth=own.bandwidth or self.both.bandwidth,
            slicer=own.slicer or self.both.slicer,
            limit_data=own.limit_data or self.both.limit_data,
            timeout_ms=own.timeout_ms if own.timeout_ms is not None else self.both.timeout_ms,
            reset_after_ms=(
                own.reset_after_ms if own.reset_after_ms is not None else self.both.reset_after_ms
            ),
        )


class LinkConfig(StrictModel):
    """One ``mcpchaos link``: listen here, relay to there, with these impairments."""

    name: str | None = None
    listen: str
    """HOST:PORT to accept connections on."""
    upstream: str
    """HOST:PORT to relay them to."""
    network: NetworkConfig = Field(default_factory=NetworkConfig)


class LinksFile(StrictModel):
    """Several links from one file: ``links: [{listen, upstream, network}, ...]``."""

    links: list[LinkConfig]

    @model_validator(mode="after")
    def _some_link(self) -> Self:
        if not self.links:
            raise ValueError("links must list at least one link")
        return self
