"""The system under test: the upstream MCP server and the mcpchaos proxy in front of it.

The harness runs both as child processes (each in its own process group), so it can kill,
pause and restart them, watch their resources, and read the proxy's stderr for exceptions.
Load goes to the proxy's HTTP endpoint; faults and the network change through its control
API. Three kinds of target:

* ``demo`` — the built-in demo server over Streamable HTTP, proxied HTTP → HTTP;
* ``command`` — a user's stdio server command, proxied by the HTTP → stdio bridge (one
  server process per session, children of the proxy);
* ``url`` — a user's Streamable HTTP server that the harness does not own (it cannot be
  killed; outages are simulated with network partitions instead).

``attach`` mode drives a proxy someone else started: only its control API and MCP URL.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mcpchaos.errors import ConfigError, McpChaosError
from mcpchaos.harness import forks
from mcpchaos.harness.control_client import ControlApiError, ControlClient

TargetKind = Literal["demo", "command", "url", "attach"]


class StackError(McpChaosError):
    """The system under test could not be started."""


_handed_out: collections.deque[int] = collections.deque(maxlen=1024)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on now and not handed out lately by this process: the children
    bind theirs a moment later, and two ports asked for at once (a server's and its proxy's)
    must differ, or the proxy takes the server's port and relays to itself."""
    for _ in range(100):
        with socket.socket() as sock:
            sock.bind((host, 0))
            port: int = sock.getsockname()[1]
        if port not in _handed_out:
            _handed_out.append(port)
            return port
    raise StackError("no free port on 127.0.0.1")


def last_lines(output: bytes, limit: int = 2000) -> str:
    """The end of a process's output, at most ``limit`` characters, starting where a line
    starts (or, for one long line, a word: ``…`` marks the cut), never in the middle of one."""
    kept = output[-4 * limit :]  # a character is at most 4 bytes
    text = kept.decode(errors="replace").strip()
    if len(text) <= limit and len(kept) == len(output):
        return text
    end = text[-limit:]
    newline = end.find("\n")
    if newline != -1:
        return end[newline + 1 :]
    space = end.find(" ")
    return "…" + (end[space + 1 :] if space != -1 else end)


# Generous: a process that dies is noticed at once (below), so the bound only matters for one that
# is slow to start, and a Python server with the SDK's imports took over 20 s on a 2-core machine
# running other work.
START_WITHIN_S = 60.0


