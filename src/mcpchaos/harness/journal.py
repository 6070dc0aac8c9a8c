"""The run journal: one serialisable record per ``mcpchaos run`` (chaostoolkit's journal).

Everything a report shows comes from here, so ``mcpchaos report JOURNAL.json`` rebuilds the
HTML and Markdown without rerunning anything. Times are seconds since the run (or the
scenario) started unless a name says otherwise; latencies are milliseconds.

Outcome kinds (every request ends in exactly one):

* ``ok`` — a JSON-RPC result that is not a tool error: the only outcome that counts as success;
* ``tool_error`` — a ``tools/call`` result with ``isError: true``: the protocol worked, the call
  did not (wrong arguments, a failing tool). Never success;
* ``error`` — a JSON-RPC error response, counted by code (``injected`` when mcpchaos made it);
* ``transport`` — no JSON-RPC answer: connection refused/reset, an HTTP status without a
  JSON-RPC body, a stream that ended early; counted by kind (``"http_503"``, ``"reset"``, …);
* ``deadline`` — the client's per-request deadline passed first.

Results are four words: ``passed``, ``failed``, ``inconclusive`` (the run could not tell, e.g.
a baseline with too few successes to compare against; never a pass) and ``skipped`` (the
scenario does not apply to the target). ``status`` is derived from the rest of a record: it is
written to journal.json for readers and recomputed when a journal is read back.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

SCHEMA_VERSION = 1

Status = Literal["passed", "failed", "inconclusive", "skipped"]
"""The result of a verdict, a scenario or a run, in one of four words."""

FIRST_ERRORS = 3
"""How many distinct failure texts a phase keeps (the first ones, in order)."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class _Derived(_Record):
    """A record with derived fields (``status``, ``totals``): written out for readers of
    journal.json, recomputed from the rest when read back (so they can never disagree)."""

    _derived: ClassVar[frozenset[str]] = frozenset({"status", "totals"})

    @model_validator(mode="before")
    @classmethod
    def _drop_derived(cls, data: Any) -> Any:
        if isinstance(data, dict) and cls._derived & data.keys():
            data = {k: v for k, v in data.items() if k not in cls._derived}
        return data


