"""The harness's demo servers and proxies started as forks of a warm process (a *template*),
not as new interpreters.

A demo server is the official SDK's server, and importing the SDK is most of its start-up:
1.1–1.4 s of CPU on a 2-core machine before it listens; a proxy with its control API 0.9 s;
both paid again for every scenario, every replica and every restart. The harness starts one
template per command (``python -m mcpchaos.harness.forks``, which imports that command's
modules and waits) the first time it needs one; each server or proxy after that is a fork of it
running ``mcpchaos demo-server ...`` or ``mcpchaos proxy ...``: tens of milliseconds.

A fork is a process like any other for the harness: its own pid and process group (so pause,
kill and the resource samples work as before), its stderr in the file the harness named, its
exit status reported by the template (its parent). The template lives as long as the process
that started it: it reads a pipe from that process, and when the pipe closes (that process
ended, SIGKILL included) it kills its forks and exits. Anything that goes wrong in starting or
reaching the template makes :func:`fork` return None, and the caller starts the server the
ordinary way.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import io
import json
import logging
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger("mcpchaos.harness")

START_WITHIN_S = 60.0
TITLE_ROOM = 4096
"""Bytes of blank argument the template starts with, so that each fork can write its own
command line over the template's (what ``ps``, psutil and /proc/PID/cmdline show)."""
PRELOAD = {"demo-server": "mcpchaos.demo.server", "proxy": "mcpchaos.cli.proxy_command"}
"""What each command's template imports: the modules that command's start-up spends its time in."""


class ForkedProcess:
    """The harness's handle on a fork: what ``asyncio.subprocess.Process`` offers it."""

    def __init__(self, pid: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._writer = writer
        self._ended = asyncio.ensure_future(self._read_end(reader))

    async def _read_end(self, reader: asyncio.StreamReader) -> None:
        line = await reader.readline()
        try:
            self.returncode = int(json.loads(line)["returncode"])
        except (ValueError, KeyError, TypeError):  # the template went away: so does its fork
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
            self.returncode = -signal.SIGKILL
        self._writer.close()

    async def wait(self) -> int:
        await asyncio.shield(self._ended)
        assert self.returncode is not None
        return self.returncode


class _Template:
    def __init__(self, preload: str) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="mcpchaos-forks-"))
        self.socket = self.directory / "fork.sock"
        with (self.directory / "template.stderr").open("ab") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mcpchaos.harness.forks", str(self.socket), preload, " " * TITLE_ROOM],
                stdin=subprocess.PIPE,  # the lifeline: closed when this process ends
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        atexit.register(self.close)

    async def ready(self) -> bool:
        deadline = time.monotonic() + START_WITHIN_S
        while not self.socket.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    def tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self.directory / "template.stderr").read_text(errors="replace")[-2000:]
        return ""

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(5)
        shutil.rmtree(self.directory, ignore_errors=True)


_templates: dict[str, _Template] = {}
_failed: set[str] = set()
"""Commands whose template did not start: not tried again in this process."""


async def fork(argv: list[str], stderr: Path, env: dict[str, str]) -> ForkedProcess | None:
    """``mcpchaos ARGV`` (a command of :data:`PRELOAD`) as a fork of that command's template,
    started on first use; None when there is no working template (start it the ordinary way)."""
    if argv[0] in _failed:
        return None
    try:
        template = _templates.get(argv[0])
        if template is None or template.process.poll() is not None:
            template = _templates[argv[0]] = _Template(PRELOAD[argv[0]])
        if not await template.ready():
            log.warning("the %s template did not start: %s", argv[0], template.tail())
            template.close()
            _failed.add(argv[0])
            return None
        reader, writer = await asyncio.open_unix_connection(str(template.socket))
        request = {"argv": argv, "stderr": str(stderr), "env": env, "cwd": os.getcwd()}
        writer.write(json.dumps(request).encode() + b"\n")
        started = json.loads(await reader.readline())
        return ForkedProcess(int(started["pid"]), reader, writer)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("cannot fork %s (%s): starting it the ordinary way", argv[0], exc)
        return None


# The template process.


