"""A scripted HTTP upstream that records what reaches it: for checking what the SDK hides.

It is not an MCP server: it answers by the JSON-RPC method in the body, so a test can ask
for an SSE stream with pauses, a hang, a huge body, and then look at the headers and bodies
the proxy forwarded.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from dataclasses import dataclass, field

from aiohttp import web

from mcpchaos.protocol.sse import encode_event

FLOOD_EVENTS = 40_000
"""Events of ~1 kB in the "flood" answer: well beyond what socket buffers can hold."""


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class RecordingUpstream:
    seen: list[Seen] = field(default_factory=list)
    stream_cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    runner: web.AppRunner | None = None
    flood_written: int = 0
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, handler_cancellation=True)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append(Seen(request.method, request.path_qs, dict(request.headers), body))
        if request.path.startswith("/.well-known/oauth-protected-resource/"):
            metadata = {"resource": self.url, "authorization_servers": ["http://auth.example"]}
            return web.json_response(metadata)
        if request.path == "/gzipped":  # compressed whatever the request asked (RFC 9110 allows it)
            return web.Response(
                body=gzip.compress(b"plain /gzipped" * 10), headers={"Content-Encoding": "gzip"}
            )
        if request.path != "/mcp":
            return web.Response(text=f"plain {request.path}", headers={"X-Upstream": "yes"})
        if request.method == "GET":
            after = request.headers.get("Last-Event-ID", "")
            resumed = {"jsonrpc": "2.0", "method": "notifications/resumed", "params": {"after": after}}
            if request.headers.get("X-Test-Quiet-Stream"):  # the head at once, an event much later
                response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
                await response.prepare(request)
                await asyncio.sleep(30)
                return response
            return await self.stream(request, [encode_event(json.dumps(resumed), event_id="ev-10")])
        if request.method == "DELETE":
            return web.Response(status=204)
        message = json.loads(body)
        method = message.get("method")
        request_id = message.get("id")
        if request_id is None:
            return web.Response(status=202)
        if method == "stream":
            events = [b": ping\n\n", encode_event("", event_id="prime-0", retry=500)]
            for step in range(3):
                progress = {
                    "jsonrpc": "2.0",
                    "method": "notifications/progress",
                    "params": {"progressToken": "t", "progress": step + 1},
                }
                events.append(encode_event(json.dumps(progress), event_id=f"ev-{step + 1}"))
            result = {"jsonrpc": "2.0", "id": request_id, "result": {"done": True}}
            events.append(encode_event(json.dumps(result), event_id="ev-4"))
            return await self.stream(request, events, pause=0.25)
        if method == "endless":
            return await self.stream(
                request,
                [
                    encode_event(
                        json.dumps(
                            {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progress": i}}
                        )
                    )
                    for i in range(1000)
                ],
                pause=0.05,
            )
        if method == "flood":
            chunk = "x" * 1000
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            for index in range(FLOOD_EVENTS):
                note = {
                    "jsonrpc": "2.0",
                    "method": "notifications/message",
                    "params": {"i": index, "data": chunk},
                }
                await response.write(encode_event(json.dumps(note)))
                self.flood_written = index + 1
            await response.write(encode_event(json.dumps({"jsonrpc": "2.0", "id": request_id, "result": {}})))
            await response.write_eof()
            return response
        if method == "needs-auth":
            where = f"http://127.0.0.1:{self.port}/.well-known/oauth-protected-resource/mcp"
            challenge = f'Bearer error="invalid_token", resource_metadata="{where}"'
            return web.Response(status=401, headers={"WWW-Authenticate": challenge})
        if method == "empty-sse":  # 200 text/event-stream with Content-Length: 0
            return web.Response(status=200, body=b"", headers={"Content-Type": "text/event-stream"})
        if method == "big-event":  # one SSE event carrying the answer, of ~2 MB
            result = {"jsonrpc": "2.0", "id": request_id, "result": {"blob": "x" * 2_000_000}}
            return await self.stream(request, [encode_event(json.dumps(result))])
        if method == "hang":
            await asyncio.sleep(3600)
        if method == "huge":
            payload = {"jsonrpc": "2.0", "id": request_id, "result": {"blob": "x" * 2_000_000}}
            return web.json_response(payload)
        if method == "missing-session":  # the SDK's answer to a request without its session id
            error = {
                "jsonrpc": "2.0",
                "id": request_id,
                "error": {"code": -32600, "message": "Missing session ID"},
            }
            return web.json_response(error, status=400, headers={"Mcp-Session-Id": f"fresh-{len(self.seen)}"})
        if method == "gzipped-json":
            answer = json.dumps({"jsonrpc": "2.0", "id": request_id, "result": {}}).encode()
            headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
            return web.Response(body=gzip.compress(answer), headers=headers)
        if method == "not-json":
            return web.Response(status=500, text="upstream exploded", content_type="text/plain")
        return web.json_response(
            {"jsonrpc": "2.0", "id": request_id, "result": {"method": method}}, headers={"X-Upstream": "yes"}
        )

    async def stream(
        self, request: web.Request, events: list[bytes], pause: float = 0.0
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "X-Upstream": "yes"})
        await response.prepare(request)
        try:
            for event in events:
                await response.write(event)
                if pause:
                    await asyncio.sleep(pause)
        except (asyncio.CancelledError, ConnectionResetError):
            self.stream_cancelled.set()
            raise
        await response.write_eof()
        return response
