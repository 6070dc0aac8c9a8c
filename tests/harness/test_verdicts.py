"""The verdict rules on made-up numbers: each passes what it should and fails what it should."""

from __future__ import annotations

import pytest

from mcpchaos.harness.journal import (
    Accounting,
    OutcomeCounts,
    PhaseRecord,
    ResourceSample,
    TimeBucket,
    phase_totals,
)
from mcpchaos.harness.runner import metrics_since
from mcpchaos.harness.verdicts import (
    baseline_problem,
    baseline_success,
    check_graceful_degradation,
    check_metrics_accurate,
    check_nothing_lost,
    explained_by_faults,
    leak_problems,
    server_process_counts,
    server_process_problems,
    time_to_recover,
)


def phase(
    name: str, ok: int, failed: int = 0, p: float | None = None, deadline: int = 0, tool_error: int = 0
) -> PhaseRecord:
    """A phase whose deadline outcomes were all sent requests (lost, silent)."""
    return PhaseRecord(
        name=name,
        started_s=0.0,
        ended_s=1.0,
        fault_probability=p,
        outcomes=OutcomeCounts(ok=ok, tool_error=tool_error, error=failed, deadline=deadline),
        accounting=Accounting(
            sent=ok + tool_error + failed + deadline,
            answered=ok + tool_error + failed,
            lost=deadline,
            silent=deadline,
        ),
    )


def ramp(successes: list[float], n: int = 1000) -> list[PhaseRecord]:
    levels = [i / (len(successes) - 1) for i in range(len(successes))]
    return [
        phase(f"p={p:.2f}", round(s * n), n - round(s * n), p) for p, s in zip(levels, successes, strict=True)
    ]


def test_success_that_follows_one_minus_p_degrades_gracefully() -> None:
    verdict = check_graceful_degradation(ramp([1.0, 0.79, 0.61, 0.4, 0.2, 0.0]), collapse_point=1.0)
    assert verdict.passed, verdict.detail


def test_a_cliff_before_the_collapse_point_fails() -> None:
    verdict = check_graceful_degradation(ramp([1.0, 0.5, 0.3, 0.2, 0.1, 0.0]), collapse_point=1.0)
    assert not verdict.passed
    assert verdict.evidence["cliffs"][0]["p"] == pytest.approx(0.2)


def test_levels_at_and_after_the_collapse_point_are_not_judged() -> None:
    verdict = check_graceful_degradation(ramp([1.0, 0.8, 0.6, 0.0, 0.0, 0.0]), collapse_point=0.6)
    assert verdict.passed, verdict.detail


def test_no_measured_level_is_not_a_pass() -> None:
    assert not check_graceful_degradation([], None).passed


@pytest.mark.parametrize(
    ("ok", "tool_errors"), [(0, 1000), (400, 600), (10, 0)], ids=["all-tool-errors", "40%", "10-calls"]
)
def test_a_baseline_without_enough_successes_makes_degradation_inconclusive(
    ok: int, tool_errors: int
) -> None:
    # Tool errors all the way: the curve sits "on" baseline × (1 − p) = 0 and could never fail.
    phases = [phase("baseline", ok, p=0.0, tool_error=tool_errors), *ramp([0.0, 0.0, 0.0])[1:]]
    verdict = check_graceful_degradation(phases, None, min_ok=20, min_success=0.5)
    assert not verdict.passed
    assert verdict.status == "inconclusive"
    assert "too weak" in verdict.detail


def test_a_weak_baseline_is_said_with_its_counts_and_first_errors() -> None:
    outcomes = OutcomeCounts(
        ok=1, tool_error=99, first_errors=["tool error: Input validation error: 'message' is required"]
    )
    said = baseline_problem(outcomes, min_ok=20, min_success=0.5)
    assert said is not None
    assert "1 ok of 100 calls (1.0% success; at least 20 ok and 50% needed)" in said
    assert "99 tool errors" in said
    assert "'message' is required" in said
    assert baseline_problem(OutcomeCounts(ok=20, error=20), min_ok=20, min_success=0.5) is None


