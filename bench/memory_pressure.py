"""Memory pressure: many sessions against ``--max-sessions``; evictions happen, the proxy's RSS
stays bounded, and a new client still works.

    .venv/bin/python -m bench.memory_pressure [--sessions 5000] [--limit 1000]

The proxy (``mcpchaos proxy --listen --upstream --max-sessions --control``) and the demo MCP
server run as subprocesses; this process opens sessions 16 at a time and samples the proxy's
RSS. Loopback only; bounded by --sessions.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys

import aiohttp
import psutil
from tests.http.mcp import HEADERS, INITIALIZE
from tests.http.servers import free_port, wait_for_port

from bench import connection_storm
from bench.common import Budget, Check, Result, mcpchaos, spawn


async def pressure(url: str, control: str, sessions: int, proxy_pid: int) -> None:
    rss: list[float] = []
    proxy = psutil.Process(proxy_pid)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=16)) as http:

        async def one() -> None:
            async with http.post(url, json=INITIALIZE, headers=HEADERS) as response:
                await response.read()

        for start in range(0, sessions, 500):
            await asyncio.gather(*(one() for _ in range(min(500, sessions - start))))
            rss.append(proxy.memory_info().rss / 2**20)
        async with http.get(f"{control}/metrics.json") as response:
            metrics = await response.json()
        async with http.post(url, json=INITIALIZE, headers=HEADERS) as response:
            fresh = response.status
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(
        f"{sessions} sessions opened; evicted {metrics['sessions']['evicted']}, "
        f"active {metrics['sessions']['active']}"
    )
    print(f"proxy RSS (MiB) every 500 sessions: {', '.join(f'{value:.0f}' for value in rss)}")
    print(f"a new client afterwards: HTTP {fresh}")


async def idle_sessions(url: str, sessions: int, proxy: psutil.Process, warm: int) -> tuple[float, float]:
    """Open ``warm`` sessions, take the RSS, open the rest (never used again), take it again.
    Returns the two RSS values in bytes."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=16)) as http:

        async def one() -> None:
            async with http.post(url, json=INITIALIZE, headers=HEADERS) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"initialize answered {response.status}")

        async def open_many(count: int) -> None:
            for start in range(0, count, 500):
                await asyncio.gather(*(one() for _ in range(min(500, count - start))))

        await open_many(warm)
        await asyncio.sleep(0.2)
        before = float(proxy.memory_info().rss)
        await open_many(sessions - warm)
        await asyncio.sleep(0.2)
        return before, float(proxy.memory_info().rss)


def figure_scale(budget: Budget) -> Result:
    """RSS per idle session at 10,000 sessions, and a 10,000-connection storm."""
    sessions = 1000 if budget.quick else 10_000
    warm = 200 if budget.quick else 1000
    upstream_port, listen = free_port(), free_port()
    upstream = f"http://127.0.0.1:{upstream_port}/mcp"
    with (
        spawn([sys.executable, "-m", "bench.echo_http", str(upstream_port)], upstream_port),
        mcpchaos(
            "proxy",
            "--listen",
            f"127.0.0.1:{listen}",
            "--upstream",
            upstream,
            "--max-sessions",
            str(sessions * 2),
            port=listen,
        ) as proxy,
    ):
        before, after = asyncio.run(
            asyncio.wait_for(idle_sessions(f"http://127.0.0.1:{listen}/mcp", sessions, proxy, warm), 300)
        )
    per_session = (after - before) / (sessions - warm)
    attempts = 1000 if budget.quick else 10_000
    limit = 100 if budget.quick else 1000
    connection_storm.raise_fd_limit(attempts)
    with spawn([sys.executable, "-m", "bench.echo_http", str(upstream_port)], upstream_port):
        storm = asyncio.run(asyncio.wait_for(connection_storm.storm(attempts, limit, upstream), 300))
    result = Result(
        "scale",
        "Scale: idle sessions and a connection storm",
        f"`mcpchaos proxy --listen --upstream` in front of `bench.echo_http`: {sessions:,} sessions "
        f"initialized 16 at a time and left idle (RSS of the proxy process after {warm:,} and after "
        f"{sessions:,}); then {attempts:,} connections opened in waves of 500 and held against "
        f"`--max-connections {limit}` (proxy in the benchmark's process), a `ping` on a fresh "
        "connection after each wave",
        ["measure", "value"],
    )
    result.rows = [
        ["proxy RSS after warm-up / at the end", f"{before / 2**20:.1f} MiB / {after / 2**20:.1f} MiB"],
        ["RSS per idle session", f"{per_session / 1024:.1f} KiB"],
        ["storm: attempts, seconds", f"{attempts:,} in {storm['seconds']:.1f} s"],
        ["storm: peak open (limit)", f"{storm['peak']:.0f} ({limit})"],
        [
            "storm: rejected with a clean 503 / connect errors",
            f"{storm['rejected']:.0f} / {storm['errors']:.0f}",
        ],
        ["storm: slowest fresh request during the storm", f"{storm['probe_max_ms']:.0f} ms"],
        [
            "after: open connections, fds (baseline)",
            f"{storm['active_after']:.0f}, {storm['fds_after']:.0f} ({storm['fds_baseline']:.0f})",
        ],
    ]
    result.checks.append(
        Check(
            f"RSS per idle session at {sessions:,}",
            "≤ 20 KB",
            f"{per_session / 1000:.1f} KB",
            per_session <= 20_000,
        )
    )
    result.checks.append(
        Check(
            "storm: peak open within the limit, nothing left open after",
            f"≤ {limit}, 0",
            f"{storm['peak']:.0f}, {storm['active_after']:.0f}",
            storm["peak"] <= limit and storm["active_after"] == 0,
        )
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=5000)
    parser.add_argument("--limit", type=int, default=1000)
    args = parser.parse_args()
    server, listen, control = free_port(), free_port(), free_port()
    upstream = f"http://127.0.0.1:{server}/mcp"
    with mcpchaos(
        "demo-server", "--transport", "http", "--port", str(server), "--json-response", port=server
    ):
        proxy = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mcpchaos",
                "proxy",
                "--listen",
                f"127.0.0.1:{listen}",
                "--upstream",
                upstream,
                "--max-sessions",
                str(args.limit),
                "--control",
                f"127.0.0.1:{control}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(listen, proxy)
            wait_for_port(control, proxy)
            asyncio.run(
                pressure(
                    f"http://127.0.0.1:{listen}/mcp", f"http://127.0.0.1:{control}", args.sessions, proxy.pid
                )
            )
        finally:
            proxy.terminate()
            proxy.wait(10)


if __name__ == "__main__":
    main()
