"""The 2026-07-28 feature scenarios, quick-sized, against the demo server: each passes its
verdicts, and its own verdict fails against the demo's fragile mode made for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mcpchaos.harness.feature_scenario import FeatureParams, Step, missing_tools
from mcpchaos.harness.journal import ScenarioResult, Verdict
from mcpchaos.harness.scenarios import FEATURE_SCENARIOS
from mcpchaos.harness.scenarios.era_fallback import check_era_fallback
from mcpchaos.harness.scenarios.mrtr_under_faults import check_state_integrity
from mcpchaos.harness.stack import TargetSpec
from tests.harness.report.question_check import check_page, check_runbook, journal_of
from tests.harness.scenario_runs import failed, run_quick

# What the probe's main step saw in each fault phase, against the healthy demo.
EXPECTED: dict[str, tuple[str, dict[str, str]]] = {
    "era_fallback": ("call echo", {"discover_refused": "ok", "legacy_body": "ok"}),
    "mrtr_under_faults": (
        "call confirm",
        {
            "extra_round": "ok",  # the server ignored the answer it never asked for
            "undeclared_kind": "rejected",  # the SDK client: -32600 "Sampling not supported"
            "endless_loop": "gave_up",  # at the client's input_required_max_rounds
            "tampered_state": "rejected",  # the SDK server: -32602 Invalid or expired requestState
            "expired_state": "rejected",
            "replica_hop": "ok",  # the harness's replica shares the demo's requestState key
        },
    ),
    "subscription_resilience": (
        "listen",
        {
            "cut_stream": "lost",  # SubscriptionLost, not a graceful end
            "starve": "silent",  # the SDK has no liveness bound on a listen stream
            "unknown_id": "silent",  # the retagged event reaches the handler, not the stream
            "drop_ack": "no_ack",  # the listen fails at the client's read timeout
            "duplicate": "ok",
        },
    ),
    "task_resilience": (
        "follow a task",
        {
            "stuck_working": "stuck",
            "expired": "expired",
            "unknown_task": "mislabelled",
            "cancel_ignored": "ok",
        },
    ),
}

# Each scenario's fragile demo modes: its parameters (only the fault phases worth running against
# it; shorter waits for what will not come), the verdict that must catch it and words its detail
# must say.
FRAGILE: list[tuple[str, str, dict[str, Any], str, str]] = [
    ("era_fallback", "era-fallback", {}, "era_fallback", "cannot be reached in the fallback era"),
    (
        "mrtr_under_faults",
        "accept-tampered-state",
        {"only": ["tampered_state"]},
        "state_integrity",
        "accepted the altered requestState",
    ),
    (
        "mrtr_under_faults",
        "per-process-state",
        {"only": ["replica_hop"]},
        "replica_hop",
        "the requestState is bound to the process that sealed it",
    ),
    (
        "subscription_resilience",
        "sticky-subscription",
        {"only": [], "event_within_s": 0.5},
        "relisten_updates",
        "updates stopped after a re-listen",
    ),
    (
        "task_resilience",
        "stuck-tasks",
        {"only": [], "task_deadline_s": 0.5},
        "cancel_honoured",
        "the cancel was not honoured",
    ),
]


def verdict(result: ScenarioResult, name: str) -> Verdict:
    return next(v for v in result.verdicts if v.name == name)


def steps_seen(result: ScenarioResult) -> list[dict[str, Any]]:
    """The probe steps the verdicts' evidence holds, once each."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for v in result.verdicts:
        for step in v.evidence.get("steps", []):
            seen.setdefault((step["phase"], step["step"]), step)
    return list(seen.values())


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", list(FEATURE_SCENARIOS))
async def test_each_feature_scenario_passes_its_verdicts_against_the_demo_server(
    name: str, tmp_path: Path
) -> None:
    scenario = FEATURE_SCENARIOS[name]
    result = await run_quick(name, tmp_path)
    assert result.error is None, result.error
    assert [v.name for v in result.verdicts] == list(scenario.verdict_names)
    assert not failed(result), failed(result)
    assert result.status == "passed", result.inconclusive
    assert [p.name for p in result.phases] == ["warmup", "baseline", *scenario.untimed_phases, "recovery"]
    check_page(journal_of(result))  # the report answers its question, its findings read as a runbook
    check_runbook(journal_of(result))
    step, outcomes = EXPECTED[name]
    seen = {s["phase"]: s["outcome"] for s in steps_seen(result) if s["step"] == step}
    assert {phase: seen.get(phase) for phase in outcomes} == outcomes
    if name == "era_fallback":
        versions = {s["phase"]: s["extra"]["version"] for s in steps_seen(result) if s["step"] == "connect"}
        assert versions == {
            "baseline": "2026-07-28",
            "discover_refused": "2025-11-25",
            "legacy_body": "2025-11-25",
            "recovery": "2026-07-28",
        }


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("name", "mode", "params", "caught_by", "says"), FRAGILE, ids=[f[1] for f in FRAGILE]
)
async def test_each_feature_scenarios_own_verdict_fails_against_its_fragile_demo_mode(
    name: str, mode: str, params: dict[str, Any], caught_by: str, says: str, tmp_path: Path
) -> None:
    result = await run_quick(name, tmp_path, params, TargetSpec.parse(f"demo --fragile {mode}"))
    assert result.error is None, result.error
    caught = verdict(result, caught_by)
    assert not caught.passed, caught.detail
    assert not caught.inconclusive, caught.detail
    assert says in caught.detail
    assert result.status == "failed"
    # The target's fault, not the proxy's: the load beside the probe went on unharmed.
    assert verdict(result, "nothing_lost").passed, verdict(result, "nothing_lost").detail
    assert verdict(result, "no_exceptions").passed, verdict(result, "no_exceptions").detail


def test_the_fault_phases_each_scenario_names_are_the_cases_it_runs() -> None:
    for cls in FEATURE_SCENARIOS.values():
        scenario = cls()
        params = scenario.params_from(None, quick=True)
        assert isinstance(params, FeatureParams)
        assert [case.name for case in scenario.cases(params)] == list(cls.untimed_phases)


async def test_the_tools_a_probe_needs_are_looked_up_on_the_target(stateful_url: str) -> None:
    # A target without them is skipped with their names, not failed (a real server has no confirm).
    assert await missing_tools(stateful_url, ["confirm", "bump", "long_job"], 30) == []
    assert await missing_tools(stateful_url, ["confirm", "no_such_tool"], 30) == ["no_such_tool"]


def test_era_fallback_is_inconclusive_for_a_target_that_speaks_only_the_handshake_era() -> None:
    steps = [
        Step(phase, "connect", "ok", extra={"version": "2025-11-25"})
        for phase in ("baseline", "discover_refused", "recovery")
    ]
    judged = check_era_fallback(steps)
    assert judged.inconclusive
    assert "speaks only 2025-11-25" in judged.detail


def test_state_integrity_fails_a_refusal_that_never_comes() -> None:
    hung = Step("tampered_state", "call confirm", "hung", "no end within 5 s")
    refused = Step(
        "expired_state", "call confirm", "rejected", "JSON-RPC -32602 Invalid or expired requestState"
    )
    judged = check_state_integrity([hung, refused])
    assert not judged.passed
    assert "tampered_state: call confirm → hung" in judged.detail
    assert check_state_integrity([refused]).passed
