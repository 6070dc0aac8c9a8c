"""The floor of an aiohttp-based HTTP proxy: a bare relay with no MCP logic at all (one aiohttp
server, one pooled aiohttp client; each POST forwarded, its answer returned).

    python -m bench.aiohttp_relay LISTEN_PORT UPSTREAM_URL
"""

from __future__ import annotations

import sys

import aiohttp
import uvloop
from aiohttp import web

_FORWARD = ("Content-Type", "Accept", "Mcp-Session-Id", "MCP-Protocol-Version")


def app(upstream: str) -> web.Application:
    application = web.Application()
    client: list[aiohttp.ClientSession] = []

    async def start(_: web.Application) -> None:
        client.append(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)))

    async def relay(request: web.Request) -> web.Response:
        body = await request.read()
        headers = {name: request.headers[name] for name in _FORWARD if name in request.headers}
        async with client[0].request(request.method, upstream, data=body, headers=headers) as response:
            answer = await response.read()
            out = {
                name: response.headers[name]
                for name in ("Content-Type", "Mcp-Session-Id")
                if name in response.headers
            }
            return web.Response(status=response.status, body=answer, headers=out)

    application.on_startup.append(start)
    application.router.add_route("*", "/mcp", relay)
    return application


if __name__ == "__main__":
    web.run_app(
        app(sys.argv[2]),
        host="127.0.0.1",
        port=int(sys.argv[1]),
        print=None,
        access_log=None,
        loop=uvloop.new_event_loop(),
    )
