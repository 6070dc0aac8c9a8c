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

from mcpchaos.harness.load import HttpTarget, LoadDriver, LoadSettings, Recorder


async def measure(url: str, settings: LoadSettings, seconds: float) -> tuple[int, float, float, float | None]:
    """(calls ended, calls/s, client CPU µs per call, p50 ms)."""
    recorder = Recorder()
    driver = LoadDriver(HttpTarget(url), settings, recorder)
    await driver.start()
    before_calls = recorder.totals()[0].total
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    calls = recorder.totals()[0].total - before_calls
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    await driver.stop()
    recorder.finish()
    counts, latency, _ = recorder.totals()
    if counts.ok != counts.total:
        print(f"  warning: not all ok: {counts.model_dump()}")
    return calls, calls / wall, cpu / max(calls, 1) * 1e6, latency.p50_ms


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
