"""``mcpchaos run`` and ``mcpchaos scenarios`` from the shell: exit codes, files, messages."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from mcpchaos.harness.scenarios import ALL_SCENARIOS, FEATURE_SCENARIOS


def mcpchaos(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcpchaos", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_scenarios_lists_every_scenario_the_suite_and_the_feature_scenarios() -> None:
    listed = mcpchaos("scenarios")
    assert listed.returncode == 0
    names = [line.split()[0] for line in listed.stdout.splitlines()]
    assert names == [*ALL_SCENARIOS, "suite", "features"]


def test_the_suite_leaves_the_feature_scenarios_to_features() -> None:
    from mcpchaos.cli.run_command import plan

    suite = [s.name for s, _ in plan("suite", {}, True, "params")]
    assert not set(suite) & set(FEATURE_SCENARIOS)
    assert [s.name for s, _ in plan("features", {}, True, "params")] == list(FEATURE_SCENARIOS)
    assert [s.name for s, _ in plan("task_resilience,sudden_failure", {}, True, "params")] == [
        "sudden_failure",
        "task_resilience",
    ]


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
        (["run", "sudden_failure,no_such_scenario"], "unknown scenario(s) no_such_scenario"),
    ],
)
def test_an_unknown_scenario_is_a_usage_error(args: list[str], message: str) -> None:
    result = mcpchaos(*args)
    assert result.returncode == 2
    assert message in result.stderr


def test_names_joined_by_commas_run_that_part_of_the_suite_in_suite_order_with_its_parameters() -> None:
    from mcpchaos.cli.run_command import plan

    raw = {"defaults": {"baseline_s": 2.0}, "sudden_failure": {"baseline_s": 3.0}}
    chosen = plan("upstream_failure,sudden_failure", raw, True, "params")
    assert [(s.name, params["baseline_s"]) for s, params in chosen if params] == [
        ("sudden_failure", 3.0),
        ("upstream_failure", 2.0),
    ]


def test_a_feature_scenario_told_to_run_a_phase_it_lacks_is_a_usage_error(tmp_path: Path) -> None:
    params = tmp_path / "only.yaml"
    params.write_text("only: [cut_stream]\n")
    result = mcpchaos("run", "era_fallback", "--params", str(params), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "era_fallback: only names no fault phase cut_stream; its fault phases are discover_refused" in (
        result.stderr
    )


def test_a_parameter_file_with_a_wrong_field_stops_before_anything_runs(tmp_path: Path) -> None:
    params = tmp_path / "chaos.yaml"
    params.write_text("gradual_degradation:\n  stepz: 3\n  load: {clients: -1}\n")
    result = mcpchaos("run", "suite", "--params", str(params), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "stepz: unknown field" in result.stderr
    assert "load.clients" in result.stderr
    assert not (tmp_path / "out").exists()


@dataclass
class PipedRun:
    returncode: int
    stdout: str
    stderr: str
    out: Path


@pytest.fixture(scope="module")
def piped_run(tmp_path_factory: pytest.TempPathFactory) -> PipedRun:
    """One quick run with the load flags, its stdout through ``| cat`` (shared by the tests below)."""
    out = tmp_path_factory.mktemp("run") / "report"
    command = [
        sys.executable, "-m", "mcpchaos", "run", "sudden_failure", "--quick", "--seed", "3",
        "--clients", "2", "--duration", "3", "--rate", "40", "--out", str(out),
    ]  # fmt: skip
    stderr = out.parent / "stderr.txt"
    script = f"set -o pipefail; {shlex.join(command)} 2>{shlex.quote(str(stderr))} | cat"
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=110, check=False)
    return PipedRun(result.returncode, result.stdout, stderr.read_text(), out)


@pytest.mark.timeout(120)
def test_a_quick_run_writes_the_journal_and_reports_and_exits_0(piped_run: PipedRun) -> None:
    assert piped_run.returncode == 0, piped_run.stderr[-3000:]
    journal = json.loads((piped_run.out / "journal.json").read_text())
    assert journal["seed"] == 3
    assert journal["scenarios"][0]["scenario"] == "sudden_failure"
    assert "<svg" in (piped_run.out / "report.html").read_text()
    assert "sudden_failure" in (piped_run.out / "findings.md").read_text()


@pytest.mark.timeout(120)
def test_the_verdict_table_goes_to_stdout_through_a_pipe_and_progress_to_stderr(piped_run: PipedRun) -> None:
    assert piped_run.returncode == 0, piped_run.stderr[-3000:]
    for verdict in ("no_exceptions", "no_hangs", "nothing_lost", "recovery"):
        assert verdict in piped_run.stdout
    assert "passed: 1 passed, 0 failed, 0 inconclusive, 0 skipped" in piped_run.stdout
    assert f"journal: {piped_run.out / 'journal.json'}" in piped_run.stdout
    assert "\x1b[" not in piped_run.stdout  # no terminal colours into a pipe
    assert "phase baseline" in piped_run.stderr  # progress
    assert "no_exceptions" not in piped_run.stderr
    assert "verdict" not in piped_run.stderr
    assert "journal:" not in piped_run.stderr


@pytest.mark.timeout(120)
def test_load_flags_make_that_many_clients_send_at_that_rate_for_that_long(piped_run: PipedRun) -> None:
    assert piped_run.returncode == 0, piped_run.stderr[-3000:]
    scenario = json.loads((piped_run.out / "journal.json").read_text())["scenarios"][0]
    assert scenario["params"]["load"]["clients"] == 2
    assert scenario["proxy_metrics"]["sessions"]["created"] == 2  # one MCP session per client
    timed = (
        scenario["params"]["baseline_s"] + scenario["params"]["failure_s"] + scenario["params"]["recovery_s"]
    )
    assert timed == pytest.approx(3.0, abs=0.01)
    # The harness's event loop times the phases, so they run a little over (more on a busy
    # machine; 2.7 s measured for --duration 2 under load); without the flag the quick phases take 5.5 s.
    ran = sum(phase["ended_s"] - phase["started_s"] for phase in scenario["phases"])
    assert 3.0 <= ran < 5.5, scenario["phases"]
    load = scenario["params"]["load"]
    assert (load["mode"], load["rate_per_s"]) == ("open", 40)
    sent = sum(
        sum(phase["outcomes"].get(kind, 0) for kind in ("ok", "tool_error", "error", "transport", "deadline"))
        for phase in scenario["phases"]
    )
    assert 0.5 * 40 * ran <= sent <= 1.3 * 40 * ran, (sent, ran)  # arrivals on a clock, not on answers


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--clients", "0"], "--clients: '0' must be 1 or more"),
        (["--duration", "0"], "--duration: '0' must be more than 0"),
        (["--rate", "fast"], "--rate: 'fast' is not a number"),
        (["--duration", "100000"], "(sudden_failure): 3 problem(s)"),
    ],
)
def test_a_bad_load_flag_is_a_usage_error_before_anything_runs(
    flags: list[str], message: str, tmp_path: Path
) -> None:
    result = mcpchaos("run", "sudden_failure", *flags, "--out", str(tmp_path / "out"))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert not (tmp_path / "out").exists()


def test_duration_on_a_scenario_with_an_untimed_phase_warns_and_says_which(tmp_path: Path) -> None:
    # An --out that cannot be made stops the run once the flags are applied: only the warning is tested.
    (tmp_path / "file").write_text("")
    result = mcpchaos("run", "connection_storm", "--duration", "3", "--out", str(tmp_path / "file" / "out"))
    assert result.returncode == 2
    assert "warning: connection_storm: --duration 3 sets its timed phases" in result.stderr
    assert "its storm phase lasts as long as its work takes" in result.stderr


@pytest.mark.timeout(90)
def test_a_run_with_a_failed_verdict_exits_1_and_says_failed(tmp_path: Path) -> None:
    out = tmp_path / "report"
    target = "demo --fragile leak-fds"  # no_leaks catches it
    result = mcpchaos("run", "sudden_failure", "--quick", "--target", target, "--out", str(out), timeout=80)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "failed: 0 passed, 1 failed, 0 inconclusive, 0 skipped" in result.stdout + result.stderr
    assert json.loads((out / "journal.json").read_text())["status"] == "failed"
