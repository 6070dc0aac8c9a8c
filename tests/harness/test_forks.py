"""Demo servers and proxies forked from a warm template (harness/forks.py) are, to the harness,
processes like the ones it used to start: their own process group, their stderr in their file,
their exit status; and nothing outlives the process that started the template."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from mcpchaos.harness import forks
from mcpchaos.harness.stack import Stack, TargetSpec


async def test_a_forked_stack_is_its_own_process_groups_and_reports_how_each_ended(tmp_path: Path) -> None:
    stack = Stack(TargetSpec(), tmp_path)
    await stack.start()
    try:
        assert stack.upstream is not None
        assert stack.proxy is not None
        for process in (stack.upstream, stack.proxy):
            assert isinstance(process.process, forks.ForkedProcess), process.name
            assert process.pid is not None
            assert os.getpgid(process.pid) == process.pid
            assert psutil.Process(process.pid).ppid() != os.getpid()  # the template's child
            shown = [arg for arg in psutil.Process(process.pid).cmdline() if arg]
            assert shown == process.argv  # what ps shows is what it runs, not the template
        assert stack.control is not None
        assert (await stack.control.health())["status"] == "ok"

        killed = stack.upstream
        await stack.kill_upstream()
        assert killed.returncode == -signal.SIGKILL
        await stack.restart_upstream()
        assert stack.upstream.alive
        assert stack.upstream.pid != killed.pid
    finally:
        await stack.stop()
    assert stack.upstream.returncode == -signal.SIGTERM  # uvicorn re-raises what stopped it
    assert "Finished server process" in stack.upstream.tail()
    assert stack.proxy.returncode is not None


def test_the_template_and_its_forks_end_with_the_process_that_started_them(tmp_path: Path) -> None:
    # A harness that starts a stack, says the pids, and is then killed without a chance to clean up.
    script = (
        "import asyncio, pathlib, sys\n"
        "from mcpchaos.harness.stack import Stack, TargetSpec\n"
        "async def main():\n"
        f"    stack = Stack(TargetSpec(), pathlib.Path({str(tmp_path)!r}))\n"
        "    await stack.start()\n"
        "    print(stack.upstream.pid, stack.proxy.pid, flush=True)\n"
        "    await asyncio.sleep(120)\n"
        "asyncio.run(main())\n"
    )
    harness = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert harness.stdout is not None
        pids = [int(pid) for pid in harness.stdout.readline().split()]
        assert len(pids) == 2
        assert all(psutil.pid_exists(pid) for pid in pids)
    finally:
        harness.kill()
        harness.wait()
    assert all(_gone_within(pid, 30) for pid in pids)


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _running(pid)


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def test_with_forks_turned_off_the_stack_starts_new_interpreters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCPCHAOS_FORKS", "0")
    stack = Stack(TargetSpec(), tmp_path)
    await stack.start()
    try:
        assert stack.upstream is not None
        assert isinstance(stack.upstream.process, asyncio.subprocess.Process)
        assert psutil.Process(stack.upstream.pid).ppid() == os.getpid()
    finally:
        await stack.stop()


async def test_a_fork_whose_template_dies_is_killed_and_reported_so(tmp_path: Path) -> None:
    stack = Stack(TargetSpec(), tmp_path)
    await stack.start()
    try:
        assert stack.upstream is not None
        assert stack.upstream.pid is not None
        pid, process = stack.upstream.pid, stack.upstream.process
        assert isinstance(process, forks.ForkedProcess)
        forks._templates["demo-server"].process.kill()  # the template, from outside
        async with asyncio.timeout(30):
            assert await process.wait() == -signal.SIGKILL
        assert await asyncio.to_thread(_gone_within, pid, 30)  # not left serving, unreported
    finally:
        await stack.stop()
