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

from bench.http_overhead import process


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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=5000)
    parser.add_argument("--limit", type=int, default=1000)
    args = parser.parse_args()
    server, listen, control = free_port(), free_port(), free_port()
    upstream = f"http://127.0.0.1:{server}/mcp"
    with process("demo-server", "--transport", "http", "--port", str(server), "--json-response", port=server):
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
