"""``mcpchaos``: the command line.

Exit codes: 0 success; 1 a runtime failure; 2 a usage or configuration error; 126/127 the
server command could not be run / was not found; otherwise ``mcpchaos proxy`` exits with the
server's own status (128+N when it died of signal N).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from mcpchaos import __version__
from mcpchaos.cli import judge_command, replay_command, report_command, run_command, tape_command
from mcpchaos.cli.arg_types import more_than_zero, port_number
from mcpchaos.cli.helpformat import HelpFormatter
from mcpchaos.cli.proxy_parser import (
    PROXY_DESCRIPTION,
    PROXY_USAGE,
    add_control_arguments,
    add_limit_arguments,
    add_network_arguments,
    add_proxy_arguments,
)
from mcpchaos.demo import FRAGILE_MODES
from mcpchaos.errors import ConfigError, McpChaosError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

log = logging.getLogger("mcpchaos")

TOP_EPILOG = """\
examples:
  mcpchaos demo                          a short traced MCP session through the proxy
  mcpchaos run suite --quick             the chaos suite against the demo server, a report
  mcpchaos judge -- python client.py {url}   an MCP client under faults, with verdicts
  mcpchaos proxy --fault-probability 0.2 --faults-enabled error -- python -m my_server
  mcpchaos proxy --listen 127.0.0.1:8080 --upstream http://127.0.0.1:8000/mcp --control 9900

