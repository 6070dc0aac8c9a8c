"""The pytest plugin (``mcpchaos.pytest_plugin``) as users meet it: pytest run in a subprocess
on the examples and on small test files, with the real proxy and demo server."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


def pytest_run(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_the_example_chaos_tests_pass_with_the_plugin() -> None:
    run = pytest_run("examples/pytest", "-q", cwd=ROOT)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "5 passed" in run.stdout


def test_a_failing_test_stops_its_processes_and_shows_the_proxy_log_and_options_reach_the_proxy(
    tmp_path: Path,
) -> None:
    pids = tmp_path / "pids.jsonl"
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(
            f"""
            import asyncio, json, sys
            import psutil, pytest
            from mcp import Client

            def record(chaos):
                with open({str(pids)!r}, "a") as out:
                    processes = (chaos.stack.proxy, chaos.stack.upstream)
                    out.write(json.dumps([p.pid for p in processes if p]) + "\\n")

            @pytest.mark.mcpchaos(proxy_args=["--max-sessions", "7"])
            def test_fails(mcpchaos):
                record(mcpchaos)
                assert "--max-sessions" in psutil.Process(mcpchaos.health()["pid"]).cmdline()
                assert False, "deliberately"

            STDIO_DEMO = sys.executable + " -m mcpchaos demo-server"

            @pytest.mark.parametrize("mcpchaos", [{{"target": STDIO_DEMO}}], indirect=True)
            def test_stdio_command_target(mcpchaos):
                record(mcpchaos)

                async def echo():
                    async with Client(mcpchaos.url, mode="legacy") as client:
                        return (await client.call_tool("echo", {{"text": "via stdio"}})).content[0].text

                assert asyncio.run(echo()) == "via stdio"
                assert mcpchaos.stack.target.kind == "command"
            """
        )
    )
    run = pytest_run("-q", cwd=tmp_path)
    assert run.returncode == 1, run.stdout[-3000:]
    assert "1 failed, 1 passed" in run.stdout
    assert "AssertionError: deliberately" in run.stdout  # not an earlier assertion: the option arrived
    assert "mcpchaos proxy stderr (mcpchaos)" in run.stdout  # the failure shows the proxy's log
    assert "control API on http://127.0.0.1:" in run.stdout
    started = [pid for line in pids.read_text().splitlines() for pid in json.loads(line)]
    assert len(started) == 3  # proxy + demo server, then the bridge proxy
    assert all(gone(pid) for pid in started)


def test_importing_the_plugin_loads_nothing_heavy() -> None:
    code = (
        "import sys, mcpchaos.pytest_plugin\n"
        "heavy = ('aiohttp', 'mcp', 'mcpchaos.testing', 'mcpchaos.harness')\n"
        "heavy = [name for name in heavy if name in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
