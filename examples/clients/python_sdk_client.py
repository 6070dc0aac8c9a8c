"""A small agent on the official MCP Python SDK (``mcp`` 2.3.0, ``from mcp import Client``): the
fixed job every example client here does, so the three can be compared under the same faults.

The job: list the tools (``echo`` and ``slow`` must be there), call ``echo``, call ``slow``.
Each step prints one JSON line on stdout, ``{"step", "ok", "seconds", "detail"}``; exit 0 when
every step succeeded, 1 at the first that failed (the steps after it are not tried), 2 for a
usage mistake. With ``--keep-going`` a failed call does not end the job: the next call is
made (as an agent tells its model the tool failed and goes on), and the exit is 1 if any failed.

The server: the URL (first argument, else ``$MCPCHAOS_SERVER_URL``) of a Streamable HTTP
server, or ``--stdio COMMAND`` (else ``$MCPCHAOS_SERVER_COMMAND``) for a stdio server.

Timeouts: ``--timeout`` (10 s here) is the SDK's ``read_timeout_seconds``, applied to every
request (the handshake too). ``--timeout 0`` keeps the SDK's default, which is **no timeout**:
a call nobody answers waits forever.

    python examples/clients/python_sdk_client.py http://127.0.0.1:8080/mcp
    python examples/clients/python_sdk_client.py --era legacy --timeout 3 http://127.0.0.1:8080/mcp
    python examples/clients/python_sdk_client.py --keep-going http://127.0.0.1:8080/mcp
    python examples/clients/python_sdk_client.py --stdio 'mcpchaos proxy -- mcpchaos demo-server'
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from typing import Any

import anyio
from mcp import Client, StdioServerParameters
from mcp.types import TextContent


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="List tools, call echo, call slow, on the official MCP Python SDK client.",
        epilog="examples:\n  %(prog)s http://127.0.0.1:8080/mcp\n"
        "  %(prog)s --era legacy --timeout 3 http://127.0.0.1:8080/mcp\n"
        "  %(prog)s --keep-going http://127.0.0.1:8080/mcp\n"
        "  %(prog)s --stdio 'mcpchaos proxy -- mcpchaos demo-server'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("url", nargs="?", default=os.environ.get("MCPCHAOS_SERVER_URL"))
    parser.add_argument("--stdio", metavar="COMMAND", default=os.environ.get("MCPCHAOS_SERVER_COMMAND"))
    parser.add_argument(
        "--era",
        choices=["legacy", "auto"],
        default="auto",
        help="legacy: the 2025-11-25 initialize handshake; auto (the SDK's default): 2026-07-28 "
        "server/discover, falling back to initialize",
    )
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds per request (0: the SDK's: none)"
    )
    parser.add_argument("--slow-seconds", type=float, default=1.0, help="how long the slow call takes")
    parser.add_argument(
        "--keep-going",
        action="store_true",
        help="after a failed call, make the next one (exit 1 if any failed)",
    )
    args = parser.parse_args(argv)
    if not args.url and not args.stdio:
        parser.error("give the server's URL (or set MCPCHAOS_SERVER_URL), or --stdio COMMAND")
    if args.timeout < 0 or args.slow_seconds < 0:
        parser.error("--timeout and --slow-seconds must not be negative")
    return args


def target(args: argparse.Namespace) -> str | StdioServerParameters:
    if args.url:
        return str(args.url)
    command, *rest = shlex.split(args.stdio)
    return StdioServerParameters(command=command, args=rest)


def report(step: str, ok: bool, started: float, detail: str) -> None:
    reported.add(step)
    line = {"step": step, "ok": ok, "seconds": round(time.monotonic() - started, 3), "detail": detail}
    print(json.dumps(line), flush=True)


reported: set[str] = set()
"""The steps already printed: an error raised on the way out of the session is a step of its own."""


def text_of(result: Any) -> str:
    texts = [block.text for block in result.content if isinstance(block, TextContent)]
    return ("error: " if result.is_error else "") + " ".join(texts)


def describe(error: BaseException) -> str:
    """The innermost cause, named: the SDK raises from a task group, as an ExceptionGroup."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return f"{type(error).__name__}: {error}"


async def job(args: argparse.Namespace) -> bool:
    timeout = args.timeout or None
    step, started = "connect", time.monotonic()
    try:
        async with Client(target(args), mode=args.era, read_timeout_seconds=timeout) as client:
            report(step, True, started, f"protocol {client.protocol_version}")
            step, started = "list_tools", time.monotonic()
            names = sorted(tool.name for tool in (await client.list_tools()).tools)
            missing = {"echo", "slow"} - set(names)
            report(step, not missing, started, f"missing {sorted(missing)}" if missing else ", ".join(names))
            if missing:
                return False
            step, started = "echo", time.monotonic()
            try:
                echoed = await client.call_tool("echo", {"text": "hello"})
                report(step, not echoed.is_error, started, text_of(echoed))
                echo_ok = not echoed.is_error
            except Exception as error:
                if not args.keep_going:
                    raise
                report(step, False, started, describe(error))
                echo_ok = False
            if not echo_ok and not args.keep_going:
                return False
            step, started = "slow", time.monotonic()
            slept = await client.call_tool("slow", {"seconds": args.slow_seconds, "steps": 2})
            report(step, not slept.is_error, started, text_of(slept))
            return echo_ok and not slept.is_error
    except Exception as error:  # what the SDK raised is the finding: say it, exit 1
        report(step if step not in reported else "close", False, started, describe(error))
        return False


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    return 0 if anyio.run(job, args) else 1


if __name__ == "__main__":
    sys.exit(main())