def test_a_baselines_injected_errors_are_left_out_of_its_strength() -> None:
    # Measured under load: 38 of a baseline's 69 calls were in flight when the next phase's
    # "every request fails" went in. Those say nothing about the target.
    in_flight = OutcomeCounts(ok=31, error=38, injected=38)
    assert baseline_problem(in_flight, min_ok=20, min_success=0.5) is None
    assert baseline_success(in_flight) == 1.0
    failing = OutcomeCounts(ok=31, error=38, injected=2)
    said = baseline_problem(failing, min_ok=20, min_success=0.5)
    assert said is not None
    assert "31 ok of 69 calls (2 failed by an injected fault, left out) (46.3% success" in said


def bucket(t: float, ok: int, failed: int, name: str = "recovery") -> TimeBucket:
    return TimeBucket(t_s=t, width_s=0.5, phase=name, outcomes=OutcomeCounts(ok=ok, error=failed))


def test_recovery_time_is_the_first_bucket_from_which_success_stays_up() -> None:
    record = PhaseRecord(name="recovery", started_s=10.0, ended_s=12.0)
    timeline = [bucket(10.0, 5, 5), bucket(10.5, 10, 0), bucket(11.0, 3, 7), bucket(11.5, 10, 0)]
    assert time_to_recover(timeline, record, target=0.99) == pytest.approx(1.5)


def test_a_bucket_straddling_the_phase_start_or_end_is_not_judged() -> None:
    record = PhaseRecord(name="recovery", started_s=10.2, ended_s=11.2)
    # 9.75 and 11.0 straddle the phase's edges: only 10.25 and 10.75 count.
    timeline = [bucket(9.75, 0, 10), bucket(10.25, 10, 0), bucket(10.75, 10, 0), bucket(11.0, 0, 10)]
    assert time_to_recover(timeline, record, target=0.99) == pytest.approx(0.05)


def test_a_phase_that_never_gets_back_has_no_recovery_time() -> None:
    record = PhaseRecord(name="recovery", started_s=0.0, ended_s=2.0)
    assert time_to_recover([bucket(0.0, 10, 0), bucket(1.0, 1, 9)], record, target=0.99) is None


def totals(phases: list[PhaseRecord], duplicated: int = 0) -> Accounting:
    return phase_totals(phases).accounting.model_copy(update={"duplicated": duplicated})


def test_an_unanswered_request_nothing_explains_is_lost() -> None:
    phases = [phase("baseline", 99, deadline=1)]
    verdict = check_nothing_lost(phases, set(), [], 2.0, totals(phases))
    assert not verdict.passed
    assert verdict.evidence["unexplained_lost"] == 1
    assert verdict.detail.startswith("sent 100: answered 99, lost 1 (0 told by a transport failure, 1 silent")


def test_nothing_sent_is_not_nothing_lost() -> None:
    phases = [phase("baseline", 0)]
    verdict = check_nothing_lost(phases, set(), [], 2.0, totals(phases))
    assert verdict.status == "inconclusive"


def test_drops_and_requests_in_flight_when_an_outage_began_explain_silence() -> None:
    phases = [
        phase("baseline", 96, deadline=4),
        phase("outage", 0, deadline=50),
        phase("faults", 90, deadline=3),
    ]
    drops = [{"fault": "drop", "direction": "client_to_server"}] * 3
    verdict = check_nothing_lost(phases, {"outage"}, drops, 2.0, totals(phases), in_flight_bound=4)
    assert verdict.passed, verdict.detail
    # The same words as the counts: lost 57 = 50 during the outage + 7 outside it.
    assert "lost 57 (0 told by a transport failure, 57 silent: 50 during outages, 7 outside" in verdict.detail


def test_duplicates_beyond_the_injected_ones_are_reported() -> None:
    records = [{"fault": "duplicate", "direction": "server_to_client"}]
    phases = [phase("baseline", 10)]
    verdict = check_nothing_lost(phases, set(), records, 2.0, totals(phases, duplicated=2))
    assert not verdict.passed
    assert verdict.evidence["unexplained_duplicated"] == 1


