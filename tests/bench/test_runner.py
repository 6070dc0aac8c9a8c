"""The benchmark runner works end to end (a smoke run: it checks the plumbing, never timings)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_the_runner_knows_every_figure() -> None:
    from bench.__main__ import FIGURES

    assert {"http-sessionless", "http-echo", "http-sse", "http-sdk", "bridges"} <= set(FIGURES)
    assert {"stdio", "link", "faults", "netsim", "driver", "scale", "peer"} <= set(FIGURES)


def test_the_wrk_script_sends_a_sessionless_call_and_its_result_line_parses() -> None:
    from bench.common import Sessionless, parse_wrk, wrk_script

    request = Sessionless.call(progress=True)
    script = wrk_script(request)
    assert 'wrk.method = "POST"' in script
    assert '"io.modelcontextprotocol/protocolVersion":"2026-07-28"' in script
    assert '"progressToken":1' in script
    for header in (
        '"MCP-Protocol-Version"] = "2026-07-28"',
        '"Mcp-Method"] = "tools/call"',
        '"Mcp-Name"] = "echo"',
    ):
        assert header in script
    assert "Mcp-Session-Id" not in script
    line = (
        'WRK-RESULT {"requests":10,"duration_us":1000000,"p50_us":5,"p99_us":9,'
        '"bad":0,"errors":0,"first_bad":""}'
    )
    assert parse_wrk(f"Running 1s test\n{line}\n")["requests"] == 10


def test_the_sessionless_figures_run_with_the_python_client(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--client",
            "python",
            "--only",
            "http-sessionless,http-sse,bridges",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "FAILED" not in done.stdout
    assert "wrk was not used" in done.stdout
    for title in ("Sessionless keep-alive load", "Sessionless SSE-streaming load", "Bridges: HTTP→stdio"):
        assert title in done.stdout
    assert "| stdio→HTTP bridge → HTTP echo | python (stdio) |" in done.stdout


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk)")
def test_the_headline_figure_runs_with_wrk() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--client", "wrk", "--only", "http-sessionless"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "-t1 -c16" in done.stdout
    assert "| proxy |" in done.stdout


def test_the_in_process_hot_path_runs_both_ways_and_counts() -> None:
    """bench.hot_path wires a real proxy to stand-in transports: it must keep working (it
    raises if the proxy sent nothing upstream or the client got no 200)."""
    import uvloop

    from bench import hot_path

    for relay in (False, True):
        result = uvloop.run(hot_path.measure(relay, exchanges=50, count=True))
        assert result["cpu_us"] > 0
        assert result["calls"] > 10
        assert result["opcodes"] > result["calls"]
