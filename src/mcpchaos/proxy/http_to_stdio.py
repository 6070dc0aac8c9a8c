"""The HTTP → stdio bridge: Streamable HTTP clients in front of a stdio MCP server.

``mcpchaos proxy --listen HOST:PORT -- COMMAND``. How client sessions map to processes:

* **2025-era sessions.** Each ``initialize`` without an ``Mcp-Session-Id`` starts a new
  server process and a new session id (returned in ``Mcp-Session-Id``); every later request
  of that session goes to that process and no other. ``DELETE`` stops the process; a session
  whose process died answers 404 (the client then initializes again, getting a fresh
  process). With ``--session-idle-timeout`` / ``--session-max-age`` a session unused or
  alive for too long expires: its process is stopped and its id answers 404.
  Server→client requests and unsolicited notifications go to the session's GET stream when
  one is open, else to the session's most recent open POST stream.
* **Sessionless requests (2026-07-28).** Requests without a session id share one server
  process. Their JSON-RPC ids and progress tokens are replaced by proxy-unique ones on the
  way in (so two clients' ``"id": 1`` never meet) and restored on the way out; interceptors
  see the unique ones. A notification that names no request goes to the most recent open
  request's stream.

Every message passes the interceptor chain; each process has one pump, whose server side
is the process's stdin and whose client side routes each message to the right HTTP stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from mcpchaos.errors import ClientAbortedError, UpstreamStartError
from mcpchaos.events import notify
from mcpchaos.intercept.chain import InterceptorChain
from mcpchaos.intercept.context import Session
from mcpchaos.intercept.effects import Disconnect, EndStream, HttpReply
from mcpchaos.protocol import codes
from mcpchaos.protocol.messages import Direction, Kind, Message, MessageId, error_response
from mcpchaos.protocol.ndjson import NdjsonFramer
from mcpchaos.protocol.sse import encode_event
from mcpchaos.proxy.http import (
    JSON,
    SESSION_HEADER,
    SSE,
    HttpOptions,
    aborted,
    error_body,
    read_client_message,
)
from mcpchaos.proxy.lifecycle import serve_until_stopped, sweep
from mcpchaos.proxy.pump import Pump
from mcpchaos.transport.limits import ConnectionLimiter
from mcpchaos.transport.stdio import ChildProcess, NdjsonEndpoint, exit_status, read_frames

log = logging.getLogger("mcpchaos.bridge")

_CLOSED = object()


@dataclass(frozen=True, slots=True)
class BridgeOptions:
    """Knobs of the HTTP → stdio bridge."""

    path: str = "/mcp"
    """The MCP endpoint path clients use."""
    max_sessions: int = 100
    """Most server processes for sessions at once (503 beyond it)."""
    shutdown_grace: float = 1.5
    """Seconds a process gets to exit after its stdin closes, before SIGTERM."""


class _Stream:
    """One client HTTP request's response: a queue the router fills, drained by its handler."""

    def __init__(
        self, request: web.Request, request_id: MessageId | None, original_id: MessageId | None
    ) -> None:
        self.request = request
        self.request_id = request_id
        """The id the request travels under upstream (proxy-unique when rewritten)."""
        self.original_id = original_id
        """The id the client used, restored on the way out."""
        self.token_map: dict[Any, Any] = {}
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    def put(self, item: Any) -> bool:
        self.queue.put_nowait(item)
        return True


class _Router:
    """The pump's client side: sends each server message to the HTTP stream it belongs to."""

    def __init__(self, upstream: _StdioUpstream) -> None:
        self._upstream = upstream

    def send(self, message: Message) -> bool:
        stream = self._upstream.route(message)
        if stream is None:
            log.info("no open stream for %r (session %s)", message, self._upstream.session.id)
            if message.kind is Kind.REQUEST:
                # The server waits for an answer no client can give: say so, do not leave it hanging.
                error = error_response(
                    message.id,
                    codes.UPSTREAM_UNAVAILABLE,
                    "mcpchaos: no client stream is open to carry this request",
                )
                self._upstream.pump.receive(Direction.CLIENT_TO_SERVER, error)
            return True
        return stream.put(self._upstream.restore(message, stream))

    def close(self) -> None:
        return None

    def transport_effect(self, effect: HttpReply | EndStream | Disconnect) -> bool:
        stream = self._upstream.current
        return stream.put(effect) if stream is not None else False


