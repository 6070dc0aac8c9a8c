"""A minimal aiohttp JSON-RPC echo upstream for the HTTP benchmarks (it does almost nothing, so
a benchmark against it shows the cost of what stands in front of it).

    python -m bench.echo_http PORT

``initialize`` gets a session id (Mcp-Session-Id) and a result; any other request gets
``{"result": {"content": [{"type": "text", "text": <its arguments' text>}]}}``; notifications
and responses get 202. JSON responses only; uvloop; no validation.
"""

from __future__ import annotations

import itertools
import sys

import orjson
import uvloop
from aiohttp import web

_ids = itertools.count(1)
_JSON = "application/json"


async def mcp(request: web.Request) -> web.Response:
    if request.method == "DELETE":
        return web.Response(status=200)
    message = orjson.loads(await request.read())
    request_id = message.get("id")
    method = message.get("method")
    if request_id is None or method is None:
        return web.Response(status=202)
    if method == "initialize":
        result = {
            "protocolVersion": message["params"].get("protocolVersion", "2025-11-25"),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "bench-echo", "version": "0"},
        }
        body = orjson.dumps({"jsonrpc": "2.0", "id": request_id, "result": result})
        return web.Response(body=body, content_type=_JSON, headers={"Mcp-Session-Id": f"s{next(_ids)}"})
    if method == "tools/list":  # what the SDK client asks to validate a tool's output
        tools = [
            {"name": "echo", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}}
        ]
        body = orjson.dumps({"jsonrpc": "2.0", "id": request_id, "result": {"tools": tools}})
        return web.Response(body=body, content_type=_JSON)
    text = ((message.get("params") or {}).get("arguments") or {}).get("text", "")
    result = {"content": [{"type": "text", "text": text}], "isError": False}
    return web.Response(
        body=orjson.dumps({"jsonrpc": "2.0", "id": request_id, "result": result}), content_type=_JSON
    )


def app() -> web.Application:
    application = web.Application()
    application.router.add_route("*", "/mcp", mcp)
    return application


if __name__ == "__main__":
    web.run_app(
        app(),
        host="127.0.0.1",
        port=int(sys.argv[1]),
        print=None,
        access_log=None,
        loop=uvloop.new_event_loop(),
    )
