"""Upstream failure: the server process dies under load and is restarted."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from mcpchaos.harness.scenario import Scenario, ScenarioContext, ScenarioParams, ScenarioSkipped
from mcpchaos.harness.scenarios.sudden_failure import time_to_detect
from mcpchaos.harness.verdicts import COMMON


class Params(ScenarioParams):
    down_s: float = Field(3.0, gt=0, le=3600)
    """How long the server stays dead before it is restarted."""
    recovery_s: float = Field(5.0, gt=0, le=3600)
    recovery_within_s: float = Field(5.0, gt=0, le=3600)


class UpstreamFailure(Scenario):
    name = "upstream_failure"
    description = (
        "Kill the upstream server (SIGKILL) under load, keep it down, restart it: every request in "
        "flight must get an answer, and clients must find the new server (re-initializing their sessions)."
    )
    mitigation = (
        "Run the server under a supervisor that restarts it, answer in-flight requests with an error "
        "when it dies, and have clients re-initialize their session against the new process."
    )
    Params = Params
    quick: ClassVar[dict[str, object]] = {
        "down_s": 1.5,
        "recovery_s": 3.0,
    }
    verdict_names = (*COMMON, "recovery")

    def timed_phases(self, params: ScenarioParams) -> dict[str, float]:
        p = params
        assert isinstance(p, Params)
        return {"baseline_s": p.baseline_s, "down_s": p.down_s, "recovery_s": p.recovery_s}

    async def run(self, ctx: ScenarioContext) -> None:
        p = ctx.params
        assert isinstance(p, Params)
        if not ctx.stack.owns_upstream:
            raise ScenarioSkipped(
                f"cannot kill {ctx.stack.target.describe()}: give a command or use the demo"
            )
        await ctx.start_load()
        await ctx.phase("baseline", p.baseline_s, faults={})
        down = await ctx.phase(
            "upstream_down", p.down_s, note="upstream killed", outage=True, action=ctx.stack.kill_upstream
        )
        await ctx.phase(
            "recovery", p.recovery_s, note="upstream restarted", repair=ctx.stack.restart_upstream
        )
        baseline = ctx.recorder.phase_summary("baseline")[0].success_rate or 0.0
        ctx.measurements["time_to_detect_s"] = time_to_detect(
            ctx.recorder.timeline(), "upstream_down", down.started_s, baseline
        )
        outcomes = ctx.recorder.phase_summary("upstream_down")[0]
        ctx.measurements["answered_while_down"] = float(outcomes.error + outcomes.transport)
        ctx.measurements["deadlines_while_down"] = float(outcomes.deadline)
        if outcomes.deadline:
            ctx.finding(
                "warning",
                "requests waited for their deadline while the upstream was dead",
                f"{outcomes.deadline} request(s) got no answer until the client gave up.",
                "Set an upstream timeout (--upstream-timeout) so clients get an error fast.",
            )
