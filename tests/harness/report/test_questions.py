"""Each scenario's report answers its question (issue 16, item 6), on hand-made journals for
the cases a real run cannot produce on demand; the real quick runs are checked the same way in
tests/harness/test_scenarios.py and test_report_consistency.py (question_check)."""

from __future__ import annotations

import re

from mcpchaos.harness.journal import (
    Accounting,
    Event,
    OutcomeCounts,
    PhaseRecord,
    ResourceSample,
    ScenarioResult,
    TimeBucket,
    Verdict,
)
from mcpchaos.harness.report import figures, render_html, render_markdown, svg
from tests.harness.report.question_check import (
    check_page,
    check_runbook,
    journal_of,
    marker_labels,
    overlaps,
    plots_of,
    sections,
)
from tests.harness.report.sample import gradual_degradation, sample_journal, sudden_failure


def _charts(result: ScenarioResult) -> dict[str, str]:
    (section,) = sections(render_html(journal_of(result)))
    return plots_of(section)


def test_the_sample_reports_follow_every_rule_of_the_question() -> None:
    journal = sample_journal(with_bare=True, with_every_status=True)
    check_page(journal)
    check_runbook(journal)


def test_one_fault_level_draws_no_success_against_probability_plot() -> None:
    phases = [
        p.model_copy(update={"fault_probability": 0.3 if p.name == "upstream killed" else None})
        for p in sudden_failure().phases
    ]
    one_level = sudden_failure().model_copy(update={"phases": phases, "scenario": "cpu_exhaustion"})
    assert "Success rate against fault probability" not in _charts(one_level)
    assert "Collapse point" not in render_markdown(journal_of(one_level))
    assert "Success rate against fault probability" in _charts(gradual_degradation())  # 11 levels


def test_a_faults_marker_only_where_faults_were_injected() -> None:
    events = [Event(t_s=0.1, kind="faults", detail="cleared"), Event(t_s=5.0, kind="upstream_killed")]
    clean = sudden_failure().model_copy(update={"events": events, "fault_counts": {}})
    labels = marker_labels(_charts(clean)["Recovery timeline: success rate per time bucket"])
    assert labels == ["upstream_killed"]
    events.insert(1, Event(t_s=2.0, kind="faults", detail="p=0.5 error"))
    faulted = clean.model_copy(update={"events": events, "fault_counts": {"error": 40}})
    labels = marker_labels(_charts(faulted)["Recovery timeline: success rate per time bucket"])
    assert labels == ["faults cleared", "faults p=0.5 error", "upstream_killed"]


def test_long_phase_names_and_close_events_get_labels_that_do_not_overlap() -> None:
    names = [
        "baseline",
        "dependency_down",
        "recovery",
        "switch-without-breaker",
        "baseline-without-breaker",
        "dependency_down-without-breaker",
        "recovery-without-breaker",
        "warmup",
    ]
    phases = [
        PhaseRecord(
            name=n,
            started_s=i * 0.5,
            ended_s=i * 0.5 + 0.5,
            outcomes=OutcomeCounts(ok=10),
            accounting=Accounting(sent=10, answered=10),
        )
        for i, n in enumerate(names)
    ]
    timeline = [
        TimeBucket(
            t_s=i * 0.25, width_s=0.25, phase="x", outcomes=OutcomeCounts(ok=5), p50_ms=1.0, p99_ms=2.0
        )
        for i in range(16)
    ]
    events = [Event(t_s=1.0 + i * 0.05, kind=f"event_{i}") for i in range(5)]
    crowded = sudden_failure().model_copy(update={"phases": phases, "timeline": timeline, "events": events})
    charts = _charts(crowded)
    assert set(charts) >= {
        "Latency over time",
        "Outcome shares per phase",
        "Recovery timeline: success rate per time bucket",
    }
    for title, chart in charts.items():
        assert not overlaps(chart), (title, overlaps(chart))
    for name in names:  # every name is still written out
        assert f">{name}</text>" in charts["Outcome shares per phase"]
    # The check itself sees two labels in one place.
    assert overlaps(
        '<text x="10" y="20" text-anchor="start" font-size="9">a label</text>'
        '<text x="14" y="22" text-anchor="start" font-size="9">another</text>'
    )


