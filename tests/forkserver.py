"""A fork server for the test suite's own Python peers: the conformance client and server,
and the demo server wherever a test needs it as a peer (:data:`DEMO_SERVER`).

Each conformance client scenario starts ``python tests/conformance/client.py URL`` and the
bridge path starts ``python tests/conformance/server.py --transport stdio`` once per session:
about 80 processes whose start-up (importing the MCP SDK, 1.1 s of CPU each on the 2-core
machine) was a fifth of the whole suite's CPU (docs/testing.md); the demo server's starts as a
peer were about 200 more. Here one process imports a script's (or a module's) code once (the
*server*), and each run of it is a fork.

What starts such a run is a *launcher*, ``python -S tests/forkserver.py SOCKET SCRIPT ARGS...``
(no site, standard library only: a few milliseconds). It hands its stdin, stdout and stderr,
its arguments, environment and working directory to the server over a Unix socket; the forked
child takes them over and runs the script as ``__main__``. The launcher passes the signals it
gets on to the child and exits as the child did (its status, or the same signal), so the
program that started it (the conformance CLI, the HTTP → stdio bridge) sees its own child
behave as the script would. When the launcher dies (SIGKILL included), the server kills the
child's whole process group. With no server listening, the launcher runs the script itself.

Test code: the harness's own forks of its demo servers and proxies are
:mod:`mcpchaos.harness.forks`, whose socket and reaping this server shares; the proxies the
conformance tests put under test are started as always.
"""

from __future__ import annotations

import array
import contextlib
import json
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
START_WITHIN_S = 60.0


def launch(socket_path: str, argv: list[str]) -> int:
    """The launcher: run ``argv`` (a script and its arguments) in a fork of the server."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(socket_path)
    except OSError:  # no server: run it here, as it would have run without one
        os.execv(sys.executable, [sys.executable, *argv])
    request = json.dumps({"argv": argv, "env": dict(os.environ), "cwd": os.getcwd()}).encode()
    fds = array.array("i", [0, 1, 2])
    conn.sendmsg([struct.pack("!I", len(request)), request], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
    # Only the child holds the pipes now: its reader sees end of file when the child exits.
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    for signum in FORWARDED:
        signal.signal(signum, lambda signum, _: conn.sendall(b"%d\n" % signum))
    answer = b""
    while not answer.endswith(b"\n"):
        try:
            chunk = conn.recv(64)
        except InterruptedError:
            continue
        if not chunk:
            return 1  # the server went away: nothing knows how the child ended
        answer += chunk
    returncode = int(answer)
    if returncode < 0:  # it died of a signal: so does the launcher
        signal.signal(-returncode, signal.SIG_DFL)
        os.kill(os.getpid(), -returncode)
    return returncode


class _Child:
    def __init__(self, pid: int, conn: socket.socket) -> None:
        self.pid = pid
        self.conn = conn


def serve(socket_path: str, preload: list[str]) -> None:
    """The server: import ``preload`` (scripts, or modules: a name without ``.py``), then
    fork one child per launcher."""
    import importlib
    import runpy

    # `python tests/forkserver.py` put tests/ first on the path, where tests/http/ would hide the
    # standard library's http from the scripts: they get their own directory first instead.
    here = Path(__file__).resolve().parent
    sys.path[:] = [entry for entry in sys.path if Path(entry).resolve() != here]
    for script in preload:  # as `python SCRIPT` would, from the script's own directory
        if not script.endswith(".py"):
            importlib.import_module(script)
            continue
        sys.path.insert(0, str(Path(script).resolve().parent))
        runpy.run_path(script, run_name="__preload__")
        del sys.path[0]
    from mcpchaos.harness.forks import Listening

    server = Listening(socket_path)
    selector = server.selector
    children: dict[int, _Child] = {}
    # The lifeline, as the harness's template has it: stdin ends when the pytest process that
    # started this server does, even killed; the server and its children go too.
    selector.register(sys.stdin, selectors.EVENT_READ, "lifeline")
    while not server.stopping:
        for key, _ in selector.select():
            if key.data == "lifeline":
                if not os.read(sys.stdin.fileno(), 512):
                    server.stopping.append(0)
            elif key.data == "accept":
                conn, _ = server.listener.accept()
                request, fds = _receive(conn)
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    server.close_in_fork()
                    conn.close()
                    for child in children.values():
                        child.conn.close()
                    _become(request, fds)
                    if sys.argv[0] == "-m":  # python -m MODULE ARGS...
                        module = sys.argv[1]
                        sys.argv = [module, *sys.argv[2:]]
                        runpy.run_module(module, run_name="__main__", alter_sys=True)
                        sys.exit(0)
                    if not os.path.isfile(sys.argv[0]):  # as python itself says it
                        print(f"{sys.executable}: can't open file {sys.argv[0]!r}", file=sys.stderr)
                        sys.exit(2)
                    runpy.run_path(sys.argv[0], run_name="__main__")
                    sys.exit(0)
                for fd in fds:
                    os.close(fd)
                children[pid] = _Child(pid, conn)
                selector.register(conn, selectors.EVENT_READ, pid)
            elif key.data == "wake":
                os.read(server.wake_read, 512)
                _reap(children, selector)
            else:
                _from_launcher(children[key.data], selector)
    for child in children.values():  # stopped: what it started goes too
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)


def _receive(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    data, ancillary, _, _ = conn.recvmsg(1 << 16, socket.CMSG_SPACE(3 * 4))
    fds = array.array("i")
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    while len(data) < 4 or len(data) < 4 + struct.unpack("!I", data[:4])[0]:
        chunk = conn.recv(1 << 16)
        if not chunk:
            raise ConnectionError("the launcher went away mid-request")
        data += chunk
    return json.loads(data[4:]), list(fds)


def _become(request: dict[str, Any], fds: list[int]) -> None:
    """In the child: take over the launcher's stdio, environment, directory and arguments."""
    os.setsid()  # its own group: the server kills it and what it started as one
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = list(request["argv"])
    # As python puts them first: the script's directory, or for -m the working directory.
    sys.path.insert(0, os.getcwd() if sys.argv[0] == "-m" else str(Path(sys.argv[0]).resolve().parent))


