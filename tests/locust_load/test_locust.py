"""Locust runs MCP load through a real proxy: one master and two workers on loopback (the
example locustfile, which ramps the fault probability), and a local run over stdio."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcpchaos.harness.stack import free_port
from mcpchaos.testing import ChaosProxy

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LOCUST = [sys.executable, "-m", "locust"]


@pytest.fixture
def chaos(tmp_path: Path) -> Iterator[ChaosProxy]:
    with ChaosProxy(workdir=tmp_path / "stack") as proxy:
        yield proxy


def stats_rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open() as rows:
        return {f"{row['Type']} {row['Name']}".strip(): row for row in csv.DictReader(rows)}


def test_a_master_and_two_workers_send_mcp_load_while_the_shape_ramps_faults(
    chaos: ChaosProxy, tmp_path: Path
) -> None:
    port = free_port()
    locustfiles = f"{ROOT / 'examples/locust/locustfile.py'},{HERE / 'worker_tally.py'}"
    env = {**os.environ, "RAMP_SECONDS": "4", "RAMP_USERS": "4", "TALLY_FILE": str(tmp_path / "tally.json")}
    master_argv = [
        *LOCUST, "-f", locustfiles, "--headless", "--master", "--expect-workers", "2",
        "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
        "--host", chaos.url, "--mcpchaos-control", chaos.control_url,
        "--csv", str(tmp_path / "run"), "--exit-code-on-error", "0", "--only-summary",
    ]  # fmt: skip
    worker_argv = [
        *LOCUST,
        "-f",
        locustfiles,
        "--worker",
        "--master-host",
        "127.0.0.1",
        "--master-port",
        str(port),
    ]
    master = subprocess.Popen(
        master_argv, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    workers = [
        subprocess.Popen(
            worker_argv, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(2)
    ]
    try:
        output, _ = master.communicate(timeout=60)
        for worker in workers:
            assert worker.wait(timeout=15) == 0
    finally:
        processes: list[subprocess.Popen[Any]] = [master, *workers]
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert master.returncode == 0, output[-3000:]

    per_worker = json.loads((tmp_path / "tally.json").read_text())
    assert len(per_worker) == 2
    assert all(count > 0 for count in per_worker.values()), per_worker

    rows = stats_rows(tmp_path / "run_stats.csv")
    echo, total = rows["MCP tools/call echo"], rows["Aggregated"]
    assert int(echo["Request Count"]) > 0
    assert float(echo["Median Response Time"]) > 0
    assert int(rows["MCP initialize"]["Request Count"]) == 4  # one session per user
    assert int(total["Request Count"]) == sum(per_worker.values())
    # The ramp reached injected errors; Locust counted exactly the proxy's faults as failures.
    failures = int(total["Failure Count"])
    assert failures == chaos.metrics()["faults_total"] > 0
    with (tmp_path / "run_failures.csv").open() as rows_file:
        assert all("-32603 Internal error" in row["Error"] for row in csv.DictReader(rows_file))
    # The shape reset the faults when the ramp ended.
    assert chaos.fault_config()["fault_probability"] == 0


@pytest.mark.timeout(90)
def test_a_stdio_user_runs_its_own_server_and_counts_injected_errors_as_failures(tmp_path: Path) -> None:
    # The shape runs until the user made `calls` calls (or gives up after LIMIT_S seconds).
    calls = 20
    run = subprocess.run(
        [
            *LOCUST, "-f", str(HERE / "stdio_locustfile.py"), "--headless",
            "--csv", str(tmp_path / "run"), "--exit-code-on-error", "0", "--only-summary",
        ],
        cwd=tmp_path, env={**os.environ, "STDIO_CALLS": str(calls)},
        capture_output=True, text=True, timeout=75, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    rows = stats_rows(tmp_path / "run_stats.csv")
    assert "MCP-stdio tools/call echo" in rows, (sorted(rows), run.stderr[-3000:])
    echo = rows["MCP-stdio tools/call echo"]
    requests, failures = int(echo["Request Count"]), int(echo["Failure Count"])
    assert requests >= calls, run.stderr[-3000:]
    assert 0 < failures < requests  # about half: the proxy's injected errors
