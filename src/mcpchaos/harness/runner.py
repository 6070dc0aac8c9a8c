"""Run scenarios one after another and assemble the journal.

Each scenario gets a fresh system under test (a new proxy, and a new demo server when the
target is the demo), so one scenario's leftovers never count against the next. A scenario
that cannot run (its stack does not start, it raises) is recorded with its error and the run
goes on; one that does not apply to the target is recorded as skipped; one whose baseline is
too weak to judge against (few or no successful calls) is recorded as inconclusive, with why.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import platform
import resource
import socket
import time
import traceback
from collections.abc import Callable
from importlib import metadata
from typing import Any

import orjson

from mcpchaos import __version__
from mcpchaos.harness.control_client import FaultLogFollower
from mcpchaos.harness.journal import Environment, Journal, ScenarioResult, TargetInfo
from mcpchaos.harness.scenario import RunSettings, Scenario, ScenarioContext, ScenarioSkipped
from mcpchaos.harness.verdicts import concurrency, leak_problems, server_process_problems, weak_baseline

HARNESS_GRACE_MS = 1000.0
"""The history checker's grace for races (an answer already on its way when the cancellation
arrived) in the harness: its load crosses cancellations and answers in a proxy on a loaded
machine, where 100 ms (the live default) flagged an answer relayed 111 ms after the cancel in a
network_partition run. A server that keeps answering what was cancelled is late by seconds (the
injected-timeout bug was: its answer came at the timeout)."""


def environment() -> Environment:
    try:
        sdk: str | None = metadata.version("mcp")
    except metadata.PackageNotFoundError:
        sdk = None
    return Environment(
        mcpchaos=__version__,
        python=platform.python_version(),
        platform=f"{platform.system()} {platform.release()} {platform.machine()}",
        cpus=os.cpu_count() or 1,
        mcp_sdk=sdk,
        hostname=socket.gethostname(),
    )


def raise_fd_limit(wanted: int = 65536) -> None:
    """Storms hold thousands of sockets, here and in the proxy (which inherits the limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(hard, max(soft, wanted)) if hard != resource.RLIM_INFINITY else max(soft, wanted)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


async def run_scenario(
    scenario: Scenario, raw_params: dict[str, Any] | None, run: RunSettings
) -> ScenarioResult:
    """One scenario against a fresh stack; never raises for a failure of the system under test."""
    raise_fd_limit()
    params = scenario.params_from(raw_params, run.quick)
    ctx = ScenarioContext(scenario.name, params, run)
    error: str | None = None
    skipped: str | None = None
    inconclusive: str | None = None
    try:
        await scenario.prepare(ctx)
        await ctx.stack.start(scenario.proxy_args(params))
        if ctx.stack.target.kind == "attach":
            # Someone else's proxy has a history: judge only what happens from now on.
            ctx.proxy_metrics_start = await ctx.control.metrics()
            ctx.fault_log_follower = FaultLogFollower(ctx.control, await ctx.control.fault_sequence())
            ctx.background.append(asyncio.get_running_loop().create_task(ctx.fault_log_follower.follow()))
        try:
            await scenario.run(ctx)
        finally:
            await ctx.stop_load()
        await _collect(ctx)
        ctx.verdicts = scenario.judge(ctx)
        inconclusive = inconclusive_baseline(ctx)
    except ScenarioSkipped as exc:
        skipped = str(exc)
        run.progress.message(f"{scenario.name}: skipped: {skipped}")
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        run.progress.message(f"{scenario.name}: could not run: {error}")
        with contextlib.suppress(OSError):
            run.workdir.mkdir(parents=True, exist_ok=True)
            (run.workdir / f"{scenario.name}.error.txt").write_text(traceback.format_exc())
    finally:
        with contextlib.suppress(Exception):
            await ctx.stop_load()
        with contextlib.suppress(Exception):  # a stop that fails must not end the whole run
            await ctx.stack.stop()
        for cleanup in reversed(ctx.cleanups):
            with contextlib.suppress(Exception):
                await cleanup()
    ctx.finalize_phases()
    return ctx.result(scenario, error=error, skipped=skipped, inconclusive=inconclusive)


def inconclusive_baseline(ctx: ScenarioContext) -> str | None:
    """Verdicts mean little if the target did not work when healthy: say so, with what the
    clients saw (and, when nothing at all succeeded, the proxy's last words)."""
    weak = weak_baseline(ctx)
    if weak is None:
        return None
    reason = f"the baseline is too weak to judge against ({weak})"
    if all(p.outcomes.ok == 0 for p in ctx.phases if p.name.startswith("baseline")):
        tail = ctx.stack.proxy.tail(800) if ctx.stack.proxy is not None else ""
        reason += "; no call succeeded under healthy conditions: is the target working? The proxy's "
        reason += f"stderr ends with: {tail or '(nothing)'}"
    return reason


async def _collect(ctx: ScenarioContext) -> None:
    """After the load stopped: phases, the proxy's metrics and fault log, final resources."""
    ctx.finalize_phases()
    proxy = ctx.stack.proxy
    ctx.proxy_alive_at_end = proxy is None or proxy.alive
    with contextlib.suppress(Exception):
        ctx.proxy_metrics = metrics_since(await ctx.control.metrics(), ctx.proxy_metrics_start)
    with contextlib.suppress(Exception):  # an attached proxy may run without --history
        ctx.history_check = await ctx.control.history_check(HARNESS_GRACE_MS)
    if ctx.stack.fault_log_path.exists():
        ctx.fault_records = [
            orjson.loads(line) for line in ctx.stack.fault_log_path.read_bytes().splitlines() if line.strip()
        ]
    elif ctx.fault_log_follower is not None:
        with contextlib.suppress(Exception):
            await ctx.fault_log_follower.catch_up()
        ctx.fault_records = ctx.fault_log_follower.records
        ctx.fault_log_lost = ctx.fault_log_follower.lost
    await _settle(ctx)


def metrics_since(now: dict[str, Any], start: dict[str, Any]) -> dict[str, Any]:
    """``now`` with the message and fault counters that ``start`` already had taken off."""
    if not start:
        return now
    before = {(m["direction"], m["kind"], m["method"]): m["count"] for m in start.get("messages", [])}
    delta = dict(now)
    delta["messages"] = [
        {**m, "count": m["count"] - before.get((m["direction"], m["kind"], m["method"]), 0)}
        for m in now.get("messages", [])
    ]
    delta["faults_total"] = int(now.get("faults_total", 0)) - int(start.get("faults_total", 0))
    failures = dict(now.get("interceptor_failures") or {})
    for name, count in (start.get("interceptor_failures") or {}).items():
        failures[name] = failures.get(name, 0) - count
    delta["interceptor_failures"] = failures
    return delta


async def _settle(ctx: ScenarioContext) -> None:
    """Poll resources until they are back near the baseline or ``settle_s`` passed; the last
    sample is the ``final`` one the leak verdict reads."""
    baselines = {s.process: s for s in ctx.resources if s.label == "baseline"}
    deadline = time.monotonic() + ctx.params.settle_s
    while True:
        samples = await ctx.snapshot("final")
        settled = all(
            not leak_problems(baselines[s.process], s, concurrency(ctx))
            for s in samples
            if s.process in baselines
        ) and not (  # a stdio server's processes take a moment to exit after their session
            "final" in ctx.server_processes
            and server_process_problems(
                ctx.server_processes.get("baseline"), ctx.server_processes["final"], None
            )
        )
        if settled or time.monotonic() >= deadline:
            return
        # Not settled yet: drop this try, so only the last sample is "final".
        for sample in samples:
            ctx.resources.remove(sample)
        await asyncio.sleep(0.25)


async def run_all(
    scenarios: list[tuple[Scenario, dict[str, Any] | None]],
    run: RunSettings,
    command: list[str],
    on_result: Callable[[ScenarioResult], None] | None = None,
) -> Journal:
    """Every scenario in order, into one journal."""
    raise_fd_limit()
    target = run.target
    journal = Journal(
        created_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        command=command,
        seed=run.seed,
        quick=run.quick,
        target=TargetInfo(kind=target.kind, description=target.describe()),
        environment=environment(),
    )
    for scenario, raw in scenarios:
        result = await run_scenario(scenario, raw, run)
        journal.scenarios.append(result)
        if on_result is not None:
            on_result(result)
    return journal
