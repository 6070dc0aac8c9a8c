"""Cascading failure: client → proxy → server A, whose ``relay`` tool calls server B through a
second proxy. B hangs. Does A collapse too — with and without a circuit breaker in front of B?

A runs with a bounded worker pool (``--workers``), as real servers do: without a breaker, every
call stuck on B holds a worker until the second proxy's upstream timeout, and A's own ``echo``
calls, which never touch B, starve. With the breaker open, calls to B fail in milliseconds and
A keeps serving. The ``isolation`` verdict checks A's independent calls, from the moment the
breaker has opened and the calls already stuck on B have timed out (when it opens depends on the
machine's speed, so a fixed grace period judged the breaker's learning on a loaded machine), or
after ``isolation_grace_s`` when there is no breaker or it never opens.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import ClassVar

from pydantic import Field

from mcpchaos.harness.journal import OutcomeCounts, Verdict
from mcpchaos.harness.load.settings import LoadSettings, Operation
from mcpchaos.harness.scenario import Scenario, ScenarioContext, ScenarioParams, ScenarioSkipped
from mcpchaos.harness.stack import Stack, TargetSpec
from mcpchaos.harness.verdicts import COMMON, baseline_problem, judge

RELAY = Operation(name="relay", method="tools/call", params={"name": "relay", "arguments": {"text": "via B"}})
ECHO = Operation(name="echo", method="tools/call", params={"name": "echo", "arguments": {"text": "local"}})


class CascadeParams(ScenarioParams):
    breaker: bool = True
    """Put a circuit breaker in the proxy in front of B (the mitigation under test)."""
    compare: bool = True
    """Also run the other way (without the breaker if ``breaker``, else with it) and report both."""
    workers: int = Field(2, ge=1, le=1000)
    """A's worker pool: echo/relay calls running at once."""
    dependency_timeout_s: float = Field(1.0, gt=0, le=600)
    """The second proxy's ``--upstream-timeout``: how long a call to a hung B takes to fail."""
    relay_clients: int = Field(12, ge=1, le=1000)
    """Clients calling ``relay``: more than the workers, so calls stuck on B queue up in A."""
    independent_clients: int = Field(2, ge=1, le=1000)
    independent_deadline_s: float = Field(2.0, gt=0, le=600)
    """Deadline of A's independent (echo) calls: well above a healthy echo (0.5 s missed 4 of 14
    healthy calls on a loaded 2-core machine), well below the queue behind calls stuck on B."""
    failure_s: float = Field(5.0, gt=0, le=3600)
    """How long B hangs (SIGSTOP)."""
    isolation_grace_s: float = Field(1.5, ge=0, le=600)
    """The first seconds of B's failure, when the breaker is still learning, are not judged."""
    recovery_s: float = Field(5.0, gt=0, le=3600)
    recovery_within_s: float = Field(5.0, gt=0, le=3600)


