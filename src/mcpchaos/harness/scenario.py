"""What every scenario shares: parameters, phases under load, events, resources, the result.

A scenario is one module in ``harness/scenarios/`` with a :class:`Scenario` subclass: a
``Params`` model (pydantic, defaults sized for a real run, ``quick`` overrides sized for CI)
and ``run(ctx)``, which starts load and walks through phases. :class:`ScenarioContext` does
the bookkeeping, so a scenario reads like its description:

.. code-block:: python

    await ctx.start_load()
    await ctx.phase("baseline", p.baseline_s)
    await ctx.phase("faults", p.fault_s, faults=all_errors)
    await ctx.phase("recovery", p.recovery_s, faults={})

Phase records are filled in after the load stopped, so requests still in flight when a
phase ends are counted in the phase they started in; the requests before the first phase get
a record too (``warmup``), so the phases add up to the scenario's totals.

About 470 lines: the parameters every scenario shares, the context and the ``Scenario``
base stay together, because a scenario author reads them together.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from mcpchaos.harness.control_client import ControlClient, FaultLogFollower
from mcpchaos.harness.journal import (
    Counts,
    Event,
    Finding,
    PhaseRecord,
    ResourceSample,
    ScenarioResult,
    TimeBucket,
    Verdict,
    phase_totals,
)
from mcpchaos.harness.load.driver import HttpTarget, LoadDriver
from mcpchaos.harness.load.recorder import Recorder
from mcpchaos.harness.load.settings import LoadSettings
from mcpchaos.harness.resources import proxy_gauges, sample
from mcpchaos.harness.stack import Stack, TargetSpec


class ScenarioSkipped(Exception):  # noqa: N818 - it is not an error: the report says why
    """The scenario cannot run against this target (e.g. it needs to kill a server we do not own)."""


class ScenarioParams(BaseModel):
    """Parameters every scenario has; each scenario adds its own."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    load: LoadSettings = Field(default_factory=LoadSettings)
    """The load during the scenario (clients, mode, deadline, request mix)."""
    baseline_s: float = Field(5.0, gt=0, le=3600)
    """Seconds of healthy load first: the baseline every later phase is compared with."""
    bucket_s: float = Field(0.5, gt=0, le=60)
    """Width of a time bucket in the timeline (the resolution of recovery times)."""
    settle_s: float = Field(5.0, ge=0, le=600)
    """After the load stopped: how long resources get to return to their baseline."""
    min_baseline_ok: int = Field(20, ge=1)
    """A baseline with fewer successful (``ok``) calls than this makes the scenario inconclusive."""
    max_server_processes: int = Field(200, ge=1, le=100_000)
    """A stdio target (``--target COMMAND``): server processes the proxy may start in this
    scenario (one per session), passed as its ``--max-server-processes``. Past it new sessions
    are refused, and ``no_leaks`` fails naming the count: clients that churn sessions (handshakes
    timing out, re-initializing) must not spawn without end."""
    min_baseline_success: float = Field(0.5, ge=0, le=1)
    """A baseline whose success rate is below this makes the scenario inconclusive: against a
    target that mostly fails when healthy, recovery and degradation mean nothing."""


class ProgressSink:
    """Where a scenario reports progress; the terminal display implements it."""

    def update(self, scenario: str, phase: str, detail: dict[str, Any]) -> None:
        """Called about twice a second while a phase runs."""

    def message(self, text: str) -> None:
        """A line worth showing (phase changes, actions)."""


@dataclass
class RunSettings:
    """What the runner gives every scenario."""

    target: TargetSpec
    workdir: Path
    seed: int
    quick: bool = False
    progress: ProgressSink = field(default_factory=ProgressSink)


