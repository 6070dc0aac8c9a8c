"""Network partition between the proxy and the upstream, then healed."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from mcpchaos.harness.load.settings import LoadSettings
from mcpchaos.harness.scenario import Scenario, ScenarioContext, ScenarioParams, ScenarioSkipped
from mcpchaos.harness.verdicts import COMMON


class Params(ScenarioParams):
    load: LoadSettings = Field(default_factory=lambda: LoadSettings(sdk_share=0.25))
    """A quarter of the clients are the official SDK client: does a real client ride out a partition?"""
    partition_s: float = Field(3.0, gt=0, le=3600)
    """How long the proxy cannot reach the upstream."""
    recovery_s: float = Field(5.0, gt=0, le=3600)
    recovery_within_s: float = Field(5.0, gt=0, le=3600)


class NetworkPartition(Scenario):
    name = "network_partition"
    description = (
        "Partition the network between the proxy and the upstream (nothing passes), then heal it: "
        "requests in the partition must end (error or deadline), and service must come back."
    )
    mitigation = (
        "Give every request a deadline and use keep-alive probes or timeouts on upstream connections, "
        "so a partition ends in errors within seconds rather than hung calls; reconnect with backoff "
        "after it heals."
    )
    Params = Params
    quick: ClassVar[dict[str, object]] = {
        "partition_s": 1.5,
        "recovery_s": 3.0,
        "load": {"deadline_s": 1.5, "sdk_share": 0.25},
    }
    verdict_names = (*COMMON, "recovery")

    def timed_phases(self, params: ScenarioParams) -> dict[str, float]:
        p = params
        assert isinstance(p, Params)
        return {"baseline_s": p.baseline_s, "partition_s": p.partition_s, "recovery_s": p.recovery_s}

    async def run(self, ctx: ScenarioContext) -> None:
        p = ctx.params
        assert isinstance(p, Params)
        if ctx.stack.target.kind == "command":
            raise ScenarioSkipped(
                "the HTTP → stdio bridge has no network between proxy and server to partition"
            )
        await ctx.start_load()
        await ctx.phase("baseline", p.baseline_s, faults={})
        await ctx.phase(
            "partition", p.partition_s, note="network partitioned", outage=True, action=ctx.control.partition
        )
        await ctx.phase("recovery", p.recovery_s, note="network healed", repair=ctx.control.heal)
        outcomes = ctx.recorder.phase_summary("partition")[0]
        ctx.measurements["partition_deadlines"] = float(outcomes.deadline)
        if outcomes.deadline:
            ctx.finding(
                "info",
                "requests in a partition wait for the client's deadline",
                f"{outcomes.deadline} request(s) sent during the partition ended by the client's deadline: "
                "a partition looks like silence, not like an error.",
                "Clients need per-request timeouts; the proxy's --upstream-timeout turns the silence into "
                "a -32013 error sooner.",
            )
