"""What the benchmarks share: subprocesses with their CPU time, a lean HTTP MCP load client
(and wrk, where it is installed, for sessionless requests), a lean stdio MCP load client, A/B
rounds with medians, and the result records the runner renders.

Every figure is a ratio or a cost measured in one run: the variants are measured alternately,
round after round, and the medians are reported, so a burst of background load hits both sides.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import aiohttp
import orjson
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
SESSIONLESS_ERA = "2026-07-28"
_VERSION_META = "io.modelcontextprotocol/protocolVersion"


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
    client: str = "auto"
    """The sessionless figures' load client: ``wrk``, ``python`` (the lean aiohttp client here)
    or ``auto`` (wrk when it is on PATH, else python)."""


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
        _stop(proc)


@contextlib.contextmanager
def spawn_piped(args: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``args`` with its stdin and stdout as pipes to us (a stdio MCP server or bridge)
    until the block ends; its stderr is discarded."""
    proc = subprocess.Popen(
        args,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to its process group (its children too), SIGKILL after 10 s."""
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


def cpu_snapshot(processes: Mapping[str, psutil.Process]) -> dict[str, float]:
    return {name: cpu_seconds(process) for name, process in processes.items()}


def cpu_since(processes: Mapping[str, psutil.Process], before: dict[str, float]) -> dict[str, float]:
    """Each process's CPU seconds since ``before`` (a :func:`cpu_snapshot`)."""
    return {name: cpu_seconds(process) - before[name] for name, process in processes.items()}


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
    percentiles: dict[float, float] = field(default_factory=dict)
    """Latency percentiles a client reported itself (wrk keeps no list of latencies)."""
    cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds of named processes over the measured window (``cpus`` of the run)."""

    @property
    def rate(self) -> float:
        return self.calls / self.seconds

    def per_call(self, seconds: float) -> float:
        """``seconds`` (a CPU time over the run) per call, in µs."""
        return seconds / max(self.calls, 1) * 1e6

    def percentile(self, q: float) -> float:
        if q in self.percentiles:
            return self.percentiles[q]
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


@dataclass(frozen=True)
class Sessionless:
    """A 2026-07-28 ``tools/call echo`` that stands alone: no ``initialize``, no session id; the
    version in ``params._meta`` and the routing headers on every request. The same bytes every
    time (id 1), as wrk sends them: concurrent requests with one id must not meet anywhere."""

    body: bytes
    headers: dict[str, str]

    @staticmethod
    def call(progress: bool = False) -> Sessionless:
        """With ``progress``, ``params._meta.progressToken`` asks for progress notifications."""
        meta: dict[str, object] = {_VERSION_META: SESSIONLESS_ERA}
        if progress:
            meta["progressToken"] = 1
        params = {"name": "echo", "arguments": {"text": TEXT.decode()}, "_meta": meta}
        body = orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})
        headers = {
            **HEADERS,
            "MCP-Protocol-Version": SESSIONLESS_ERA,
            "Mcp-Method": "tools/call",
            "Mcp-Name": "echo",
        }
        return Sessionless(body, headers)


async def drive(
    url: str,
    seconds: float,
    concurrency: int = 16,
    warmup: float = 0.3,
    probe: Callable[[], float] | None = None,
    sessionless: Sessionless | None = None,
    cpus: Mapping[str, psutil.Process] | None = None,
) -> Load:
    """Closed loop: ``concurrency`` MCP sessions call ``tools/call echo`` (100 characters) as
    fast as they can for ``seconds`` (after a warm-up); JSON and SSE answers both count.
    ``probe`` is read when the measured window opens and closes (the warm-up stays out).
    With ``sessionless``, ``concurrency`` keep-alive workers send that request instead (no
    handshake, no session). ``Load.cpu`` has the CPU seconds of ``cpus`` over the window."""
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=0)
    # One bound for the whole run (a timer per request would add to the client's cost): a
    # server that stops answering fails the figure instead of hanging the runner.
    async with asyncio.timeout(warmup + seconds + 60), aiohttp.ClientSession(connector=connector) as http:
        if sessionless is None:
            sessions = await asyncio.gather(*(_session(http, url) for _ in range(concurrency)))
        else:
            sessions = [sessionless.headers] * concurrency
        deadline = 0.0
        measuring = False

        async def worker(headers: dict[str, str]) -> None:
            request_id = 1
            while time.monotonic() < deadline:
                started = time.perf_counter()
                body = _CALL % (request_id, TEXT) if sessionless is None else sessionless.body
                async with http.post(url, data=body, headers=headers) as response:
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
        cpus0 = cpu_snapshot(cpus or {})
        cpu0, started = time.process_time(), time.monotonic()
        deadline = started + seconds
        await asyncio.gather(*(worker(headers) for headers in sessions))
        elapsed, cpu = time.monotonic() - started, time.process_time() - cpu0
        probed = probe() - probe0 if probe is not None else 0.0
        used = cpu_since(cpus or {}, cpus0)
    return Load(len(latencies), elapsed, latencies, cpu, probed, cpu=used)


def run_load(
    url: str,
    seconds: float,
    concurrency: int = 16,
    cpu_of: psutil.Process | None = None,
    sessionless: Sessionless | None = None,
    warmup: float = 0.3,
    cpus: Mapping[str, psutil.Process] | None = None,
) -> Load:
    """:func:`drive` on its own uvloop event loop (the client's cost kept low and steady);
    with ``cpu_of``, ``Load.probe`` is that process's CPU seconds over the measured window."""
    import uvloop

    probe = functools.partial(cpu_seconds, cpu_of) if cpu_of is not None else None
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(drive(url, seconds, concurrency, warmup, probe, sessionless, cpus))


# ---- wrk -----------------------------------------------------------------------------------

_WRK_SCRIPT = """\
-- Generated by bench.common: one fixed request; answers checked; a JSON summary at the end.
wrk.method = "POST"
wrk.body = [==[%(body)s]==]
%(headers)s
local threads = {}
function setup(thread) table.insert(threads, thread) end
bad = 0
first_bad = ""
function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"result"', 1, true) then
    if bad == 0 then
      first_bad = string.gsub(status .. " " .. string.sub(body, 1, 200), '[%%c"\\\\]', "?")
    end
    bad = bad + 1
  end
end
function done(summary, latency, requests)
  local bad_total, first = 0, ""
  for _, thread in ipairs(threads) do
    bad_total = bad_total + thread:get("bad")
    if first == "" then first = thread:get("first_bad") end
  end
  local e = summary.errors
  io.write(string.format(
    'WRK-RESULT {"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p99_us":%%d,"bad":%%d,' ..
    '"errors":%%d,"first_bad":"%%s"}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), bad_total,
    e.connect + e.read + e.write + e.status + e.timeout, first))
end
"""


def wrk_script(request: Sessionless) -> str:
    """The Lua script that makes wrk send ``request`` and report a JSON line (``WRK-RESULT``)."""
    headers = "\n".join(f'wrk.headers["{name}"] = "{value}"' for name, value in request.headers.items())
    return _WRK_SCRIPT % {"body": request.body.decode(), "headers": headers}


def parse_wrk(output: str) -> dict[str, object]:
    for line in output.splitlines():
        if line.startswith("WRK-RESULT "):
            parsed: dict[str, object] = json.loads(line.removeprefix("WRK-RESULT "))
            return parsed
    raise RuntimeError(f"wrk printed no result line: {output[-500:]!r}")


def wrk_version() -> str:
    path = shutil.which("wrk")
    if path is None:
        return ""
    done = subprocess.run([path, "-v"], capture_output=True, text=True, timeout=10)
    first = (done.stdout + done.stderr).split("\n", 1)[0]  # "wrk 4.1.0 [epoll] Copyright ..."
    return first.split(" [", 1)[0].strip()


def sessionless_client(budget: Budget) -> str:
    """``wrk`` or ``python``: the client the sessionless figures use under this budget."""
    if budget.client == "python":
        return "python"
    if shutil.which("wrk") is not None:
        return "wrk"
    if budget.client == "wrk":
        raise RuntimeError("--client wrk: wrk is not on PATH (apt-get install wrk)")
    return "python"


def client_label(client: str, connections: int = 16) -> str:
    """How a figure names its load client in its setup line."""
    if client == "wrk":
        return f"`{wrk_version() or 'wrk'} -t1 -c{connections}` (keep-alive, a Lua script sets the request)"
    return (
        f"the lean aiohttp client (`bench.common.drive`, uvloop, {connections} keep-alive workers; "
        "wrk was not used)"
    )


def run_wrk(
    url: str,
    request: Sessionless,
    seconds: float,
    connections: int = 16,
    cpus: Mapping[str, psutil.Process] | None = None,
) -> Load:
    """``wrk -t1 -c{connections}`` keep-alive POSTs of ``request`` for ``seconds`` (whole
    seconds, at least 1: wrk's unit). ``client_cpu`` is wrk's CPU time (its rusage as a reaped
    child); ``Load.cpu`` has the CPU seconds of ``cpus`` over the run. Any answer that is not
    a 200 with a result, or a socket error, fails the run."""
    whole = max(1, round(seconds))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="bench-wrk-", delete=False) as script:
        script.write(wrk_script(request))
    try:
        args = ["wrk", "-t1", f"-c{connections}", f"-d{whole}s", "--timeout", "10s", "-s", script.name, url]
        cpus0 = cpu_snapshot(cpus or {})
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(args, capture_output=True, text=True, timeout=whole + 60)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        used = cpu_since(cpus or {}, cpus0)
    finally:
        Path(script.name).unlink(missing_ok=True)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr[-500:]}")
    summary = parse_wrk(done.stdout)
    if summary["bad"] or summary["errors"]:
        raise RuntimeError(
            f"wrk: {summary['bad']} unexpected answers, {summary['errors']} socket errors "
            f"(first: {summary['first_bad']!r})"
        )
    requests = int(str(summary["requests"]))
    client = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return Load(
        requests,
        int(str(summary["duration_us"])) / 1e6,
        [],
        client,
        percentiles={0.5: int(str(summary["p50_us"])) / 1e6, 0.99: int(str(summary["p99_us"])) / 1e6},
        cpu=used,
    )


