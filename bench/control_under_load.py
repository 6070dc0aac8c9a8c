"""How fast the control API answers a PUT /faults while the proxy is under full load.

    .venv/bin/python -m bench.control_under_load [--seconds 10]

The demo MCP server (JSON responses) behind ``mcpchaos proxy --listen --control``; 32
concurrent sessions drive tools/call as fast as they can while a PUT /faults (a valid config
that injects nothing) is sent every 100 ms. Target: every PUT answered within 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import time

import aiohttp

from bench.common import Load, drive, free_port, mcpchaos


async def measure(listen: int, control: int, seconds: float) -> tuple[list[float], Load]:
    load = asyncio.create_task(drive(f"http://127.0.0.1:{listen}/mcp", seconds, 32))
    latencies: list[float] = []
    body = {"fault_probability": 0.0, "seed": 1}
    async with aiohttp.ClientSession() as http:
        await asyncio.sleep(1.0)  # let the load build up
        while not load.done():
            started = time.perf_counter()
            async with http.put(f"http://127.0.0.1:{control}/faults", json=body) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"PUT /faults answered {response.status}")
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.1)
    return latencies, await load


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    server, listen, control = free_port(), free_port(), free_port()
    upstream = f"http://127.0.0.1:{server}/mcp"
    with (
        mcpchaos("demo-server", "--transport", "http", "--port", str(server), "--json-response", port=server),
        mcpchaos(
            "proxy",
            "--listen",
            f"127.0.0.1:{listen}",
            "--upstream",
            upstream,
            "--control",
            f"127.0.0.1:{control}",
            port=listen,
        ),
    ):
        latencies, load = asyncio.run(measure(listen, control, args.seconds))
    latencies.sort()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"load: {load.rate:.0f} tools/call per second through the proxy, 32 sessions")
    print(
        f"PUT /faults under load: {len(latencies)} calls, p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
