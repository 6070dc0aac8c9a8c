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

from bench.common import mcpchaos
from mcpchaos.proxy.http import HttpOptions, HttpProxy


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def storm(attempts: int, limit: int, upstream: str) -> dict[str, float]:
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
    after_active, after_fds = proxy.limiter.active, fds()
    await proxy.stop()
    return {
        "attempts": attempts,
        "limit": limit,
        "seconds": elapsed,
        "peak": peak,
        "rejected": rejected,
        "errors": errors,
        "probe_max_ms": max(probe_times) * 1000,
        "active_after": after_active,
        "fds_after": after_fds,
        "fds_baseline": baseline,
    }


def raise_fd_limit(attempts: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * attempts + 1000)), hard))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--attempts", type=int, default=10_000)
    parser.add_argument("--limit", type=int, default=1000)
    args = parser.parse_args()
    raise_fd_limit(args.attempts)
    server = free_port()
    with mcpchaos(
        "demo-server",
        "--transport",
        "http",
        "--port",
        str(server),
        "--stateless",
        "--json-response",
        port=server,
    ):
        out = asyncio.run(storm(args.attempts, args.limit, f"http://127.0.0.1:{server}/mcp"))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(
        f"{args.attempts} connection attempts in {out['seconds']:.1f} s "
        f"against --max-connections {args.limit}:"
    )
    print(
        f"  peak open {out['peak']:.0f} (limit {args.limit}), rejected with 503: {out['rejected']:.0f}, "
        f"connect errors: {out['errors']:.0f}"
    )
    print(f"  a request on a fresh connection during the storm: max {out['probe_max_ms']:.0f} ms")
    print(
        f"  after: active {out['active_after']:.0f}, fds {out['fds_after']:.0f} "
        f"(baseline {out['fds_baseline']:.0f})"
    )


if __name__ == "__main__":
    main()
