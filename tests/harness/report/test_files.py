"""Writing the three files and reading the journal back, with errors that say what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcpchaos.errors import ConfigError
from mcpchaos.harness.report import JournalError, load_journal, write_reports
from tests.harness.report.sample import sample_journal


def test_write_reports_writes_three_files_and_the_journal_round_trips(tmp_path: Path) -> None:
    journal = sample_journal(with_bare=True)
    files = write_reports(journal, tmp_path / "run")
    assert files.journal == tmp_path / "run" / "journal.json"
    assert files.html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert files.markdown.read_text(encoding="utf-8").startswith("# mcpchaos findings")
    assert load_journal(files.journal) == journal


def test_the_journal_carries_each_result_word_and_the_totals_recomputed_when_read(tmp_path: Path) -> None:
    files = write_reports(sample_journal(with_bare=True, with_every_status=True), tmp_path)
    data = json.loads(files.journal.read_text(encoding="utf-8"))
    assert data["status"] == "failed"
    statuses = {s["scenario"]: s["status"] for s in data["scenarios"]}
    assert statuses == {
        "gradual_degradation": "passed",
        "sudden_failure": "failed",
        "connection_storm": "failed",
        "upstream_failure": "skipped",
        "intermittent_failures": "inconclusive",
    }
    assert [v["status"] for v in data["scenarios"][4]["verdicts"]] == ["passed", "inconclusive"]
    assert data["scenarios"][1]["totals"]["accounting"]["sent"] == 1871
    # Derived fields follow the records they come from: an edited status or total is recomputed.
    data["scenarios"][1]["status"] = "passed"
    data["scenarios"][1]["totals"]["accounting"]["sent"] = 1
    files.journal.write_text(json.dumps(data), encoding="utf-8")
    journal = load_journal(files.journal)
    assert journal.scenarios[1].status == "failed"
    assert journal.scenarios[1].totals.accounting.sent == 1871


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match=r"nope\.json: no such file"):
        load_journal(tmp_path / "nope.json")


def test_not_json_says_where(tmp_path: Path) -> None:
    path = tmp_path / "journal.json"
    path.write_text("{\n  oops", encoding="utf-8")
    with pytest.raises(JournalError, match=r"journal\.json: not JSON .*line 2"):
        load_journal(path)


def test_another_schema_version_is_refused_before_validation(tmp_path: Path) -> None:
    path = tmp_path / "journal.json"
    path.write_text(json.dumps({"schema_version": 99}), encoding="utf-8")
    with pytest.raises(JournalError, match="schema_version 99 is not supported"):
        load_journal(path)


def test_validation_errors_name_field_paths(tmp_path: Path) -> None:
    data = json.loads(sample_journal().model_dump_json())
    data["scenarios"][1]["verdicts"][0]["passed"] = "maybe"
    path = tmp_path / "journal.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(JournalError, match=r"scenarios\.1\.verdicts\.0\.passed"):
        load_journal(path)


def test_journal_errors_are_config_errors_exiting_2() -> None:
    assert issubclass(JournalError, ConfigError)
    assert JournalError("x").exit_code == 2