async def wait_for_port(port: int, process: ManagedProcess | None, within_s: float = START_WITHIN_S) -> None:
    """Bounded wait until 127.0.0.1:port accepts connections."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if process is not None and not process.alive:
            raise StackError(
                f"{process.name} exited with {process.returncode} before listening: {process.tail()}"
            )
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return
        await asyncio.sleep(0.05)
    raise StackError(f"nothing listening on 127.0.0.1:{port} after {within_s:g}s")


@dataclass
class ManagedProcess:
    """A child process in its own process group, stderr kept in a file."""

    name: str
    argv: list[str]
    stderr_path: Path
    forkable: bool = False
    """An ``mcpchaos demo-server`` or ``proxy`` command: started as a fork of a warm template
    when one works (harness/forks.py; ``MCPCHAOS_FORKS=0`` turns that off)."""
    process: asyncio.subprocess.Process | forks.ForkedProcess | None = None
    _paused: bool = field(default=False, init=False)

    async def start(self) -> None:
        self.stderr_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if self.forkable and os.environ.get("MCPCHAOS_FORKS", "1") != "0":
            self.process = await forks.fork(self.argv[len(_mcpchaos()) :], self.stderr_path, env)
            if self.process is not None:
                return
        with self.stderr_path.open("ab") as stderr:
            try:
                self.process = await asyncio.create_subprocess_exec(
                    *self.argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=stderr,
                    start_new_session=True,
                    env=env,
                )
            except OSError as exc:
                raise StackError(f"cannot start {self.name} ({self.argv[0]}): {exc}") from exc

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    @property
    def returncode(self) -> int | None:
        return self.process.returncode if self.process is not None else None

    def tail(self, limit: int = 2000) -> str:
        """The end of its stderr, for error messages."""
        try:
            return last_lines(self.stderr_path.read_bytes(), limit)
        except OSError:
            return ""

    def _signal_group(self, signum: int) -> None:
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signum)

    def pause(self) -> None:
        """SIGSTOP: the process hangs (a stuck server) until :meth:`resume`."""
        self._signal_group(signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        self._signal_group(signal.SIGCONT)
        self._paused = False

    async def kill(self) -> None:
        """SIGKILL, the way a crash looks from outside."""
        self._signal_group(signal.SIGKILL)
        if self.process is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await self.process.wait()

    async def stop(self, grace_s: float = 3.0) -> None:
        """SIGTERM, then SIGKILL after ``grace_s``."""
        if self.process is None or self.process.returncode is not None:
            return
        if self._paused:
            self.resume()
        self._signal_group(signal.SIGTERM)
        try:
            async with asyncio.timeout(grace_s):
                await self.process.wait()
        except TimeoutError:
            await self.kill()


@dataclass(frozen=True)
class TargetSpec:
    """What to test (from ``--target``/``--attach``)."""

    kind: TargetKind = "demo"
    command: tuple[str, ...] = ()
    url: str = ""
    control_url: str = ""
    control_token: str | None = None
    demo_args: tuple[str, ...] = ()
    """Extra ``mcpchaos demo-server`` options (``--target "demo --fragile leak-fds"``)."""

    @classmethod
    def parse(cls, target: str | None, attach: str | None = None, token: str | None = None) -> TargetSpec:
        """``None``/``demo`` → the demo server; ``http(s)://…`` → a URL; anything else → a
        stdio command (split like a shell would). ``attach`` is ``MCP_URL,CONTROL_URL``."""
        import shlex

        if attach:
            mcp_url, sep, control_url = attach.partition(",")
            if not sep or not mcp_url.startswith("http") or not control_url.startswith("http"):
                raise ConfigError(
                    "--attach takes MCP_URL,CONTROL_URL, e.g. http://127.0.0.1:8080/mcp,http://127.0.0.1:9900"
                )
            return cls(kind="attach", url=mcp_url, control_url=control_url, control_token=token)
        if target is None or target == "demo" or target.startswith("demo "):
            return cls(kind="demo", demo_args=tuple(shlex.split(target or "demo"))[1:])
        if target.startswith(("http://", "https://")):
            return cls(kind="url", url=target)
        argv = tuple(shlex.split(target))
        if not argv:
            raise ConfigError("--target is empty: give a server command, a URL, or 'demo'")
        return cls(kind="command", command=argv)

    def describe(self) -> str:
        if self.kind == "demo":
            extra = f" with {' '.join(self.demo_args)}" if self.demo_args else ""
            return f"the built-in demo MCP server (Streamable HTTP){extra}"
        if self.kind == "command":
            return "stdio server: " + " ".join(self.command)
        if self.kind == "url":
            return f"Streamable HTTP server at {self.url}"
        return f"a running proxy at {self.url} (control {self.control_url})"


HISTORY_LIMIT = 50_000
"""Messages of history the harness's proxy keeps (``proxy --history-limit``)."""


def _mcpchaos(*args: str) -> list[str]:
    return [sys.executable, "-m", "mcpchaos", *args]


