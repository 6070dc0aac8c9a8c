"""What ``mcpchaos run`` writes to disk never holds the control token it was given."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.test_run_command import mcpchaos
from tests.http.servers import free_port, wait_for_port

TOKEN = "s3cret-token-never-on-disk"


@contextlib.contextmanager
def started(*args: str, port: int) -> Iterator[None]:
    process = subprocess.Popen(
        [sys.executable, "-m", "mcpchaos", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(port, process)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.timeout(150)
def test_an_attached_runs_journal_and_reports_do_not_hold_the_control_token(tmp_path: Path) -> None:
    server, proxy, control = free_port(), free_port(), free_port()
    with (
        started("demo-server", "--transport", "http", "--port", str(server), port=server),
        started(
            "proxy",
            "--listen",
            f"127.0.0.1:{proxy}",
            "--upstream",
            f"http://127.0.0.1:{server}/mcp",
            "--control",
            str(control),
            "--control-token",
            TOKEN,
            port=control,
        ),  # fmt: skip
    ):
        out = tmp_path / "out"
        attach = f"http://127.0.0.1:{proxy}/mcp,http://127.0.0.1:{control}"
        result = mcpchaos(
            "run", "sudden_failure", "--quick", "--attach", attach, "--control-token", TOKEN,
            "--out", str(out),
            timeout=120,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    written = sorted(path for path in out.rglob("*") if path.is_file())
    assert {path.name for path in written} >= {"journal.json", "report.html", "findings.md"}
    for path in written:
        assert TOKEN not in path.read_text(errors="replace"), path
    assert "--control-token ***" in (out / "findings.md").read_text()  # the rerun line says where
