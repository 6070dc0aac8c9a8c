"""``mcpchaos report``, run as a user would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mcpchaos.harness.report import write_reports
from tests.harness.report.sample import sample_journal


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcpchaos", "report", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_report_rebuilds_next_to_the_journal_without_rewriting_it(tmp_path: Path) -> None:
    files = write_reports(sample_journal(), tmp_path)
    files.html.unlink()
    files.markdown.unlink()
    before = files.journal.read_bytes()
    result = run(str(files.journal))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(files.html), str(files.markdown)]
    assert "<svg" in files.html.read_text(encoding="utf-8")
    assert "| no_hangs | ❌ failed |" in files.markdown.read_text(encoding="utf-8")
    assert files.journal.read_bytes() == before


def test_report_writes_into_out(tmp_path: Path) -> None:
    files = write_reports(sample_journal(), tmp_path / "run")
    result = run(str(files.journal), "--out", str(tmp_path / "elsewhere"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "elsewhere" / "report.html").is_file()
    assert (tmp_path / "elsewhere" / "findings.md").is_file()
    assert not (tmp_path / "elsewhere" / "journal.json").exists()


def test_a_broken_journal_exits_2_with_a_message(tmp_path: Path) -> None:
    path = tmp_path / "journal.json"
    path.write_text("not json", encoding="utf-8")
    result = run(str(path))
    assert result.returncode == 2
    assert f"mcpchaos: error: {path}: not JSON" in result.stderr
    assert not (tmp_path / "report.html").exists()


def test_a_missing_journal_exits_2(tmp_path: Path) -> None:
    result = run(str(tmp_path / "missing.json"))
    assert result.returncode == 2
    assert "no such file" in result.stderr
