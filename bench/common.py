"""What the benchmarks share: subprocesses with their CPU time, a lean HTTP MCP load client,
A/B rounds with medians, and the result records the runner renders.

Every figure is a ratio or a cost measured in one run: the variants are measured alternately,
round after round, and the medians are reported, so a burst of background load hits both sides.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import aiohttp
import psutil
from tests.http.servers import free_port, wait_for_port

MCPCHAOS = [sys.executable, "-m", "mcpchaos"]
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
_INITIALIZE = (
    b'{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25",'
    b'"capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}'
)
_CALL = b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"text":"%s"}}}'
TEXT = b"x" * 100


# ---- results -------------------------------------------------------------------------------


@dataclass
class Check:
    """One target: what is measured, the target, the measured value, met or not (None: no target)."""

    what: str
    target: str
    measured: str
    met: bool | None


@dataclass
class Result:
    """One figure: a table of measurements, the checks against targets, notes."""

    key: str
    title: str
    setup: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Budget:
    """How long and how often: the runner's --quick and --rounds end up here."""

    seconds: float = 3.0
    rounds: int = 5
    quick: bool = False


def machine() -> dict[str, str]:
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": f"{model}, {os.cpu_count()} cores",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": f"{platform.system()} {platform.release()} ({platform.machine()})",
    }


def load_average() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(result: Result) -> str:
    lines = [f"### {result.title} (`{result.key}`)", "", result.setup, ""]
    if result.rows:
        lines.append("| " + " | ".join(result.header) + " |")
        lines.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(result.header))) + "|")
        lines += ["| " + " | ".join(cell(text) for text in row) + " |" for row in result.rows]
        lines.append("")
    if result.checks:
        lines += ["| check | target | measured | met |", "|---|---|---|---|"]
        for check in result.checks:
            met = "—" if check.met is None else ("yes" if check.met else "**no**")
            lines.append(f"| {cell(check.what)} | {check.target} | {cell(check.measured)} | {met} |")
        lines.append("")
    lines += [f"{note}" for note in result.notes]
    return "\n".join(lines).rstrip() + "\n"


# ---- processes -----------------------------------------------------------------------------


@contextlib.contextmanager
def spawn(
    args: list[str], port: int | None = None, env: dict[str, str] | None = None
) -> Iterator[psutil.Process]:
    """Run ``args`` (output discarded) until the block ends; wait for ``port`` to listen first."""
    proc = subprocess.Popen(
        args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        start_new_session=True,  # its children (a stdio server) are stopped with it
    )
    try:
        if port is not None:
            wait_for_port(port, proc)
        yield psutil.Process(proc.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


def mcpchaos(*args: str, port: int) -> contextlib.AbstractContextManager[psutil.Process]:
    return spawn([*MCPCHAOS, *args], port)


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


# ---- load ----------------------------------------------------------------------------------


@dataclass
class Load:
    """What one closed-loop run measured."""

    calls: int
    seconds: float
    latencies: list[float]
    client_cpu: float
    probe: float = 0.0
    """How much ``probe()`` grew over the measured window (e.g. a server's CPU seconds)."""

    @property
    def rate(self) -> float:
        return self.calls / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


async def _session(http: aiohttp.ClientSession, url: str) -> dict[str, str]:
    async with http.post(url, data=_INITIALIZE, headers=HEADERS) as response:
        await response.read()
        session = response.headers.get("Mcp-Session-Id")
    headers = {**HEADERS, "MCP-Protocol-Version": "2025-11-25"}
    if session:
        headers["Mcp-Session-Id"] = session
    async with http.post(
        url, data=b'{"jsonrpc":"2.0","method":"notifications/initialized"}', headers=headers
    ) as response:
        await response.read()
    return headers


async def drive(
    url: str,
    seconds: float,
    concurrency: int = 16,
    warmup: float = 0.3,
    probe: Callable[[], float] | None = None,
) -> Load:
    """Closed loop: ``concurrency`` MCP sessions call ``tools/call echo`` (100 characters) as
    fast as they can for ``seconds`` (after a warm-up); JSON and SSE answers both count.
    ``probe`` is read when the measured window opens and closes (the warm-up stays out)."""
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=0)
    # One bound for the whole run (a timer per request would add to the client's cost): a
    # server that stops answering fails the figure instead of hanging the runner.
    async with asyncio.timeout(warmup + seconds + 60), aiohttp.ClientSession(connector=connector) as http:
        sessions = await asyncio.gather(*(_session(http, url) for _ in range(concurrency)))
        deadline = 0.0
        measuring = False

        async def worker(headers: dict[str, str]) -> None:
            request_id = 1
            while time.monotonic() < deadline:
                started = time.perf_counter()
                async with http.post(url, data=_CALL % (request_id, TEXT), headers=headers) as response:
                    payload = await response.read()
                if response.status != 200 or b'"result"' not in payload:
                    raise RuntimeError(f"unexpected answer {response.status}: {payload[:200]!r}")
                if measuring:
                    latencies.append(time.perf_counter() - started)
                request_id += 1

        deadline = time.monotonic() + warmup
        await asyncio.gather(*(worker(headers) for headers in sessions))
        measuring = True
        probe0 = probe() if probe is not None else 0.0
        cpu0, started = time.process_time(), time.monotonic()
        deadline = started + seconds
        await asyncio.gather(*(worker(headers) for headers in sessions))
        elapsed, cpu = time.monotonic() - started, time.process_time() - cpu0
        probed = probe() - probe0 if probe is not None else 0.0
    return Load(len(latencies), elapsed, latencies, cpu, probed)


def run_load(url: str, seconds: float, concurrency: int = 16, cpu_of: psutil.Process | None = None) -> Load:
    """:func:`drive` on its own uvloop event loop (the client's cost kept low and steady);
    with ``cpu_of``, ``Load.probe`` is that process's CPU seconds over the measured window."""
    import uvloop

    probe = functools.partial(cpu_seconds, cpu_of) if cpu_of is not None else None
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(drive(url, seconds, concurrency, probe=probe))


T = TypeVar("T")


def alternate(variants: dict[str, Callable[[], T]], rounds: int) -> dict[str, list[T]]:
    """Run each variant once per round, in turn (the order flips every round), ``rounds`` times."""
    results: dict[str, list[T]] = {name: [] for name in variants}
    names = list(variants)
    for round_ in range(rounds):
        for name in names if round_ % 2 == 0 else reversed(names):
            results[name].append(variants[name]())
    return results


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def load_cells(runs: list[Load]) -> list[str]:
    """A results row's calls/s, p50 ms and p99 ms: the medians over the alternating runs."""
    return [
        f"{median([run.rate for run in runs]):.0f}",
        ms(median([run.percentile(0.5) for run in runs])),
        ms(median([run.percentile(0.99) for run in runs])),
    ]


def rate_ratio(runs: list[Load], baseline: list[Load]) -> float:
    """The median of per-round throughput ratios (a round's two runs share its conditions)."""
    return median([run.rate / base.rate for run, base in zip(runs, baseline, strict=True)])


__all__ = [
    "Budget",
    "Check",
    "Load",
    "Result",
    "alternate",
    "cell",
    "drive",
    "free_port",
    "load_cells",
    "machine",
    "rate_ratio",
    "render",
    "spawn",
]
