"""Gradual degradation: ramp the fault probability from 0 to 1 and find the collapse point."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from mcpchaos.harness.scenario import Scenario, ScenarioContext, ScenarioParams
from mcpchaos.harness.scenarios._faults import kinds
from mcpchaos.harness.verdicts import COMMON


class Params(ScenarioParams):
    steps: int = Field(11, ge=2, le=101)
    """Fault levels from 0 to 1 inclusive (11: 0, 0.1, …, 1)."""
    step_s: float = Field(5.0, gt=0, le=3600)
    """Seconds of load at each level."""
    collapse_below: float = Field(0.1, ge=0, le=1)
    """The collapse point is the first level whose success rate falls below this."""
    faults_enabled: list[str] = Field(default_factory=lambda: ["error"])
    """Fault kinds injected (error: each fault is one failed request, so success ≈ 1 − p)."""
    fault_config: dict[str, Any] | None = None
    """A whole FaultConfig for the fault phases instead of ``faults_enabled`` (its
    ``fault_probability`` is set by the scenario), e.g. a chosen corruption mode."""
    recovery_s: float = Field(5.0, gt=0, le=3600)
    """Seconds of load after the faults clear."""
    recovery_within_s: float = Field(5.0, gt=0, le=3600)
    """The recovery verdict's T."""


class GradualDegradation(Scenario):
    name = "gradual_degradation"
    description = (
        "Ramp fault_probability from 0 to 1 in steps under steady load, record each step and stop "
        "at the collapse point (success below the threshold); then clear the faults and watch recovery."
    )
    mitigation = (
        "Retry idempotent calls with backoff and jitter, cap retries so they do not amplify load, and "
        "alert on the success rate well before the collapse point measured here."
    )
    Params = Params
    quick: ClassVar[dict[str, object]] = {
        "step_s": 1.2,
        "recovery_s": 2.0,
    }
    verdict_names = (*COMMON, "graceful_degradation", "recovery", "metrics_accurate")

    def timed_phases(self, params: ScenarioParams) -> dict[str, float]:
        p = params
        assert isinstance(p, Params)
        return {"baseline_s": p.baseline_s, "step_s": p.step_s * (p.steps - 1), "recovery_s": p.recovery_s}

    async def run(self, ctx: ScenarioContext) -> None:
        p = ctx.params
        assert isinstance(p, Params)
        await ctx.start_load()
        await ctx.phase("baseline", p.baseline_s, faults={}, fault_probability=0.0)
        for step in range(1, p.steps):
            level = round(step / (p.steps - 1), 4)
            record = await ctx.phase(
                f"p={level:.2f}",
                p.step_s,
                faults=kinds(level, p.faults_enabled, p.fault_config),
                fault_probability=level,
            )
            counts, _, _ = ctx.recorder.phase_summary(record.name)
            rate = counts.success_rate
            if rate is not None and rate < p.collapse_below:
                ctx.collapse_point = level
                ctx.event("collapse", f"success {rate:.1%} < {p.collapse_below:.0%} at p={level:g}")
                break
        await ctx.phase("recovery", p.recovery_s, faults={}, note="faults cleared")
        ctx.measurements["collapse_point"] = ctx.collapse_point
        if ctx.collapse_point is not None:
            ctx.finding(
                "info",
                f"collapse at fault probability {ctx.collapse_point:g}",
                f"success fell below {p.collapse_below:.0%} when {ctx.collapse_point:.0%} of requests "
                f"got a fault ({', '.join(p.faults_enabled)}).",
                "Know your budget: at this fault rate clients see almost only failures. Retries with "
                "backoff in clients move the curve up for transient faults.",
            )
