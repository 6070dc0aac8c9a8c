"""Connection storm: thousands of connections against ``--max-connections``."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import urlsplit

import aiohttp
from pydantic import Field

from mcpchaos.harness.journal import Verdict
from mcpchaos.harness.scenario import Scenario, ScenarioContext, ScenarioParams, ScenarioSkipped
from mcpchaos.harness.verdicts import COMMON, judge

PROBE = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'


class Params(ScenarioParams):
    max_connections: int = Field(1000, ge=1, le=100_000)
    """The proxy's ``--max-connections``."""
    attempts: int = Field(10_000, ge=1, le=100_000)
    """Connections opened during the storm (held open until it ends)."""
    wave: int = Field(500, ge=1, le=10_000)
    """Connections opened at once; a probe request on a fresh connection follows each wave."""
    probe_within_s: float = Field(1.0, gt=0)
    """A request on a fresh connection during the storm must be answered within this."""
    recovery_s: float = Field(5.0, gt=0, le=3600)
    recovery_within_s: float = Field(5.0, gt=0, le=3600)


@dataclass
class StormTally:
    held: list[asyncio.StreamWriter] = field(default_factory=list)
    rejected: int = 0
    refused: int = 0
    accepted: int = 0
    peak_active: int = 0
    probes: list[float] = field(default_factory=list)
    probe_failures: int = 0
    done: bool = False


class ConnectionStorm(Scenario):
    name = "connection_storm"
    description = (
        "Open thousands of connections (held open) against --max-connections while the normal load "
        "runs: the open count never exceeds the limit, the rest get a clean 503, a fresh request is "
        "still answered fast, and the file descriptors come back."
    )
    mitigation = (
        "Cap connections at the server or a proxy in front of it (--max-connections), answer the "
        "excess with a fast 503 and Retry-After, set idle timeouts, and raise the file-descriptor "
        "limit above the cap."
    )
    Params = Params
    quick: ClassVar[dict[str, object]] = {
        "max_connections": 100,
        "attempts": 600,
        "wave": 200,
        "recovery_s": 2.5,
    }
    verdict_names = (*COMMON, "recovery")
    untimed_phases = ("storm",)

    def timed_phases(self, params: ScenarioParams) -> dict[str, float]:
        p = params
        assert isinstance(p, Params)
        return {"baseline_s": p.baseline_s, "recovery_s": p.recovery_s}

    def __init__(self) -> None:
        self.tally: StormTally | None = None

    def proxy_args(self, params: ScenarioParams) -> list[str]:
        assert isinstance(params, Params)
        return ["--max-connections", str(params.max_connections)]

    async def run(self, ctx: ScenarioContext) -> None:
        p = ctx.params
        assert isinstance(p, Params)
        if ctx.stack.target.kind == "attach":
            raise ScenarioSkipped("needs a proxy started with --max-connections: not in attach mode")
        await ctx.start_load()
        ctx.sample_over_time()  # the figures: open connections, sessions and RSS over time
        await ctx.phase("baseline", p.baseline_s, faults={})
        tally = StormTally()

        async def start_storm() -> None:
            ctx.event("storm", f"{p.attempts} connections against --max-connections {p.max_connections}")
            ctx.background.append(asyncio.get_running_loop().create_task(storm(ctx, p, tally)))

        await ctx.phase("storm", 600.0, action=start_storm, until=lambda: tally.done)
        await ctx.snapshot("peak")
        for writer in tally.held:
            writer.close()
        ctx.event("storm_released", f"{len(tally.held)} connections closed")
        await ctx.phase("recovery", p.recovery_s, note="storm connections closed")
        ctx.measurements.update(
            {
                "storm_accepted": float(tally.accepted),
                "storm_rejected_503": float(tally.rejected),
                "storm_refused": float(tally.refused),
                "peak_active_connections": float(tally.peak_active),
                "probe_max_ms": round(max(tally.probes) * 1000, 1) if tally.probes else None,
                "probe_failures": float(tally.probe_failures),
            }
        )
        self.tally = tally

    def judge(self, ctx: ScenarioContext) -> list[Verdict]:
        p = ctx.params
        assert isinstance(p, Params)
        tally = self.tally
        if tally is None:
            return judge(ctx, self.verdict_names)
        probe_max = max(tally.probes, default=float("inf"))
        problems = []
        if tally.peak_active > p.max_connections:
            problems.append(f"peak open connections {tally.peak_active} > limit {p.max_connections}")
        if tally.refused:
            problems.append(f"{tally.refused} connection attempt(s) got no clean answer")
        if tally.probe_failures or probe_max > p.probe_within_s:
            problems.append(
                f"fresh-connection probe: max {probe_max * 1000:.0f} ms, {tally.probe_failures} failed"
            )
        limit = Verdict(
            name="connection_limit",
            passed=not problems,
            rule=(
                f"open connections never exceed --max-connections ({p.max_connections}); every rejected "
                f"connection gets a clean 503; a request on a fresh connection answers within "
                f"{p.probe_within_s:g} s"
            ),
            detail="; ".join(problems)
            or (
                f"peak {tally.peak_active} open, {tally.rejected} clean 503s, "
                f"probe max {probe_max * 1000:.0f} ms"
            ),
            evidence={"peak": tally.peak_active, "rejected": tally.rejected, "refused": tally.refused},
        )
        return [*judge(ctx, self.verdict_names), limit]


async def storm(ctx: ScenarioContext, p: Params, tally: StormTally) -> None:
    """Open ``p.attempts`` connections in waves, hold the accepted ones, probe after each wave."""
    parts = urlsplit(ctx.stack.proxy_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80

    async def attempt() -> None:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            tally.refused += 1
            return
        tally.held.append(writer)
        try:
            first = await asyncio.wait_for(reader.read(64), 0.3)
        except (TimeoutError, OSError):
            tally.accepted += 1  # accepted and idle: it holds a slot
            return
        if first.startswith(b"HTTP/1.1 503"):
            tally.rejected += 1
        else:
            tally.refused += 1

    try:
        async with aiohttp.ClientSession() as http:
            for start in range(0, p.attempts, p.wave):
                await asyncio.gather(*(attempt() for _ in range(min(p.wave, p.attempts - start))))
                with contextlib.suppress(Exception):
                    metrics = await ctx.control.metrics()
                    tally.peak_active = max(tally.peak_active, int(metrics["connections"].get("active", 0)))
                began = time.monotonic()
                try:
                    async with http.post(
                        ctx.stack.proxy_url,
                        data=PROBE,
                        headers={
                            "Content-Type": "application/json",
                            "Accept": "application/json, text/event-stream",
                        },
                        timeout=aiohttp.ClientTimeout(total=5),
                    ) as response:
                        await response.read()
                    tally.probes.append(time.monotonic() - began)
                except (aiohttp.ClientError, TimeoutError):
                    tally.probe_failures += 1
    finally:
        tally.done = True