class _StdioUpstream:
    """One server process, its pump, and the HTTP streams waiting on it."""

    def __init__(
        self, session: Session, child: ChildProcess, chain: InterceptorChain, rewrite_ids: bool
    ) -> None:
        self.session = session
        self.child = child
        self.rewrite_ids = rewrite_ids
        self.streams_by_id: dict[MessageId, _Stream] = {}
        self.streams_by_token: dict[Any, _Stream] = {}
        self.open_streams: list[_Stream] = []
        self.get_stream: _Stream | None = None
        self.current: _Stream | None = None
        self.pump = Pump(session, chain, _Router(self), NdjsonEndpoint(child.sink, "server"))
        self._ids = itertools.count(1)
        self.born = self.last_used = time.monotonic()
        self.dead = False
        self.reader: asyncio.Task[None] | None = None
        self.on_exit: Callable[[_StdioUpstream], None] | None = None
        """Called once the process has exited (the bridge forgets the session)."""

    def start(self, max_message_bytes: int) -> None:
        self.reader = asyncio.create_task(self._read(max_message_bytes))

    async def _read(self, max_message_bytes: int) -> None:
        framer = NdjsonFramer(max_message_bytes)

        def deliver(frame: Any) -> None:
            self.current = self.route(frame) if isinstance(frame, Message) else None
            self.pump.receive(Direction.SERVER_TO_CLIENT, frame)
            self.current = None

        await read_frames(self.child.source, framer, deliver)
        await self.child.wait_exit()
        code = await self.child.reap()
        status = exit_status(code) if code is not None else 1
        self.dead = True
        log.warning(
            "server process %d of session %s exited with status %d", self.child.pid, self.session.id, status
        )
        self.pump.fail_pending(
            Direction.CLIENT_TO_SERVER,
            codes.UPSTREAM_UNAVAILABLE,
            f"mcpchaos: the upstream server exited (status {status}) before answering",
        )
        for stream in list(self.open_streams) + ([self.get_stream] if self.get_stream is not None else []):
            stream.put(_CLOSED)
        if self.on_exit is not None:
            self.on_exit(self)

    # -- routing --------------------------------------------------------------------------

    def route(self, message: Message) -> _Stream | None:
        if message.kind.is_response and message.id is not None:
            stream = self.streams_by_id.get(message.id)
            if stream is not None:
                return stream
        params = message.params if isinstance(message.params, dict) else {}
        token = params.get("progressToken")
        if token is not None and token in self.streams_by_token:
            return self.streams_by_token[token]
        if message.kind is Kind.REQUEST and self.get_stream is not None:
            return self.get_stream
        if self.open_streams:
            return self.open_streams[-1]
        return self.get_stream

    def restore(self, message: Message, stream: _Stream) -> Message:
        """Undo the id and token rewriting for the client that owns ``stream``."""
        if not self.rewrite_ids:
            return message
        if message.kind.is_response and message.id == stream.request_id:
            return message.replace(id=stream.original_id)
        params = message.params
        if isinstance(params, dict) and params.get("progressToken") in stream.token_map:
            changed = dict(params)
            changed["progressToken"] = stream.token_map[params["progressToken"]]
            return message.replace(params=changed)
        return message

    def open(self, request: web.Request, message: Message | None) -> tuple[_Stream, Message | None]:
        """Register a stream for ``message`` (None: the GET stream); returns the message as
        it travels upstream (with a proxy-unique id and token when rewriting)."""
        original_id = message.id if message is not None and message.kind is Kind.REQUEST else None
        stream = _Stream(request, original_id, original_id)
        if message is not None and message.kind is Kind.REQUEST and self.rewrite_ids:
            unique = next(self._ids)
            stream.request_id = unique
            message = message.replace(id=unique)
            message = self._rewrite_token(message, stream, unique)
        if stream.request_id is not None:
            self.streams_by_id[stream.request_id] = stream
        token = _progress_token(message) if message is not None else None
        if token is not None:
            self.streams_by_token[token] = stream
        if message is None:
            self.get_stream = stream
        else:
            self.open_streams.append(stream)
        return stream, message

    def _rewrite_token(self, message: Message, stream: _Stream, unique: int) -> Message:
        token = _progress_token(message)
        if token is None:
            return message
        new_token = f"mcpchaos-{unique}"
        stream.token_map[new_token] = token
        params = dict(message.params)
        params["_meta"] = {**params["_meta"], "progressToken": new_token}
        return message.replace(params=params)

    def close_stream(self, stream: _Stream) -> None:
        if stream.request_id is not None:
            self.streams_by_id.pop(stream.request_id, None)
            self.session.tracker.forget(Direction.CLIENT_TO_SERVER, stream.request_id)
        for token in [t for t, s in self.streams_by_token.items() if s is stream]:
            del self.streams_by_token[token]
        if stream in self.open_streams:
            self.open_streams.remove(stream)
        if self.get_stream is stream:
            self.get_stream = None

    async def stop(self, grace: float) -> None:
        self.pump.close()
        await self.child.stop(grace, 1.0)
        if self.reader is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(self.reader, 2.0)
        await self.child.reap()


