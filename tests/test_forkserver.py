"""tests/forkserver.py, the suite's own fork server: DEMO_SERVER really runs in a fork (else the
suite silently pays a full start-up per demo server again), a fork behaves as the command would
on its pipes, and nothing outlives a pytest process that was killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from tests import forkserver
from tests.http.mcp import INITIALIZE


def wait_until(condition: Callable[[], bool], within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "not within the bound"
        time.sleep(0.05)


def server_for(socket_path: Path) -> psutil.Process | None:
    for process in psutil.Process().children(recursive=True):
        try:
            if "--serve" in process.cmdline() and str(socket_path) in process.cmdline():
                return process
        except psutil.NoSuchProcess:
            continue
    return None


def test_the_demo_server_runs_in_a_fork_of_this_workers_server_and_answers_on_its_pipes() -> None:
    wait_until(forkserver.DEMO_SOCKET.exists)  # the session's server (tests/conftest.py) accepts
    server = server_for(forkserver.DEMO_SOCKET)
    assert server is not None
    before = {child.pid for child in server.children()}
    demo = subprocess.Popen(
        [*forkserver.DEMO_SERVER, "--transport", "stdio"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert demo.stdin is not None
    assert demo.stdout is not None
    try:
        demo.stdin.write(json.dumps(INITIALIZE).encode() + b"\n")
        demo.stdin.flush()
        answer = json.loads(demo.stdout.readline())
        assert answer["id"] == 1
        assert "serverInfo" in answer["result"]
        forks = {child.pid for child in server.children()} - before
        assert len(forks) == 1  # it answered from a fork, not from a new interpreter
        demo.stdin.close()  # end of input: the demo server ends, and the launcher as it did
        assert demo.wait(30) == 0
        wait_until(lambda: not (forks & {child.pid for child in server.children()}))
    finally:
        demo.kill()
        demo.wait()


def test_a_killed_pytest_process_takes_its_fork_server_along(tmp_path: Path) -> None:
    socket_path = tmp_path / "fork.sock"
    owner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, sys, time; from pathlib import Path; from tests import forkserver\n"
            "with forkserver.running(Path(sys.argv[1]), ['json'], dict(os.environ), Path(sys.argv[2])):\n"
            "    print('up', flush=True); time.sleep(120)",
            str(socket_path),
            str(tmp_path / "server.log"),
        ],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert owner.stdout is not None
    try:
        assert owner.stdout.readline() == b"up\n"  # the server accepts
        server = next(
            child for child in psutil.Process(owner.pid).children() if str(socket_path) in child.cmdline()
        )
        owner.send_signal(signal.SIGKILL)  # no finally runs: only the lifeline can tell
        owner.wait()
        wait_until(lambda: not server.is_running() or server.status() == psutil.STATUS_ZOMBIE)
    finally:
        owner.kill()
        owner.wait()