class Stack:
    """The upstream and the proxy, started, restarted and stopped together."""

    def __init__(self, target: TargetSpec, workdir: Path, name: str = "stack") -> None:
        self.target = target
        self.workdir = workdir
        self.name = name
        self.upstream: ManagedProcess | None = None
        self.proxy: ManagedProcess | None = None
        self.upstream_url = target.url if target.kind == "url" else ""
        self.proxy_url = target.url if target.kind == "attach" else ""
        self.control: ControlClient | None = None
        self.fault_log_path = workdir / f"{name}-faults.jsonl"
        self.proxy_args: list[str] = []
        self.upstream_args: list[str] = list(target.demo_args)
        """Extra ``mcpchaos demo-server`` options (demo targets only)."""
        self.max_server_processes: int | None = None
        """Command targets: the proxy's ``--max-server-processes`` (None: no bound)."""
        self.replicas: list[ManagedProcess] = []
        """Demo targets: other demo processes a scenario started (:meth:`start_replica`)."""

    @property
    def owns_upstream(self) -> bool:
        """True when the harness can kill and restart the upstream."""
        return self.target.kind in ("demo", "command")

    @property
    def proxy_stderr(self) -> Path | None:
        return self.proxy.stderr_path if self.proxy is not None else None

    async def start(self, proxy_args: Sequence[str] = ()) -> None:
        """Start the upstream (if ours) and the proxy with ``proxy_args`` added."""
        if self.target.kind == "attach":
            self.control = ControlClient(self.target.control_url, self.target.control_token)
            try:
                await self.control.health()
            except ControlApiError as exc:
                raise StackError(str(exc)) from exc
            return
        if self.target.kind == "demo":
            # The proxy does not need its upstream to start, and the demo server takes the
            # longer (the SDK's imports): start both at once, on a port chosen now.
            if not self.upstream_url:
                self.upstream_url = f"http://127.0.0.1:{free_port()}/mcp"
            await asyncio.gather(self.start_upstream(), self.start_proxy(proxy_args))
            return
        await self.start_proxy(proxy_args)

    async def start_upstream(self) -> None:
        """(Re)start the demo server on the same port, so the proxy finds it again."""
        port = int(self.upstream_url.rsplit(":", 1)[1].split("/")[0]) if self.upstream_url else free_port()
        self.upstream = await self._start_demo("upstream", port)
        self.upstream_url = f"http://127.0.0.1:{port}/mcp"

    async def start_replica(self) -> str:
        """Another demo server process with the upstream's options (a replica behind a load
        balancer, for a round that hops to it); stopped with the stack. Returns its MCP URL."""
        port = free_port()
        self.replicas.append(await self._start_demo(f"replica{len(self.replicas) + 1}", port))
        return f"http://127.0.0.1:{port}/mcp"

    async def _start_demo(self, role: str, port: int) -> ManagedProcess:
        process = ManagedProcess(
            role,
            _mcpchaos("demo-server", "--transport", "http", "--port", str(port), *self.upstream_args),
            self.workdir / f"{self.name}-{role}.stderr",
            forkable=True,
        )
        await process.start()
        await wait_for_port(port, process)
        return process

    async def start_proxy(self, proxy_args: Sequence[str] = ()) -> None:
        self.proxy_args = list(proxy_args)
        port, control_port = free_port(), free_port()
        argv = _mcpchaos(
            "proxy",
            "--listen",
            f"127.0.0.1:{port}",
            "--control",
            f"127.0.0.1:{control_port}",
            "--fault-log",
            str(self.fault_log_path),
            # The history checker's verdict (history_consistent) reads the proxy's histories;
            # 50,000 messages (≈ 20 MB) keeps the RSS well inside no_leaks' tolerance.
            "--history",
            "--history-limit",
            str(HISTORY_LIMIT),
            *self.proxy_args,
        )
        if self.target.kind == "command":
            if self.max_server_processes is not None:
                argv += ["--max-server-processes", str(self.max_server_processes)]
            argv += ["--", *self.target.command]
        else:
            argv += ["--upstream", self.upstream_url]
        self.fault_log_path.unlink(missing_ok=True)
        self.proxy = ManagedProcess("proxy", argv, self.workdir / f"{self.name}-proxy.stderr", forkable=True)
        self.proxy.stderr_path.unlink(missing_ok=True)
        await self.proxy.start()
        await wait_for_port(port, self.proxy)
        await wait_for_port(control_port, self.proxy)
        self.proxy_url = f"http://127.0.0.1:{port}/mcp"
        if self.control is not None:
            await self.control.close()
        self.control = ControlClient(f"http://127.0.0.1:{control_port}")

    async def restart_proxy(self, proxy_args: Sequence[str] = ()) -> None:
        """A fresh proxy (new counters, new fault log) with other options."""
        if self.proxy is not None:
            await self.proxy.stop()
        await self.start_proxy(proxy_args)

    def upstream_pids(self) -> list[int]:
        """The server processes: ours (demo), or the bridge's children (command)."""
        if self.upstream is not None and self.upstream.alive and self.upstream.pid is not None:
            return [self.upstream.pid]
        if self.target.kind == "command" and self.proxy is not None and self.proxy.pid is not None:
            import psutil

            with contextlib.suppress(psutil.Error):
                return [child.pid for child in psutil.Process(self.proxy.pid).children()]
        return []

    async def kill_upstream(self) -> None:
        """Kill the server outright (SIGKILL)."""
        if self.target.kind == "demo" and self.upstream is not None:
            await self.upstream.kill()
        elif self.target.kind == "command":
            for pid in self.upstream_pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        else:
            raise StackError(f"cannot kill the upstream of {self.target.describe()}")

    async def restart_upstream(self) -> None:
        """Bring the server back (the bridge starts new processes by itself)."""
        if self.target.kind == "demo":
            await self.start_upstream()

    async def stop(self) -> None:
        if self.control is not None:
            await self.control.close()
        for process in (self.proxy, self.upstream, *self.replicas):
            if process is not None:
                await process.stop()
