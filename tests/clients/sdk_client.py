"""An MCP client on the official Python SDK, for ``mcpchaos judge``'s tests: the server from
``--stdio`` (``$MCPCHAOS_SERVER_COMMAND``, a shell-quoted stdio command) or a URL argument.

It does the work docs/judge.md expects (list the tools, call ``echo`` twice, ``delete_item``
once) with the SDK's defaults plus a read timeout, and exits 0; 1 when a call failed.

    python tests/clients/sdk_client.py URL
    python tests/clients/sdk_client.py --stdio          # from $MCPCHAOS_SERVER_COMMAND
    python tests/clients/sdk_client.py --stdio mcpchaos proxy --upstream URL
"""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
import uuid

from mcp import Client, StdioServerParameters


async def work(server: StdioServerParameters | str) -> int:
    failed = 0
    async with Client(server, mode="legacy", read_timeout_seconds=5.0) as client:
        tools = await client.list_tools()
        print("tools:", ", ".join(tool.name for tool in tools.tools))
        for name, arguments in (
            ("echo", {"text": "one"}),
            ("echo", {"text": "two"}),
            ("delete_item", {"name": f"item-{uuid.uuid4().hex[:8]}"}),
        ):
            try:
                result = await client.call_tool(name, arguments)
                print(f"{name}: {'tool error' if result.is_error else 'ok'}")
            except Exception as exc:  # a client reports a failed call and goes on
                failed += 1
                print(f"{name}: {type(exc).__name__}: {exc}")
    return 1 if failed else 0


def main() -> int:
    args = sys.argv[1:]
    if args and args[0] == "--stdio":
        argv = args[1:] or shlex.split(os.environ.get("MCPCHAOS_SERVER_COMMAND", ""))
        if not argv:
            print("give the stdio command, or set MCPCHAOS_SERVER_COMMAND", file=sys.stderr)
            return 2
        return asyncio.run(work(StdioServerParameters(command=argv[0], args=argv[1:])))
    url = args[0] if args else os.environ.get("MCPCHAOS_SERVER_URL", "")
    if not url:
        print("give the server URL, or set MCPCHAOS_SERVER_URL", file=sys.stderr)
        return 2
    return asyncio.run(work(url))


if __name__ == "__main__":
    sys.exit(main())
