"""The run journal: one serialisable record per ``mcpchaos run`` (chaostoolkit's journal).

Everything a report shows comes from here, so ``mcpchaos report JOURNAL.json`` rebuilds the
HTML and Markdown without rerunning anything. Times are seconds since the run (or the
scenario) started unless a name says otherwise; latencies are milliseconds.

Outcome kinds (every request ends in exactly one):

* ``ok`` — a JSON-RPC result (a tool result with ``isError`` counts as ok: the protocol worked);
* ``error`` — a JSON-RPC error response, counted by code (``injected`` when mcpchaos made it);
* ``transport`` — no JSON-RPC answer: connection refused/reset, an HTTP status without a
  JSON-RPC body, a stream that ended early; counted by kind (``"http_503"``, ``"reset"``, …);
* ``deadline`` — the client's per-request deadline passed first.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class OutcomeCounts(_Record):
    """How the requests of one phase (or one time bucket) ended."""

    ok: int = 0
    error: int = 0
    transport: int = 0
    deadline: int = 0
    error_codes: dict[str, int] = Field(default_factory=dict)
    """JSON-RPC error responses by code (the code as a string, e.g. ``"-32010"``)."""
    transport_kinds: dict[str, int] = Field(default_factory=dict)
    """Transport failures by kind, e.g. ``"http_503"``, ``"reset"``, ``"refused"``, ``"stream_ended"``."""
    injected: int = 0
    """Error responses marked as injected by mcpchaos (``data.mcpchaos.injected``)."""

    @property
    def total(self) -> int:
        return self.ok + self.error + self.transport + self.deadline

    @property
    def success_rate(self) -> float | None:
        """Share of ``ok`` outcomes; None when nothing ended here."""
        total = self.total
        return self.ok / total if total else None

    def add(self, other: OutcomeCounts) -> OutcomeCounts:
        """The sum of two counts (a new object)."""

        def merged(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
            out = dict(a)
            for key, value in b.items():
                out[key] = out.get(key, 0) + value
            return out

        return OutcomeCounts(
            ok=self.ok + other.ok,
            error=self.error + other.error,
            transport=self.transport + other.transport,
            deadline=self.deadline + other.deadline,
            error_codes=merged(self.error_codes, other.error_codes),
            transport_kinds=merged(self.transport_kinds, other.transport_kinds),
            injected=self.injected + other.injected,
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
    """Jepsen-style accounting of request ids: every request sent ends in exactly one outcome."""

    sent: int = 0
    """Requests written to the wire."""
    answered: int = 0
    """Requests whose first response arrived (ok or error)."""
    lost: int = 0
    """Requests that never got any response (ended by deadline or transport failure)."""
    duplicated: int = 0
    """Extra responses for an id that was already answered."""
    unexpected: int = 0
    """Responses carrying an id this client never sent (or no id)."""
    hung: int = 0
    """Requests with no outcome at all when the run ended (a client without a deadline)."""


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


class Verdict(_Record):
    """One success criterion, checked."""

    name: str
    """``no_exceptions``, ``no_hangs``, ``graceful_degradation``, ``recovery``, ``no_leaks``,
    ``metrics_accurate``, ``nothing_lost``, ``isolation``, …"""
    passed: bool
    rule: str
    """The rule in words, with its thresholds."""
    detail: str
    """What was measured against the rule."""
    evidence: dict[str, Any] = Field(default_factory=dict)


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


class ScenarioResult(_Record):
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
    error: str | None = None
    """Set when the scenario itself could not run to the end (the run goes on with the next)."""
    skipped: str | None = None
    """Set when the scenario does not apply to this target, with the reason (not a failure)."""

    @property
    def passed(self) -> bool:
        return self.error is None and all(v.passed for v in self.verdicts)


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


class Journal(_Record):
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

    @property
    def passed(self) -> bool:
        return all(s.passed for s in self.scenarios)
