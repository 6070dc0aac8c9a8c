"""``mcpchaos judge`` from the shell: its help, its usage mistakes (exit 2, one line), and two
real runs: a well-behaved client finding the server through ``{url}`` (exit 0, the reports and
JUnit written) and a fragile one through ``$MCPCHAOS_SERVER_URL`` (exit 1, the finding said)."""

from __future__ import annotations

import sys
from pathlib import Path

import junitparser
import orjson
import pytest

from tests.cli.test_mistakes import mcpchaos, one_line_error

CLIENT = str(Path(__file__).parents[1] / "clients" / "judged_client.py")


def test_the_help_says_how_a_client_finds_the_server_and_what_it_must_do() -> None:
    text = mcpchaos("judge", "--help").stdout
    for needle in ("{url}", "{command}", "MCPCHAOS_SERVER_URL", "MCPCHAOS_SERVER_COMMAND", "exit status"):
        assert needle in text
    assert "What a judged client is expected to do" in text


def test_list_names_every_client_scenario() -> None:
    from mcpchaos.harness.judge.scenarios import SCENARIOS

    listed = mcpchaos("judge", "--list").stdout.split()
    assert all(name in listed for name in SCENARIOS)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "judge needs the client to run"),
        (["--scenario", "nope", "--", "true"], "--scenario: unknown nope"),
        (["--scenario", "hung_call", "--faults", "x.yaml", "--", "true"], "give one"),
        (["--tape", "/nonexistent.tape", "--", "true"], "cannot read the tape"),
        (["--faults", "/nonexistent.yaml", "--", "true"], "nonexistent.yaml"),
        (["--", "no-such-client-program", "{url}"], "'no-such-client-program' was not found"),
        (["--target", "http://127.0.0.1:9/mcp", "--", "true"], "127.0.0.1:9"),
    ],
)
def test_a_usage_mistake_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    assert message in one_line_error(mcpchaos("judge", *args))


def test_a_well_behaved_client_passes_and_the_reports_are_written(tmp_path: Path) -> None:
    junit = tmp_path / "judge.xml"
    result = mcpchaos(
        "judge",
        "--scenario",
        "rate_limited,session_expiry",
        "--out",
        str(tmp_path),
        "--junit",
        str(junit),
        "--",
        sys.executable,
        CLIENT,
        "{url}",
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed: 2 passed" in result.stdout
    journal = orjson.loads((tmp_path / "journal.json").read_bytes())
    assert [s["scenario"] for s in journal["scenarios"]] == ["rate_limited", "session_expiry"]
    assert (tmp_path / "report.html").exists()
    assert (tmp_path / "work" / "session_expiry.tape").exists()
    cases = [case for suite in junitparser.JUnitXml.fromfile(str(junit)) for case in suite]
    assert {case.name for case in cases} >= {"honours_retry_after", "reinitializes_after_404"}


def test_a_scenario_tape_replays_as_the_server_of_the_next_judge(tmp_path: Path) -> None:
    """Each scenario's sessions are written as a tape; judged again offline against it."""
    first = mcpchaos(
        "judge", "--scenario", "slow_server", "--out", str(tmp_path / "a"), "--",
        sys.executable, CLIENT, "{url}", timeout=120,
    )  # fmt: skip
    assert first.returncode == 0, first.stdout + first.stderr
    recorded = tmp_path / "a" / "work" / "slow_server.tape"
    again = mcpchaos(
        "judge", "--tape", str(recorded), "--scenario", "hung_call", "--out", str(tmp_path / "b"), "--",
        sys.executable, CLIENT, "{url}", timeout=120,
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    journal = orjson.loads((tmp_path / "b" / "journal.json").read_bytes())
    assert "replayed as a server" in journal["target"]["description"]


def test_a_fragile_client_fails_with_exit_1_and_the_finding(tmp_path: Path) -> None:
    # No {url}: the client reads $MCPCHAOS_SERVER_URL.
    result = mcpchaos(
        "judge", "--scenario", "session_expiry", "--out", str(tmp_path), "--",
        sys.executable, CLIENT, "--no-reinit", timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    findings = (tmp_path / "findings.md").read_text()
    assert "reinitializes_after_404" in findings
    assert "initialize again" in findings  # the mitigation


def test_a_user_profile_is_judged_by_what_its_faults_exercise(tmp_path: Path) -> None:
    profile = tmp_path / "limits.yaml"
    profile.write_text(
        "rules:\n"
        "  - match: {methods: [tools/call], first_n: 1, count_per: proxy}\n"
        "    enabled_faults: {error: true}\n"
        "    error_config: {types: [rate_limited], retry_after_s: 1}\n"
    )
    result = mcpchaos(
        "judge", "--faults", str(profile), "--out", str(tmp_path / "out"), "--",
        sys.executable, CLIENT, "{url}", "--ignore-retry-after", timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    journal = orjson.loads((tmp_path / "out" / "journal.json").read_bytes())
    verdicts = {v["name"]: v["status"] for v in journal["scenarios"][0]["verdicts"]}
    assert verdicts["honours_retry_after"] == "failed"
    assert "reinitializes_after_404" not in verdicts  # no 404 happened: not judged
