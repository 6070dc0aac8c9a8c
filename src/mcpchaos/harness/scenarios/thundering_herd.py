"""Thundering herd: after an outage every client reconnects at the same moment."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from mcpchaos.harness.scenario import Scenario, ScenarioContext, ScenarioParams
from mcpchaos.harness.verdicts import COMMON


class Params(ScenarioParams):
    outage_s: float = Field(3.0, gt=0, le=3600)
    """How long the upstream is unreachable (killed if we own it, else a network partition)."""
    recovery_s: float = Field(5.0, gt=0, le=3600)
    recovery_within_s: float = Field(5.0, gt=0, le=3600)


class ThunderingHerd(Scenario):
    name = "thundering_herd"
    description = (
        "An outage, then every client drops its session and re-initializes at the same instant: "
        "does the server take the herd, and how long until service is back?"
    )
    mitigation = (
        "Spread reconnects with jittered exponential backoff, rate-limit new sessions (initialize) at "
        "the server, and size its start-up for the herd the clients can produce."
    )
    Params = Params
    quick: ClassVar[dict[str, object]] = {
        "outage_s": 1.0,
        "recovery_s": 3.0,
        "load": {"clients": 16, "think_time_s": 0.05},
    }
    verdict_names = (*COMMON, "recovery")

    def timed_phases(self, params: ScenarioParams) -> dict[str, float]:
        p = params
        assert isinstance(p, Params)
        return {"baseline_s": p.baseline_s, "outage_s": p.outage_s, "recovery_s": p.recovery_s}

    async def run(self, ctx: ScenarioContext) -> None:
        p = ctx.params
        assert isinstance(p, Params)
        await ctx.start_load()
        await ctx.phase("baseline", p.baseline_s, faults={})
        if ctx.stack.owns_upstream:
            await ctx.phase(
                "outage", p.outage_s, note="upstream killed", outage=True, action=ctx.stack.kill_upstream
            )

            async def back() -> None:
                await ctx.stack.restart_upstream()
                assert ctx.driver is not None
                ctx.driver.reconnect_all()
                ctx.event("herd", f"{p.load.clients} clients reconnect at once")

        else:
            await ctx.phase(
                "outage", p.outage_s, note="network partition", outage=True, action=ctx.control.partition
            )

            async def back() -> None:
                await ctx.control.heal()
                assert ctx.driver is not None
                ctx.driver.reconnect_all()
                ctx.event("herd", f"{p.load.clients} clients reconnect at once")

        recovery = await ctx.phase(
            "recovery", p.recovery_s, note="all clients reconnect at once", repair=back
        )
        latency = ctx.recorder.phase_summary("recovery")[1]
        ctx.measurements["herd_p99_ms"] = latency.p99_ms
        ctx.measurements["herd_started_s"] = recovery.started_s
