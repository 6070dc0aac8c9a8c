"""Memory pressure: far more sessions than ``--max-sessions``; LRU eviction must keep memory bounded."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from pydantic import Field

from mcpchaos.harness.journal import Verdict
from mcpchaos.harness.load.driver import open_sessions
from mcpchaos.harness.scenario import Scenario, ScenarioContext, ScenarioParams, ScenarioSkipped
from mcpchaos.harness.verdicts import COMMON, judge


class Params(ScenarioParams):
    max_sessions: int = Field(1000, ge=1, le=1_000_000)
    """The proxy's ``--max-sessions``."""
    sessions: int = Field(5000, ge=1, le=1_000_000)
    """Sessions opened (initialize + initialized, never closed) during the pressure phase."""
    concurrency: int = Field(50, ge=1, le=1000)
    pressure_max_s: float = Field(120.0, gt=0, le=3600)
    """Upper bound on the pressure phase (it ends when every session was opened)."""
    rss_budget_mb: float = Field(256.0, gt=0)
    """The proxy's RSS may grow at most this much over its baseline."""
    recovery_s: float = Field(5.0, gt=0, le=3600)
    recovery_within_s: float = Field(5.0, gt=0, le=3600)


class MemoryPressure(Scenario):
    name = "memory_pressure"
    description = (
        "Open many more sessions than --max-sessions allows, without closing them: the least recently "
        "used are evicted (404, clients re-initialize), memory stays bounded, new clients still work."
    )
    mitigation = (
        "Bound the session table (--max-sessions with LRU eviction and idle expiry) so memory stays "
        "flat, and make clients re-initialize on 404 for an evicted session."
    )
    Params = Params
    quick: ClassVar[dict[str, object]] = {
        "max_sessions": 100,
        "sessions": 500,
        "recovery_s": 2.5,
    }
    verdict_names = (*COMMON, "recovery")
    untimed_phases = ("pressure",)

    def timed_phases(self, params: ScenarioParams) -> dict[str, float]:
        p = params
        assert isinstance(p, Params)
        return {"baseline_s": p.baseline_s, "recovery_s": p.recovery_s}

    def proxy_args(self, params: ScenarioParams) -> list[str]:
        assert isinstance(params, Params)
        return ["--max-sessions", str(params.max_sessions)]

    async def run(self, ctx: ScenarioContext) -> None:
        p = ctx.params
        assert isinstance(p, Params)
        if ctx.stack.target.kind == "attach":
            raise ScenarioSkipped("needs a proxy started with --max-sessions: not in attach mode")
        await ctx.start_load()
        ctx.sample_over_time()  # the figures: open connections, sessions and RSS over time
        await ctx.phase("baseline", p.baseline_s, faults={})
        opened: list[tuple[int, int]] = []
        peak_rss = 0

        async def pressure() -> None:
            opened.append(await open_sessions(ctx.stack.proxy_url, p.sessions, p.concurrency))

        async def start_pressure() -> None:
            ctx.event("pressure", f"opening {p.sessions} sessions against --max-sessions {p.max_sessions}")
            task = asyncio.get_running_loop().create_task(pressure())
            ctx.background.append(task)

        await ctx.phase("pressure", p.pressure_max_s, action=start_pressure, until=lambda: bool(opened))
        for sample in await ctx.snapshot("peak"):
            if sample.process == "proxy" and sample.rss_bytes:
                peak_rss = sample.rss_bytes
        await ctx.phase("recovery", p.recovery_s, note="pressure over; new sessions")
        metrics = await ctx.control.metrics()
        succeeded, failed = opened[0] if opened else (0, p.sessions)
        ctx.measurements["sessions_opened"] = float(succeeded)
        ctx.measurements["sessions_failed"] = float(failed)
        ctx.measurements["sessions_evicted"] = float(metrics.get("sessions", {}).get("evicted", 0))
        ctx.measurements["proxy_peak_rss_mb"] = round(peak_rss / 2**20, 1) if peak_rss else None

    def judge(self, ctx: ScenarioContext) -> list[Verdict]:
        p = ctx.params
        assert isinstance(p, Params)
        evicted = int(ctx.measurements.get("sessions_evicted") or 0)
        # Every session opened beyond the capacity forced one eviction (a handshake that
        # failed, e.g. timed out on a busy machine, did not).
        opened = int(ctx.measurements.get("sessions_opened") or 0)
        expected = max(0, opened - p.max_sessions)
        baseline = next((s for s in ctx.resources if s.process == "proxy" and s.label == "baseline"), None)
        peak_mb = ctx.measurements.get("proxy_peak_rss_mb")
        growth = None
        if baseline is not None and baseline.rss_bytes and peak_mb is not None:
            growth = peak_mb - baseline.rss_bytes / 2**20
        exceeded = opened > p.max_sessions  # else the limit was never put to the test
        passed = exceeded and evicted >= expected and (growth is None or growth <= p.rss_budget_mb)
        eviction = Verdict(
            name="sessions_bounded",
            passed=passed,
            # Not a failure of the proxy, nor a pass: the limit was never put to the test (e.g. a
            # stdio target whose processes could not start 500 times within the handshake deadline).
            inconclusive=not exceeded,
            rule=(
                f"at least opened sessions − max_sessions ({expected}) evictions, and the proxy's RSS grows "
                f"at most {p.rss_budget_mb:g} MiB over its baseline"
            ),
            detail=f"{opened} sessions opened, {evicted} evicted; proxy RSS growth "
            + ("unknown" if growth is None else f"{growth:.1f} MiB")
            + (
                ""
                if exceeded
                else f"; not more than max_sessions ({p.max_sessions}): the limit was never tested"
            ),
            evidence={"evicted": evicted, "expected": expected, "rss_growth_mb": growth},
        )
        return [*judge(ctx, self.verdict_names), eviction]