class ScenarioContext:
    """The bookkeeping of one scenario run; see the module docstring."""

    def __init__(self, name: str, params: ScenarioParams, run: RunSettings) -> None:
        self.name = name
        self.params = params
        self.run = run
        self.stack = Stack(run.target, run.workdir / name, name="sut")
        self.stack.max_server_processes = params.max_server_processes
        self.recorder = Recorder(bucket_s=params.bucket_s)
        self.driver: LoadDriver | None = None
        self.extra_drivers: dict[str, tuple[LoadDriver, Recorder]] = {}
        self.phases: list[PhaseRecord] = []
        self.events: list[Event] = []
        self.resources: list[ResourceSample] = []
        self.findings: list[Finding] = []
        self.measurements: dict[str, float | None] = {}
        self.verdicts: list[Verdict] = []
        self.collapse_point: float | None = None
        self.current_faults: dict[str, Any] = {}
        self.outage_phases: set[str] = set()
        """Phases in which silence is expected (upstream dead or paused, network partitioned)."""
        self.background: list[asyncio.Task[Any]] = []
        """Tasks a scenario started (storms, pressure); cancelled when the load stops."""
        self.cleanups: list[Callable[[], Awaitable[None]]] = []
        """Run by the runner at the very end (extra processes a scenario started)."""
        self.proxy_metrics: dict[str, Any] = {}
        self.history_check: dict[str, Any] | None = None
        """The history checker's report on the proxy's histories (None: not available)."""
        self.proxy_alive_at_end = True
        self.fault_records: list[dict[str, Any]] = []
        self.proxy_metrics_start: dict[str, Any] = {}
        """Attach mode: the proxy's counters when the scenario started (subtracted at the end)."""
        self.fault_log_follower: FaultLogFollower | None = None
        """Attach mode: reads the proxy's fault log (its in-memory tail) while the scenario runs."""
        self.fault_log_lost = False
        """Attach mode: fault records aged out of the proxy's memory before they were read."""
        self.server_processes: dict[str, dict[str, int]] = {}
        """Command targets: the proxy's ``server_processes`` counts (started, alive, refused) at the
        ``baseline`` and ``final`` resource snapshots, for ``no_leaks``."""
        self.ready_after_s: float | None = None
        """How long the main load's sessions took to open (the target's start-up), once started."""
        self._load_stopped = False
        self.started_wall = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        self._started = time.monotonic()

    # -- helpers for scenarios ------------------------------------------------------------

    @property
    def control(self) -> ControlClient:
        if self.stack.control is None:
            raise RuntimeError("the stack is not started")
        return self.stack.control

    def now_s(self) -> float:
        return self.recorder.now_s()

    def event(self, kind: str, detail: str = "") -> None:
        self.events.append(Event(t_s=round(self.now_s(), 3), kind=kind, detail=detail))
        self.run.progress.message(f"{self.name}: {kind}{': ' + detail if detail else ''}")

    def seeded(self, faults: dict[str, Any]) -> dict[str, Any]:
        """The fault config with the run's seed, so the same seed replays the same faults."""
        return {**faults, "seed": self.run.seed} if faults else {"seed": self.run.seed}

    async def set_faults(self, faults: dict[str, Any]) -> None:
        self.current_faults = faults
        await self.control.set_faults(self.seeded(faults))
        self.event("faults", _describe_faults(faults))

    async def start_load(self, settings: LoadSettings | None = None, url: str | None = None) -> None:
        """Start the main load against the proxy (handshakes done when this returns)."""
        settings = settings or self.params.load
        settings = settings.model_copy(update={"seed": self.run.seed})
        self.recorder.begin_phase("warmup")  # handshakes and the first requests, before any phase
        self.driver = LoadDriver(HttpTarget(url or self.stack.proxy_url), settings, self.recorder)
        await self.driver.start()
        if self.driver.ready_after_s is not None:
            self.ready_after_s = round(self.driver.ready_after_s, 3)

    async def start_extra_load(self, name: str, settings: LoadSettings) -> Recorder:
        """A second load with its own recorder (e.g. calls that should stay unaffected)."""
        recorder = Recorder(bucket_s=self.params.bucket_s)
        recorder.begin_phase(self.recorder.phase)
        driver = LoadDriver(
            HttpTarget(self.stack.proxy_url),
            settings.model_copy(update={"seed": self.run.seed + 1}),
            recorder,
        )
        self.extra_drivers[name] = (driver, recorder)
        await driver.start()
        return recorder

    async def stop_load(self) -> None:
        """Stop every load and end its requests' accounting (once; later calls do nothing)."""
        if self._load_stopped:
            return
        self._load_stopped = True
        for task in self.background:
            task.cancel()
        for task in self.background:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.background.clear()
        if self.driver is not None:
            await self.driver.stop()
        for driver, _ in self.extra_drivers.values():
            await driver.stop()
        self.recorder.finish()
        for _, recorder in self.extra_drivers.values():
            recorder.finish()

    async def phase(
        self,
        name: str,
        duration_s: float,
        *,
        faults: dict[str, Any] | None = None,
        note: str = "",
        fault_probability: float | None = None,
        outage: bool = False,
        action: Callable[[], Awaitable[None]] | None = None,
        repair: Callable[[], Awaitable[None]] | None = None,
        until: Callable[[], bool] | None = None,
    ) -> PhaseRecord:
        """Run ``duration_s`` seconds of load in a named phase. ``faults`` (if given) is
        applied first; ``action`` runs at the start (kill, partition…); ``until`` may end
        the phase early. Returns the (provisional) record.

        ``repair`` (restart the upstream, heal the network…) runs *before* the phase begins:
        until it returns the fault is still in place, so that time belongs to the phase before
        (the outage), and the recovery clock starts once the cause is gone. On a loaded machine
        restarting the demo server took 9 s, which the recovery verdict used to charge to the
        proxy ("recovered after 12.32 s" for a 3 s phase)."""
        if any(p.name == name for p in self.phases):
            raise ValueError(f"phase names must be unique in a scenario: {name!r}")
        if faults is not None:
            await self.set_faults(faults)
        if repair is not None:
            self.run.progress.message(f"{self.name}: before phase {name}: {note or 'repairing'}")
            began = time.monotonic()
            await repair()
            self.event("repaired", f"{note or name} after {time.monotonic() - began:.2f} s")
        self.recorder.begin_phase(name)
        for _, recorder in self.extra_drivers.values():
            recorder.begin_phase(name)
        if outage:
            self.outage_phases.add(name)
        record = PhaseRecord(
            name=name,
            started_s=round(self.now_s(), 3),
            ended_s=0.0,
            fault_probability=fault_probability,
            faults=self.current_faults or None,
            note=note,
        )
        self.phases.append(record)
        self.run.progress.message(f"{self.name}: phase {name}" + (f" ({note})" if note else ""))
        if action is not None:
            await action()
        deadline = time.monotonic() + duration_s
        while (remaining := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(0.5, remaining))
            self._report(name, fault_probability)
            if until is not None and until():
                break
        record.ended_s = round(self.now_s(), 3)
        if name == "baseline" and not any(s.label == "baseline" for s in self.resources):
            # Under healthy load: what "back to normal" means for the leak verdict.
            await self.snapshot("baseline")
        return record

    async def settle(self, phase: str, within_s: float) -> None:
        """Wait (at most ``within_s``) until every call that started in ``phase`` has ended, on
        every load. An action that stops the target calls this first, so the calls of the phase
        before are judged by what that phase did, not failed by the stop: stopping the cascade's
        server A killed the calls of its recovery phase still in flight, and its last time bucket
        read 10 ok of 12, "never recovered"."""
        recorders = [self.recorder, *(recorder for _, recorder in self.extra_drivers.values())]
        deadline = time.monotonic() + within_s
        # Polled: a ticket ends inside whichever load client holds it, which signals nothing.
        while any(r.in_flight_from(phase) for r in recorders) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    def _report(self, phase: str, fault_probability: float | None) -> None:
        counts, latency, _ = self.recorder.phase_summary(phase)
        self.run.progress.update(
            self.name,
            phase,
            {
                "fault_probability": fault_probability,
                "success_rate": counts.success_rate,
                "requests": counts.total,
                "p99_ms": latency.p99_ms,
                "in_flight": self.recorder.in_flight(),
            },
        )

    def sample_over_time(self) -> None:
        """Keep a resource sample every time bucket (at least 0.25 s apart) until the load stops:
        the figures over time (RSS, open connections, sessions) drawn from the journal."""
        every_s = max(self.params.bucket_s, 0.25)

        async def keep_sampling() -> None:
            while True:
                await self.snapshot("")
                await asyncio.sleep(every_s)

        self.background.append(asyncio.get_running_loop().create_task(keep_sampling()))

    async def snapshot(self, label: str) -> list[ResourceSample]:
        """Resources of the proxy and the upstream now, kept under ``label`` (empty: a periodic
        sample); the proxy's open connections and sessions beside them."""
        taken: list[ResourceSample] = []
        tasks: int | None = None
        gauges: dict[str, int | None] = {}
        proxy_pid = self.stack.proxy.pid if self.stack.proxy is not None else None
        if self.stack.control is not None:
            with contextlib.suppress(Exception):  # a dead proxy is reported by the verdicts
                gauges = proxy_gauges(await self.stack.control.metrics())
            try:
                health = await self.stack.control.health()
                tasks = health.get("tasks")
                proxy_pid = proxy_pid or health.get("pid")
                if self.stack.target.kind == "command" and label in ("baseline", "final"):
                    self.server_processes[label] = (await self.stack.control.metrics())["server_processes"]
            except Exception:  # a dead proxy is reported by the verdicts, not here
                tasks = None
        if proxy_pid is not None:
            taken_sample = sample(proxy_pid, "proxy", self.now_s(), label, tasks)
            if taken_sample is not None:
                taken.append(taken_sample.model_copy(update=gauges))
        if self.stack.upstream is not None and self.stack.upstream.pid is not None:
            upstream_sample = sample(self.stack.upstream.pid, "upstream", self.now_s(), label)
            if upstream_sample is not None:
                taken.append(upstream_sample)
        self.resources.extend(taken)
        return taken

    def finding(
        self, severity: Literal["info", "warning", "failure"], title: str, detail: str, mitigation: str = ""
    ) -> None:
        self.findings.append(Finding(severity=severity, title=title, detail=detail, mitigation=mitigation))

    # -- the end -----------------------------------------------------------------------------

    def finalize_phases(self) -> None:
        """Fill each phase record from the recorder (after the load stopped). A phase the
        recorder knows but the scenario did not run (``warmup``: the handshakes and first
        requests before the first phase) gets a record too, so the phases sum to the totals."""
        named = {record.name for record in self.phases}
        extra = [name for name in self.recorder.phase_names() if name not in named]
        for name in extra:
            later = [r.started_s for r in self.phases if r.started_s >= self.recorder.phase_start(name)]
            start = round(self.recorder.phase_start(name), 3)
            note = "handshakes and the first requests, before the first phase" if name == "warmup" else ""
            self.phases.append(
                PhaseRecord(name=name, started_s=start, ended_s=min(later, default=start), note=note)
            )
        # By start; a phase of the recorder's own first when two start in the same millisecond.
        self.phases.sort(key=lambda record: (record.started_s, record.name not in extra))
        for record in self.phases:
            outcomes, latency, accounting = self.recorder.phase_summary(record.name)
            record.outcomes = outcomes
            record.latency = latency
            record.accounting = accounting

    def totals(self) -> Counts:
        """The main load over the whole scenario: the sum of the phase records (after
        :meth:`finalize_phases`), exactly what the journal's ``totals`` says."""
        return phase_totals(self.phases)

    def other_totals(self) -> dict[str, Counts]:
        """The other loads (:meth:`start_extra_load`) over the whole scenario, by name."""
        out: dict[str, Counts] = {}
        for name, (_, recorder) in self.extra_drivers.items():
            outcomes, _, accounting = recorder.totals()
            out[name] = Counts(outcomes=outcomes, accounting=accounting)
        return out

    def other_timelines(self) -> dict[str, list[TimeBucket]]:
        """The other loads' timelines, shifted to the main recorder's clock (they started later)."""
        out: dict[str, list[TimeBucket]] = {}
        for name, (_, recorder) in self.extra_drivers.items():
            offset = self.recorder.now_s() - recorder.now_s()
            out[name] = [b.model_copy(update={"t_s": round(b.t_s + offset, 3)}) for b in recorder.timeline()]
        return out

    def phase_named(self, name: str) -> PhaseRecord:
        for record in self.phases:
            if record.name == name:
                return record
        raise KeyError(name)

    def result(
        self,
        scenario: Scenario,
        error: str | None = None,
        skipped: str | None = None,
        inconclusive: str | None = None,
    ) -> ScenarioResult:
        fault_counts: dict[str, int] = {}
        for record in self.fault_records:
            fault_counts[record.get("fault", "?")] = fault_counts.get(record.get("fault", "?"), 0) + 1
        return ScenarioResult(
            scenario=self.name,
            description=scenario.description,
            params=self.params.model_dump(mode="json"),
            started_at=self.started_wall,
            duration_s=round(time.monotonic() - self._started, 3),
            phases=self.phases,
            timeline=self.recorder.timeline(),
            resources=self.resources,
            events=self.events,
            verdicts=self.verdicts,
            findings=self.findings,
            collapse_point=self.collapse_point,
            measurements=self.measurements,
            proxy_metrics=self.proxy_metrics,
            fault_counts=fault_counts,
            other_loads=self.other_totals(),
            other_timelines=self.other_timelines(),
            mitigation=scenario.mitigation,
            error=error,
            skipped=skipped,
            inconclusive=inconclusive,
            ready_after_s=self.ready_after_s,
        )


