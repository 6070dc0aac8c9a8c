"""The CI gate: ``run --junit`` writes a JUnit report a JUnit reader takes (a test case per
verdict, failures with their detail), and ``run --baseline`` flags a regression."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from mcpchaos.harness.baseline import compare
from mcpchaos.harness.journal import (
    Environment,
    Journal,
    LatencySummary,
    OutcomeCounts,
    PhaseRecord,
    ScenarioResult,
    TargetInfo,
    Verdict,
)
from mcpchaos.harness.report.junit import write_junit


def journal(ok: int, errors: int, p99_ms: float, recover_s: float | None = 1.0) -> Journal:
    phase = PhaseRecord(
        name="faults",
        started_s=0,
        ended_s=1,
        outcomes=OutcomeCounts(ok=ok, error=errors),
        latency=LatencySummary(count=ok + errors, p99_ms=p99_ms),
    )
    passed = Verdict(name="no_hangs", passed=True, rule="no request hangs", detail="0 hung")
    failed = Verdict(name="recovery", passed=False, rule="recovers within 5 s", detail="after 7.1 s")
    return Journal(
        created_at="2026-12-01T00:00:00+00:00",
        seed=1,
        target=TargetInfo(kind="demo", description="the demo"),
        environment=Environment(mcpchaos="0", python="3.11", platform="linux", cpus=2),
        scenarios=[
            ScenarioResult(
                scenario="sudden_failure",
                started_at="2026-12-01T00:00:00+00:00",
                duration_s=12.5,
                phases=[phase],
                verdicts=[passed, failed],
                measurements={"time_to_recover_s": recover_s},
            ),
            ScenarioResult(
                scenario="network_partition", started_at="x", duration_s=0, skipped="not on stdio"
            ),
            ScenarioResult(
                scenario="cpu_exhaustion", started_at="x", duration_s=1, error="the proxy died\nbadly"
            ),
        ],
    )


def test_the_junit_report_reads_back_with_a_case_per_verdict(tmp_path: Path) -> None:
    path = tmp_path / "ci" / "junit.xml"
    write_junit(path, journal(90, 10, 40.0))
    suites = {suite.name: suite for suite in JUnitXml.fromfile(str(path))}
    assert set(suites) == {"sudden_failure", "network_partition", "cpu_exhaustion"}
    cases = {case.name: case for case in suites["sudden_failure"]}
    assert set(cases) == {"no_hangs", "recovery"}
    assert cases["no_hangs"].is_passed
    (failure,) = cases["recovery"].result
    assert isinstance(failure, Failure)
    assert failure.message == "after 7.1 s"
    assert "recovers within 5 s" in (failure.text or "")
    assert isinstance(next(iter(suites["network_partition"])).result[0], Skipped)
    assert isinstance(next(iter(suites["cpu_exhaustion"])).result[0], Error)
    assert (suites["sudden_failure"].tests, suites["sudden_failure"].failures) == (2, 1)


def test_the_baseline_flags_a_fall_in_success_and_a_longer_recovery_but_not_noise() -> None:
    old = journal(95, 5, 40.0, recover_s=1.0)
    assert not [c for c in compare(old, journal(92, 8, 60.0, recover_s=1.5)) if c.regressed]
    regressed = {c.name for c in compare(old, journal(60, 40, 40.0, recover_s=4.0)) if c.regressed}
    assert regressed == {"sudden_failure/faults: success", "sudden_failure: time to recover (s)"}
    slower = {c.name for c in compare(old, journal(95, 5, 200.0)) if c.regressed}
    assert slower == {"sudden_failure/faults: p99 (ms)"}


@pytest.mark.timeout(300)
def test_a_run_against_a_better_baseline_fails_and_its_junit_says_why(tmp_path: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1"}
    first = tmp_path / "first"
    run = [sys.executable, "-m", "mcpchaos", "run", "sudden_failure", "--quick", "--seed", "3"]
    run += ["--clients", "2", "--duration", "3"]
    done = subprocess.run([*run, "--out", str(first)], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    # A made-up earlier run where every phase succeeded fully: today's fault phase regressed.
    data = json.loads((first / "journal.json").read_text())
    # It was slow and slow to recover, so that only success regresses however loaded the
    # machine is for the second run (a loaded run's p99 doubled between two runs).
    for phase in data["scenarios"][0]["phases"]:
        phase["outcomes"] = {"ok": 1000}
        if phase["latency"].get("p99_ms") is not None:
            phase["latency"]["p99_ms"] = 60_000.0
    if data["scenarios"][0]["measurements"].get("time_to_recover_s") is not None:
        data["scenarios"][0]["measurements"]["time_to_recover_s"] = 600.0
    baseline = tmp_path / "better.json"
    baseline.write_text(json.dumps(data))
    junit = tmp_path / "junit.xml"
    second = [*run, "--out", str(tmp_path / "second"), "--baseline", str(baseline), "--junit", str(junit)]
    done = subprocess.run(second, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "regressed sudden_failure/" in done.stdout
    suites = {suite.name: suite for suite in JUnitXml.fromfile(str(junit))}
    failed = [case.name for case in suites["baseline"] if not case.is_passed]
    assert failed
    assert all(name.endswith(": success") for name in failed)
