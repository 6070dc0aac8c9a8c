"""The harness against third-party MCP servers nobody here wrote, as a new user would run it:
npm ``@modelcontextprotocol/server-everything`` over stdio and over Streamable HTTP, and PyPI
``mcp-server-time`` (in a venv of its own). ``scripts/realservers-setup.sh`` installs them,
pinned, under ``.tools/`` (``scripts/bootstrap.sh --tests`` runs it; here it runs again, a no-op
in milliseconds when they are there).

Each target runs one scenario of the quick suite with ``--duration 1`` (and two clients on a
stdio target: each is a process to start), chosen so the three stay within ~90 s together on a
loaded 2-core machine (docs/real-servers.md has the whole quick suite against each): the run
ends with conclusive verdicts (none inconclusive, none skipped), the request mix built from the
server's own tools validates against its schemas (no tool error at baseline), start-up is
measured, every output says the journal's numbers, and a stdio target's server processes are
counted. ``upstream_failure`` for server-everything over stdio (its processes are killed and
new ones start), ``sudden_failure`` for the other two (a URL target cannot be killed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcpchaos.harness.stack import free_port
from tests.harness.report_check import check_run
from tests.http.servers import wait_for_port

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools"
EVERYTHING = TOOLS / "server-everything/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
TIME_SERVER = TOOLS / "venv-time/bin/mcp-server-time"


@pytest.fixture(scope="module")
def node() -> Path:
    """Node.js 22 under .tools (installed with the servers, if they are not there yet)."""
    subprocess.run(["bash", str(ROOT / "scripts/realservers-setup.sh")], check=True, timeout=900)
    (found,) = TOOLS.glob("node22/node_modules/node-linux-*/bin/node")
    return found


@pytest.fixture
def everything_http(node: Path, tmp_path: Path) -> Iterator[str]:
    """server-everything in its Streamable HTTP mode (``PORT``), on 127.0.0.1."""
    port = free_port()
    log = (tmp_path / "everything-http.log").open("wb")
    server = subprocess.Popen(
        [str(node), str(EVERYTHING), "streamableHttp"],
        env={**os.environ, "PORT": str(port)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, server, within=30.0)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)
        log.close()


def run_against(target: str, scenario: str, out: Path, *flags: str) -> tuple[dict[str, Any], str]:
    """``mcpchaos run SCENARIO --quick --duration 1 --target TARGET``; the journal and what the
    terminal said."""
    command = [sys.executable, "-m", "mcpchaos", "run", scenario, "--quick", "--duration", "1", *flags]
    command += ["--target", target]
    done = subprocess.run(
        [*command, "--out", str(out)], capture_output=True, text=True, timeout=240, check=False
    )
    terminal = done.stdout + done.stderr
    assert done.returncode in (0, 1), terminal  # passed or failed: conclusive (3 = inconclusive)
    return json.loads((out / "journal.json").read_text(encoding="utf-8")), terminal


def assert_conclusive_with_the_targets_own_mix(journal: dict[str, Any], terminal: str, tool: str) -> None:
    assert "the request mix, from the target's tools:" in terminal
    for result in journal["scenarios"]:
        assert result["status"] in ("passed", "failed"), result.get("inconclusive") or result.get("error")
        assert result["verdicts"]
        assert all(v["status"] != "inconclusive" for v in result["verdicts"]), result["verdicts"]
        mix = {op["name"] for op in result["params"]["load"]["mix"]}
        assert tool in mix, mix  # its own tools, not the demo's echo {"text": …}
        baseline = next(p for p in result["phases"] if p["name"] == "baseline")
        assert baseline["outcomes"]["tool_error"] == 0, baseline["outcomes"]["first_errors"]
        assert baseline["outcomes"]["ok"] >= result["params"]["min_baseline_ok"]
        assert result["ready_after_s"] > 0  # start-up measured


def server_processes(result: dict[str, Any]) -> dict[str, Any]:
    (no_leaks,) = [v for v in result["verdicts"] if v["name"] == "no_leaks"]
    counted: dict[str, Any] = no_leaks["evidence"]["server_processes"]
    assert f"{counted['started']} started" in no_leaks["detail"], no_leaks["detail"]
    return counted


@pytest.mark.timeout(300)
def test_server_everything_over_stdio_killed_and_back(node: Path, tmp_path: Path) -> None:
    # upstream_failure kills the server processes: new ones start, each one counted.
    target = subprocess.list2cmdline([str(node), str(EVERYTHING), "stdio"])
    journal, terminal = run_against(target, "upstream_failure", tmp_path / "out", "--clients", "2")
    assert_conclusive_with_the_targets_own_mix(journal, terminal, "echo")
    check_run(tmp_path / "out", terminal)
    (result,) = journal["scenarios"]
    counted = server_processes(result)
    clients = result["params"]["load"]["clients"]
    assert clients < counted["started"] < counted["limit"], counted  # the killed ones came back as new
    assert counted["alive"] <= clients, counted


@pytest.mark.timeout(300)
def test_server_everything_over_streamable_http(everything_http: str, tmp_path: Path) -> None:
    journal, terminal = run_against(everything_http, "sudden_failure", tmp_path / "out")
    assert_conclusive_with_the_targets_own_mix(journal, terminal, "echo")
    check_run(tmp_path / "out", terminal)


@pytest.mark.timeout(300)
def test_mcp_server_time_in_its_own_venv(node: Path, tmp_path: Path) -> None:
    journal, terminal = run_against(str(TIME_SERVER), "sudden_failure", tmp_path / "out", "--clients", "2")
    assert_conclusive_with_the_targets_own_mix(journal, terminal, "get_current_time")
    check_run(tmp_path / "out", terminal)
    (result,) = journal["scenarios"]
    assert server_processes(result)["started"] >= result["params"]["load"]["clients"]
