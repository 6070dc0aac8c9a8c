"""What the 2026-07-28 feature scenarios share: a probe per phase, a light load beside it, and
verdicts over what the probes saw.

The feature scenarios (``era_fallback``, ``mrtr_under_faults``, ``subscription_resilience``,
``task_resilience``) each test one thing 2026-07-28 added, with the official SDK client
(``mcp.Client``) in the harness's process as a careful client would use it: fall back to the
handshake, answer input requests, re-listen, follow a task. The normal load driver sends plain
calls, so the feature traffic is a *probe*: a short script run once per phase, each step bounded
(``within_s``; past it the step is a hang), each step's outcome kept as a :class:`Step`.

A run walks the same phases every time:

* ``baseline`` — no faults: the probe, then ``baseline_s`` of the light load (the plain calls
  the common verdicts judge: nothing lost, no hangs, no leaks, a consistent history);
* one phase per fault case (:class:`Case`), each a fault rule aimed at the feature's messages
  only, so the light load beside it is untouched; the phase lasts as long as its probe;
* ``recovery`` — the faults cleared: the probe again, then ``recovery_s`` of load.

A scenario says its cases, its probe and its own verdicts; :func:`clean_verdict` (the probe
passes with no fault in place) is every scenario's first.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, TypeVar

import anyio
from mcp import Client
from mcp.shared.exceptions import MCPError
from pydantic import Field

from mcpchaos.errors import ConfigError
from mcpchaos.harness.journal import Verdict
from mcpchaos.harness.load.settings import LoadSettings
from mcpchaos.harness.scenario import Scenario, ScenarioContext, ScenarioParams, ScenarioSkipped
from mcpchaos.harness.verdicts import COMMON, judge

CLEAN_PHASES = ("baseline", "recovery")
FEATURE_COMMON = (*COMMON, "feature_clean")
"""The verdicts every feature scenario has first (its own follow, its main one last)."""
PROBE_STEPS_BOUND = 6
"""A phase's whole probe ends within this many ``within_s`` (a connection that never opens)."""
T = TypeVar("T")


LIGHT_LOAD: dict[str, Any] = {"clients": 2, "think_time_s": 0.05, "protocol": "2026-07-28"}
"""Sessionless plain calls, paced: company for the probe, not a load test (a ``load`` given in
the parameters replaces it whole, as in every scenario)."""


def _light_load() -> LoadSettings:
    return LoadSettings.model_validate(LIGHT_LOAD)


class FeatureParams(ScenarioParams):
    """The parameters every feature scenario has."""

    load: LoadSettings = Field(default_factory=_light_load)
    """The light load beside the probe (sessionless plain calls the faults do not touch)."""
    recovery_s: float = Field(2.0, gt=0, le=3600)
    """Seconds of load after the recovery probe (the common verdicts' after-picture)."""
    within_s: float = Field(10.0, gt=0, le=600)
    """Each probe step (a connection, a call, a wait for an event) must end within this; past it
    the step is recorded as a hang."""
    only: list[str] | None = None
    """Run only these fault phases (``mcpchaos scenarios NAME`` lists them); None: all."""


@dataclass(frozen=True)
class Case:
    """One fault phase: its name (the phase's), the fault config (FaultConfig as JSON), and
    what it does in words."""

    name: str
    faults: dict[str, Any]
    note: str


@dataclass
class Step:
    """One step of a probe and what came of it."""

    phase: str
    step: str
    """What was tried, e.g. ``call confirm`` or ``re-listen``."""
    outcome: str
    """What came of it, a word the scenario's verdicts read (``ok``, ``rejected``, ``hung``…)."""
    detail: str = ""
    elapsed_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    """Anything else a verdict reads (the protocol version, the rounds answered…)."""

    def describe(self) -> str:
        return f"{self.phase}: {self.step} → {self.outcome}" + (f" ({self.detail})" if self.detail else "")


