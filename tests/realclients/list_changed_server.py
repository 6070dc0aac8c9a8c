"""An MCP server (official SDK ``MCPServer``) whose tool list changes under the client: its
``echo`` adds a tool and sends ``notifications/tools/list_changed`` before it answers, and
``slow`` is the demo's. The list-changed client scenario runs the example clients against it
(the demo server's tool list never changes). Streamable HTTP on 127.0.0.1:PORT/mcp.

    python tests/realclients/list_changed_server.py 8000
"""

from __future__ import annotations

import asyncio
import functools
import sys

from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.mcpserver import Context, MCPServer


def build() -> MCPServer:
    server = MCPServer("list-changed")
    added: list[str] = []

    @server.tool()
    async def echo(text: str, ctx: Context) -> str:
        """Return the text, after adding a tool and announcing the changed list."""
        name = f"added_{len(added) + 1}"
        added.append(name)
        server.add_tool(lambda: name, name=name, description="added by echo")
        await ctx.session.send_tool_list_changed()
        return text

    @server.tool()
    async def slow(seconds: float, steps: int = 5) -> str:
        """Sleep for ``seconds`` (at most 60)."""
        await asyncio.sleep(max(0.0, min(seconds, 60.0)))
        return f"slept {seconds}s"

    # MCPServer advertises tools.listChanged false in the handshake era whatever it sends, and a
    # client may skip list-changed handling for a server that says so: say it (the SDK takes the
    # flag only as an argument of the low-level server's initialization options).
    lowlevel = server._lowlevel_server
    advertise = functools.partial(
        lowlevel.create_initialization_options, NotificationOptions(tools_changed=True)
    )
    setattr(lowlevel, "create_initialization_options", advertise)  # noqa: B010
    return server


if __name__ == "__main__":
    build().run("streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
