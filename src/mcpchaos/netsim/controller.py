"""The live state of one simulated network: its configuration (swappable at run time, felt
by connections already open), the partition, the link-wide bandwidth buckets, and the seeds
per connection.

A configuration may differ per connection (Toxiproxy's ``toxicity``: a toxic reaches only some
connections): ``update(config, per_connection=...)`` then resolves each connection's own
configuration once per change, and every chunk takes the simulated path.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from collections.abc import Callable

from mcpchaos.config.network import Impairments, NetworkConfig
from mcpchaos.faults.rng import generator
from mcpchaos.netsim.schedule import Schedule, TokenBucket
from mcpchaos.protocol.messages import Direction

log = logging.getLogger("mcpchaos.netsim")


class NetworkController:
    """Shared by every connection of a link (or a proxy)."""

    def __init__(self, config: NetworkConfig | None = None) -> None:
        self._ordinals = itertools.count(1)
        self._healed = asyncio.Event()
        self._heal_timer: asyncio.TimerHandle | None = None
        self._aggregate: dict[bool, TokenBucket | None] = {True: None, False: None}
        self.config = NetworkConfig()
        self.seed = 0
        self._healed.set()
        self._impairments: dict[bool, Impairments] = {True: Impairments(), False: Impairments()}
        self.clear: dict[bool, bool] = {True: True, False: True}
        self._per_connection: Callable[[int], NetworkConfig] | None = None
        self._resolved: dict[int, tuple[dict[bool, Impairments], float]] = {}
        self._watchers: set[Callable[[], None]] = set()
        self.update(config if config is not None else NetworkConfig())

    def update(
        self, config: NetworkConfig, per_connection: Callable[[int], NetworkConfig] | None = None
    ) -> None:
        """Swap the configuration; open connections feel it from their next chunk (timers,
        such as ``timeout_ms``, at once). ``per_connection(ordinal)``, when given, is the
        configuration of one connection (its partition and bandwidth aggregate are ignored:
        those stay link-wide, from ``config``)."""
        previous = self.config
        self.config = config
        self.seed = config.seed if config.seed is not None else secrets.randbits(63)
        self._per_connection = per_connection
        self._resolved = {}
        # Resolved once per change, not per chunk: the relay reads these on its hot path.
        self._impairments = {upstream: config.for_direction(upstream) for upstream in (True, False)}
        self.clear = {
            upstream: per_connection is None and self.is_clear(self._impairments[upstream])
            for upstream in (True, False)
        }
        """Per direction (True: upstream): nothing to simulate, the relay's fast path."""
        for upstream in (True, False):
            bandwidth = config.for_direction(upstream).bandwidth
            rate = bandwidth.aggregate_bytes_per_second if bandwidth is not None else None
            self._aggregate[upstream] = (
                TokenBucket(rate, bandwidth.burst_bytes) if rate and bandwidth else None
            )
        # The partition state moves only when the partition section itself changes: an
        # unrelated update must neither heal a partition started at run time nor restart one.
        if config.partition != previous.partition:
            if config.partition.active:
                self.partition(config.partition.duration_ms)
            else:
                self.heal()
        for watcher in list(self._watchers):
            watcher()

    def watch(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after every update (the sinks re-arm their timers)."""
        self._watchers.add(callback)

    def unwatch(self, callback: Callable[[], None]) -> None:
        self._watchers.discard(callback)

    def aggregate(self, upstream: bool) -> TokenBucket | None:
        """The link-wide bucket in force one way (read per chunk, so changes reach open
        connections)."""
        return self._aggregate[upstream]

    def impairments(self, upstream: bool, connection: int | None = None) -> Impairments:
        """The impairments in force one way (upstream: client → server), for one connection."""
        if connection is None or self._per_connection is None:
            return self._impairments[upstream]
        return self._for_connection(connection)[0][upstream]

    def slow_close_ms(self, connection: int | None = None) -> float:
        if connection is None or self._per_connection is None:
            return self.config.slow_close_ms
        return self._for_connection(connection)[1]

    def _for_connection(self, connection: int) -> tuple[dict[bool, Impairments], float]:
        resolved = self._resolved.get(connection)
        if resolved is None:
            assert self._per_connection is not None
            if len(self._resolved) > 10_000:
                self._resolved.clear()  # the resolver is deterministic: forgetting is safe
            config = self._per_connection(connection)
            resolved = ({up: config.for_direction(up) for up in (True, False)}, config.slow_close_ms)
            self._resolved[connection] = resolved
        return resolved

    @staticmethod
    def is_clear(impairments: Impairments) -> bool:
        """True when the impairments change nothing (the relay's fast path)."""
        return (
            impairments.latency is None
            and impairments.packet_loss is None
            and impairments.bandwidth is None
            and impairments.slicer is None
            and impairments.limit_data is None
            and impairments.timeout_ms is None
            and impairments.reset_after_ms is None
        )

    @property
    def partitioned(self) -> bool:
        return not self._healed.is_set()

    def partition(self, duration_ms: float | None = None) -> None:
        """Start a blackhole now; heal by itself after ``duration_ms`` (None: until heal())."""
        self._healed.clear()
        if self._heal_timer is not None:
            self._heal_timer.cancel()
            self._heal_timer = None
        if duration_ms is not None:
            self._heal_timer = asyncio.get_running_loop().call_later(duration_ms / 1000, self.heal)
        log.info("network partitioned%s", f" for {duration_ms:g} ms" if duration_ms is not None else "")

    def heal(self) -> None:
        if self._heal_timer is not None:
            self._heal_timer.cancel()
            self._heal_timer = None
        if not self._healed.is_set():
            log.info("network healed")
        self._healed.set()

    async def wait_healed(self) -> None:
        await self._healed.wait()

    def new_connection(self) -> int:
        """An ordinal for a new connection (seeds its randomness)."""
        return next(self._ordinals)

    def schedule(self, connection: int, direction: Direction) -> Schedule:
        """A fresh schedule for one direction of one connection."""
        from mcpchaos.faults.rng import message_key

        key = message_key(self.seed, connection, direction, 0, salt=0x6E6574)
        return Schedule(generator(key))
