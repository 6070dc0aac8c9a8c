"""A connection storm against ``--max-connections``: the open count never exceeds the limit,
the rest get the clean 503, a request on a fresh connection still answers fast, and the fds
come back to their baseline.

    .venv/bin/python -m bench.connection_storm [--attempts 10000] [--limit 1000]

The proxy runs in this process (so its open count and fds can be read directly) in front of
the demo MCP server; the storm holds each connection open until the end, in waves. Loopback
only; bounded by --attempts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import resource
import time

import aiohttp
from tests.http.mcp import HEADERS
from tests.http.servers import free_port

from bench.http_overhead import process
from mcpchaos.proxy.http import HttpOptions, HttpProxy


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def storm(attempts: int, limit: int, upstream: str) -> None:
    proxy = HttpProxy(upstream, options=HttpOptions(max_connections=limit))
    await proxy.start("127.0.0.1", 0)
    baseline = fds()
    held: list[asyncio.StreamWriter] = []
    rejected = errors = 0
    peak = 0
    probe_times: list[float] = []
    started = time.monotonic()
    async with aiohttp.ClientSession() as http:
        for wave in range(0, attempts, 500):

            async def attempt() -> None:
                nonlocal rejected, errors
                try:
                    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
                except OSError:
                    errors += 1
                    return
                held.append(writer)
                try:
                    first = await asyncio.wait_for(reader.read(64), 0.2)
                    if first.startswith(b"HTTP/1.1 503"):
                        rejected += 1
                except TimeoutError:
                    pass  # accepted and idle: it holds a slot

            await asyncio.gather(*(attempt() for _ in range(min(500, attempts - wave))))
            peak = max(peak, proxy.limiter.peak)
            probe = time.monotonic()
            async with http.post(
                f"http://127.0.0.1:{proxy.port}/mcp",
                json={"jsonrpc": "2.0", "id": wave, "method": "ping"},
                headers=HEADERS,
            ) as response:
                await response.read()
            probe_times.append(time.monotonic() - probe)
    elapsed = time.monotonic() - started
    for writer in held:
        writer.close()
    async with asyncio.timeout(30):
        while proxy.limiter.active > 0 or fds() > baseline:  # noqa: ASYNC110 - bounded
            await asyncio.sleep(0.05)
    await proxy.stop()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{attempts} connection attempts in {elapsed:.1f} s against --max-connections {limit}:")
    print(f"  peak open {peak} (limit {limit}), rejected with 503: {rejected}, connect errors: {errors}")
    print(f"  a request on a fresh connection during the storm: max {max(probe_times) * 1000:.0f} ms")
    print(f"  after: active {proxy.limiter.active}, fds {fds()} (baseline {baseline})")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--attempts", type=int, default=10_000)
    parser.add_argument("--limit", type=int, default=1000)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.attempts + 1000)), hard))
    server = free_port()
    with process(
        "demo-server",
        "--transport",
        "http",
        "--port",
        str(server),
        "--stateless",
        "--json-response",
        port=server,
    ):
        asyncio.run(storm(args.attempts, args.limit, f"http://127.0.0.1:{server}/mcp"))


if __name__ == "__main__":
    main()
