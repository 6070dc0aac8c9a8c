"""stdio proxy overhead: the official SDK client → ``mcpchaos proxy -- demo-server`` against
the SDK client → ``demo-server`` directly.

Both sessions stay open for the whole run; each round runs ``tools/call echo`` with 8 calls in
flight on one session, direct then proxied (the order flips every round); medians reported.

    .venv/bin/python -m bench.stdio_overhead [--seconds 3] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

import psutil
from mcp import Client, StdioServerParameters

from bench.common import Budget, Check, Load, Result, cpu_seconds, load_cells, median, rate_ratio, render

_SERVER = [sys.executable, "-m", "mcpchaos", "demo-server"]


async def _run(client: Client, seconds: float, concurrency: int) -> Load:
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            await client.call_tool("echo", {"text": "x" * 100})
            latencies.append(time.perf_counter() - started)

    cpu0, started = time.process_time(), time.monotonic()
    async with asyncio.timeout(seconds + 60):  # a server that stops answering fails the figure
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Load(len(latencies), time.monotonic() - started, latencies, time.process_time() - cpu0)


def _proxy_process() -> psutil.Process | None:
    for child in psutil.Process().children(recursive=True):
        if "proxy" in child.cmdline():
            return child
    return None


async def measure(budget: Budget, concurrency: int = 8) -> tuple[dict[str, list[Load]], list[float]]:
    direct = StdioServerParameters(command=_SERVER[0], args=_SERVER[1:])
    proxied = StdioServerParameters(command=sys.executable, args=["-m", "mcpchaos", "proxy", "--", *_SERVER])
    loads: dict[str, list[Load]] = {"direct": [], "proxied": []}
    proxy_cpu: list[float] = []
    async with Client(direct, mode="legacy") as plain, Client(proxied, mode="legacy") as through:
        proxy = _proxy_process()
        clients = {"direct": plain, "proxied": through}
        for client in clients.values():  # warm-up
            await _run(client, 0.1 if budget.quick else 0.5, concurrency)
        for round_ in range(budget.rounds):
            for name in ("direct", "proxied") if round_ % 2 == 0 else ("proxied", "direct"):
                before = cpu_seconds(proxy) if proxy is not None else 0.0
                load = await _run(clients[name], budget.seconds, concurrency)
                loads[name].append(load)
                if name == "proxied" and proxy is not None:
                    proxy_cpu.append((cpu_seconds(proxy) - before) / max(load.calls, 1) * 1e6)
    return loads, proxy_cpu


def figure(budget: Budget) -> Result:
    loads, proxy_cpu = asyncio.run(measure(budget))
    result = Result(
        "stdio",
        "stdio proxy overhead",
        "the official SDK client (`mcp.Client`) → `mcpchaos proxy -- mcpchaos demo-server` against the "
        "same client → `mcpchaos demo-server`; one session each, 8 `tools/call echo` in flight",
        ["path", "calls/s", "p50 ms", "p99 ms"],
    )
    for name, runs in loads.items():
        result.rows.append([name, *load_cells(runs)])
    ratio = rate_ratio(loads["proxied"], loads["direct"])
    result.checks.append(
        Check(
            "throughput proxied / direct (median of per-round ratios)", "≥ 0.9", f"{ratio:.3f}", ratio >= 0.9
        )
    )
    if proxy_cpu:
        result.notes.append(f"proxy CPU per call: {median(proxy_cpu):.0f} µs")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(render(figure(Budget(args.seconds, args.rounds))))


if __name__ == "__main__":
    main()
