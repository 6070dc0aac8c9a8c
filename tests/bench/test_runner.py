"""The benchmark runner works end to end (a smoke run: it checks the plumbing, never timings)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_quick_run_of_two_figures_prints_them_and_writes_the_generated_section(tmp_path: Path) -> None:
    target = tmp_path / "BENCHMARKS.md"
    target.write_text("# Benchmarks\n\nHand-written notes stay.\n")
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "faults,http-echo", "--write", str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Fault decision cost per message" in done.stdout
    assert "HTTP proxy overhead, minimal echo upstream" in done.stdout
    text = target.read_text()
    assert text.startswith("# Benchmarks\n\nHand-written notes stay.\n")
    assert text.count("<!-- bench:begin") == 1
    assert text.count("<!-- bench:end -->") == 1
    assert "Load average" in text
    assert "| faults |" in text


def test_rewriting_replaces_the_generated_section_and_keeps_the_rest(tmp_path: Path) -> None:
    from bench.__main__ import BEGIN, END, write

    target = tmp_path / "BENCHMARKS.md"
    target.write_text(f"# B\n\nbefore\n\n{BEGIN}\nold numbers\n{END}\n\nafter\n")
    write(target, "new numbers")
    text = target.read_text()
    assert "old numbers" not in text
    assert "new numbers" in text
    assert text.startswith("# B\n\nbefore\n")
    assert text.endswith("\n\nafter\n")


def test_an_unknown_figure_is_a_usage_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "unknown figure" in done.stderr
