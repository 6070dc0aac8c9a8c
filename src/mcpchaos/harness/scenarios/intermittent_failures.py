"""Intermittent failures: faults flapping on and off."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from mcpchaos.harness.scenario import Scenario, ScenarioContext, ScenarioParams
from mcpchaos.harness.scenarios._faults import kinds
from mcpchaos.harness.verdicts import COMMON


class Params(ScenarioParams):
    cycles: int = Field(3, ge=1, le=1000)
    on_s: float = Field(3.0, gt=0, le=3600)
    """Seconds of each burst of faults."""
    off_s: float = Field(3.0, gt=0, le=3600)
    """Seconds between bursts (each is a recovery phase)."""
    fault_probability: float = Field(0.5, ge=0, le=1)
    faults_enabled: list[str] = Field(default_factory=lambda: ["error"])
    """Fault kinds injected (error: each fault is one failed request, so success ≈ 1 − p)."""
    fault_config: dict[str, Any] | None = None
    """A whole FaultConfig for the fault phases instead of ``faults_enabled`` (its
    ``fault_probability`` is set by the scenario), e.g. a chosen corruption mode."""
    recovery_within_s: float = Field(2.0, gt=0, le=3600)


class IntermittentFailures(Scenario):
    name = "intermittent_failures"
    description = "Faults flap on and off; after every burst the system must come back by itself."
    mitigation = (
        "Retry with backoff and jitter, keep a circuit breaker's open time short so it closes soon "
        "after a burst, and make sure clients keep (or cleanly re-create) their sessions across "
        "bursts."
    )
    Params = Params
    quick: ClassVar[dict[str, object]] = {
        "cycles": 2,
        "on_s": 1.0,
        "off_s": 1.5,
    }
    verdict_names = (*COMMON, "recovery", "metrics_accurate")

    def timed_phases(self, params: ScenarioParams) -> dict[str, float]:
        p = params
        assert isinstance(p, Params)
        return {"baseline_s": p.baseline_s, "on_s": p.on_s * p.cycles, "off_s": p.off_s * p.cycles}

    async def run(self, ctx: ScenarioContext) -> None:
        p = ctx.params
        assert isinstance(p, Params)
        await ctx.start_load()
        await ctx.phase("baseline", p.baseline_s, faults={})
        for cycle in range(1, p.cycles + 1):
            await ctx.phase(
                f"burst-{cycle}",
                p.on_s,
                faults=kinds(p.fault_probability, p.faults_enabled, p.fault_config),
                fault_probability=p.fault_probability,
            )
            await ctx.phase(f"recovery-{cycle}", p.off_s, faults={}, note="faults cleared")
