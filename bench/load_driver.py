"""Client cost of the load driver: calls/s and client CPU µs per call, fast vs SDK clients.

Starts the demo server (official SDK, Streamable HTTP) as a subprocess and runs the closed
loop ``tools/call echo`` for ``--seconds`` per client kind. CPU is this process's CPU time
(``time.process_time``) over the calls that ended: the server's work is not in it. The
server (not the client) bounds calls/s on a small machine; the CPU per call is the figure
that says how much load one driver process can offer.

    .venv/bin/python -m bench.load_driver [--seconds 5] [--clients 8] [--mode sse|json]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from tests.http.servers import demo_http_server

from bench.common import Budget, Check, Result, alternate, free_port, median, spawn
from mcpchaos.harness.load import HttpTarget, LoadDriver, LoadSettings, Recorder


async def measure(url: str, settings: LoadSettings, seconds: float) -> tuple[int, float, float, float | None]:
    """(calls ended, calls/s, client CPU µs per call, p50 ms)."""
    recorder = Recorder()
    driver = LoadDriver(HttpTarget(url), settings, recorder)
    await driver.start()
    before_calls = recorder.totals()[0].total
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    # CPU and time first: totals() merges HDR histograms in Python (tens of ms), not the client's cost.
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    calls = recorder.totals()[0].total - before_calls
    await driver.stop()
    recorder.finish()
    counts, latency, _ = recorder.totals()
    if counts.ok != counts.total:
        print(f"  warning: not all ok: {counts.model_dump()}")
    return calls, calls / wall, cpu / max(calls, 1) * 1e6, latency.p50_ms


def figure(budget: Budget) -> Result:
    """Client CPU per call at client saturation: 16 closed-loop clients against the echo upstream."""
    import sys

    import uvloop

    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"

    def run(share: float) -> tuple[int, float, float, float | None]:
        settings = LoadSettings(clients=16, sdk_share=share, protocol="2025-11-25")
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(measure(url, settings, budget.seconds))

    with spawn([sys.executable, "-m", "bench.echo_http", str(port)], port):
        runs = alternate({"fast": lambda: run(0.0), "SDK": lambda: run(1.0)}, budget.rounds)
    result = Result(
        "driver",
        "Load driver capacity: the fast client against the official SDK client",
        "the harness's `LoadDriver` (16 closed-loop 2025-11-25 clients, uvloop, as `mcpchaos run` "
        "runs it) against `bench.echo_http`, so the client is the bottleneck; client CPU = this "
        "process's CPU time / calls",
        ["client", "calls/s", "client CPU µs/call", "p50 ms"],
    )
    cost: dict[str, float] = {}
    for name, values in runs.items():
        cost[name] = median([v[2] for v in values])
        p50 = median([v[3] or 0.0 for v in values])
        result.rows.append([name, f"{median([v[1] for v in values]):.0f}", f"{cost[name]:.0f}", f"{p50:.2f}"])
    result.checks.append(
        Check("fast client CPU per call", "≤ 100 µs", f"{cost['fast']:.0f} µs", cost["fast"] <= 100)
    )
    result.notes.append(
        f"The fast client costs {cost['SDK'] / cost['fast']:.1f}× less CPU per call than the SDK client."
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--mode", choices=["sse", "json"], default="sse")
    parser.add_argument("--uvloop", action="store_true", help="run the driver on uvloop")
    args = parser.parse_args()
    loop_factory = None
    if args.uvloop:
        import uvloop

        loop_factory = uvloop.new_event_loop
    flags = ("--json-response",) if args.mode == "json" else ()
    rows = []
    with demo_http_server(*flags) as url:
        for label, share, protocol in [
            ("fast 2025-11-25", 0.0, "2025-11-25"),
            ("fast 2026-07-28", 0.0, "2026-07-28"),
            ("sdk  2025-11-25", 1.0, "2025-11-25"),
        ]:
            settings = LoadSettings(clients=args.clients, sdk_share=share, protocol=protocol)
            with asyncio.Runner(loop_factory=loop_factory) as runner:
                rows.append((label, *runner.run(measure(url, settings, args.seconds))))
    loop = "uvloop" if args.uvloop else "asyncio"
    print(f"demo server ({args.mode}), {args.clients} closed-loop clients on {loop}, {args.seconds:g} s each")
    print(f"{'client':<16} {'calls':>7} {'calls/s':>9} {'CPU µs/call':>12} {'p50 ms':>8}")
    for label, calls, rate, cpu_us, p50 in rows:
        print(f"{label:<16} {calls:>7} {rate:>9.0f} {cpu_us:>12.0f} {p50 or 0:>8.2f}")


if __name__ == "__main__":
    main()
