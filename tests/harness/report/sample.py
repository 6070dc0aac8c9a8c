"""A realistic run journal for the report tests: degradation, a sudden failure, a bare scenario."""

from __future__ import annotations

from mcpchaos.harness.journal import (
    Accounting,
    Environment,
    Event,
    Finding,
    Journal,
    LatencySummary,
    OutcomeCounts,
    PhaseRecord,
    ResourceSample,
    ScenarioResult,
    TargetInfo,
    TimeBucket,
    Verdict,
)

HOSTILE = "<script>alert('x')</script>"
"""Text that must come out escaped wherever the report shows it."""


def _outcomes(total: int, p: float) -> OutcomeCounts:
    """Error-only faults at probability p: about (1 - p) of the requests succeed."""
    errors = round(total * p)
    return OutcomeCounts(
        ok=total - errors, error=errors, error_codes={"-32010": errors} if errors else {}, injected=errors
    )


def gradual_degradation() -> ScenarioResult:
    phases: list[PhaseRecord] = []
    timeline: list[TimeBucket] = []
    for step in range(11):
        p = step / 10
        name = f"p={p:.1f}"
        outcomes = _outcomes(200, p)
        phases.append(
            PhaseRecord(
                name=name,
                started_s=step * 2.0,
                ended_s=step * 2.0 + 2.0,
                fault_probability=p,
                faults={"fault_probability": p, "enabled": ["error"]},
                outcomes=outcomes,
                latency=LatencySummary(
                    count=200, p50_ms=3.0 + p, p90_ms=6.0, p99_ms=9.0 + 4 * p, max_ms=20.0
                ),
                accounting=Accounting(sent=200, answered=200),
            )
        )
        for half in range(2):
            timeline.append(
                TimeBucket(
                    t_s=step * 2.0 + half,
                    width_s=1.0,
                    phase=name,
                    outcomes=_outcomes(100, p),
                    p50_ms=3.0 + p,
                    p99_ms=9.0 + 4 * p,
                )
            )
    return ScenarioResult(
        scenario="gradual_degradation",
        description=f"Ramp the fault probability from 0 to 1 {HOSTILE}",
        params={"steps": 11, "collapse_below": 0.1},
        started_at="2026-11-28T01:00:00+00:00",
        duration_s=22.0,
        ready_after_s=1.384,
        phases=phases,
        timeline=timeline,
        verdicts=[
            Verdict(
                name="graceful_degradation",
                passed=True,
                rule="success ≥ (1 − p) − 0.05 at every step before the collapse point",
                detail="worst step p=0.5: 50.0% against 45.0%",
            ),
            Verdict(name="nothing_lost", passed=True, rule="lost = 0", detail="2200 sent, 2200 answered"),
        ],
        findings=[
            Finding(
                severity="info",
                title="Success follows 1 − p",
                detail="Error faults are answered as JSON-RPC errors; nothing else breaks.",
            )
        ],
        collapse_point=0.9,
        measurements={"collapse_point": 0.9, "peak_p99_ms": 13.0},
        fault_counts={"error": 1100},
    )


