"""What ``mcpchaos proxy`` writes to disk: nothing, unless it is given --fault-log FILE."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.http.mcp import INITIALIZE

SECRET = "an-argument-that-stays-in-memory"


def session_lines() -> str:
    messages = [
        INITIALIZE,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "echo", "arguments": {"text": SECRET}},
        },
        {"jsonrpc": "2.0", "id": 3, "method": "ping"},
    ]
    return "".join(json.dumps(message) + "\n" for message in messages)


@pytest.mark.parametrize("fault_log", [False, True])
def test_a_stdio_session_leaves_no_file_behind_but_the_fault_log(tmp_path: Path, fault_log: bool) -> None:
    faults = tmp_path / "faults.json"
    faults.write_text(
        json.dumps(
            {
                "fault_probability": 1,
                "enabled_faults": {"delay": True},
                "delay_ms": {"max_ms": 5, "min_ms": 1},
            }
        )
    )
    run = tmp_path / "run"
    run.mkdir()
    flags = ["--faults", str(faults)]
    if fault_log:
        flags += ["--fault-log", "faults.jsonl"]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mcpchaos",
            "proxy",
            *flags,
            "--",
            sys.executable,
            "-m",
            "mcpchaos",
            "demo-server",
        ],
        input=session_lines(),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=run,
        env={**os.environ, "HOME": str(run), "TMPDIR": str(run)},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert {answer.get("id") for answer in answers} >= {1, 2, 3}
    left = sorted(str(path.relative_to(run)) for path in run.rglob("*"))
    assert left == (["faults.jsonl"] if fault_log else [])
    if fault_log:
        assert (run / "faults.jsonl").read_text().count("\n") >= 1
        assert SECRET not in (run / "faults.jsonl").read_text()