def test_outcomes_are_drawn_as_shares_of_each_phase() -> None:
    healthy = PhaseRecord(name="healthy", started_s=0, ended_s=1, outcomes=OutcomeCounts(ok=150, error=50))
    tiny = PhaseRecord(name="tiny", started_s=1, ended_s=2, outcomes=OutcomeCounts(ok=1, deadline=1))
    result = sudden_failure().model_copy(update={"phases": [healthy, tiny]})
    bars = _charts(result)["Outcome shares per phase"]
    assert "healthy: ok 75.0% (150 of 200 calls)" in bars
    assert "tiny: ok 50.0% (1 of 2 calls)" in bars
    heights = {t: float(h) for h, t in re.findall(r'height="([\d.]+)" fill="[^"]+"><title>([^:]+): ok', bars)}
    assert heights["healthy"] > heights["tiny"]  # 75% against 50%, whatever the counts


def _sampled(resource: str, values: list[int]) -> list[ResourceSample]:
    return [
        ResourceSample(t_s=i * 0.5, process="proxy", rss_bytes=(50 + i) * 2**20, **{resource: v})
        for i, v in enumerate(values)
    ]


def test_open_connections_are_drawn_against_the_limit() -> None:
    storm = sudden_failure().model_copy(
        update={
            "scenario": "connection_storm",
            "params": {"max_connections": 100},
            "resources": _sampled("connections", [4, 4, 100, 100, 4]),
        }
    )
    charts = _charts(storm)
    limit = charts["Open connections against the limit"]
    assert ">--max-connections</text>" in limit
    assert re.search(rf'<polyline [^>]*stroke="{svg.VERMILLION}"[^>]*stroke-dasharray', limit)
    assert "Memory (RSS) over time" in charts
    check_page(journal_of(storm))
    # Only the labelled baseline, peak and final: no curve to draw.
    labelled = [s.model_copy(update={"label": "peak"}) for s in storm.resources]
    assert "Open connections against the limit" not in _charts(
        storm.model_copy(update={"resources": labelled})
    )


def test_sessions_and_memory_are_drawn_over_time() -> None:
    pressure = sudden_failure().model_copy(
        update={
            "scenario": "memory_pressure",
            "params": {"max_sessions": 10, "concurrency": 5, "load": {"clients": 2}},
            "resources": _sampled("sessions", [2, 8, 14, 10, 10]),
        }
    )
    charts = _charts(pressure)
    assert "Sessions against the limit" in charts
    assert "handshakes still in flight" in render_html(journal_of(pressure))  # how to read the overshoot
    check_page(journal_of(pressure))


def test_the_independent_load_gets_its_own_line() -> None:
    base = sudden_failure()
    independent = [b.model_copy(update={"outcomes": OutcomeCounts(ok=9, deadline=1)}) for b in base.timeline]
    cascade = base.model_copy(
        update={"scenario": "cascading_failure", "other_timelines": {"independent": independent}}
    )
    check_page(journal_of(cascade))
    assert "The dashed line is the independent load" in render_html(journal_of(cascade))


def test_the_table_of_contents_lists_every_scenario_and_its_plots() -> None:
    page = render_html(sample_journal(with_every_status=True))
    toc = page.split('<nav class="toc">', 1)[1].split("</nav>", 1)[0]
    for name in ("gradual_degradation", "sudden_failure", "upstream_failure", "intermittent_failures"):
        assert f">{name}</a>" in toc
    assert toc.count(">Latency over time</a>") == 2
    assert page.index('<nav class="toc">') < page.index('id="summary"')


def test_the_runbook_writes_a_rule_shared_by_two_scenarios_once() -> None:
    rule = "every request ends by its deadline"
    first = sudden_failure()
    second = first.model_copy(
        update={
            "scenario": "network_partition",
            "verdicts": [Verdict(name="no_hangs", passed=True, rule=rule, detail="0 hung")],
            "mitigation": "Give every request a deadline.",
        }
    )
    text = render_markdown(journal_of(first, second))
    assert text.count(rule) == 1
    assert f"| no_hangs | {rule} | sudden_failure, network_partition |" in text
    assert "- Give every request a deadline." in text
    check_runbook(journal_of(first, second))


def test_measurements_are_rounded_with_their_units() -> None:
    assert figures.measurement("independent_success_with_breaker", 0.964286) == "96.4%"
    assert figures.measurement("independent_baseline_success_with_breaker", 1.0) == "100.0%"
    assert figures.measurement("sessions_opened", 500.0) == "500 sessions"
    assert figures.measurement("storm_rejected_503", 500.0) == "500 connections"
    assert figures.measurement("proxy_peak_rss_mb", 69.1234) == "69.1 MiB"
    assert figures.measurement("herd_started_s", 3.14159) == "3.14 s"
    assert figures.measurement("probe_max_ms", 12.345) == "12.3 ms"
    assert figures.measurement("collapse_point", 0.8) == "p = 0.8"
