"""A circuit breaker toward one upstream: closed, open, half-open. Sans-IO: time comes in as
a parameter, so the state machine is tested without clocks or sockets.

* **closed**: requests pass; outcomes go into a sliding window of ``window_s`` seconds. When
  the window holds at least ``min_requests`` outcomes and the failure rate reaches
  ``failure_rate``, the breaker opens.
* **open**: requests fail fast (the proxy answers them itself) for ``open_s`` seconds.
* **half-open**: up to ``probes`` requests pass; one failure opens it again, ``probes``
  successes close it.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    failure_rate: float = 0.5
    """Failure share in the window that opens the breaker."""
    window_s: float = 10.0
    min_requests: int = 10
    """No decision on fewer outcomes than this."""
    open_s: float = 5.0
    """How long an open breaker fails fast before probing."""
    probes: int = 3
    """Requests let through when half-open; this many successes close the breaker."""

    def __post_init__(self) -> None:
        if not 0 < self.failure_rate <= 1:
            raise ValueError("failure_rate must be in (0, 1]")
        if self.window_s <= 0 or self.open_s < 0 or self.min_requests < 1 or self.probes < 1:
            raise ValueError("window_s > 0, open_s >= 0, min_requests >= 1 and probes >= 1 are required")


Transition = Callable[[BreakerState, BreakerState], None]


class CircuitBreaker:
    """The breaker for one upstream."""

    def __init__(self, config: BreakerConfig | None = None) -> None:
        self.config = config if config is not None else BreakerConfig()
        self.state = BreakerState.CLOSED
        self._window: deque[tuple[float, bool]] = deque()
        self._failures = 0
        self._opened_at = 0.0
        self._probes_sent = 0
        self._probe_successes = 0
        self.rejected = 0
        """Requests failed fast while open."""
        self._listeners: list[Transition] = []

    def on_transition(self, listener: Transition) -> None:
        self._listeners.append(listener)

    def allow(self, now: float) -> bool:
        """May a request go to the upstream now? (Counts a half-open probe when it may.)"""
        if self.state is BreakerState.OPEN:
            if now - self._opened_at < self.config.open_s:
                self.rejected += 1
                return False
            self._move(BreakerState.HALF_OPEN)
            self._probes_sent = 0
            self._probe_successes = 0
        if self.state is BreakerState.HALF_OPEN:
            if self._probes_sent >= self.config.probes:
                self.rejected += 1
                return False
            self._probes_sent += 1
        return True

    def record(self, success: bool, now: float) -> None:
        """The outcome of a request that was allowed through."""
        if self.state is BreakerState.HALF_OPEN:
            if not success:
                self._open(now)
                return
            self._probe_successes += 1
            if self._probe_successes >= self.config.probes:
                self._window.clear()
                self._failures = 0
                self._move(BreakerState.CLOSED)
            return
        if self.state is BreakerState.OPEN:
            return  # a straggler from before it opened
        self._window.append((now, success))
        self._failures += not success
        horizon = now - self.config.window_s
        while self._window and self._window[0][0] < horizon:
            _, ok = self._window.popleft()
            self._failures -= not ok
        total = len(self._window)
        if total >= self.config.min_requests and self._failures / total >= self.config.failure_rate:
            self._open(now)

    def _open(self, now: float) -> None:
        self._opened_at = now
        self._window.clear()
        self._failures = 0
        self._move(BreakerState.OPEN)

    def _move(self, state: BreakerState) -> None:
        if state is self.state:
            return
        before, self.state = self.state, state
        for listener in self._listeners:
            listener(before, state)

    def as_dict(self) -> dict[str, object]:
        total = len(self._window)
        return {
            "state": self.state.value,
            "window_requests": total,
            "window_failure_rate": (self._failures / total) if total else 0.0,
            "rejected": self.rejected,
        }