class OutcomeCounts(_Record):
    """How the requests of one phase (or one time bucket) ended."""

    ok: int = 0
    tool_error: int = 0
    """Tool results with ``isError: true`` (answered, not a success)."""
    error: int = 0
    transport: int = 0
    deadline: int = 0
    error_codes: dict[str, int] = Field(default_factory=dict)
    """JSON-RPC error responses by code (the code as a string, e.g. ``"-32010"``)."""
    transport_kinds: dict[str, int] = Field(default_factory=dict)
    """Transport failures by kind, e.g. ``"http_503"``, ``"reset"``, ``"refused"``, ``"stream_ended"``."""
    injected: int = 0
    """Error responses marked as injected by mcpchaos (``data.mcpchaos.injected``)."""
    first_errors: list[str] = Field(default_factory=list)
    """The first distinct failure texts (at most :data:`FIRST_ERRORS`), e.g. ``"tool error:
    Input validation error: 'message' is a required property"``, ``"error -32602: …"``,
    ``"transport reset"``, ``"deadline"``. Kept for phases, not for time buckets."""

    @property
    def total(self) -> int:
        return self.ok + self.tool_error + self.error + self.transport + self.deadline

    @property
    def success_rate(self) -> float | None:
        """Share of ``ok`` outcomes (a tool error is not one); None when nothing ended here."""
        total = self.total
        return self.ok / total if total else None

    def add(self, other: OutcomeCounts) -> OutcomeCounts:
        """The sum of two counts (a new object)."""

        def merged(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
            out = dict(a)
            for key, value in b.items():
                out[key] = out.get(key, 0) + value
            return out

        first = list(self.first_errors)
        for text in other.first_errors:
            if len(first) < FIRST_ERRORS and text not in first:
                first.append(text)
        return OutcomeCounts(
            ok=self.ok + other.ok,
            tool_error=self.tool_error + other.tool_error,
            error=self.error + other.error,
            transport=self.transport + other.transport,
            deadline=self.deadline + other.deadline,
            error_codes=merged(self.error_codes, other.error_codes),
            transport_kinds=merged(self.transport_kinds, other.transport_kinds),
            injected=self.injected + other.injected,
            first_errors=first,
        )


class LatencySummary(_Record):
    """Latency of the requests that ended (any outcome), from an HDR histogram."""

    count: int = 0
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    mean_ms: float | None = None


class Accounting(_Record):
    """Jepsen-style accounting of request ids: every request sent ends in exactly one outcome.

    A request is a call the load makes (``tools/call``, ``tools/list``, …); the handshake a
    client does first (``initialize``) is counted apart, under ``handshakes``. For requests that
    started: ``sent + not_sent = outcomes + hung`` and ``sent = answered + lost + (hung that
    were sent)``; ``answered = ok + tool_error + error``."""

    sent: int = 0
    """Requests written to the wire (the call itself, not the handshake made for it)."""
    answered: int = 0
    """Requests whose first response arrived (ok, tool error or JSON-RPC error)."""
    lost: int = 0
    """Sent requests that never got a response (ended by deadline or transport failure)."""
    silent: int = 0
    """Of the lost: ended by the client's deadline without a word (the others were told:
    a reset, an HTTP status without a JSON-RPC body, a stream that ended)."""
    not_sent: int = 0
    """Requests that ended before they were written: connection refused, their handshake
    failed, the client gave up its session, open-loop overload."""
    duplicated: int = 0
    """Extra responses for an id that was already answered."""
    unexpected: int = 0
    """Responses carrying an id this client never sent (or no id)."""
    hung: int = 0
    """Requests with no outcome at all when the run ended (a client without a deadline)."""
    handshakes: int = 0
    """``initialize`` requests written (each one is a client request the proxy counts too)."""
    handshakes_failed: int = 0
    """Of the handshakes: the ones that opened no session (deadline, transport failure,
    JSON-RPC error)."""
    handshakes_injected: int = 0
    """Of the failed handshakes: answered with an error mcpchaos injected (in the fault log)."""

    def add(self, other: Accounting) -> Accounting:
        """The sum of two accountings (a new object)."""
        return Accounting(
            **{name: getattr(self, name) + getattr(other, name) for name in Accounting.model_fields}
        )


class Counts(_Record):
    """Outcomes and accounting of one load, over a whole scenario."""

    outcomes: OutcomeCounts = Field(default_factory=OutcomeCounts)
    accounting: Accounting = Field(default_factory=Accounting)


def phase_totals(phases: list[PhaseRecord]) -> Counts:
    """The sum of the phases' outcomes and accountings: the one way totals are computed."""
    outcomes = OutcomeCounts()
    accounting = Accounting()
    for phase in phases:
        outcomes = outcomes.add(phase.outcomes)
        accounting = accounting.add(phase.accounting)
    return Counts(outcomes=outcomes, accounting=accounting)


class PhaseRecord(_Record):
    """One phase of a scenario: a steady condition (faults, network, an outage) under load."""

    name: str
    started_s: float
    ended_s: float
    fault_probability: float | None = None
    """The fault probability in force, when the phase sets one (the x axis of degradation)."""
    faults: dict[str, Any] | None = None
    """The fault configuration applied at the start of the phase (``FaultConfig`` as JSON)."""
    network: dict[str, Any] | None = None
    """The network configuration applied at the start of the phase, if any."""
    note: str = ""
    """What happens in this phase, in words (e.g. "upstream killed")."""
    outcomes: OutcomeCounts = Field(default_factory=OutcomeCounts)
    latency: LatencySummary = Field(default_factory=LatencySummary)
    accounting: Accounting = Field(default_factory=Accounting)


class TimeBucket(_Record):
    """Outcomes and latency of the requests that *started* in one time slice."""

    t_s: float
    width_s: float
    phase: str
    outcomes: OutcomeCounts = Field(default_factory=OutcomeCounts)
    p50_ms: float | None = None
    p99_ms: float | None = None


class ResourceSample(_Record):
    """Resources of one process of the system under test at one moment."""

    t_s: float
    process: str
    """``"proxy"``, ``"upstream"``, …"""
    label: str = ""
    """When it was taken: ``"baseline"``, ``"peak"``, ``"final"`` or empty for periodic samples."""
    rss_bytes: int | None = None
    fds: int | None = None
    children: int | None = None
    threads: int | None = None
    tasks: int | None = None
    """asyncio tasks, when the process reports them (the proxy's control API)."""
    connections: int | None = None
    """Client connections the proxy holds open (its control API's ``connections.active``)."""
    sessions: int | None = None
    """MCP sessions the proxy keeps (its control API's ``sessions.active``)."""


class Verdict(_Derived):
    """One success criterion, checked."""

    name: str
    """``no_exceptions``, ``no_hangs``, ``graceful_degradation``, ``recovery``, ``no_leaks``,
    ``metrics_accurate``, ``nothing_lost``, ``isolation``, …"""
    passed: bool
    inconclusive: bool = False
    """The run could not judge this rule (e.g. recovery against a baseline without successes);
    ``passed`` is then False, and the verdict is neither a pass nor a failure."""
    rule: str
    """The rule in words, with its thresholds."""
    detail: str
    """What was measured against the rule."""
    evidence: dict[str, Any] = Field(default_factory=dict)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status(self) -> Status:
        if self.inconclusive:
            return "inconclusive"
        return "passed" if self.passed else "failed"


class Finding(_Record):
    """Something the user should know, with what to do about it (the runbook)."""

    severity: Literal["info", "warning", "failure"]
    title: str
    detail: str
    mitigation: str = ""


class Event(_Record):
    """Something that happened at a moment: faults changed, upstream killed, breaker opened."""

    t_s: float
    kind: str
    detail: str = ""


class ScenarioResult(_Derived):
    """What one scenario did and found."""

    scenario: str
    description: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
    started_at: str
    """ISO 8601 wall-clock time."""
    duration_s: float
    phases: list[PhaseRecord] = Field(default_factory=list)
    timeline: list[TimeBucket] = Field(default_factory=list)
    resources: list[ResourceSample] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)
    verdicts: list[Verdict] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    collapse_point: float | None = None
    """The fault probability at which success fell below the collapse threshold (degradation)."""
    measurements: dict[str, float | None] = Field(default_factory=dict)
    """Named figures: ``time_to_detect_s``, ``time_to_recover_s``, ``peak_connections``, …"""
    proxy_metrics: dict[str, Any] = Field(default_factory=dict)
    """The proxy's ``/metrics.json`` at the end of the scenario."""
    fault_counts: dict[str, int] = Field(default_factory=dict)
    """Injected faults by kind, from the fault log."""
    other_loads: dict[str, Counts] = Field(default_factory=dict)
    """Loads beside the main one (e.g. cascading_failure's ``independent`` calls), by name."""
    other_timelines: dict[str, list[TimeBucket]] = Field(default_factory=dict)
    """The other loads' timelines, by name, on the main load's clock (the plots draw them beside it)."""
    mitigation: str = ""
    """What to do when this scenario fails: the runbook's standing advice for it."""
    error: str | None = None
    """Set when the scenario itself could not run to the end (the run goes on with the next)."""
    skipped: str | None = None
    """Set when the scenario does not apply to this target, with the reason (not a failure)."""
    inconclusive: str | None = None
    """Set when the run cannot tell (a baseline too weak to compare with), with the reason and
    the first errors seen; the scenario is then at best inconclusive, never passed."""
    ready_after_s: float | None = None
    """Start-up, measured: seconds from the load's start until every client's session was open
    (a stdio server's process start and the era's handshake), apart from any call; None when
    the load never started."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def totals(self) -> Counts:
        """The main load over the whole scenario: the sum of its phases (every phase the
        recorder knows has a record, ``warmup`` included); the numbers the verdicts read."""
        return phase_totals(self.phases)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status(self) -> Status:
        """skipped; failed (it did not run to the end, or a verdict failed); inconclusive (the
        baseline was too weak, a verdict could not judge, or nothing was judged); else passed."""
        if self.skipped is not None:
            return "skipped"
        if self.error is not None or any(v.status == "failed" for v in self.verdicts):
            return "failed"
        if self.inconclusive is not None or not self.verdicts or any(not v.passed for v in self.verdicts):
            return "inconclusive"
        return "passed"

    @property
    def passed(self) -> bool:
        return self.status == "passed"


class TargetInfo(_Record):
    """The system under test."""

    kind: Literal["demo", "command", "url", "attach"]
    description: str
    transport: Literal["http", "stdio"] = "http"
    protocol: str = "2025-11-25"


class Environment(_Record):
    """Where the run happened."""

    mcpchaos: str
    python: str
    platform: str
    cpus: int
    mcp_sdk: str | None = None
    hostname: str = ""


class Journal(_Derived):
    """One run: its configuration, environment and every scenario's result."""

    schema_version: int = SCHEMA_VERSION
    tool: str = "mcpchaos"
    created_at: str
    command: list[str] = Field(default_factory=list)
    seed: int
    quick: bool = False
    target: TargetInfo
    environment: Environment
    scenarios: list[ScenarioResult] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status(self) -> Status:
        """failed if any scenario failed; else inconclusive if any was (or none was judged:
        every one skipped, or none at all); else passed. Skipped scenarios count for nothing."""
        statuses = {s.status for s in self.scenarios}
        if "failed" in statuses:
            return "failed"
        if "inconclusive" in statuses or "passed" not in statuses:
            return "inconclusive"
        return "passed"

    @property
    def passed(self) -> bool:
        return self.status == "passed"
