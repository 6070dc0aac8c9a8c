"""Accuracy and overhead of the network simulator, through ``mcpchaos link`` processes.

    .venv/bin/python -m bench.netsim_accuracy [--seconds 5]

An echo server and the link each run in their own process (as a user runs them); the client
runs here. Measured: added latency (p50/p99) for a configured 10 ms, bandwidth over a 5 MB
transfer at 1 MB/s, the reset rate for loss 0.1, a partition window, and the link's
throughput with no impairment against a direct connection. Loopback only, bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Iterator

from bench.common import (
    MCPCHAOS,
    Budget,
    Check,
    Load,
    Result,
    alternate,
    free_port,
    load_cells,
    median,
    rate_ratio,
    run_load,
    spawn,
)


@contextlib.contextmanager
def process(args: list[str], port: int) -> Iterator[None]:
    with spawn(args, port):
        yield


@contextlib.contextmanager
def link(upstream: int, *flags: str) -> Iterator[int]:
    port = free_port()
    with process(
        [
            *MCPCHAOS,
            "link",
            "--listen",
            f"127.0.0.1:{port}",
            "--upstream",
            f"127.0.0.1:{upstream}",
            "--network-seed",
            "1",
            *flags,
        ],
        port,
    ):
        yield port


async def ping_pong(port: int, seconds: float, concurrency: int, think: float) -> list[float]:
    """Closed loop: each connection sends 100 bytes and waits for them back."""
    payload = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}'.ljust(100) + b"\n"
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def one() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.monotonic() < deadline:
            started = time.perf_counter()
            writer.write(payload)
            await reader.readexactly(len(payload))
            latencies.append(time.perf_counter() - started)
            if think:
                await asyncio.sleep(think)
        writer.close()

    await asyncio.gather(*(one() for _ in range(concurrency)))
    return latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def transfer(port: int, size: int) -> float:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.perf_counter()

    async def send() -> None:
        chunk = b"b" * 65536
        for offset in range(0, size, len(chunk)):
            writer.write(chunk[: size - offset])
            await writer.drain()

    async def receive() -> None:
        got = 0
        while got < size:
            data = await reader.read(1 << 20)
            if not data:
                raise RuntimeError("connection closed early")
            got += len(data)

    await asyncio.gather(send(), receive())
    writer.close()
    return time.perf_counter() - started


async def resets(port: int, attempts: int) -> int:
    count = 0
    for _ in range(attempts):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"x")
        try:
            await asyncio.wait_for(reader.readexactly(1), 2)
        except (ConnectionError, asyncio.IncompleteReadError):
            count += 1
        writer.close()
    return count


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    echo_port = free_port()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    with process([sys.executable, "-m", "bench.echo_server", str(echo_port)], echo_port):
        # 1. latency: 10 ms one way (upstream), moderate load: 8 connections, 5 ms think time
        direct = asyncio.run(ping_pong(echo_port, args.seconds, 8, 0.005))
        with link(echo_port, "--network", _write_config("upstream: {latency: {base_ms: 10}}")) as port:
            delayed = asyncio.run(ping_pong(port, args.seconds, 8, 0.005))
        with link(echo_port) as port:
            plain = asyncio.run(ping_pong(port, args.seconds, 8, 0.005))
        added_p50 = (percentile(delayed, 0.5) - percentile(plain, 0.5)) * 1000
        added_p99 = (percentile(delayed, 0.99) - percentile(plain, 0.99)) * 1000
        print(
            f"latency 10 ms one way: added p50 {added_p50:.2f} ms, added p99 {added_p99:.2f} ms "
            f"(vs the unimpaired link; direct p50 {percentile(direct, 0.5) * 1000:.2f} ms, "
            f"unimpaired link p50 {percentile(plain, 0.5) * 1000:.2f} ms)"
        )

        # 2. bandwidth: 1 MB/s upstream over 5 MB
        with link(
            echo_port,
            "--network",
            _write_config("upstream: {bandwidth: {bytes_per_second: 1000000, burst_bytes: 16384}}"),
        ) as port:
            elapsed = asyncio.run(transfer(port, 5_000_000))
        print(f"bandwidth 1 MB/s over 5 MB: {5_000_000 / elapsed / 1e6:.3f} MB/s measured ({elapsed:.2f} s)")

        # 3. resets: loss 0.1 per chunk, upstream, one chunk per connection
        attempts = 1000
        with link(
            echo_port, "--network", _write_config("upstream: {packet_loss: {probability: 0.1}}")
        ) as port:
            count = asyncio.run(resets(port, attempts))
        sigma = math.sqrt(attempts * 0.1 * 0.9)
        verdict = "within" if abs(count - attempts * 0.1) < 4 * sigma else "OUTSIDE"
        print(
            f"loss 0.1: {count} resets in {attempts} connections "
            f"(expected {attempts * 0.1:.0f} ± {4 * sigma:.0f} at 4σ: {verdict})"
        )

        # 4. raw relay cost: an echo server does almost no work, so this shows the link's own cost
        direct = asyncio.run(ping_pong(echo_port, args.seconds, 16, 0.0))
        with link(echo_port) as port:
            linked = asyncio.run(ping_pong(port, args.seconds, 16, 0.0))
        print(
            f"echo ping-pong, no impairment: direct {len(direct) / args.seconds:.0f} req/s, "
            f"link {len(linked) / args.seconds:.0f} req/s, ratio {len(linked) / len(direct):.2f} "
            f"(p50 {statistics.median(direct) * 1000:.2f} vs {statistics.median(linked) * 1000:.2f} ms)"
        )

    # 5. a small-request JSON-RPC workload: tools/call against the demo MCP server (official SDK),
    # direct, through the link, and through a bare relay; rounds interleaved, medians reported.
    server_port = free_port()
    rates: dict[str, list[float]] = {"direct": [], "link": [], "bare relay": []}
    with process(
        [*MCPCHAOS, "demo-server", "--transport", "http", "--port", str(server_port), "--json-response"],
        server_port,
    ):
        relay_port = free_port()
        with (
            link(server_port) as port,
            process(
                [sys.executable, "-m", "bench.plain_relay", str(relay_port), str(server_port)], relay_port
            ),
        ):
            for _ in range(args.rounds):
                for name, target in (("direct", server_port), ("link", port), ("bare relay", relay_port)):
                    rates[name].append(run_load(f"http://127.0.0.1:{target}/mcp", args.seconds).rate)
    medians = {name: statistics.median(values) for name, values in rates.items()}
    print(
        f"MCP tools/call, no impairment, median of {args.rounds} interleaved rounds: "
        + ", ".join(f"{name} {rate:.0f} req/s" for name, rate in medians.items())
    )
    print(
        f"  link/direct {medians['link'] / medians['direct']:.2f}, "
        f"bare relay/direct {medians['bare relay'] / medians['direct']:.2f}"
    )

    # 6. partition: nothing passes in the window, traffic resumes after the heal, nothing leaks
    print(asyncio.run(partition_check()))


async def partition_check() -> str:
    from mcpchaos.netsim.controller import NetworkController
    from mcpchaos.transport.tcp_link import TcpLink

    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    fds_before = len(os.listdir("/proc/self/fd"))
    link_ = TcpLink(("127.0.0.1", 0), ("127.0.0.1", server.sockets[0].getsockname()[1]), NetworkController())
    port = await link_.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"warm")
    await reader.readexactly(4)
    link_.controller.partition(1000)
    received_in_window = 0
    window_end = time.monotonic() + 0.9
    while time.monotonic() < window_end:
        writer.write(b"p" * 100)
        with contextlib.suppress(TimeoutError):
            received_in_window += len(await asyncio.wait_for(reader.read(65536), 0.05))
    resumed = time.monotonic()
    writer.write(b"after")
    data = b""
    while not data.endswith(b"after"):
        data += await asyncio.wait_for(reader.read(65536), 5)
    resume_delay = time.monotonic() - resumed
    writer.close()
    await link_.stop()
    server.close()
    await server.wait_closed()
    await asyncio.sleep(0.1)
    fds_after = len(os.listdir("/proc/self/fd"))
    return (
        f"partition 1 s: {received_in_window} bytes passed in the window, traffic resumed "
        f"{resume_delay * 1000:.0f} ms after the last write, active connections after: "
        f"{link_.stats.active}, fds before/after: {fds_before}/{fds_after}"
    )


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


def figure_link(budget: Budget) -> Result:
    """MCP tools/call against the demo server (JSON answers): direct vs through ``mcpchaos link``."""
    server_port = free_port()
    link_cpu: list[float] = []
    with spawn(
        [*MCPCHAOS, "demo-server", "--transport", "http", "--port", str(server_port), "--json-response"],
        server_port,
    ):
        port = free_port()
        with spawn(
            [*MCPCHAOS, "link", "--listen", f"127.0.0.1:{port}", "--upstream", f"127.0.0.1:{server_port}"],
            port,
        ) as linker:

            def linked() -> Load:
                load = run_load(f"http://127.0.0.1:{port}/mcp", budget.seconds, cpu_of=linker)
                link_cpu.append(load.probe / max(load.calls, 1) * 1e6)
                return load

            loads = alternate(
                {
                    "direct": lambda: run_load(f"http://127.0.0.1:{server_port}/mcp", budget.seconds),
                    "link": linked,
                },
                budget.rounds,
            )
    result = Result(
        "link",
        "TCP link overhead (`mcpchaos link`, no impairment)",
        "the demo MCP server (official SDK, JSON answers) direct and through `mcpchaos link`; 16 "
        "closed-loop sessions of `tools/call echo`",
        ["path", "calls/s", "p50 ms", "p99 ms"],
    )
    for name, runs in loads.items():
        result.rows.append([name, *load_cells(runs)])
    ratio = rate_ratio(loads["link"], loads["direct"])
    result.checks.append(
        Check(
            "throughput link / direct (median of per-round ratios)", "≥ 0.95", f"{ratio:.3f}", ratio >= 0.95
        )
    )
    result.notes.append(f"link CPU per call: {median(link_cpu):.0f} µs")
    return result


def figure_accuracy(budget: Budget) -> Result:
    """Added latency at 10 and 100 ms one way (p50 and p99 error) and bandwidth at 1 MB/s."""
    result = Result(
        "netsim",
        "Network simulator accuracy",
        "an echo server and `mcpchaos link` processes; 8 connections ping-pong 100 bytes with 5 ms think "
        "time; added latency = delayed link − unimpaired link (alternating runs, medians); bandwidth "
        "over one transfer through a 1 MB/s link",
        ["configured", "added p50 ms", "added p99 ms", "p50 error ms", "p99 error ms"],
    )
    echo_port = free_port()
    with (
        spawn([sys.executable, "-m", "bench.echo_server", str(echo_port)], echo_port),
        link(echo_port) as plain_port,
    ):
        for delay_ms in (10, 100):
            config = _write_config(f"upstream: {{latency: {{base_ms: {delay_ms}}}}}")
            # Enough round trips for a p99: at 100 ms a run needs more time than at 10 ms.
            seconds = (
                max(budget.seconds, 0.5) if budget.quick else max(budget.seconds, 3.0) * (delay_ms // 50 + 1)
            )
            with link(echo_port, "--network", config) as delayed_port:
                runs = alternate(
                    {
                        "plain": functools.partial(_ping_pong, plain_port, seconds),
                        "delayed": functools.partial(_ping_pong, delayed_port, seconds),
                    },
                    max(1, budget.rounds // 2),
                )
            added = {
                q: median(
                    [
                        percentile(d, q) - percentile(p, q)
                        for p, d in zip(runs["plain"], runs["delayed"], strict=True)
                    ]
                )
                * 1000
                for q in (0.5, 0.99)
            }
            errors = {q: value - delay_ms for q, value in added.items()}
            result.rows.append(
                [
                    f"{delay_ms} ms one way",
                    f"{added[0.5]:.2f}",
                    f"{added[0.99]:.2f}",
                    f"{errors[0.5]:+.2f}",
                    f"{errors[0.99]:+.2f}",
                ]
            )
            result.checks.append(
                Check(
                    f"{delay_ms} ms: p50 error",
                    "within ± 1 ms",
                    f"{errors[0.5]:+.2f} ms",
                    abs(errors[0.5]) <= 1,
                )
            )
            result.checks.append(
                Check(f"{delay_ms} ms: p99 error", "≤ +3 ms", f"{errors[0.99]:+.2f} ms", errors[0.99] <= 3)
            )
        size = 500_000 if budget.quick else 5_000_000
        config = _write_config("upstream: {bandwidth: {bytes_per_second: 1000000, burst_bytes: 16384}}")
        with link(echo_port, "--network", config) as port:
            elapsed = asyncio.run(asyncio.wait_for(transfer(port, size), size / 1e6 + 60))
        rate = size / elapsed / 1e6
        result.checks.append(
            Check(
                f"bandwidth 1 MB/s over {size / 1e6:g} MB",
                "± 5 %",
                f"{rate:.3f} MB/s ({(rate - 1) * 100:+.1f} %)",
                abs(rate - 1) <= 0.05,
            )
        )
    return result


def _ping_pong(port: int, seconds: float) -> list[float]:
    return asyncio.run(asyncio.wait_for(ping_pong(port, seconds, 8, 0.005), seconds + 60))


def _write_config(upstream_yaml: str) -> str:
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        handle.write(upstream_yaml + "\nseed: 1\n")
    return handle.name


if __name__ == "__main__":
    main()