def _reap(children: dict[int, _Child], selector: selectors.BaseSelector) -> None:
    from mcpchaos.harness.forks import ended

    for pid, returncode in ended(children):
        child = children.pop(pid)
        with contextlib.suppress(OSError):
            child.conn.sendall(b"%d\n" % returncode)
        with contextlib.suppress(KeyError):  # already, when the launcher went first
            selector.unregister(child.conn)
        child.conn.close()


def _from_launcher(child: _Child, selector: selectors.BaseSelector) -> None:
    try:
        data = child.conn.recv(256)
    except OSError:
        data = b""
    if not data:  # the launcher is gone: so is what it ran
        selector.unregister(child.conn)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        return
    for line in data.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(child.pid, int(line))


@contextlib.contextmanager
def running(
    socket_path: Path, preload: list[Path | str], env: dict[str, str], log: Path, wait: bool = True
) -> Iterator[None]:
    """A fork server for the duration (stopped, and its children killed, after). ``wait``:
    until it accepts (else launchers run their command themselves until it does)."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(socket_path), *map(str, preload)],
            stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + START_WITHIN_S
        while wait and not socket_path.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the fork server did not start (exit {process.poll()}): see {log}")
            time.sleep(0.05)
        yield
    finally:
        process.terminate()
        process.wait()
        assert process.stdin is not None
        process.stdin.close()
        socket_path.unlink(missing_ok=True)


def command(socket_path: Path, script: Path | str, *args: str) -> list[str]:
    """The launcher's command line for ``python SCRIPT ARGS...`` (``script`` "-m": a module)."""
    return [sys.executable, "-S", __file__, str(socket_path), str(script), *args]


# The demo server as the tests' peer: each pytest process (an xdist worker) runs a fork server
# with it imported (tests/conftest.py), and this command line runs it in a fork: about 200 starts
# of the demo server, 0.8 s of CPU each (its SDK's imports), a fifth of the suite's CPU. Where a
# test is about the demo server's own process (its command line, that nothing outlives it) it
# starts ``python -m mcpchaos demo-server`` itself; the harness forks its own (harness/forks.py).
DEMO_SOCKET = Path(os.environ.get("TMPDIR") or "/tmp") / f"mcpchaos-test-demo-{os.getpid()}.sock"
DEMO_SERVER = command(DEMO_SOCKET, "-m", "mcpchaos", "demo-server")


@contextlib.contextmanager
def demo_forks(log: Path) -> Iterator[None]:
    """The fork server behind DEMO_SERVER, for the duration; not waited for: until it accepts,
    DEMO_SERVER starts the demo server itself."""
    preload: list[Path | str] = ["mcpchaos.cli.main", "mcpchaos.demo.server"]
    with running(DEMO_SOCKET, preload, dict(os.environ), log, wait=False):
        yield


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(launch(sys.argv[1], sys.argv[2:]))
