"""A minimal aiohttp JSON-RPC echo upstream for the HTTP benchmarks (it does almost nothing, so
a benchmark against it shows the cost of what stands in front of it).

    python -m bench.echo_http PORT [--sse]

``initialize`` gets a session id (Mcp-Session-Id) and a result; any other request gets
``{"result": {"content": [{"type": "text", "text": <its arguments' text>}]}}``; notifications
and responses get 202. A request without a session id (2026-07-28, sessionless) is answered
the same way. JSON responses; uvloop; no validation, yet nothing stops it (the fuzz suite,
``tests/fuzz``, sends it all): a body that is not a JSON object gets 400, another method than
POST or DELETE 405, params of another shape echo ``""``.

With ``--sse``, a ``tools/call`` is answered with a ``text/event-stream`` of three events, each
written as its own chunk: two ``notifications/progress`` (when the request's
``params._meta.progressToken`` asks for them) and then the result.
"""

from __future__ import annotations

import itertools
import sys
from typing import Any

import orjson
import uvloop
from aiohttp import web

from bench.echo_stdio import decode, echoed_text, encode

_ids = itertools.count(1)
_JSON = "application/json"
_SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}


def _event(message: dict[str, Any]) -> bytes:
    return b"event: message\ndata: " + orjson.dumps(message) + b"\n\n"


async def _stream(
    request: web.Request, message: dict[str, Any], result: dict[str, Any]
) -> web.StreamResponse:
    """Two progress notifications (if asked for), then the result, as separate SSE chunks."""
    response = web.StreamResponse(headers=_SSE_HEADERS)
    await response.prepare(request)
    params = message.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    token = meta.get("progressToken") if isinstance(meta, dict) else None
    if token is not None:
        for step in (1, 2):
            params = {"progressToken": token, "progress": step, "total": 3}
            await response.write(
                _event({"jsonrpc": "2.0", "method": "notifications/progress", "params": params})
            )
    await response.write(_event({"jsonrpc": "2.0", "id": message["id"], "result": result}))
    await response.write_eof()
    return response


async def mcp(request: web.Request) -> web.StreamResponse:
    if request.method == "DELETE":
        return web.Response(status=200)
    if request.method != "POST":
        return web.Response(status=405, headers={"Allow": "POST, DELETE"})
    message = decode(await request.read())
    if not isinstance(message, dict):
        return web.Response(status=400)
    request_id = message.get("id")
    method = message.get("method")
    if request_id is None or method is None:
        return web.Response(status=202)
    params = message.get("params")
    if not isinstance(params, dict):
        params = {}
    if method == "initialize":
        result = {
            "protocolVersion": params.get("protocolVersion", "2025-11-25"),
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
    result = {"content": [{"type": "text", "text": echoed_text(params)}], "isError": False}
    if request.app[SSE_MODE] and method == "tools/call":
        return await _stream(request, message, result)
    return web.Response(
        body=encode({"jsonrpc": "2.0", "id": request_id, "result": result}), content_type=_JSON
    )


SSE_MODE = web.AppKey("sse", bool)


def app(sse: bool = False) -> web.Application:
    application = web.Application()
    application[SSE_MODE] = sse
    application.router.add_route("*", "/mcp", mcp)
    return application


if __name__ == "__main__":
    web.run_app(
        app(sse="--sse" in sys.argv[2:]),
        host="127.0.0.1",
        port=int(sys.argv[1]),
        print=None,
        access_log=None,
        loop=uvloop.new_event_loop(),
    )