def test_a_corrupted_method_is_no_excuse_for_silence_but_a_destroyed_id_is() -> None:
    method = {"fault": "corruption", "direction": "client_to_server", "params": {"mode": "method_suffix"}}
    truncated = {"fault": "corruption", "direction": "client_to_server", "params": {"mode": "truncated_json"}}
    assert explained_by_faults([method], 2.0)["silences"] == 0
    assert explained_by_faults([truncated], 2.0)["silences"] == 1


def sample(fds: int, rss_mib: int, children: int = 0, tasks: int = 5) -> ResourceSample:
    return ResourceSample(
        t_s=0, process="proxy", fds=fds, rss_bytes=rss_mib * 2**20, children=children, tasks=tasks
    )


def test_kept_alive_connections_are_not_a_leak_but_thousands_of_fds_are() -> None:
    assert leak_problems(sample(40, 60), sample(70, 62), concurrency=8) == []
    assert leak_problems(sample(40, 60), sample(2040, 62), concurrency=8)


def test_a_child_process_or_tasks_left_behind_or_doubled_memory_are_leaks() -> None:
    assert leak_problems(sample(40, 60), sample(40, 60, children=1))
    assert leak_problems(sample(40, 60), sample(40, 60, tasks=50))
    assert leak_problems(sample(40, 100), sample(40, 300))


def test_server_processes_past_the_limit_or_outliving_the_load_fail_naming_the_counts() -> None:
    baseline = {"started": 4, "alive": 4, "refused": 0}
    assert server_process_problems(baseline, {"started": 9, "alive": 4, "refused": 0}, limit=200) == []
    assert server_process_counts({"started": 9, "alive": 4}, 200) == (
        "server processes: 9 started (limit 200), 4 alive at the end"
    )
    (storm,) = server_process_problems(baseline, {"started": 200, "alive": 4, "refused": 37}, limit=200)
    assert "200 started, the limit of 200 reached (37 new session(s) refused)" in storm
    (left,) = server_process_problems(baseline, {"started": 9, "alive": 6, "refused": 0}, limit=200)
    assert left == "server processes: 6 of 9 started still alive at the end, 4 at baseline"


def test_metrics_reconcile_exactly_or_fail() -> None:
    metrics = {
        "messages": [
            {"direction": "client_to_server", "kind": "request", "method": "tools/call", "count": 10}
        ],
        "faults_total": 2,
    }
    log = [
        {"fault": "error", "direction": "client_to_server", "params": {"error_type": "internal_error"}}
    ] * 2
    assert check_metrics_accurate(10, 2, metrics, log).passed
    assert not check_metrics_accurate(9, 2, metrics, log).passed
    assert not check_metrics_accurate(10, 1, metrics, log).passed
    assert not check_metrics_accurate(10, 2, metrics, log[:1]).passed


def test_handshakes_that_timed_out_are_named_and_reconcile_the_proxys_count() -> None:
    # 4 clients whose first initialize timed out: the proxy saw 4 requests the calls do not explain.
    metrics = {"messages": [{"direction": "client_to_server", "kind": "request", "method": "x", "count": 37}]}
    assert not check_metrics_accurate(33, 0, metrics, []).passed
    verdict = check_metrics_accurate(29, 0, metrics, [], handshakes=8, handshakes_failed=4)
    assert verdict.passed, verdict.detail
    assert verdict.detail.startswith("37 requests (29 calls + 8 handshakes, 4 of which opened no session)")
    assert check_metrics_accurate(0, 0, {}, []).status == "inconclusive"


def test_an_attached_proxys_history_is_taken_off_its_counters() -> None:
    start = {
        "messages": [{"direction": "client_to_server", "kind": "request", "method": "ping", "count": 5}],
        "faults_total": 3,
    }
    now = {
        "messages": [{"direction": "client_to_server", "kind": "request", "method": "ping", "count": 8}],
        "faults_total": 4,
    }
    delta = metrics_since(now, start)
    assert delta["messages"][0]["count"] == 3
    assert delta["faults_total"] == 1
