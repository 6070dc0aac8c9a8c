"""One quick run of the whole suite (``mcpchaos run suite --quick``, the CLI a user runs),
shared by the tests that judge its scenarios and the tests that read its reports.

Each quick scenario run is among the slowest things the suite does; the per-scenario verdict
tests and the report-consistency tests used to run cascading_failure, gradual_degradation and
network_partition twice each. The run is made once per test session (and once per xdist
worker that gets these tests: tests/conftest.py keeps them on one).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from mcpchaos.harness.journal import Journal, ScenarioResult
from mcpchaos.harness.report import load_journal

SUITE_WITHIN_S = 900.0
"""A bound on the whole run (about 3 min on a quiet 2-core machine)."""


@dataclass(frozen=True)
class SuiteRun:
    out: Path
    terminal: str
    returncode: int
    journal: Journal

    def result(self, name: str) -> ScenarioResult:
        found = [s for s in self.journal.scenarios if s.scenario == name]
        assert len(found) == 1, f"{name} ran {len(found)} time(s) in the suite:\n{self.terminal[-3000:]}"
        return found[0]


@pytest.fixture(scope="session")
def quick_suite(tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    out = tmp_path_factory.mktemp("quick-suite") / "report"
    command = [sys.executable, "-m", "mcpchaos", "run", "suite", "--quick", "--seed", "7", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=SUITE_WITHIN_S, check=False)
    terminal = done.stdout + done.stderr
    assert (out / "journal.json").exists(), f"the run wrote no journal (exit {done.returncode}):\n{terminal}"
    return SuiteRun(out, terminal, done.returncode, load_journal(out / "journal.json"))
