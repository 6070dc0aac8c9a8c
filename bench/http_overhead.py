"""Throughput, latency and proxy CPU of MCP tools/call over Streamable HTTP in initialized
(2025-11-25) sessions: direct vs through ``mcpchaos link`` (a TCP relay: the L4 yardstick) vs
through ``mcpchaos proxy --listen --upstream``.

Two upstreams: a minimal aiohttp JSON-RPC echo (``bench.echo_http``: it does almost nothing, so
the proxy's own cost shows) and the demo server on the official SDK, with JSON answers and
with SSE answers. Upstream, link and proxy run as subprocesses; a lean aiohttp client here
drives 16 closed-loop sessions. The paths alternate for ``--rounds`` rounds; medians are
reported. A hop's CPU per call is its process CPU time (user + system) over the calls of a run.

    .venv/bin/python -m bench.http_overhead [--upstream echo|sdk] [--seconds 3] [--rounds 5]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import sys
from collections.abc import Callable

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
    render,
    run_load,
    spawn,
)


def echo_upstream(port: int) -> list[str]:
    return [sys.executable, "-m", "bench.echo_http", str(port)]


def sdk_upstream(port: int) -> list[str]:
    return [*MCPCHAOS, "demo-server", "--transport", "http", "--port", str(port), "--json-response"]


def sdk_sse_upstream(port: int) -> list[str]:
    return [*MCPCHAOS, "demo-server", "--transport", "http", "--port", str(port)]


def proxy_vs_direct(
    upstream: Callable[[int], list[str]], budget: Budget, concurrency: int = 16, floor: bool = False
) -> tuple[dict[str, list[Load]], dict[str, list[float]]]:
    """Alternating direct, link and proxied runs (and, with ``floor``, through a bare aiohttp
    relay: the least any aiohttp-based proxy costs); returns the loads and each hop's CPU µs
    per call."""
    server_port, link_port, proxy_port, relay_port = free_port(), free_port(), free_port(), free_port()
    direct_url = f"http://127.0.0.1:{server_port}/mcp"
    cpu: dict[str, list[float]] = {"link": [], "proxied": [], "aiohttp relay": []}
    with contextlib.ExitStack() as stack:
        stack.enter_context(spawn(upstream(server_port), server_port))
        relays = {
            "link": (
                link_port,
                stack.enter_context(
                    spawn(
                        [
                            *MCPCHAOS,
                            "link",
                            "--listen",
                            f"127.0.0.1:{link_port}",
                            "--upstream",
                            f"127.0.0.1:{server_port}",
                        ],
                        link_port,
                    )
                ),
            ),
            "proxied": (
                proxy_port,
                stack.enter_context(
                    spawn(
                        [*MCPCHAOS, "proxy", "--listen", f"127.0.0.1:{proxy_port}", "--upstream", direct_url],
                        proxy_port,
                    )
                ),
            ),
        }
        if floor:
            relays["aiohttp relay"] = (
                relay_port,
                stack.enter_context(
                    spawn(
                        [sys.executable, "-m", "bench.aiohttp_relay", str(relay_port), direct_url], relay_port
                    )
                ),
            )

        def through(name: str) -> Load:
            port, process = relays[name]
            load = run_load(f"http://127.0.0.1:{port}/mcp", budget.seconds, concurrency, cpu_of=process)
            cpu[name].append(load.probe / max(load.calls, 1) * 1e6)
            return load

        variants: dict[str, Callable[[], Load]] = {
            "direct": lambda: run_load(direct_url, budget.seconds, concurrency)
        }
        for name in relays:
            variants[name] = functools.partial(through, name)
        loads = alternate(variants, budget.rounds)
    return loads, cpu


HEADER = ["path", "calls/s", "× direct", "p50 ms", "p99 ms", "client CPU µs/call", "relay CPU µs/call"]


def _rows(
    result: Result, loads: dict[str, list[Load]], cpu: dict[str, list[float]], prefix: str = ""
) -> None:
    for name, runs in loads.items():
        rate, p50, p99 = load_cells(runs)
        result.rows.append(
            [
                prefix + name,
                rate,
                f"{rate_ratio(runs, loads['direct']):.3f}",
                p50,
                p99,
                f"{median([run.client_cpu / max(run.calls, 1) * 1e6 for run in runs]):.0f}",
                f"{median(cpu[name]):.0f}" if cpu.get(name) else "",
            ]
        )


def _result(
    key: str, title: str, setup: str, loads: dict[str, list[Load]], cpu: dict[str, list[float]]
) -> tuple[Result, float, float]:
    result = Result(key, title, setup, HEADER)
    _rows(result, loads, cpu)
    return result, rate_ratio(loads["proxied"], loads["direct"]), median(cpu["proxied"])


def figure_echo(budget: Budget) -> Result:
    loads, cpu = proxy_vs_direct(echo_upstream, budget, floor=True)
    result, ratio, proxy_cpu = _result(
        "http-echo",
        "HTTP proxy overhead, minimal echo upstream",
        "`bench.echo_http` (aiohttp + orjson, uvloop, JSON answers) direct, through `mcpchaos link` "
        "(TCP relay, no impairment: the L4 yardstick), behind `mcpchaos proxy --listen --upstream` "
        "(no faults) and behind `bench.aiohttp_relay` (a bare aiohttp server + client relay with no "
        "MCP logic: the floor of an aiohttp-based proxy); 16 closed-loop "
        "2025-11-25 sessions, `tools/call echo` with 100 characters, lean aiohttp client on uvloop. "
        "Relay CPU = that process's CPU time / calls",
        loads,
        cpu,
    )
    result.checks.append(
        Check(
            "throughput proxied / direct (median of per-round ratios)",
            "≥ 0.75",
            f"{ratio:.3f}",
            ratio >= 0.75,
        )
    )
    result.checks.append(
        Check(
            "proxy CPU per call (process CPU time / calls)",
            "≤ 100 µs",
            f"{proxy_cpu:.0f} µs",
            proxy_cpu <= 100,
        )
    )
    vs_link = rate_ratio(loads["proxied"], loads["link"])
    result.notes.append(
        f"proxied / link in the same rounds: {vs_link:.3f} "
        f"(link / direct {rate_ratio(loads['link'], loads['direct']):.3f})."
    )
    return result


def figure_sdk(budget: Budget) -> Result:
    result = Result(
        "http-sdk",
        "HTTP proxy overhead, SDK demo server (JSON and SSE answers)",
        "`mcpchaos demo-server --transport http` (official SDK) with `--json-response` (JSON "
        "answers) and without (SSE answers), each direct, through `mcpchaos link` and behind "
        "`mcpchaos proxy --listen --upstream`; same client and workload as `http-echo`. The modes "
        "run one after the other (each with its own server), the paths of a mode alternately",
        HEADER,
    )
    for mode, upstream in (("JSON", sdk_upstream), ("SSE", sdk_sse_upstream)):
        loads, relay_cpu = proxy_vs_direct(upstream, budget)
        _rows(result, loads, relay_cpu, f"{mode}: ")
        ratio = rate_ratio(loads["proxied"], loads["direct"])
        result.checks.append(
            Check(
                f"{mode}: throughput proxied / direct (median of per-round ratios)",
                "≥ 0.9",
                f"{ratio:.3f}",
                ratio >= 0.9,
            )
        )
        result.notes.append(
            f"{mode}: proxy CPU per call {median(relay_cpu['proxied']):.0f} µs, link "
            f"{median(relay_cpu['link']):.0f} µs; proxied / link in the same rounds "
            f"{rate_ratio(loads['proxied'], loads['link']):.3f}."
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--upstream", choices=["echo", "sdk"], default="echo")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    figure = figure_echo if args.upstream == "echo" else figure_sdk
    print(render(figure(Budget(args.seconds, args.rounds))))


if __name__ == "__main__":
    main()