def first_error(exc: BaseException) -> BaseException:
    """The error inside ``exc``: the SDK raises a failed connection inside task groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def describe_error(exc: BaseException) -> str:
    exc = first_error(exc)
    if isinstance(exc, MCPError):
        return f"JSON-RPC {exc.error.code} {exc.error.message}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class Probe:
    """The steps of one phase's probe, each bounded, in order."""

    def __init__(self, ctx: ScenarioContext, phase: str, within_s: float) -> None:
        self.ctx = ctx
        self.phase = phase
        self.within_s = within_s
        self.steps: list[Step] = []

    @asynccontextmanager
    async def client(self, **options: Any) -> AsyncIterator[Client | None]:
        """An SDK client on the proxy (2026-07-28 first, ``mode="auto"``), or None when it could
        not connect (recorded as a ``connect`` step). The whole probe is bounded by the caller:
        the SDK's task groups must be left in the scope they were entered in."""
        began = time.monotonic()
        connected = finished = False
        try:
            async with Client(self.ctx.stack.proxy_url, mode="auto", **options) as client:
                connected = True
                version = client.protocol_version
                self.record("connect", "ok", f"protocol {version}", began, version=version)
                yield client
                finished = True
        except Exception as exc:  # a refused connection (or a failed goodbye) is what a probe records
            if finished:
                self.record("disconnect", "error", describe_error(exc), began)
                return
            if connected:
                raise
            self.record("connect", "refused", describe_error(exc), began)
            yield None

    def record(self, step: str, outcome: str, detail: str, began: float, **extra: Any) -> Step:
        done = Step(self.phase, step, outcome, detail, round(time.monotonic() - began, 3), extra)
        self.steps.append(done)
        if outcome != "ok":
            self.ctx.event("probe", done.describe())
        return done

    async def step(
        self, name: str, run: Callable[[], Awaitable[T]], judge_result: Callable[[T], tuple[str, str]]
    ) -> Step:
        """Run one step within the bound: ``judge_result`` turns its value into (outcome, detail);
        an exception is ``error`` (a JSON-RPC error: ``rejected``), the bound passing ``hung``."""
        began = time.monotonic()
        try:
            with anyio.fail_after(self.within_s):
                value = await run()
        except TimeoutError:
            return self.record(name, "hung", f"no end within {self.within_s:g} s", began)
        except Exception as exc:  # what the target did wrong is the step's outcome
            outcome = "rejected" if isinstance(first_error(exc), MCPError) else "error"
            return self.record(
                name, outcome, describe_error(exc), began, error=type(first_error(exc)).__name__
            )
        outcome, detail = judge_result(value)
        return self.record(name, outcome, detail, began)