def serve(socket_path: str, preload: str) -> None:
    """Import ``preload``, then fork one ``mcpchaos`` command per connection until stdin closes."""
    import importlib

    importlib.import_module(preload)
    from mcpchaos.cli.main import main

    if threading.active_count() != 1:
        sys.exit("the preloaded modules started threads: forking would be unsafe")
    server = Listening(socket_path)
    # Ctrl-C reaches the whole foreground group, this process too: the harness handles it and
    # stops its forks; the template must not die first and leave them without a parent to report.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    forks: dict[int, socket.socket] = {}
    server.selector.register(sys.stdin, selectors.EVENT_READ, "lifeline")
    while not server.stopping:
        for key, _ in server.selector.select():
            if key.data == "lifeline" and not os.read(sys.stdin.fileno(), 512):
                server.stopping.append(0)
            elif key.data == "wake":
                os.read(server.wake_read, 512)
                _reap(forks)
            elif key.data == "accept":
                conn, _ = server.listener.accept()
                request = _request(conn)
                if request is None:
                    conn.close()
                    continue
                pid = os.fork()
                if pid == 0:
                    server.close_in_fork()
                    for other in (conn, *forks.values()):
                        other.close()
                    _become(request)
                    sys.exit(main(request["argv"]))
                conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
                forks[pid] = conn
    for pid in forks:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    shutil.rmtree(Path(socket_path).parent, ignore_errors=True)  # also when the harness was killed


class Listening:
    """A fork server's Unix socket (it appears once it accepts), its selector (``"accept"``
    for the socket, ``"wake"`` when SIGCHLD came) and ``stopping`` (non-empty after SIGTERM).
    Also the test suite's own fork server's (tests/forkserver.py)."""

    def __init__(self, socket_path: str) -> None:
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(socket_path + ".partial")
        self.listener.listen(64)
        os.rename(socket_path + ".partial", socket_path)
        self.wake_read, self.wake_write = os.pipe()
        os.set_blocking(self.wake_write, False)
        signal.set_wakeup_fd(self.wake_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.stopping: list[int] = []
        signal.signal(signal.SIGTERM, lambda signum, _: self.stopping.append(signum))
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, "accept")
        self.selector.register(self.wake_read, selectors.EVENT_READ, "wake")

    def close_in_fork(self) -> None:
        """In a fork: let go of all of it, and of the signal handling the server set."""
        self.selector.close()
        self.listener.close()
        os.close(self.wake_read)
        os.close(self.wake_write)
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _request(conn: socket.socket) -> dict[str, Any] | None:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(1 << 16)
        if not chunk:
            return None
        data += chunk
    try:
        request: dict[str, Any] = json.loads(data)
    except ValueError:
        return None
    return request


def _become(request: dict[str, Any]) -> None:
    """In the fork: its own session, /dev/null for stdin and stdout, stderr to the named file,
    the caller's environment and directory, default signal handling."""
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    err = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    for source, target in ((null, 0), (null, 1), (err, 2)):
        os.dup2(source, target)
    os.close(null)
    os.close(err)
    os.environ.clear()
    os.environ.update(request["env"])
    if os.environ.get("PYTHONUNBUFFERED"):  # read at start-up by a new interpreter: the template's
        for stream in (sys.stdout, sys.stderr):  # streams were made before this environment
            if isinstance(stream, io.TextIOWrapper):
                stream.reconfigure(write_through=True)
    os.chdir(request["cwd"])
    sys.argv = [sys.argv[0], *request["argv"]]
    _retitle([sys.executable, "-m", "mcpchaos", *request["argv"]])


def _retitle(argv: list[str]) -> None:
    """Write ``argv`` over the process's own command line (the template's, in its memory), so
    the fork looks like what it runs; the rest of the room is NULs (psutil shows them as empty
    arguments at the end). Skipped when it does not fit or the kernel does not allow it."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/self/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        start, end = int(fields[45]), int(fields[46])  # arg_start and arg_end: proc(5) fields 48, 49
        title = b"\0".join(os.fsencode(arg) for arg in argv) + b"\0"
        if len(title) <= end - start:
            with open("/proc/self/mem", "r+b", buffering=0) as memory:
                memory.seek(start)
                memory.write(title.ljust(end - start, b"\0"))


def _reap(forks: dict[int, socket.socket]) -> None:
    for pid, returncode in ended(forks):
        conn = forks.pop(pid)
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps({"returncode": returncode}).encode() + b"\n")
        conn.close()


def ended(children: Mapping[int, object]) -> Iterator[tuple[int, int]]:
    """Each of ``children`` (by pid) that has ended, reaped without waiting: its pid and its
    status as a return code (the exit status, or -N for signal N). Also the test suite's own
    fork server's (tests/forkserver.py)."""
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if pid in children:
            yield pid, os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2])  # sys.argv[3]: the room for the forks' command lines
