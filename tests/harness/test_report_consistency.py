"""One set of counts: every output of a run (findings.md, report.html, journal.json, the
terminal) shows the same counts and result words as the journal, and the verdicts state them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from mcpchaos.harness.journal import Counts, OutcomeCounts
from mcpchaos.harness.progress import TerminalProgress, summary_table
from mcpchaos.harness.report import load_journal, write_reports
from tests.harness.conftest import SuiteRun
from tests.harness.report.question_check import check_page, check_runbook
from tests.harness.report.sample import sample_journal
from tests.harness.report_check import check_run


@pytest.mark.timeout(960)  # it may be the test that waits for the shared run
def test_every_output_of_a_quick_run_shows_the_journals_counts(quick_suite: SuiteRun) -> None:
    assert quick_suite.returncode in (0, 1, 3), quick_suite.terminal
    journal = check_run(quick_suite.out, quick_suite.terminal)
    check_page(load_journal(quick_suite.out / "journal.json"))  # each report answers its question
    check_runbook(load_journal(quick_suite.out / "journal.json"))
    results = {s["scenario"]: s for s in journal["scenarios"]}
    for name in ("gradual_degradation", "network_partition", "cascading_failure"):
        # gradual_degradation: the warmup and the handshakes; network_partition: silent requests
        # in an outage, and SDK clients beside the fast ones; cascading_failure: requests lost
        # while B hangs (an outage: nothing_lost says so in the same words) and a second load.
        result = results[name]
        assert result["ready_after_s"] > 0  # start-up measured (and said the same everywhere)
        warmup = next(p for p in result["phases"] if p["name"] == "warmup")
        assert warmup["accounting"]["handshakes"] > 0  # the handshakes are counted, in their phase
    assert results["network_partition"]["totals"]["accounting"]["silent"] > 0
    assert results["cascading_failure"]["totals"]["accounting"]["lost"] > 0
    assert results["cascading_failure"]["other_loads"]["independent"]["accounting"]["sent"] > 0


def written(tmp_path: Path) -> str:
    """The sample journal's reports in ``tmp_path``; what the terminal would say about it."""
    # Every result word, a scenario that did not run, and a load beside the main one.
    journal = sample_journal(with_bare=True, with_every_status=True)
    other = Counts(outcomes=OutcomeCounts(ok=7, tool_error=2))
    other.accounting.sent = other.accounting.answered = 9
    scenarios = list(journal.scenarios)
    scenarios[1] = scenarios[1].model_copy(update={"other_loads": {"independent": other}})
    journal = journal.model_copy(update={"scenarios": scenarios})
    write_reports(journal, tmp_path)
    screen = io.StringIO()
    console = Console(file=screen, width=160, highlight=False)
    progress = TerminalProgress(console)
    for result in journal.scenarios:
        progress.scenario_done(result)
    console.print(summary_table(journal.scenarios))
    return screen.getvalue()


def test_every_output_of_a_written_journal_shows_its_counts_and_words(tmp_path: Path) -> None:
    check_run(tmp_path, written(tmp_path), verdict_details=False)


@pytest.mark.parametrize("where", ["findings.md", "report.html", "terminal"])
@pytest.mark.parametrize("number", ["count", "start-up"])
def test_the_check_catches_one_number_that_differs(tmp_path: Path, where: str, number: str) -> None:
    terminal = written(tmp_path)
    if number == "start-up":
        if where == "terminal":
            terminal = terminal.replace("target ready after 1.38 s", "target ready after 1.39 s", 1)
        else:
            path = tmp_path / where
            text = path.read_text(encoding="utf-8")
            changed = text.replace("ready after 1.38 s", "ready after 1.39 s", 1)
            assert changed != text
            path.write_text(changed, encoding="utf-8")
    elif where == "terminal":
        terminal = terminal.replace("sent 1871,", "sent 1870,", 1)
    else:
        path = tmp_path / where
        text = path.read_text(encoding="utf-8")
        changed = text.replace("| total | 1871 |", "| total | 1870 |").replace(
            '<td>total</td><td class="num">1871</td>', '<td>total</td><td class="num">1870</td>'
        )
        assert changed != text
        path.write_text(changed, encoding="utf-8")
    with pytest.raises(AssertionError):
        check_run(tmp_path, terminal, verdict_details=False)
