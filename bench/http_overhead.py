"""Throughput and latency of MCP tools/call over Streamable HTTP: direct vs through mcpchaos.

Starts the demo server (official SDK) and ``mcpchaos proxy --listen`` as subprocesses, then
drives ``tools/call echo`` with a raw aiohttp client (N concurrent sessions, closed loop)
against each for a fixed time. Bounded: every run stops after ``--seconds`` or
``--max-requests``, whichever comes first. Loopback only.

    .venv/bin/python -m bench.http_overhead [--seconds 5] [--concurrency 16] [--mode sse|json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
from tests.http.mcp import HEADERS
from tests.http.servers import free_port, wait_for_port


@contextmanager
def process(*args: str, port: int) -> Iterator[None]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcpchaos", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(port, proc)
        yield
    finally:
        proc.terminate()
        proc.wait(10)


async def worker(
    http: aiohttp.ClientSession, url: str, deadline: float, budget: list[int], latencies: list[float]
) -> None:
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "0"},
        },
    }
    async with http.post(url, json=init, headers=HEADERS) as response:
        await response.read()
        session = response.headers.get("Mcp-Session-Id")
    headers = dict(
        HEADERS, **({"Mcp-Session-Id": session} if session else {}), **{"MCP-Protocol-Version": "2025-11-25"}
    )
    async with http.post(
        url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers
    ) as r:
        await r.read()
    request_id = 1
    while time.monotonic() < deadline and budget[0] > 0:
        budget[0] -= 1
        body = {
            "jsonrpc": "2.0",
            "id": request_id,
            "method": "tools/call",
            "params": {"name": "echo", "arguments": {"text": "x" * 100}},
        }
        started = time.perf_counter()
        async with http.post(url, data=json.dumps(body), headers=headers) as response:
            payload = await response.read()
        latencies.append(time.perf_counter() - started)
        if response.status != 200 or b'"result"' not in payload:
            raise RuntimeError(f"unexpected answer {response.status}: {payload[:200]!r}")
        request_id += 1


async def drive(url: str, seconds: float, concurrency: int, max_requests: int) -> dict[str, float]:
    latencies: list[float] = []
    budget = [max_requests]
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        # warm-up
        await worker(http, url, time.monotonic() + 0.5, [200], [])
        started = time.monotonic()
        await asyncio.gather(
            *(worker(http, url, started + seconds, budget, latencies) for _ in range(concurrency))
        )
        elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "throughput": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--mode", choices=["sse", "json"], default="sse")
    args = parser.parse_args()
    flags = ["--json-response"] if args.mode == "json" else []
    server_port, proxy_port = free_port(), free_port()
    upstream = f"http://127.0.0.1:{server_port}/mcp"
    with process("demo-server", "--transport", "http", "--port", str(server_port), *flags, port=server_port):
        direct = asyncio.run(drive(upstream, args.seconds, args.concurrency, args.max_requests))
        with process("proxy", "--listen", f"127.0.0.1:{proxy_port}", "--upstream", upstream, port=proxy_port):
            proxied = asyncio.run(
                drive(f"http://127.0.0.1:{proxy_port}/mcp", args.seconds, args.concurrency, args.max_requests)
            )
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"mode={args.mode} concurrency={args.concurrency} seconds={args.seconds}")
    print(f"{'':8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9}")
    for name, result in (("direct", direct), ("proxied", proxied)):
        print(
            f"{name:8} {result['throughput']:8.0f} {result['p50_ms']:8.2f} {result['p99_ms']:8.2f} "
            f"{result['requests']:9.0f}"
        )
    print(f"throughput ratio proxied/direct: {proxied['throughput'] / direct['throughput']:.2f}")


if __name__ == "__main__":
    main()
