"""``mcpchaos replay --as-server TAPE``: a server that is not there, answering from a tape.

It is ``mcpchaos proxy`` with the tape's answers as its server command
(:mod:`mcpchaos.proxy.replay_server`): stdio → stdio for ``--transport stdio``, HTTP → stdio for
``--transport http``. So every proxy option (faults, network, control API, ``--record``) works
here as it does there, built by the same code (:func:`mcpchaos.cli.proxy_command.serve`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from typing import Any

from mcpchaos.cli.helpformat import HelpFormatter
from mcpchaos.errors import ConfigError

DESCRIPTION = """\
Answer like the server recorded on TAPE (a tape from 'mcpchaos proxy --record'): the handshake
or server/discover, the lists, and each tools/call matched to a recorded call (the same
arguments, else the nearest recording, else a "no recording" error; docs/tapes.md). Every
'mcpchaos proxy' option works on top: fault profiles, the network simulator, the control API,
--record. A client can be tested offline and deterministically against a server that is not
there."""

EPILOG = """\
examples:
  mcpchaos replay --as-server run.tape               a stdio server (an MCP client launches it)
  mcpchaos replay --as-server run.tape --transport http --port 8080 --timing none
  mcpchaos replay --as-server run.tape --faults examples/flaky-tools.yaml --fault-log f.jsonl

See docs/tapes.md."""


def add_parser(commands: Any, add_proxy_arguments: Callable[[argparse.ArgumentParser, bool], None]) -> None:
    parser = commands.add_parser(
        "replay",
        help="serve a recorded tape as a (faulty) MCP server",
        usage="%(prog)s --as-server TAPE [--transport stdio|http] [--port P]\n"
        "       [--timing recorded|none] [PROXY OPTIONS]",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    replay = parser.add_argument_group("what to replay")
    replay.add_argument("--as-server", metavar="TAPE", help="the tape whose server to play (required)")
    replay.add_argument(
        "--transport",
        choices=["stdio", "http"],
        default="stdio",
        help="serve MCP on stdio, or Streamable HTTP on --host:--port (default: stdio)",
    )
    replay.add_argument("--host", default="127.0.0.1", help="with --transport http (default: 127.0.0.1)")
    replay.add_argument(
        "--port", type=int, default=8080, help="with --transport http; 0 picks one (default: 8080)"
    )
    replay.add_argument(
        "--timing",
        choices=["recorded", "none"],
        default="recorded",
        help="answer after the recorded server's delay, or at once (default: recorded)",
    )
    add_proxy_arguments(parser, False)
    parser.set_defaults(run_command=run, listen=None, upstream=None, server_command=[])


def run(args: argparse.Namespace) -> int:
    from mcpchaos.cli import proxy_command
    from mcpchaos.history import tape

    if not args.as_server:
        raise ConfigError("replay needs a tape: mcpchaos replay --as-server FILE.tape")
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port} is not a port (a number from 0 to 65535)")
    tape.read(args.as_server)  # a missing or broken tape is a usage mistake, said now
    args.server_command = [
        sys.executable,
        "-m",
        "mcpchaos.proxy.replay_server",
        "--timing",
        args.timing,
        args.as_server,
    ]
    if args.transport == "http":
        args.listen = f"{args.host}:{args.port}"
    args.tape_shape = f"replay-{args.transport}"
    return asyncio.run(proxy_command.serve(args))
