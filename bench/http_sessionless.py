"""Sessionless (2026-07-28) keep-alive load over Streamable HTTP: direct, through ``mcpchaos
link`` (a TCP relay: the L4 yardstick, the least one more process in the path costs) and through
``mcpchaos proxy --listen --upstream`` (HTTP → HTTP), against ``bench.echo_http``.

Each request stands alone: a ``tools/call echo`` with the protocol version in
``params._meta`` and the routing headers (``MCP-Protocol-Version``, ``Mcp-Method``,
``Mcp-Name``), no ``initialize``, no session id, 16 keep-alive connections. The load client is
wrk (``wrk -t1 -c16``, a generated Lua script sets method, body and headers and checks every
answer) when it is on PATH, else the lean aiohttp client of ``bench.common``; the figure says
which. Two figures:

* ``http-sessionless``: JSON answers (the headline figure).
* ``http-sse``: the upstream answers each call with a ``text/event-stream`` of three events
  (two ``notifications/progress``, then the result), each its own chunk.

The three paths alternate for ``--rounds`` rounds; medians are reported. CPU per request is a
process's CPU time (user + system) over a run divided by the requests it answered: the hop's
(the link or the proxy), the upstream's and the client's.

    .venv/bin/python -m bench.http_sessionless [--sse] [--client auto|wrk|python] [--seconds 3] [--rounds 5]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import sys
from collections.abc import Callable

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
    free_port,
    hop_cells,
    median,
    rate_ratio,
    render,
    run_sessionless,
    sessionless_client,
    spawn,
    warm_up,
)

PATHS = ("direct", "link", "proxy")
HEADER = [
    "path",
    "req/s",
    "× direct",
    "p50 ms",
    "p99 ms",
    "hop CPU µs/req",
    "upstream CPU µs/req",
    "client CPU µs/req",
]


def echo_http(port: int, sse: bool = False) -> list[str]:
    return [sys.executable, "-m", "bench.echo_http", str(port), *(["--sse"] if sse else [])]


def link_args(port: int, upstream_port: int) -> list[str]:
    return [*MCPCHAOS, "link", "--listen", f"127.0.0.1:{port}", "--upstream", f"127.0.0.1:{upstream_port}"]


def proxy_args(port: int, upstream_url: str) -> list[str]:
    return [*MCPCHAOS, "proxy", "--listen", f"127.0.0.1:{port}", "--upstream", upstream_url]


def measure(budget: Budget, sse: bool) -> tuple[dict[str, list[Load]], str]:
    """Alternating direct / link / proxy runs; returns the loads and the client used."""
    client = sessionless_client(budget)
    request = Sessionless.call(progress=sse)
    echo_port, link_port, proxy_port = free_port(), free_port(), free_port()
    direct_url = f"http://127.0.0.1:{echo_port}/mcp"
    with contextlib.ExitStack() as stack:
        echo = stack.enter_context(spawn(echo_http(echo_port, sse), echo_port))
        hops: dict[str, tuple[str, psutil.Process | None]] = {
            "direct": (direct_url, None),
            "link": (
                f"http://127.0.0.1:{link_port}/mcp",
                stack.enter_context(spawn(link_args(link_port, echo_port), link_port)),
            ),
            "proxy": (
                f"http://127.0.0.1:{proxy_port}/mcp",
                stack.enter_context(spawn(proxy_args(proxy_port, direct_url), proxy_port)),
            ),
        }
        for url, _ in hops.values():
            warm_up(url, request)

        def run(name: str) -> Load:
            url, hop = hops[name]
            cpus = {"upstream": echo} if hop is None else {"upstream": echo, "hop": hop}
            return run_sessionless(client, url, request, budget.seconds, cpus=cpus)

        variants: dict[str, Callable[[], Load]] = {name: functools.partial(run, name) for name in PATHS}
        loads = alternate(variants, budget.rounds)
    return loads, client


def _table(result: Result, loads: dict[str, list[Load]]) -> None:
    for name, runs in loads.items():
        result.rows.append([name, *hop_cells(runs, loads["direct"])])


def _client_note(client: str, loads: dict[str, list[Load]], budget: Budget) -> str:
    cost = median([run.per_call(run.client_cpu) for run in loads["direct"]])
    note = f"Load client: {client_label(client)}; it costs {cost:.0f} µs of CPU per request direct."
    if client == "wrk" and budget.seconds != max(1, round(budget.seconds)):
        note += f" wrk runs whole seconds: each run took {max(1, round(budget.seconds))} s."
    return note


def figure_sessionless(budget: Budget) -> Result:
    loads, client = measure(budget, sse=False)
    result = Result(
        "http-sessionless",
        "Sessionless keep-alive load: direct, `mcpchaos link`, `mcpchaos proxy`",
        "`bench.echo_http` (aiohttp + orjson, uvloop, JSON answers) direct, through `mcpchaos link` "
        "(TCP relay, no impairment: the L4 yardstick) and through `mcpchaos proxy --listen "
        f"--upstream` (no faults); {client_label(client)}; 16 keep-alive connections POST a "
        "2026-07-28 `tools/call echo` (100 characters, the version in `params._meta`, "
        "`MCP-Protocol-Version` / `Mcp-Method` / `Mcp-Name` headers, no session). CPU per request "
        "= that process's CPU time / requests",
        HEADER,
    )
    _table(result, loads)
    proxy_cpu = median([run.per_call(run.cpu["hop"]) for run in loads["proxy"]])
    ratio = rate_ratio(loads["proxy"], loads["direct"])
    link_ratio = rate_ratio(loads["link"], loads["direct"])
    vs_link = rate_ratio(loads["proxy"], loads["link"])
    result.checks += [
        Check(
            "proxy CPU per request (process CPU time / requests)",
            "≤ 100 µs",
            f"{proxy_cpu:.0f} µs",
            proxy_cpu <= 100,
        ),
        Check(
            "throughput proxy / direct (median of per-round ratios)", "≥ 0.6", f"{ratio:.3f}", ratio >= 0.6
        ),
        Check(
            f"throughput proxy / link in the same rounds (link / direct {link_ratio:.3f})",
            "≥ 0.9",
            f"{vs_link:.3f}",
            vs_link >= 0.9,
        ),
    ]
    result.notes.append(_client_note(client, loads, budget))
    return result


def figure_sse(budget: Budget) -> Result:
    loads, client = measure(budget, sse=True)
    result = Result(
        "http-sse",
        "Sessionless SSE-streaming load: direct, `mcpchaos link`, `mcpchaos proxy`",
        "`bench.echo_http --sse`: each `tools/call` is answered with `text/event-stream`, three "
        "events written as separate chunks (two `notifications/progress` for the request's "
        "`progressToken`, then the result); otherwise as `http-sessionless`: direct, through "
        f"`mcpchaos link` and through `mcpchaos proxy --listen --upstream`; {client_label(client)}",
        HEADER,
    )
    _table(result, loads)
    proxy_cpu = median([run.per_call(run.cpu["hop"]) for run in loads["proxy"]])
    ratio = rate_ratio(loads["proxy"], loads["direct"])
    vs_link = rate_ratio(loads["proxy"], loads["link"])
    result.checks += [
        Check("proxy CPU per request", "(no target)", f"{proxy_cpu:.0f} µs", None),
        Check("throughput proxy / direct", "(no target)", f"{ratio:.3f}", None),
        Check("throughput proxy / link in the same rounds", "(no target)", f"{vs_link:.3f}", None),
    ]
    result.notes.append(_client_note(client, loads, budget))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sse", action="store_true", help="the SSE-streaming figure (http-sse)")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    figure = figure_sse if args.sse else figure_sessionless
    print(render(figure(Budget(args.seconds, args.rounds, client=args.client))))


if __name__ == "__main__":
    main()
