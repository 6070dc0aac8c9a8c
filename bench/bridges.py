"""The two bridges under sessionless load, each against the comparison that means something.

Driving a stdio server directly over stdio and through an HTTP bridge measures two different
protocols stacks, not the bridge; so each bridge is set beside the path it stands in for:

* **HTTP → stdio** (``mcpchaos proxy --listen 127.0.0.1:P -- python -m bench.echo_stdio``):
  HTTP clients in front of a stdio server. Beside it, ``mcpchaos proxy --listen --upstream`` in
  front of ``bench.echo_http``, and that echo direct. Both hops are one mcpchaos process in front
  of a trivial echo, driven by the same sessionless keep-alive client (wrk when on PATH): the
  hop's CPU per request is the like-for-like number. Throughput also depends on the upstream
  (the stdio echo, a blocking read loop, costs less per request than the aiohttp echo), so the
  upstream's own CPU per request is in the table too.
* **stdio → HTTP** (``mcpchaos proxy --upstream http://127.0.0.1:E/mcp``): a stdio client in
  front of an HTTP server. A lean stdio client here (uvloop, newline-delimited JSON on the
  bridge's pipes, 16 requests in flight, unique ids) against the lean aiohttp client of
  ``bench.common`` sending the same sessionless requests to ``bench.echo_http`` directly
  (16 keep-alive workers). Both clients are Python on uvloop, but the stdio one does less per
  request (no HTTP): the ratio is what a client gains or loses by speaking stdio through the
  bridge instead of HTTP itself; the bridge's CPU per request (one upstream HTTP request per
  message, like the proxy's upstream half) is the number to set beside the proxy's.

All requests are 2026-07-28 ``tools/call echo`` with 100 characters and the version in
``params._meta`` (no ``initialize``); every path alternates with the others for ``--rounds``
rounds; medians are reported.

    .venv/bin/python -m bench.bridges [--client auto|wrk|python] [--seconds 3] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import itertools
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping

import orjson
import psutil

from bench.common import (
    MCPCHAOS,
    Budget,
    Check,
    Load,
    Result,
    Sessionless,
    alternate,
    client_label,
    cpu_since,
    cpu_snapshot,
    free_port,
    hop_cells,
    median,
    rate_ratio,
    render,
    run_load,
    run_sessionless,
    sessionless_client,
    spawn,
    spawn_piped,
    warm_up,
)
from bench.http_sessionless import echo_http, proxy_args

_REQUEST = Sessionless.call()
_STDIO_CALL = _REQUEST.body.replace(b'"id":1,', b'"id":%d,', 1) + b"\n"
_ids = itertools.count(1)  # one stdio session for the whole figure: ids never repeat


class _Answers(asyncio.Protocol):
    """Reads the bridge's stdout: each line with an ``id`` resolves that request's future."""

    def __init__(self, waiting: dict[int, asyncio.Future[bytes]]) -> None:
        self.waiting = waiting
        self.rest = b""

    def data_received(self, data: bytes) -> None:
        *lines, self.rest = (self.rest + data).split(b"\n")
        for line in lines:
            if not line.strip():
                continue
            message = orjson.loads(line)
            request_id = message.get("id") if isinstance(message, dict) else None
            future = self.waiting.pop(request_id, None) if isinstance(request_id, int) else None
            if future is not None and not future.done():
                future.set_result(line)

    def connection_lost(self, exc: Exception | None) -> None:
        for future in self.waiting.values():
            if not future.done():
                future.set_exception(ConnectionError("the stdio peer closed its stdout"))


async def drive_stdio(
    peer: subprocess.Popen[bytes],
    seconds: float,
    concurrency: int = 16,
    warmup: float = 0.3,
    cpus: Mapping[str, psutil.Process] | None = None,
) -> Load:
    """Closed loop over ``peer``'s stdin/stdout: ``concurrency`` workers each keep one
    sessionless ``tools/call echo`` in flight, for ``seconds`` after a warm-up. The pipes are
    duplicated for this event loop and closed with it; the process and its pipes stay."""
    assert peer.stdin is not None
    assert peer.stdout is not None
    loop = asyncio.get_running_loop()
    waiting: dict[int, asyncio.Future[bytes]] = {}
    reader, _ = await loop.connect_read_pipe(
        lambda: _Answers(waiting), os.fdopen(os.dup(peer.stdout.fileno()), "rb", buffering=0)
    )
    writer, _ = await loop.connect_write_pipe(
        asyncio.Protocol, os.fdopen(os.dup(peer.stdin.fileno()), "wb", buffering=0)
    )
    latencies: list[float] = []
    deadline = 0.0
    measuring = False

    async def worker() -> None:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            request_id = next(_ids)
            future: asyncio.Future[bytes] = loop.create_future()
            waiting[request_id] = future
            writer.write(_STDIO_CALL % request_id)
            line = await future
            if b'"result"' not in line:
                raise RuntimeError(f"unexpected answer: {line[:200]!r}")
            if measuring:
                latencies.append(time.perf_counter() - started)

    try:
        # Start-up (the bridge imports for ~1 s) falls in the warm-up; the bound fails a peer
        # that stops answering instead of hanging the runner.
        async with asyncio.timeout(warmup + seconds + 60):
            deadline = time.monotonic() + warmup
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            measuring = True
            cpus0 = cpu_snapshot(cpus or {})
            cpu0, started = time.process_time(), time.monotonic()
            deadline = started + seconds
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            elapsed, cpu = time.monotonic() - started, time.process_time() - cpu0
            used = cpu_since(cpus or {}, cpus0)
    finally:
        writer.close()
        reader.close()
    return Load(len(latencies), elapsed, latencies, cpu, cpu=used)


def run_stdio(
    peer: subprocess.Popen[bytes],
    seconds: float,
    warmup: float = 0.3,
    cpus: Mapping[str, psutil.Process] | None = None,
) -> Load:
    """:func:`drive_stdio` on its own uvloop event loop."""
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(drive_stdio(peer, seconds, warmup=warmup, cpus=cpus))


def _child(process: psutil.Process, module: str) -> psutil.Process:
    for child in process.children(recursive=True):
        if module in child.cmdline():
            return child
    raise RuntimeError(f"no {module} process under pid {process.pid}")


# Row names: the client is in the table's second column.
DIRECT = "direct → HTTP echo"
PROXY = "HTTP proxy → HTTP echo"
HTTP_TO_STDIO = "HTTP→stdio bridge → stdio echo"
DIRECT_PY = "direct → HTTP echo (Python client)"
STDIO_TO_HTTP = "stdio→HTTP bridge → HTTP echo"


def measure(budget: Budget) -> tuple[dict[str, list[Load]], str]:
    client = sessionless_client(budget)
    echo_port, proxy_port, bridge_port = free_port(), free_port(), free_port()
    echo_url = f"http://127.0.0.1:{echo_port}/mcp"
    proxy_url = f"http://127.0.0.1:{proxy_port}/mcp"
    bridge_url = f"http://127.0.0.1:{bridge_port}/mcp"
    with contextlib.ExitStack() as stack:
        echo = stack.enter_context(spawn(echo_http(echo_port), echo_port))
        proxy = stack.enter_context(spawn(proxy_args(proxy_port, echo_url), proxy_port))
        stdio_server = [sys.executable, "-m", "bench.echo_stdio"]
        bridge = stack.enter_context(
            spawn(
                [*MCPCHAOS, "proxy", "--listen", f"127.0.0.1:{bridge_port}", "--", *stdio_server], bridge_port
            )
        )
        upstream_bridge = stack.enter_context(spawn_piped([*MCPCHAOS, "proxy", "--upstream", echo_url]))
        back_bridge = psutil.Process(upstream_bridge.pid)
        for url in (echo_url, proxy_url, bridge_url):
            warm_up(url, _REQUEST)
        run_stdio(upstream_bridge, 0.2)  # its start-up, out of the rounds
        stdio_echo = _child(bridge, "bench.echo_stdio")  # started by the first sessionless request

        def sessionless(url: str, cpus: dict[str, psutil.Process]) -> Load:
            return run_sessionless(client, url, _REQUEST, budget.seconds, cpus=cpus)

        variants: dict[str, Callable[[], Load]] = {
            DIRECT: functools.partial(sessionless, echo_url, {"upstream": echo}),
            PROXY: functools.partial(sessionless, proxy_url, {"upstream": echo, "hop": proxy}),
            HTTP_TO_STDIO: functools.partial(
                sessionless, bridge_url, {"upstream": stdio_echo, "hop": bridge}
            ),
            STDIO_TO_HTTP: functools.partial(
                run_stdio, upstream_bridge, budget.seconds, cpus={"upstream": echo, "hop": back_bridge}
            ),
        }
        if client != "python":  # else DIRECT is this very run
            variants[DIRECT_PY] = functools.partial(
                run_load, echo_url, budget.seconds, sessionless=_REQUEST, cpus={"upstream": echo}
            )
        loads = alternate(variants, budget.rounds)
    return loads, client


def figure(budget: Budget) -> Result:
    loads, client = measure(budget)
    python_direct = DIRECT_PY if DIRECT_PY in loads else DIRECT
    result = Result(
        "bridges",
        "Bridges: HTTP→stdio beside the HTTP proxy, stdio→HTTP beside direct HTTP",
        "sessionless 2026-07-28 `tools/call echo` (100 characters), 16 in flight. HTTP→stdio: "
        "`mcpchaos proxy --listen -- python -m bench.echo_stdio` (a stdio echo: blocking read loop, "
        "orjson) beside `mcpchaos proxy --listen --upstream` in front of `bench.echo_http`, and that "
        f"echo direct, all driven by {client_label(client)}. stdio→HTTP: `mcpchaos proxy --upstream` "
        "in front of `bench.echo_http`, driven over its stdin/stdout by a lean stdio client (uvloop, "
        "16 requests in flight), beside the lean aiohttp client (16 keep-alive workers) straight to "
        "the echo. × ref = throughput / the direct row of the same client. CPU per request = that "
        "process's CPU time / requests",
        [
            "path",
            "client",
            "req/s",
            "× ref",
            "p50 ms",
            "p99 ms",
            "hop CPU µs/req",
            "upstream CPU µs/req",
            "client CPU µs/req",
        ],
    )
    rows = [
        (DIRECT, client, DIRECT),
        (PROXY, client, DIRECT),
        (HTTP_TO_STDIO, client, DIRECT),
    ]
    if python_direct != DIRECT:
        rows.append((DIRECT_PY, "python", DIRECT_PY))
    rows.append((STDIO_TO_HTTP, "python (stdio)", python_direct))
    for name, used, reference in rows:
        result.rows.append([name, used, *hop_cells(loads[name], loads[reference])])

    def hop(name: str) -> float:
        return median([run.per_call(run.cpu["hop"]) for run in loads[name]])

    back = rate_ratio(loads[HTTP_TO_STDIO], loads[PROXY])
    forward = rate_ratio(loads[STDIO_TO_HTTP], loads[python_direct])
    result.checks += [
        Check("HTTP→stdio bridge / HTTP proxy: throughput, same rounds", "(comparison)", f"{back:.3f}", None),
        Check(
            "HTTP→stdio bridge / HTTP proxy: CPU per request",
            "(comparison)",
            f"{hop(HTTP_TO_STDIO):.0f} µs / {hop(PROXY):.0f} µs",
            None,
        ),
        Check(
            "stdio→HTTP bridge / direct HTTP: throughput (Python clients both)",
            "(comparison)",
            f"{forward:.3f}",
            None,
        ),
        Check(
            "stdio→HTTP bridge / HTTP proxy: CPU per request",
            "(comparison)",
            f"{hop(STDIO_TO_HTTP):.0f} µs / {hop(PROXY):.0f} µs",
            None,
        ),
    ]
    result.notes.append(
        "The HTTP→stdio bridge shares one stdio server process among all sessionless requests "
        "(their ids rewritten to proxy-unique ones and restored); the stdio→HTTP bridge is one "
        "stdio session that POSTs each message to the upstream."
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(render(figure(Budget(args.seconds, args.rounds, client=args.client))))


if __name__ == "__main__":
    main()
