"""``mcpchaos run`` and ``mcpchaos scenarios`` from the shell: exit codes, files, messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mcpchaos.harness.scenarios import SCENARIOS


def mcpchaos(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcpchaos", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_scenarios_lists_every_scenario_and_the_suite() -> None:
    listed = mcpchaos("scenarios")
    assert listed.returncode == 0
    names = [line.split()[0] for line in listed.stdout.splitlines()]
    assert names == [*SCENARIOS, "suite"]


def test_scenarios_name_prints_its_parameters_as_yaml_that_run_accepts(tmp_path: Path) -> None:
    shown = mcpchaos("scenarios", "gradual_degradation", "--quick")
    assert shown.returncode == 0
    params = yaml.safe_load(shown.stdout)
    assert params["steps"] == 11
    assert params["load"]["clients"] == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "no_such_scenario"], "unknown scenario 'no_such_scenario'"),
        (["scenarios", "no_such_scenario"], "unknown scenario 'no_such_scenario'"),
    ],
)
def test_an_unknown_scenario_is_a_usage_error(args: list[str], message: str) -> None:
    result = mcpchaos(*args)
    assert result.returncode == 2
    assert message in result.stderr


def test_a_parameter_file_with_a_wrong_field_stops_before_anything_runs(tmp_path: Path) -> None:
    params = tmp_path / "chaos.yaml"
    params.write_text("gradual_degradation:\n  stepz: 3\n  load: {clients: -1}\n")
    result = mcpchaos("run", "suite", "--params", str(params), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "stepz: unknown field" in result.stderr
    assert "load.clients" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.timeout(90)
def test_a_quick_run_writes_the_journal_and_reports_and_exits_0(tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = mcpchaos("run", "sudden_failure", "--quick", "--seed", "3", "--out", str(out), timeout=80)
    assert result.returncode == 0, result.stderr[-3000:]
    journal = json.loads((out / "journal.json").read_text())
    assert journal["seed"] == 3
    assert journal["scenarios"][0]["scenario"] == "sudden_failure"
    assert "<svg" in (out / "report.html").read_text()
    assert "sudden_failure" in (out / "findings.md").read_text()
    assert "passed: 1 passed, 0 failed, 0 inconclusive, 0 skipped" in result.stdout + result.stderr


@pytest.mark.timeout(90)
def test_a_run_with_a_failed_verdict_exits_1_and_says_failed(tmp_path: Path) -> None:
    out = tmp_path / "report"
    target = "demo --fragile leak-fds"  # no_leaks catches it
    result = mcpchaos("run", "sudden_failure", "--quick", "--target", target, "--out", str(out), timeout=80)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "failed: 0 passed, 1 failed, 0 inconclusive, 0 skipped" in result.stdout + result.stderr
    assert json.loads((out / "journal.json").read_text())["status"] == "failed"