def _progress_token(message: Message) -> Any:
    params = message.params
    if isinstance(params, dict):
        meta = params.get("_meta")
        if isinstance(meta, dict):
            return meta.get("progressToken")
    return None


class HttpToStdioBridge:
    """Serve Streamable HTTP; run ``command`` once per session (and once for sessionless)."""

    def __init__(
        self,
        command: Sequence[str],
        chain: InterceptorChain | None = None,
        options: HttpOptions | None = None,
        bridge: BridgeOptions | None = None,
    ) -> None:
        self.command = list(command)
        self.chain = chain if chain is not None else InterceptorChain()
        self.options = options if options is not None else HttpOptions()
        self.bridge = bridge if bridge is not None else BridgeOptions()
        self.sessions: dict[str, _StdioUpstream] = {}
        self._sessionless: _StdioUpstream | None = None
        self._sessionless_lock = asyncio.Lock()
        self._ordinals = itertools.count(1)
        self._server: asyncio.Server | None = None
        self.limiter = ConnectionLimiter(
            self.options.max_connections, self.options.over_limit, self.options.header_timeout
        )
        self.limiter.observers = self.chain.observers
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        self.expired = 0
        """Sessions ended by the idle timeout or the maximum age."""
        self._sweeper: asyncio.Task[None] | None = None
        self._stopping: set[asyncio.Task[None]] = set()
        """Expired sessions' processes being stopped (awaited, never cancelled, by stop())."""

    async def start(self, host: str, port: int) -> int:
        if self.options.session_idle_timeout or self.options.session_max_age:
            expire = sweep(self.expire, self.options.session_idle_timeout, self.options.session_max_age)
            self._sweeper = asyncio.create_task(expire, name="session-sweep")
        app = web.Application(client_max_size=self.options.max_body_bytes + 1)
        app.router.add_route("*", self.bridge.path, self._dispatch)
        self._runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, keepalive_timeout=self.options.idle_timeout
        )
        await self._runner.setup()
        handler = self._runner.server
        assert handler is not None
        self._server = await asyncio.get_running_loop().create_server(
            self.limiter.factory(handler), host, port, backlog=1024
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None
        await asyncio.gather(*self._stopping, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            self._server = None
        upstreams = list(self.sessions.values()) + ([self._sessionless] if self._sessionless else [])
        await asyncio.gather(*(u.stop(self.bridge.shutdown_grace) for u in upstreams), return_exceptions=True)
        self.sessions.clear()
        self._sessionless = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def run_forever(self, host: str, port: int) -> int:
        """Serve until SIGINT/SIGTERM; returns the exit status."""
        await self.start(host, port)
        banner = (
            f"mcpchaos: listening on http://{host}:{self.port}{self.bridge.path} → {' '.join(self.command)}"
        )
        return await serve_until_stopped(banner, self.stop)

    async def _spawn(self, session_id: str | None) -> _StdioUpstream:
        ordinal = next(self._ordinals)
        session = Session(id=session_id or f"sessionless-{ordinal}", ordinal=ordinal, transport="http")
        child = await ChildProcess.spawn(self.command)
        upstream = _StdioUpstream(session, child, self.chain, rewrite_ids=session_id is None)
        upstream.start(self.options.max_message_bytes)
        log.info("started server pid %d for session %s", child.pid, session.id)
        return upstream

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._route(request)
        except ClientAbortedError:
            return aborted()
        except ConnectionResetError:
            # The client left before its answer could be written (its own timeout): nothing
            # to tell it; the exchange already cleaned up on the way out.
            log.debug("client %s went away before its answer was written", request.remote)
            return aborted()

    async def _route(self, request: web.Request) -> web.StreamResponse:
        session_id = request.headers.get(SESSION_HEADER)
        if request.method == "DELETE":
            upstream = self.sessions.pop(session_id or "", None)
            if upstream is None:
                return error_body(404, codes.INVALID_REQUEST, "Session not found", None)
            await upstream.stop(self.bridge.shutdown_grace)
            return web.Response(status=200)
        if request.method == "GET":
            if session_id is None:
                return web.Response(status=405, headers={"Allow": "POST, DELETE"})
            upstream = self._session(session_id)
            if upstream is None:
                return error_body(404, codes.INVALID_REQUEST, "Session not found", None)
            return await self._serve(request, upstream, None)
        if request.method != "POST":
            return web.Response(status=405, headers={"Allow": "GET, POST, DELETE"})
        item = await read_client_message(request, self.options)
        if not isinstance(item, Message):
            return item
        try:
            upstream, new_session_id = await self._upstream_for(session_id, item)
        except UpstreamStartError as exc:
            log.warning("cannot start the server for a new session: %s", exc)
            return error_body(502, codes.UPSTREAM_UNAVAILABLE, f"mcpchaos: {exc}", item.id)
        if upstream is None:
            if session_id is not None:
                return error_body(404, codes.INVALID_REQUEST, "Session not found", None)
            return error_body(
                503,
                codes.UPSTREAM_UNAVAILABLE,
                f"mcpchaos: all {self.bridge.max_sessions} sessions are in use",
                item.id,
            )
        return await self._serve(request, upstream, item, new_session_id)

    def expire(self, now: float) -> int:
        """Stop the session processes unused or alive for too long; returns how many."""
        stale = [sid for sid, upstream in self.sessions.items() if self._stale(upstream, now)]
        for session_id in stale:
            self._expire(session_id)
        return len(stale)

    def _stale(self, upstream: _StdioUpstream, now: float) -> bool:
        idle, max_age = self.options.session_idle_timeout, self.options.session_max_age
        busy = bool(upstream.open_streams) or upstream.get_stream is not None  # an open stream is use
        if idle and not busy and now - upstream.last_used > idle:
            return True
        return bool(max_age and now - upstream.born > max_age)

    def _expire(self, session_id: str) -> None:
        upstream = self.sessions.pop(session_id)
        self.expired += 1
        log.info("session %s expired; stopping its server process %d", session_id, upstream.child.pid)
        notify(self.chain.observers, "session_expired", upstream.session)
        task = asyncio.create_task(upstream.stop(self.bridge.shutdown_grace))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    def _session(self, session_id: str) -> _StdioUpstream | None:
        """The live session ``session_id``, marked used; None (answer 404) if unknown, dead,
        or expired (checked here too, so expiry does not wait for the next sweep)."""
        upstream = self.sessions.get(session_id)
        if upstream is None or upstream.dead:
            return None
        now = time.monotonic()
        if self._stale(upstream, now):
            self._expire(session_id)
            return None
        upstream.last_used = now
        return upstream

    def _forget(self, gone: _StdioUpstream) -> None:
        """A session whose process died: forgotten (404 from now on), its slot freed."""
        for session_id, upstream in list(self.sessions.items()):
            if upstream is gone:
                del self.sessions[session_id]

    async def _upstream_for(
        self, session_id: str | None, item: Message
    ) -> tuple[_StdioUpstream | None, str | None]:
        if session_id is not None:
            return self._session(session_id), None
        if item.method == "initialize":
            if len(self.sessions) >= self.bridge.max_sessions:
                return None, None
            new_id = uuid.uuid4().hex
            upstream = await self._spawn(new_id)
            self.sessions[new_id] = upstream
            # A session whose process died is forgotten: it answers 404 and frees its slot.
            upstream.on_exit = self._forget
            return upstream, new_id
        async with self._sessionless_lock:
            if self._sessionless is None or self._sessionless.dead:
                self._sessionless = await self._spawn(None)
            return self._sessionless, None

    async def _serve(
        self,
        request: web.Request,
        upstream: _StdioUpstream,
        item: Message | None,
        new_session_id: str | None = None,
    ) -> web.StreamResponse:
        if item is not None and upstream.rewrite_ids and item.method == "notifications/cancelled":
            # Ids are rewritten per request here and a cancellation names the client's own id:
            # it could hit another client's request. On 2026-07-28 closing the stream cancels.
            log.info("a sessionless notifications/cancelled was not forwarded (ids are rewritten)")
            return web.Response(status=202)
        stream, outgoing = upstream.open(request, item)
        headers: CIMultiDict[str] = CIMultiDict()
        if new_session_id is not None:
            headers[SESSION_HEADER] = new_session_id
        try:
            if outgoing is not None:
                upstream.current = stream
                upstream.pump.receive(Direction.CLIENT_TO_SERVER, outgoing)
                upstream.current = None
                if outgoing.kind is not Kind.REQUEST:
                    return await self._accepted(stream, headers)
            return await self._respond(stream, headers, answer_needed=outgoing is not None)
        finally:
            upstream.close_stream(stream)
            upstream.last_used = time.monotonic()  # idle counts from the end of the last exchange

    async def _accepted(self, stream: _Stream, headers: CIMultiDict[str]) -> web.StreamResponse:
        """A notification or response: 202, unless an interceptor answered at the HTTP level."""
        while not stream.queue.empty():
            item = stream.queue.get_nowait()
            if isinstance(item, HttpReply):
                return self._http_reply(item, headers)
            if isinstance(item, Disconnect):
                self._abort(stream, item.reason)
        return web.Response(status=202, headers=headers)

    async def _respond(
        self, stream: _Stream, headers: CIMultiDict[str], answer_needed: bool
    ) -> web.StreamResponse:
        wants_sse = SSE in stream.request.headers.get("Accept", "") or not answer_needed
        response: web.StreamResponse | None = None
        timeout = self.options.request_timeout if answer_needed else None
        while True:
            try:
                async with asyncio.timeout(timeout):
                    item = await stream.queue.get()
            except TimeoutError:
                error = error_response(
                    stream.original_id,
                    codes.UPSTREAM_TIMEOUT,
                    "mcpchaos: no answer within the proxy's request timeout",
                )
                if response is None:
                    return web.Response(
                        status=504, body=error.wire, headers={**headers, "Content-Type": JSON}
                    )
                await response.write(encode_event(error.wire))
                await response.write_eof()
                return response
            if item is _CLOSED:
                if response is None:
                    return error_body(
                        502,
                        codes.UPSTREAM_UNAVAILABLE,
                        "mcpchaos: the upstream server exited",
                        stream.original_id,
                    )
                await response.write_eof()
                return response
            if isinstance(item, HttpReply):
                if response is None:
                    return self._http_reply(item, headers)
                if item.message is not None:
                    item = item.message
                else:
                    continue
            if isinstance(item, Disconnect):
                self._abort(stream, item.reason)
            if isinstance(item, EndStream):
                if response is None:
                    response = await self._start_sse(stream, headers)
                await response.write_eof()
                return response
            assert isinstance(item, Message)
            final = answer_needed and item.kind.is_response and item.id == stream.original_id
            if response is None and final and not wants_sse:
                return web.Response(status=200, body=item.wire, headers={**headers, "Content-Type": JSON})
            if response is None:
                if not wants_sse:
                    log.info("dropped %r: the client accepts only a JSON answer", item)
                    continue
                response = await self._start_sse(stream, headers)
            await response.write(encode_event(item.wire))
            if final:
                await response.write_eof()
                return response

    async def _start_sse(self, stream: _Stream, headers: CIMultiDict[str]) -> web.StreamResponse:
        response = web.StreamResponse(
            status=200, headers={**headers, "Content-Type": SSE, "Cache-Control": "no-cache"}
        )
        await response.prepare(stream.request)
        return response

    @staticmethod
    def _http_reply(reply: HttpReply, headers: CIMultiDict[str]) -> web.Response:
        out = CIMultiDict(headers)
        out.extend(reply.headers)
        if reply.message is None:
            return web.Response(status=reply.status, headers=out)
        out.setdefault("Content-Type", JSON)
        return web.Response(status=reply.status, headers=out, body=reply.message.wire)

    @staticmethod
    def _abort(stream: _Stream, reason: str) -> None:
        log.info("aborting the client connection: %s", reason)
        if stream.request.transport is not None:
            stream.request.transport.abort()
        raise ClientAbortedError(f"mcpchaos: connection aborted ({reason})")
