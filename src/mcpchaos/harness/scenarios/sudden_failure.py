"""Sudden failure: healthy, then everything fails at once (faults or a killed upstream), then healed."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from mcpchaos.harness.journal import TimeBucket, Verdict
from mcpchaos.harness.scenario import Scenario, ScenarioContext, ScenarioParams
from mcpchaos.harness.scenarios._faults import request_errors
from mcpchaos.harness.verdicts import COMMON


class Params(ScenarioParams):
    mode: Literal["faults", "kill"] = "faults"
    """``faults``: every request gets an injected error; ``kill``: the upstream is killed (SIGKILL)
    and restarted when the failure ends."""
    failure_s: float = Field(5.0, gt=0, le=3600)
    recovery_s: float = Field(5.0, gt=0, le=3600)
    recovery_within_s: float = Field(5.0, gt=0, le=3600)


def time_to_detect(timeline: list[TimeBucket], phase: str, started_s: float, baseline: float) -> float | None:
    """Seconds from the failure's start to the first bucket whose success is below half the baseline."""
    for bucket in timeline:
        if (
            bucket.phase == phase
            and bucket.outcomes.total
            and (bucket.outcomes.success_rate or 0) < baseline / 2
        ):
            return max(0.0, round(bucket.t_s - started_s, 3))
    return None


class SuddenFailure(Scenario):
    name = "sudden_failure"
    description = (
        "Healthy load, then a sudden total failure (every request faulted, or the upstream killed), "
        "then healed: time to detect and time to recover."
    )
    mitigation = (
        "Detect a dead upstream fast (health checks, a circuit breaker), answer with a clean error "
        "while it is down, and restart it under supervision so service returns without a client-side "
        "restart."
    )
    Params = Params
    quick: ClassVar[dict[str, object]] = {
        "failure_s": 1.5,
        "recovery_s": 2.5,
    }
    verdict_names = (*COMMON, "recovery", "metrics_accurate")

    def timed_phases(self, params: ScenarioParams) -> dict[str, float]:
        p = params
        assert isinstance(p, Params)
        return {"baseline_s": p.baseline_s, "failure_s": p.failure_s, "recovery_s": p.recovery_s}

    def judge(self, ctx: ScenarioContext) -> list[Verdict]:
        names: tuple[str, ...] = self.verdict_names
        if isinstance(ctx.params, Params) and ctx.params.mode == "kill":
            names = (*COMMON, "recovery")  # requests die with the upstream: counts cannot reconcile
        from mcpchaos.harness import verdicts

        return verdicts.judge(ctx, names)

    async def run(self, ctx: ScenarioContext) -> None:
        p = ctx.params
        assert isinstance(p, Params)
        await ctx.start_load()
        await ctx.phase("baseline", p.baseline_s, faults={})
        if p.mode == "kill":
            failure = await ctx.phase(
                "failure", p.failure_s, note="upstream killed", outage=True, action=ctx.stack.kill_upstream
            )
            await ctx.phase(
                "recovery", p.recovery_s, note="upstream restarted", repair=ctx.stack.restart_upstream
            )
        else:
            failure = await ctx.phase(
                "failure", p.failure_s, faults=request_errors(1.0), note="every request fails"
            )
            await ctx.phase("recovery", p.recovery_s, faults={}, note="faults cleared")
        baseline = ctx.recorder.phase_summary("baseline")[0].success_rate or 0.0
        ctx.measurements["time_to_detect_s"] = time_to_detect(
            ctx.recorder.timeline(), "failure", failure.started_s, baseline
        )
