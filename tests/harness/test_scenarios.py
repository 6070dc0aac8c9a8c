"""Every scenario, quick-sized, against the demo server: it runs to the end and passes its verdicts."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from mcpchaos.harness.scenarios import SCENARIOS
from mcpchaos.harness.stack import TargetSpec
from tests.harness.conftest import SuiteRun
from tests.harness.report.question_check import check_page, check_runbook, journal_of
from tests.harness.scenario_runs import failed, run_quick


@pytest.mark.timeout(960)  # the first of them waits for the shared run (tests/harness/conftest.py)
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_scenario_passes_its_verdicts_against_the_demo_server(name: str, quick_suite: SuiteRun) -> None:
    result = quick_suite.result(name)
    assert result.error is None, result.error
    assert result.skipped is None, result.skipped
    assert result.verdicts, "a scenario must be judged"
    assert not failed(result), failed(result)
    empty = [p.name for p in result.phases if p.outcomes.total == 0 and p.name != "warmup"]
    assert not empty, f"phases without any request: {empty}"
    assert result.status == "passed", result.inconclusive
    assert result.timeline
    assert result.ready_after_s is not None  # start-up measured
    assert result.ready_after_s > 0
    # The report answers the scenario's question (its figures, captions, the runbook).
    check_page(journal_of(result))
    check_runbook(journal_of(result))
    if name == "cascading_failure":  # judged with the breaker, compared without it
        with_breaker = result.measurements["independent_success_with_breaker"]
        without_breaker = result.measurements["independent_success_without_breaker"]
        assert with_breaker is not None
        assert without_breaker is not None
        assert with_breaker > without_breaker + 0.1, result.measurements


BARE_ERRORS = {"enabled_faults": {"error": True}, "error_config": {"types": ["internal_error"]}}
"""What a user writes: no match, so the default targeting (calls, not the handshake)."""


@pytest.mark.timeout(120)
@pytest.mark.parametrize("fault_config", [None, BARE_ERRORS], ids=["generated", "bare-user-config"])
async def test_the_collapse_point_of_error_faults_lands_where_theory_says(
    tmp_path: Path, fault_config: dict[str, object] | None
) -> None:
    # The default semantics: p is the chance a call gets a fault (one draw per call, the
    # handshake left alone), so error faults at p leave success ≈ 1 − p. Levels 0, 0.2 … 1 and
    # the collapse threshold at 30%, midway between 0.6 (40% left) and 0.8 (20% left): p = 0.8.
    params = {"collapse_below": 0.3, "steps": 6, "fault_config": fault_config}
    result = await run_quick("gradual_degradation", tmp_path, params)
    assert not failed(result), failed(result)
    assert result.collapse_point == pytest.approx(0.8), result.collapse_point
    for phase in result.phases:
        n = phase.outcomes.total
        if phase.fault_probability is None or n == 0:
            continue
        expected = 1 - phase.fault_probability
        tolerance = 0.05 + 4 * math.sqrt(expected * (1 - expected) / n)
        assert abs((phase.outcomes.success_rate or 0) - expected) <= tolerance, (phase.name, phase.outcomes)


@pytest.mark.timeout(120)
async def test_the_cascade_collapses_without_the_breaker_and_holds_with_it(tmp_path: Path) -> None:
    # The suite's run (breaker on) compares both; this one is judged without the breaker.
    result = await run_quick("cascading_failure", tmp_path, {"breaker": False, "compare": False})
    isolation = next(v for v in result.verdicts if v.name == "isolation")
    assert not isolation.passed, isolation.detail
    assert any(f.title.startswith("a hung dependency") for f in result.findings)


@pytest.mark.timeout(60)
async def test_a_scenario_that_cannot_kill_a_url_target_is_skipped_not_failed(tmp_path: Path) -> None:
    result = await run_quick("upstream_failure", tmp_path, target=TargetSpec.parse("http://127.0.0.1:9/mcp"))
    assert result.skipped is not None
    assert result.status == "skipped"
    assert not result.passed  # skipped is its own word, never a pass


@pytest.mark.timeout(60)
async def test_a_target_that_never_works_is_inconclusive_and_says_why(tmp_path: Path) -> None:
    result = await run_quick(
        "sudden_failure", tmp_path, target=TargetSpec.parse("no-such-mcp-server --stdio")
    )
    assert not result.passed
    assert result.status in ("inconclusive", "failed")
    assert result.inconclusive is not None
    assert "no call succeeded under healthy conditions" in result.inconclusive
    assert "no-such-mcp-server" in result.inconclusive  # the proxy's own words
    assert next(v for v in result.verdicts if v.name == "recovery").status == "inconclusive"