def sudden_failure() -> ScenarioResult:
    names = [("healthy", 0.0, 5.0), ("upstream killed", 5.0, 10.0), ("cleared", 10.0, 20.0)]
    phases = [
        PhaseRecord(
            name="healthy",
            started_s=0.0,
            ended_s=5.0,
            outcomes=OutcomeCounts(ok=500),
            latency=LatencySummary(count=500, p50_ms=2.0, p99_ms=8.0),
            accounting=Accounting(sent=500, answered=500),
        ),
        PhaseRecord(
            name="upstream killed",
            started_s=5.0,
            ended_s=10.0,
            note="upstream killed",
            outcomes=OutcomeCounts(
                ok=10,
                error=100,
                transport=300,
                deadline=40,
                error_codes={"-32016": 100},
                transport_kinds={"http_503": 250, "reset": 50},
            ),
            latency=LatencySummary(count=450, p50_ms=1.0, p99_ms=2000.0),
            accounting=Accounting(sent=450, answered=110, lost=340),
        ),
        PhaseRecord(
            name="cleared",
            started_s=10.0,
            ended_s=20.0,
            outcomes=OutcomeCounts(ok=900, transport=20, transport_kinds={"refused": 20}),
            latency=LatencySummary(count=920, p50_ms=2.5, p99_ms=30.0),
            accounting=Accounting(sent=921, answered=900, lost=20, duplicated=1, hung=1),
        ),
    ]
    timeline = []
    for second in range(20):
        phase = next(name for name, start, end in names if start <= second < end)
        ok = 100 if phase == "healthy" or second >= 13 else (2 if phase == "upstream killed" else 50)
        timeline.append(
            TimeBucket(
                t_s=float(second),
                width_s=1.0,
                phase=phase,
                outcomes=OutcomeCounts(ok=ok, transport=100 - ok),
                p50_ms=2.0,
                p99_ms=2000.0 if phase == "upstream killed" else 8.0,
            )
        )
    return ScenarioResult(
        scenario="sudden_failure",
        description="Healthy, then the upstream is killed, then it comes back.",
        started_at="2026-11-28T01:00:22+00:00",
        duration_s=20.0,
        ready_after_s=0.052,
        phases=phases,
        timeline=timeline,
        events=[
            Event(t_s=5.0, kind="upstream_killed", detail="SIGKILL"),
            Event(t_s=6.2, kind="breaker_opened"),
            Event(t_s=10.0, kind="upstream_restarted"),
        ],
        resources=[
            ResourceSample(t_s=0.0, process="proxy", label="baseline", rss_bytes=40_000_000, fds=12, tasks=8),
            ResourceSample(t_s=8.0, process="proxy", label="peak", rss_bytes=90_000_000, fds=140, tasks=300),
            ResourceSample(t_s=20.0, process="proxy", label="final", rss_bytes=52_000_000, fds=15, tasks=9),
            ResourceSample(t_s=0.0, process="upstream", rss_bytes=30_000_000, fds=9),
            ResourceSample(t_s=20.0, process="upstream", rss_bytes=31_000_000, fds=9),
        ],
        verdicts=[
            Verdict(
                name="no_hangs", passed=False, rule="every request ends by its deadline", detail="1 hung"
            ),
            Verdict(
                name="recovery",
                passed=True,
                rule="success ≥ 99% of baseline within 5 s of clearing",
                detail="recovered in 3.1 s",
            ),
        ],
        findings=[
            Finding(
                severity="failure",
                title="A request hung after the upstream came back",
                detail="One request never got an outcome: the client had no deadline.",
                mitigation="Give every client request a deadline (e.g. 30 s).",
            ),
            Finding(
                severity="warning",
                title="Slow detection",
                detail="The breaker opened 1.2 s after the upstream died.",
                mitigation="Lower --breaker-window or --breaker-min.",
            ),
        ],
        measurements={"time_to_detect_s": 1.2, "time_to_recover_s": 3.1, "peak_connections": 140.0},
        fault_counts={},
    )


def bare() -> ScenarioResult:
    """A scenario that could not run: no phases, no timeline, nothing measured."""
    return ScenarioResult(
        scenario="connection_storm",
        started_at="2026-11-28T01:00:42+00:00",
        duration_s=0.1,
        error="could not start the upstream: exit status 127",
    )


def skipped() -> ScenarioResult:
    """A scenario that does not apply to the target."""
    return ScenarioResult(
        scenario="upstream_failure",
        started_at="2026-11-28T01:00:43+00:00",
        duration_s=0.0,
        skipped="the target is a URL: the harness cannot kill a server it does not own",
    )


def inconclusive() -> ScenarioResult:
    """Every call a tool error: the baseline cannot be judged against; recovery cannot pass."""
    baseline = OutcomeCounts(tool_error=80, first_errors=["tool error: 'message' is a required property"])
    return ScenarioResult(
        scenario="intermittent_failures",
        started_at="2026-11-28T01:00:44+00:00",
        duration_s=5.0,
        phases=[
            PhaseRecord(
                name="baseline",
                started_s=0.0,
                ended_s=2.0,
                outcomes=baseline,
                accounting=Accounting(sent=80, answered=80, handshakes=4),
            ),
            PhaseRecord(
                name="recovery-1",
                started_s=2.0,
                ended_s=5.0,
                outcomes=OutcomeCounts(tool_error=100),
                accounting=Accounting(sent=100, answered=100),
            ),
        ],
        verdicts=[
            Verdict(
                name="nothing_lost", passed=True, rule="nothing is lost", detail="sent 180: answered 180"
            ),
            Verdict(
                name="recovery",
                passed=False,
                inconclusive=True,
                rule="back to the baseline",
                detail="the baseline is too weak to recover to",
            ),
        ],
        inconclusive="the baseline is too weak to judge against (baseline: 0 ok of 80 calls; "
        "first errors: tool error: 'message' is a required property)",
    )


def sample_journal(*, with_bare: bool = False, with_every_status: bool = False) -> Journal:
    scenarios = [gradual_degradation(), sudden_failure()]
    if with_bare:
        scenarios.append(bare())
    if with_every_status:
        scenarios += [skipped(), inconclusive()]
    return Journal(
        created_at="2026-11-28T01:00:00+00:00",
        command=["mcpchaos", "run", "suite", "--quick"],
        seed=1234,
        quick=True,
        target=TargetInfo(kind="demo", description="built-in demo server (HTTP)"),
        environment=Environment(
            mcpchaos="0.9.0", python="3.11.9", platform="Linux-6.1-x86_64", cpus=2, mcp_sdk="1.20.0"
        ),
        scenarios=scenarios,
    )