class FeatureScenario(Scenario):
    """A scenario that probes one 2026-07-28 feature through the phases above."""

    Params: ClassVar[type[ScenarioParams]] = FeatureParams
    quick: ClassVar[dict[str, Any]] = {
        "baseline_s": 1.5,  # 20 ok calls of the paced load (min_baseline_ok) with room on a busy machine
        "recovery_s": 0.5,
        "within_s": 5.0,
        "load": {**LIGHT_LOAD, "deadline_s": 2.0},
    }
    untimed_phases: ClassVar[tuple[str, ...]] = ()
    """The fault phases (:meth:`cases`, in order): each lasts as long as its probe."""

    def __init__(self) -> None:
        self.steps: list[Step] = []

    @abstractmethod
    def cases(self, params: FeatureParams) -> list[Case]:
        """The fault phases, in order (named as in :attr:`untimed_phases`)."""

    @abstractmethod
    async def probe(self, probe: Probe, case: Case | None) -> None:
        """One phase's probe (``case`` None: no faults). Steps go to ``probe.record``/``step``."""

    def needed_tools(self, params: FeatureParams) -> tuple[str, ...]:
        """The tools the probe calls (the demo has them all): a target without one is skipped."""
        return ()

    def skip_case(self, ctx: ScenarioContext, case: Case) -> str | None:
        """Why ``case`` cannot be run against this target (None: it can)."""
        return None

    @abstractmethod
    def feature_verdicts(self, ctx: ScenarioContext, steps: list[Step]) -> list[Verdict]:
        """The scenario's own verdicts over every phase's steps (after :func:`clean_verdict`)."""

    def params_from(self, raw: dict[str, Any] | None, quick: bool) -> ScenarioParams:
        params = super().params_from(raw, quick)
        assert isinstance(params, FeatureParams)
        strange = sorted(set(params.only or ()) - set(self.untimed_phases))
        if strange:
            raise ConfigError(
                f"{self.name}: only names no fault phase {', '.join(strange)}; its fault phases are "
                f"{', '.join(self.untimed_phases)}"
            )
        return params

    def timed_phases(self, params: ScenarioParams) -> dict[str, float]:
        assert isinstance(params, FeatureParams)
        return {"baseline_s": params.baseline_s, "recovery_s": params.recovery_s}

    async def run(self, ctx: ScenarioContext) -> None:
        p = ctx.params
        assert isinstance(p, FeatureParams)
        self.steps = []
        # Bounded like a session's start: a stdio target's process starts first (seconds).
        missing = await missing_tools(ctx.stack.proxy_url, self.needed_tools(p), p.load.startup_s)
        if missing:
            raise ScenarioSkipped(
                f"the target has no {', '.join(missing)} tool: {self.name} probes the feature through "
                "the demo server's tools for it (docs/harness.md)"
            )
        await ctx.start_load()
        await self._probe_phase(ctx, "baseline", None, p.baseline_s, p)
        for case in self.cases(p):
            if p.only is not None and case.name not in p.only:
                continue
            why = self.skip_case(ctx, case)
            if why is not None:
                ctx.event("skipped", f"{case.name}: {why}")
                ctx.finding("info", f"{case.name} not run", why)
                continue
            await self._probe_phase(ctx, case.name, case, 0.0, p)
        await self._probe_phase(ctx, "recovery", None, p.recovery_s, p)
        ctx.measurements["probe_steps"] = float(len(self.steps))
        ctx.measurements["probe_steps_hung"] = float(sum(s.outcome == "hung" for s in self.steps))

    async def _probe_phase(
        self, ctx: ScenarioContext, name: str, case: Case | None, load_s: float, p: FeatureParams
    ) -> None:
        probe = Probe(ctx, name, p.within_s)

        async def run_probe() -> None:
            began = time.monotonic()
            bound = p.within_s * PROBE_STEPS_BOUND
            with anyio.move_on_after(bound) as late:
                await self.probe(probe, case)
            if late.cancelled_caught:
                probe.record("probe", "hung", f"the phase's probe did not end within {bound:g} s", began)

        # The probe is the phase's action: a fault phase lasts as long as its probe; a clean one
        # has load_s of plain load after it.
        await ctx.phase(
            name,
            load_s,
            faults=case.faults if case is not None else {},
            note=case.note if case is not None else "no faults",
            action=run_probe,
        )
        self.steps.extend(probe.steps)

    def judge(self, ctx: ScenarioContext) -> list[Verdict]:
        return [*judge(ctx, COMMON), clean_verdict(self.steps), *self.feature_verdicts(ctx, self.steps)]


async def missing_tools(url: str, wanted: Iterable[str], within_s: float) -> list[str]:
    """The tools in ``wanted`` the server at ``url`` does not list (none when it cannot be asked:
    the probe then records what went wrong)."""
    wanted = list(wanted)
    if not wanted:
        return []
    try:
        with anyio.fail_after(within_s):
            async with Client(url, mode="auto") as client:
                listed = {tool.name for tool in (await client.list_tools()).tools}
    except Exception:  # not reachable now: the probe's steps say so, with the error
        return []
    return [name for name in wanted if name not in listed]


def in_phases(steps: Iterable[Step], phases: Iterable[str]) -> list[Step]:
    wanted = set(phases)
    return [s for s in steps if s.phase in wanted]


def steps_verdict(
    name: str, rule: str, problems: list[str], judged: list[Step], passed_detail: str
) -> Verdict:
    """A verdict over probe steps: failed with its problems, inconclusive when no step was judged."""
    evidence = {"problems": problems[:10], "steps": [asdict(s) for s in judged[:40]]}
    if not judged:
        return Verdict(
            name=name,
            passed=False,
            inconclusive=True,
            rule=rule,
            detail="no probe step to judge",
            evidence={},
        )
    return Verdict(
        name=name,
        passed=not problems,
        rule=rule,
        detail="; ".join(problems[:3]) + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else "")
        if problems
        else passed_detail,
        evidence=evidence,
    )


def clean_verdict(steps: list[Step]) -> Verdict:
    """``feature_clean``: with no fault in place (baseline, recovery) every probe step is ``ok``."""
    judged = in_phases(steps, CLEAN_PHASES)
    problems = [s.describe() for s in judged if s.outcome != "ok"]
    return steps_verdict(
        "feature_clean",
        "with no fault in place (baseline, and recovery after the faults) every step of the feature's "
        "probe succeeds",
        problems,
        judged,
        f"{len(judged)} step(s) ok in baseline and recovery",
    )