def run_sessionless(
    client: str,
    url: str,
    request: Sessionless,
    seconds: float,
    connections: int = 16,
    cpus: Mapping[str, psutil.Process] | None = None,
) -> Load:
    """One measured run of sessionless keep-alive load with ``client`` (``wrk`` or ``python``)."""
    if client == "wrk":
        return run_wrk(url, request, seconds, connections, cpus)
    return run_load(url, seconds, connections, sessionless=request, cpus=cpus)


def warm_up(url: str, request: Sessionless, seconds: float = 0.2) -> None:
    """A few hundred requests before the measured rounds (pools filled, code paths warm)."""
    run_load(url, seconds, 16, sessionless=request, warmup=0.0)


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


def cpu_cell(runs: list[Load], name: str) -> str:
    """The median CPU µs per call of the process ``name`` (of ``Load.cpu``), or blank."""
    values = [run.per_call(run.cpu[name]) for run in runs if name in run.cpu]
    return f"{median(values):.0f}" if values else ""


def hop_cells(runs: list[Load], reference: list[Load]) -> list[str]:
    """req/s, × reference, p50, p99, then the CPU µs per request of the hop, the upstream and
    the client: the columns of the figures that put a hop between a client and an upstream."""
    rate, p50, p99 = load_cells(runs)
    return [
        rate,
        f"{rate_ratio(runs, reference):.3f}",
        p50,
        p99,
        cpu_cell(runs, "hop"),
        cpu_cell(runs, "upstream"),
        f"{median([run.per_call(run.client_cpu) for run in runs]):.0f}",
    ]


__all__ = [
    "Budget",
    "Check",
    "Load",
    "Result",
    "Sessionless",
    "alternate",
    "cell",
    "drive",
    "free_port",
    "load_cells",
    "machine",
    "rate_ratio",
    "render",
    "run_sessionless",
    "run_wrk",
    "spawn",
]