class CascadingFailure(Scenario):
    name = "cascading_failure"
    description = (
        "Client → proxy → server A → (relay tool) → proxy → server B. B hangs: do A's own calls "
        "collapse too? Run with a circuit breaker in front of B and without it."
    )
    mitigation = (
        "Put a circuit breaker and a short timeout in front of every dependency (mcpchaos proxy "
        "--breaker, or your client library's), and bound the workers any one dependency may hold, so "
        "a hung dependency fails fast instead of starving unrelated calls."
    )
    Params = CascadeParams
    quick: ClassVar[dict[str, object]] = {
        # B's hang outlasts the breaker's learning (about two upstream timeouts) and the calls
        # stuck on B, leaving seconds in which isolation is judged.
        "failure_s": 6.0,
        "recovery_s": 3.0,
        # The default size, not QUICK's 4: ``nothing_lost`` reads it as the in-flight bound.
        "load": {"clients": 8},
    }
    verdict_names = (*COMMON, "recovery")
    clients_param = "relay_clients"  # the main load's clients; independent_clients stays as it is
    scaled_with_phases = ("isolation_grace_s",)  # a share of dependency_down, so it scales with it

    def timed_phases(self, params: ScenarioParams) -> dict[str, float]:
        p = params
        assert isinstance(p, CascadeParams)
        runs = 2 if p.compare else 1  # with the breaker and without (plus the fixed 1 s switch between)
        return {name: getattr(p, name) * runs for name in ("baseline_s", "failure_s", "recovery_s")}

    def __init__(self) -> None:
        self.dependency: Stack | None = None
        self.independent_baseline = OutcomeCounts()
        """The independent calls' baseline of the judged variant (isolation is relative to it)."""

    async def prepare(self, ctx: ScenarioContext) -> None:
        if ctx.stack.target.kind != "demo":
            raise ScenarioSkipped("the cascade is built from two demo servers; run it with the demo target")
        p = ctx.params
        assert isinstance(p, CascadeParams)
        dependency = Stack(TargetSpec(kind="demo"), ctx.stack.workdir, name="dependency")
        dependency.upstream_args = ["--stateless", "--json-response"]
        ctx.cleanups.append(dependency.stop)
        await dependency.start(self._dependency_proxy_args(p, p.breaker))
        self.dependency = dependency
        ctx.stack.upstream_args = ["--downstream", dependency.proxy_url, "--workers", str(p.workers)]

    @staticmethod
    def _dependency_proxy_args(p: CascadeParams, breaker: bool) -> list[str]:
        args = ["--upstream-timeout", f"{p.dependency_timeout_s:g}"]
        if breaker:
            # Three failures open it; A holds at most ``workers`` calls on B, each failing after the
            # upstream timeout, so the window spans enough timeouts for three.
            window = p.dependency_timeout_s * max(2.0, 3 / p.workers + 1)
            args += [
                "--breaker",
                "--breaker-min",
                "3",
                "--breaker-window",
                f"{window:g}",
                "--breaker-open",
                "1",
            ]
        return args

    async def run(self, ctx: ScenarioContext) -> None:
        p = ctx.params
        assert isinstance(p, CascadeParams)
        dependency = self.dependency
        assert dependency is not None, "prepare() starts the dependency"
        relay_load = p.load.model_copy(
            update={"clients": p.relay_clients, "mix": [RELAY], "think_time_s": 0.1}
        )
        echo_load = LoadSettings(
            clients=p.independent_clients, mix=[ECHO], deadline_s=p.independent_deadline_s, think_time_s=0.02
        )
        await ctx.start_load(relay_load)
        independent = await ctx.start_extra_load("independent", echo_load)
        independent_offset = ctx.recorder.now_s() - independent.now_s()
        variants = [p.breaker] + ([not p.breaker] if p.compare else [])
        suffix = ""
        for index, breaker in enumerate(variants):
            before = suffix
            suffix = "" if index == 0 else ("-with-breaker" if breaker else "-without-breaker")
            if index > 0:

                async def switch(breaker: bool = breaker, before: str = before) -> None:
                    # The recovery's calls end first (new ones belong to the switch already).
                    await ctx.settle(f"recovery{before}", within_s=p.independent_deadline_s + 1.0)
                    # A is stopped while B's proxy restarts (A's new command line needs that
                    # proxy's new port): the switch took 9 s one after the other.
                    stopping = [ctx.stack.upstream.stop()] if ctx.stack.upstream is not None else []
                    await asyncio.gather(
                        dependency.restart_proxy(self._dependency_proxy_args(p, breaker)), *stopping
                    )
                    ctx.stack.upstream_args = [
                        "--downstream",
                        dependency.proxy_url,
                        "--workers",
                        str(p.workers),
                    ]
                    await ctx.stack.start_upstream()
                    ctx.event("variant", "breaker on" if breaker else "breaker off")

                await ctx.phase(
                    f"switch{suffix}", 1.0, note="B's proxy and A restarted", outage=True, action=switch
                )
            await ctx.phase(f"baseline{suffix}", p.baseline_s, note="B healthy")
            assert dependency.upstream is not None
            watch: asyncio.Task[float] | None = None

            async def hang(breaker: bool = breaker) -> None:
                nonlocal watch
                assert dependency.upstream is not None
                dependency.upstream.pause()
                if breaker:
                    watch = asyncio.get_running_loop().create_task(_breaker_opened(ctx, dependency))

            failure = await ctx.phase(
                f"dependency_down{suffix}",
                p.failure_s,
                note="B hangs (SIGSTOP)" + (", breaker on" if breaker else ", no breaker"),
                outage=True,
                action=hang,
            )
            opened_s: float | None = None
            if watch is not None and watch.done():
                opened_s = watch.result()
            elif watch is not None:  # it never opened while B hung
                watch.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watch
            await ctx.phase(
                f"recovery{suffix}", p.recovery_s, note="B resumed", repair=_async(dependency.upstream.resume)
            )
            judged_from = failure.started_s + p.isolation_grace_s
            if opened_s is not None:
                ctx.measurements[f"breaker_opened_after_s{suffix.replace('-', '_')}"] = round(
                    opened_s - failure.started_s, 3
                )
                judged_from = max(judged_from, opened_s + p.dependency_timeout_s)
            # The independent recorder started later than the main one: shift to its clock.
            start = judged_from - independent_offset
            during = independent.window(start, failure.ended_s - independent_offset)
            base_outcomes = independent.phase_summary(f"baseline{suffix}")[0]
            base = base_outcomes.success_rate
            if index == 0:
                self.independent_baseline = base_outcomes
            key = "with_breaker" if breaker else "without_breaker"
            ctx.measurements[f"independent_success_{key}"] = during.success_rate
            ctx.measurements[f"independent_baseline_success_{key}"] = base
        with_b = ctx.measurements.get("independent_success_with_breaker")
        without_b = ctx.measurements.get("independent_success_without_breaker")
        if without_b is not None and without_b < 0.9:
            ctx.finding(
                "failure" if not p.breaker else "warning",
                "a hung dependency starves unrelated calls",
                f"without a circuit breaker in front of B, A's own echo calls kept only {without_b:.0%} "
                f"success while B hung: calls stuck on B held A's {p.workers} workers.",
                self.mitigation,
            )
        if with_b is not None:
            ctx.finding(
                "info",
                "the breaker contains the failure"
                if with_b >= 0.9
                else "the breaker did not contain the failure",
                f"with the breaker, A's own calls kept {with_b:.0%} success while B hung.",
            )

    def judge(self, ctx: ScenarioContext) -> list[Verdict]:
        p = ctx.params
        assert isinstance(p, CascadeParams)
        key = "with_breaker" if p.breaker else "without_breaker"
        during = ctx.measurements.get(f"independent_success_{key}")
        base = ctx.measurements.get(f"independent_baseline_success_{key}")
        passed = during is not None and base is not None and during >= 0.9 * base
        weak = baseline_problem(self.independent_baseline, p.min_baseline_ok, p.min_baseline_success)
        isolation = Verdict(
            name="isolation",
            passed=passed and weak is None,
            inconclusive=weak is not None,
            rule=(
                "while B hangs ("
                + (
                    f"once the breaker has opened and the calls stuck on B have timed out, at least "
                    f"{p.isolation_grace_s:g} s in"
                    if p.breaker
                    else f"after {p.isolation_grace_s:g} s"
                )
                + "), A's calls that do not use B keep ≥ 90% of their baseline success"
            ),
            detail=(
                f"breaker {'on' if p.breaker else 'off'}: A's echo success "
                + ("unknown" if during is None or base is None else f"{during:.1%} (baseline {base:.1%})")
                + (f"; the echo baseline is too weak to compare with: {weak}" if weak else "")
            ),
            evidence={"during": during, "baseline": base, "breaker": p.breaker},
        )
        return [*judge(ctx, self.verdict_names), isolation]


async def _breaker_opened(ctx: ScenarioContext, dependency: Stack) -> float:
    """When (the scenario's clock) the breaker in front of B first reports open, polling its
    proxy's metrics."""
    assert dependency.control is not None
    while True:
        metrics = await dependency.control.metrics()
        if metrics.get("breaker", {}).get("state") == "open":
            ctx.event("breaker_open", "the breaker in front of B opened")
            return ctx.now_s()
        await asyncio.sleep(0.1)


def _async(function: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    async def call() -> None:
        function()

    return call
