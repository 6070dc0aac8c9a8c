"""CPU exhaustion: CPU spikes stall the proxy's event loop (like a stalled server), then stop."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from mcpchaos.harness.scenario import Scenario, ScenarioContext, ScenarioParams
from mcpchaos.harness.scenarios._faults import LOAD_METHODS
from mcpchaos.harness.verdicts import COMMON


class Params(ScenarioParams):
    fault_probability: float = Field(0.2, ge=0, le=1)
    """Share of requests that trigger a spike."""
    cpu_spike_ms: float = Field(100.0, gt=0, le=5000)
    """CPU burnt per spike (the event loop stalls this long)."""
    exhaustion_s: float = Field(5.0, gt=0, le=3600)
    recovery_s: float = Field(5.0, gt=0, le=3600)
    recovery_within_s: float = Field(5.0, gt=0, le=3600)


class CpuExhaustion(Scenario):
    name = "cpu_exhaustion"
    description = (
        "CPU spikes on a share of requests stall the proxy (every session waits, like a server pegged "
        "at 100% CPU): latency rises, nothing must break; then the spikes stop."
    )
    mitigation = (
        "Give every call a deadline and keep CPU-heavy tool work off the event loop (a worker pool or "
        "process); shed load (503) when the queue grows instead of letting latency climb for "
        "everyone."
    )
    Params = Params
    quick: ClassVar[dict[str, object]] = {
        "exhaustion_s": 1.5,
        "recovery_s": 2.5,
        "cpu_spike_ms": 50.0,
        "load": {"deadline_s": 3.0},
    }
    verdict_names = (*COMMON, "recovery", "metrics_accurate")

    def timed_phases(self, params: ScenarioParams) -> dict[str, float]:
        p = params
        assert isinstance(p, Params)
        return {"baseline_s": p.baseline_s, "exhaustion_s": p.exhaustion_s, "recovery_s": p.recovery_s}

    async def run(self, ctx: ScenarioContext) -> None:
        p = ctx.params
        assert isinstance(p, Params)
        await ctx.start_load()
        await ctx.phase("baseline", p.baseline_s, faults={})
        spikes = {
            "fault_probability": p.fault_probability,
            "enabled_faults": {"resource_exhaustion": True},
            "resource_exhaustion": {"memory_spike": False, "cpu_spike": True, "cpu_spike_ms": p.cpu_spike_ms},
            "match": {"methods": LOAD_METHODS},
        }
        await ctx.phase("exhaustion", p.exhaustion_s, faults=spikes, fault_probability=p.fault_probability)
        await ctx.phase("recovery", p.recovery_s, faults={}, note="spikes stopped")
        base = ctx.recorder.phase_summary("baseline")[1].p99_ms
        spiked = ctx.recorder.phase_summary("exhaustion")[1].p99_ms
        ctx.measurements["baseline_p99_ms"] = base
        ctx.measurements["exhaustion_p99_ms"] = spiked
