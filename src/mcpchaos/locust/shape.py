"""A Locust load shape that ramps the proxy's fault probability while the test runs.

It runs on the master only (Locust ticks the shape there), so one process changes the faults
through the proxy's control API (``--mcpchaos-control URL`` or ``$MCPCHAOS_CONTROL``) while
the workers send load. At the end of the ramp (and when the test stops) the faults are reset
to the proxy's start-up configuration.
"""

from __future__ import annotations

import logging
import os
from typing import Any, ClassVar

import requests
from locust import LoadTestShape, events
from locust.argument_parser import LocustArgumentParser

log = logging.getLogger("mcpchaos.locust")


@events.init_command_line_parser.add_listener
def _add_arguments(parser: LocustArgumentParser) -> None:
    parser.add_argument(
        "--mcpchaos-control",
        default=os.environ.get("MCPCHAOS_CONTROL", ""),
        help="control API of the mcpchaos proxy under test (FaultRampShape changes its faults)",
    )


class FaultRampShape(LoadTestShape):
    """``users`` users (spawned at ``spawn_rate``) for ``duration_s`` seconds, while the
    fault probability climbs from ``start_probability`` to ``end_probability`` in ``steps``
    equal steps; ``faults`` says which faults (a FaultConfig without the probability)."""

    abstract = True
    users: ClassVar[int] = 10
    spawn_rate: ClassVar[float] = 10.0
    duration_s: ClassVar[float] = 60.0
    start_probability: ClassVar[float] = 0.0
    end_probability: ClassVar[float] = 0.5
    steps: ClassVar[int] = 5
    faults: ClassVar[dict[str, Any]] = {"enabled_faults": {"error": True}}

    def __init__(self) -> None:
        super().__init__()
        self._applied: float | None = None
        self._finished = False

    def probability_at(self, run_time: float) -> float:
        """The step the ramp is on after ``run_time`` seconds."""
        step = min(self.steps, int(run_time / self.duration_s * (self.steps + 1)))
        return self.start_probability + (self.end_probability - self.start_probability) * step / self.steps

    def tick(self) -> tuple[int, float] | None:
        run_time = self.get_run_time()
        if run_time >= self.duration_s:
            if not self._finished:
                self._finished = True
                self._control("POST", "/faults/reset", {})
            return None
        probability = round(self.probability_at(run_time), 6)
        if probability != self._applied:
            config = {**self.faults, "fault_probability": probability}
            if self._control("PATCH", "/faults", config):
                self._applied = probability
        return self.users, self.spawn_rate

    def _control(self, method: str, path: str, body: dict[str, Any]) -> bool:
        """One control API call; a failure is logged and retried at the next tick, never
        fatal (the load goes on; the proxy may be the thing that is down)."""
        base = self._control_url()
        if not base:
            log.warning("FaultRampShape: no control URL (--mcpchaos-control or $MCPCHAOS_CONTROL)")
            return False
        token = os.environ.get("MCPCHAOS_CONTROL_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = requests.request(
                method, base.rstrip("/") + path, json=body, headers=headers, timeout=5
            )
        except requests.RequestException as error:
            log.warning("FaultRampShape: %s %s failed: %s", method, path, error)
            return False
        if response.status_code >= 400:
            log.warning("FaultRampShape: %s %s → %s %s", method, path, response.status_code, response.text)
            return False
        log.info("FaultRampShape: %s %s %s", method, path, body or "")
        return True

    def _control_url(self) -> str:
        options = self.runner.environment.parsed_options if self.runner is not None else None
        url: str = getattr(options, "mcpchaos_control", "") or os.environ.get("MCPCHAOS_CONTROL", "")
        return url