Run 'mcpchaos COMMAND --help' for the options of one command."""


def _state_key(text: str) -> str:
    if len(text) < 32:
        raise argparse.ArgumentTypeError(
            f"a requestState key must be at least 32 characters (got {len(text)}); e.g. "
            "python -c 'import secrets; print(secrets.token_hex(32))'"
        )
    return text


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="mcpchaos",
        description="A fault-injecting proxy and chaos-testing harness for MCP servers and clients.",
        epilog=TOP_EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mcpchaos {__version__}")
    parser.add_argument(
        "--loop",
        choices=["auto", "asyncio", "uvloop"],
        default="auto",
        help="event loop: uvloop when installed (auto), or the standard asyncio loop (default: auto)",
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["debug", "info", "warning", "error"],
        help="how much to log on stderr (default: warning)",
    )
    commands = parser.add_subparsers(dest="command_name", metavar="COMMAND")

    proxy = commands.add_parser(
        "proxy",
        help="put the fault injector between an MCP client and server",
        usage=PROXY_USAGE,
        description=PROXY_DESCRIPTION,
        epilog="Files: docs/faults.md, docs/network.md, docs/control.md; examples/ has fault profiles.",
        formatter_class=HelpFormatter,
    )
    add_proxy_arguments(proxy)

    demo_server = commands.add_parser(
        "demo-server",
        help="run the built-in demo MCP server (stdio or HTTP)",
        description="The built-in demo MCP server (official MCP SDK) with tools made for chaos runs.",
        epilog="examples:\n"
        "  mcpchaos proxy -- mcpchaos demo-server\n"
        "  mcpchaos demo-server --transport http --port 8000    # http://127.0.0.1:8000/mcp\n"
        "  mcpchaos run task_resilience --target 'demo --fragile stuck-tasks'   # a verdict fails",
        formatter_class=HelpFormatter,
    )
    demo_server.add_argument(
        "--transport", choices=["stdio", "http"], default="stdio", help="how it speaks MCP"
    )
    demo_server.add_argument("--host", default="127.0.0.1", help="HTTP only (default: 127.0.0.1)")
    demo_server.add_argument("--port", type=port_number, default=8000, help="HTTP only (default: 8000)")
    demo_server.add_argument("--stateless", action="store_true", help="HTTP only: no sessions")
    demo_server.add_argument("--json-response", action="store_true", help="HTTP only: JSON bodies, not SSE")
    demo_server.add_argument(
        "--downstream",
        metavar="URL",
        help="add the 'relay' tool, which calls 'echo' on this sessionless MCP server (a dependency)",
    )
    demo_server.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="at most N echo/relay calls at once, like a worker pool (0: no limit; default: 0)",
    )
    demo_server.add_argument(
        "--fragile",
        action="append",
        choices=list(FRAGILE_MODES),
        default=[],
        metavar="MODE",
        help="make the server deliberately bad, to see the harness catch it (repeatable): "
        + "; ".join(f"{mode}: {what}" for mode, what in FRAGILE_MODES.items()),
    )
    demo_server.add_argument(
        "--request-state-ttl",
        type=more_than_zero,
        default=600.0,
        metavar="S",
        help="seconds a requestState it hands out stays valid (default: 600, the SDK's)",
    )
    demo_server.add_argument(
        "--request-state-key",
        type=_state_key,
        metavar="KEY",
        help="seal requestState with this secret (at least 32 characters) instead of a key made per "
        "process, so that several demo processes can each finish a round another began",
    )

    link = commands.add_parser(
        "link",
        help="a TCP relay with a simulated network, for any TCP service",
        usage="%(prog)s --listen HOST:PORT --upstream HOST:PORT [OPTIONS]\n"
        "       %(prog)s --config FILE [OPTIONS]\n"
        "       %(prog)s --control PORT [OPTIONS]",
        description="Relay TCP connections from --listen to --upstream through a simulated network "
        "(latency, loss as resets, bandwidth, partitions, slicing, limit_data), below any protocol: "
        "MCP over HTTP, a database, anything on TCP. Three forms:\n"
        "\n"
        "  one link      mcpchaos link --listen 127.0.0.1:9000 --upstream 127.0.0.1:8000 --latency-ms 50\n"
        "  several       mcpchaos link --config examples/links.yaml\n"
        "  Toxiproxy     mcpchaos link --control 8474   (links created through its API)\n"
        "\n"
        "With --control and one link, 'mcpchaos ctl' and Toxiproxy clients change its network live.",
        epilog="See docs/network.md.",
        formatter_class=HelpFormatter,
    )
    link.add_argument(
        "--listen", metavar="HOST:PORT", help="where clients connect (PORT alone: on 127.0.0.1)"
    )
    link.add_argument("--upstream", metavar="HOST:PORT", help="the real service (a TCP address, no URL)")
    link.add_argument("--config", metavar="FILE", help="several links: a YAML file with 'links: [...]'")
    add_network_arguments(link)
    add_control_arguments(link)
    add_limit_arguments(link)

    # The parser alone: ctl_command imports aiohttp (0.8 s of start-up), which no other command
    # needs, and every proxy and server process the harness starts parses this command line.
    from mcpchaos.cli import ctl_parser

    ctl_parser.add_parser(commands)
    run_command.add_parser(commands)
    judge_command.add_parser(commands)
    report_command.add_parser(commands)
    tape_command.add_parser(commands)
    replay_command.add_parser(commands, add_proxy_arguments)

    commands.add_parser(
        "demo",
        help="show a short traced MCP session through the proxy",
        formatter_class=HelpFormatter,
        description="Start the demo server behind 'mcpchaos proxy --trace' and drive a short session "
        "with the official MCP SDK client, printing what happens.",
    )
    return parser


def _choose_event_loop(choice: str) -> None:
    """uvloop when asked for or available (measured faster on the relay hot path)."""
    if choice == "asyncio":
        return
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise ConfigError("--loop uvloop: uvloop is not installed (pip install uvloop)") from None
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, level.upper()),
        format="mcpchaos: %(levelname)s %(message)s",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mcpchaos`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.log_level)
    if args.command_name is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        _choose_event_loop(args.loop)
        if args.command_name == "proxy":
            from mcpchaos.cli import proxy_command

            return asyncio.run(proxy_command.serve(args))
        if args.command_name == "ctl":
            from mcpchaos.cli import ctl_command

            return asyncio.run(ctl_command.run(args))
        if args.command_name == "link":
            from mcpchaos.cli import link_command

            return asyncio.run(link_command.serve(args))
        if args.command_name == "demo-server":
            from mcpchaos.config.addresses import http_url, naming
            from mcpchaos.demo.server import run

            if args.downstream is not None:
                http_url(args.downstream, "--downstream")
            with naming("--port"):
                run(
                    args.transport,
                    args.host,
                    args.port,
                    args.stateless,
                    args.json_response,
                    downstream=args.downstream,
                    workers=args.workers,
                    fragile=frozenset(args.fragile),
                    request_state_ttl_s=args.request_state_ttl,
                    request_state_key=args.request_state_key,
                )
            return EXIT_OK
        if args.command_name == "demo":
            from mcpchaos.demo.session import run_demo

            return asyncio.run(run_demo())
        # Commands registered with set_defaults(run_command=...) (run, scenarios, report).
        command = getattr(args, "run_command", None)
        if command is not None:
            return int(command(args))
    except McpChaosError as exc:
        print(f"mcpchaos: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    parser.error(f"unknown command {args.command_name!r}")
    return EXIT_USAGE  # pragma: no cover - parser.error exits
