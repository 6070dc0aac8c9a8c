"""What every fuzz driver shares: the tally of what went wrong, reading the proxy's output
exactly, its resources, the proxy's environment, and running a strategy for N examples."""

from __future__ import annotations

import collections
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psutil
from bench.echo_stdio import decode
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")

MAX_PROBLEMS = 20
"""Problems described in full; beyond it they are only counted."""

__all__ = ["ROOT", "Resources", "StderrWatch", "Tally", "decode", "proxy_env", "resources", "run_examples"]


def proxy_env() -> dict[str, str]:
    """The environment a proxy subprocess runs in: this worktree's code first."""
    path = os.pathsep.join([str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path.rstrip(os.pathsep), "PYTHONUNBUFFERED": "1"}


@dataclass
class Tally:
    """Counts of what was sent and checked, and of every way it went wrong."""

    messages: int = 0
    """Inputs sent (lines, HTTP requests)."""
    valid_checked: int = 0
    """Valid requests whose one answer had the right id and the echoed text."""
    errors_checked: int = 0
    """Invalid inputs answered with the JSON-RPC error (or HTTP status) owed."""
    quiet_checked: int = 0
    """Inputs owed nothing that got nothing."""
    lost: int = 0
    duplicated: int = 0
    wrong: int = 0
    """An answer with the wrong content, code, status or shape."""
    unexpected: int = 0
    """An answer to nothing that was sent (an id never used, a notification)."""
    hangs: int = 0
    crashes: int = 0
    tracebacks: int = 0
    problems: list[str] = field(default_factory=list)

    def problem(self, category: str, text: str) -> None:
        setattr(self, category, getattr(self, category) + 1)
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"{category}: {text}")

    def add(self, other: Tally) -> None:
        """Add ``other``'s counts (and as many of its problems as fit) to these."""
        for key in self.summary():
            setattr(self, key, getattr(self, key) + getattr(other, key))
        self.problems += other.problems[: MAX_PROBLEMS - len(self.problems)]

    @property
    def failures(self) -> int:
        return (
            self.lost
            + self.duplicated
            + self.wrong
            + self.unexpected
            + self.hangs
            + self.crashes
            + self.tracebacks
        )

    def summary(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "valid_checked": self.valid_checked,
            "errors_checked": self.errors_checked,
            "quiet_checked": self.quiet_checked,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "wrong": self.wrong,
            "unexpected": self.unexpected,
            "hangs": self.hangs,
            "crashes": self.crashes,
            "tracebacks": self.tracebacks,
        }

    def describe(self) -> str:
        counts = ", ".join(f"{key} {value}" for key, value in self.summary().items())
        return counts + "".join(f"\n  {problem}" for problem in self.problems)


@dataclass(frozen=True, slots=True)
class Resources:
    fds: int
    rss: int

    def __str__(self) -> str:
        return f"{self.fds} fds, {self.rss / 2**20:.1f} MiB RSS"


def resources(pid: int) -> Resources:
    process = psutil.Process(pid)
    with process.oneshot():
        return Resources(process.num_fds(), process.memory_info().rss)


def sockets(pid: int, listen_port: int) -> tuple[int, int]:
    """Connected TCP sockets of ``pid``: (clients' connections to ``listen_port``, the others:
    toward the upstream, i.e. the keep-alive pool and, with the network simulator on, its relay)."""
    clients = others = 0
    for connection in psutil.Process(pid).net_connections("tcp"):
        if connection.raddr:
            if connection.laddr.port == listen_port:
                clients += 1
            else:
                others += 1
    return clients, others


def settle(pid: int, baseline: Resources, fd_slack: int, within: float) -> Resources:
    """Wait (bounded) until the fds of ``pid`` are back within ``fd_slack`` of the baseline;
    returns the last sample either way."""
    deadline = time.monotonic() + within
    while True:
        now = resources(pid)
        if now.fds <= baseline.fds + fd_slack or time.monotonic() > deadline:
            return now
        time.sleep(0.1)


def run_examples(
    strategy: st.SearchStrategy[T],
    body: Callable[[T], None],
    examples: int,
    seed_value: int,
    shrink: bool = False,
) -> None:
    """Run ``body`` on ``examples`` examples of ``strategy`` (generation only unless ``shrink``),
    seeded, with no example database: the long mode and the soak draw their inputs so."""
    phases = [Phase.generate, Phase.shrink] if shrink else [Phase.generate]

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=phases,
        suppress_health_check=list(HealthCheck),
    )
    @seed(seed_value)
    @given(strategy)
    def run(example: T) -> None:
        body(example)

    run()


class StderrWatch:
    """A thread reading a process's stderr to the end: counts lines, keeps the last 50 and
    every traceback (its first lines)."""

    def __init__(self, stream: Iterable[bytes]) -> None:
        self.tail: collections.deque[str] = collections.deque(maxlen=50)
        self.traceback_lines: list[str] = []
        self.lines = 0
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: Iterable[bytes]) -> None:
        for raw in stream:
            line = raw.decode(errors="replace").rstrip()
            self.lines += 1
            self.tail.append(line)
            starts = "Traceback" in line and len(self.traceback_lines) < 20
            goes_on = bool(self.traceback_lines) and len(self.traceback_lines) < 200 and raw.startswith(b" ")
            if starts or goes_on:
                self.traceback_lines.append(line)

    @property
    def tracebacks(self) -> int:
        return sum("Traceback" in line for line in self.traceback_lines)

    def join(self, within: float) -> None:
        self._thread.join(within)
