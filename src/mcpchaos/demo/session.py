"""``mcpchaos demo``: a short, visible MCP session through the proxy to the demo server.

The official SDK client launches ``mcpchaos proxy --trace -- <demo server>`` exactly as an
MCP client application would; the proxy's trace lines (stderr) show each message crossing
the interceptor chain while this prints what the client saw.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from mcp import Client, StdioServerParameters
from mcp.types import TextContent


def proxy_parameters(*proxy_args: str) -> StdioServerParameters:
    """Launch parameters for the demo server behind ``mcpchaos proxy``."""
    return StdioServerParameters(
        command=sys.executable,
        args=[
            "-m",
            "mcpchaos",
            "--log-level",
            "info",
            "proxy",
            *proxy_args,
            "--",
            sys.executable,
            "-m",
            "mcpchaos",
            "demo-server",
        ],
    )


def _text(result: Any) -> str:
    parts = [block.text for block in result.content if isinstance(block, TextContent)]
    return " ".join(parts)


async def run_demo() -> int:
    """Run the session; 0 if every step gave the expected answer."""
    print("mcpchaos demo: the MCP SDK client → mcpchaos proxy → the demo MCP server (stdio)\n")
    seen_progress: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen_progress.append(f"{progress:g}/{total:g}" if total else f"{progress:g}")

    failures = 0
    started = time.monotonic()
    async with Client(proxy_parameters("--trace"), mode="legacy") as client:
        print(f"  connected: protocol {client.protocol_version}, server {client.server_info}")
        tools = await client.list_tools()
        print(f"  tools/list: {', '.join(tool.name for tool in tools.tools)}")
        echoed = _text(await client.call_tool("echo", {"text": "hello through the proxy ✓"}))
        print(f"  tools/call echo: {echoed!r}")
        failures += echoed != "hello through the proxy ✓"
        slow = await client.call_tool("slow", {"seconds": 0.3, "steps": 3}, progress_callback=on_progress)
        print(f"  tools/call slow: {_text(slow)!r}, progress {seen_progress}")
        failures += len(seen_progress) != 3
        big = _text(await client.call_tool("payload", {"size_bytes": 1_000_000}))
        print(f"  tools/call payload: {len(big):,} characters")
        failures += len(big) != 1_000_000
        failed = await client.call_tool("fail", {"message": "on purpose"})
        print(f"  tools/call fail: isError={failed.is_error} {_text(failed)!r}")
        failures += not failed.is_error
        resource = await client.read_resource("demo://info")
        print(f"  resources/read demo://info: {resource.contents[0]}")
        prompt = await client.get_prompt("summarize", {"text": "chaos"})
        print(f"  prompts/get summarize: {len(prompt.messages)} message(s)")
    elapsed = time.monotonic() - started
    verdict = "all answers as expected" if failures == 0 else f"{failures} unexpected answer(s)"
    print(f"\nmcpchaos demo: {verdict} in {elapsed:.1f}s")
    return 0 if failures == 0 else 1