def _describe_faults(faults: dict[str, Any]) -> str:
    if not faults or not faults.get("fault_probability"):
        return "cleared" if not faults.get("rules") else f"{len(faults['rules'])} rule(s)"
    kinds = [k for k, v in faults.get("enabled_faults", {}).items() if v is True]
    return f"p={faults['fault_probability']:g} {','.join(kinds)}"


QUICK: dict[str, Any] = {
    "baseline_s": 1.5,
    "bucket_s": 0.25,
    "settle_s": 3.0,
    "load": {"clients": 4, "deadline_s": 2.0},
}
"""The ``--quick`` sizes every scenario shares (CI-sized); each adds or overrides its own."""


class Scenario(ABC):
    """One chaos scenario (a module in ``harness/scenarios``)."""

    name: ClassVar[str]
    description: ClassVar[str]
    Params: ClassVar[type[ScenarioParams]] = ScenarioParams
    quick: ClassVar[dict[str, Any]] = {}
    """Parameter overrides for ``--quick`` (CI-sized) over :data:`QUICK`, applied under the user's own."""
    mitigation: ClassVar[str] = ""
    """What to do when the scenario fails, in a sentence or two (the runbook's standing advice)."""
    verdict_names: ClassVar[tuple[str, ...]] = ()
    """The verdicts this scenario is judged by (in the report's order)."""
    clients_param: ClassVar[str] = "load.clients"
    """The parameter ``mcpchaos run --clients N`` sets: the main load's client count."""
    untimed_phases: ClassVar[tuple[str, ...]] = ()
    """Phases that last as long as their work takes, whatever ``--duration`` says."""
    scaled_with_phases: ClassVar[tuple[str, ...]] = ()
    """Times inside a phase that ``--duration`` scales with the phases (they are no phase of their own)."""

    def timed_phases(self, params: ScenarioParams) -> dict[str, float]:
        """The parameters that set how long the load runs, each with the seconds of load it gives
        in all (a parameter used for several phases counts each time); ``--duration`` scales them.
        Empty: the scenario does not say, and ``--duration`` leaves it alone (with a warning)."""
        return {}

    def params_from(self, raw: dict[str, Any] | None, quick: bool) -> ScenarioParams:
        """Defaults, then quick sizes, then the user's YAML (nested objects merged)."""
        merged: dict[str, Any] = {}
        if quick:
            merged = deep_merge(QUICK, self.quick)
        if raw:
            merged = deep_merge(merged, raw)
        return self.Params.model_validate(merged)

    def proxy_args(self, params: ScenarioParams) -> list[str]:
        """Extra ``mcpchaos proxy`` options this scenario needs (limits, breaker…)."""
        return []

    async def prepare(self, ctx: ScenarioContext) -> None:
        """Before the stack starts: e.g. start a dependency and set ``ctx.stack.upstream_args``."""
        return None  # most scenarios need nothing here

    @abstractmethod
    async def run(self, ctx: ScenarioContext) -> None:
        """Drive the load through the phases; record measurements and findings."""

    def judge(self, ctx: ScenarioContext) -> list[Verdict]:
        """The verdicts (default: the named generic ones)."""
        from mcpchaos.harness import verdicts

        return verdicts.judge(ctx, self.verdict_names)


def deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out
