"""The HTTP → stdio bridge: Streamable HTTP clients in front of a stdio MCP server.

``mcpchaos proxy --listen HOST:PORT -- COMMAND``. How client sessions map to processes:

* **2025-era sessions.** Each ``initialize`` without an ``Mcp-Session-Id`` starts a new
  server process and a new session id (returned in ``Mcp-Session-Id``); every later request
  of that session goes to that process and no other. ``DELETE`` stops the process; a session
  whose process died answers 404 (the client then initializes again, getting a fresh
  process). Sessions live in the same table as the HTTP proxy's: at most ``--max-sessions``
  processes (the least recently used is stopped beyond it), ``--session-idle-timeout`` /
  ``--session-max-age`` expire them. A client that leaves before its ``initialize`` was
  answered never learns the session id: its process is stopped at once.
  Server→client requests and unsolicited notifications go to the session's GET stream when
  one is open, else to the session's most recent open POST stream.
* **Sessionless requests (2026-07-28).** Requests without a session id share one server
  process. Their JSON-RPC ids and progress tokens are replaced by proxy-unique ones on the
  way in (so two clients' ``"id": 1`` never meet) and restored on the way out; interceptors
  see the unique ones. A notification that names no request goes to the most recent open
  request's stream. Every round of a multi-round-trip request reaches that same process.

Every message passes the interceptor chain; each process has one pump, whose server side
is the process's stdin and whose client side routes each message to the right
:class:`~mcpchaos.proxy.http_reply.ClientReply`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mcpchaos.errors import UpstreamStartError
from mcpchaos.events import notify
from mcpchaos.intercept.chain import InterceptorChain
from mcpchaos.intercept.context import Session
from mcpchaos.intercept.effects import Disconnect, EndStream, HttpReply
from mcpchaos.protocol import codes
from mcpchaos.protocol.messages import Direction, Kind, Message, MessageId, error_response
from mcpchaos.protocol.ndjson import NdjsonFramer
from mcpchaos.proxy import sessions as table
from mcpchaos.proxy.http import LONG_LIVED, SESSION_HEADER
from mcpchaos.proxy.http_options import HttpOptions
from mcpchaos.proxy.http_reply import HEAD_SSE, SESSION_GONE, ClientReply
from mcpchaos.proxy.lifecycle import serve_until_stopped, sweep
from mcpchaos.proxy.pump import Pump
from mcpchaos.proxy.sessions import SessionTable
from mcpchaos.transport.http import SSE, block
from mcpchaos.transport.http_front import HttpFront, read_message, send_error, send_message
from mcpchaos.transport.http_server import Request, ResponseWriter, State
from mcpchaos.transport.stdio import ChildProcess, NdjsonEndpoint, exit_status, read_frames

log = logging.getLogger("mcpchaos.bridge")

_SESSION = b"mcp-session-id"
SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId"
"""The ``_meta`` key tagging each notification of a ``subscriptions/listen`` stream."""


@dataclass(frozen=True, slots=True)
class BridgeOptions:
    """Knobs of the HTTP → stdio bridge."""

    path: str = "/mcp"
    """The MCP endpoint path clients use."""
    max_sessions: int = 100
    """Server processes for sessions at most; beyond it the least recently used is stopped."""
    shutdown_grace: float = 1.5
    """Seconds a process gets to exit after its stdin closes, before SIGTERM."""


class _Stream:
    """One client HTTP request waiting on a server process: where its messages go."""

    __slots__ = ("original_id", "reply", "request_id", "token_map")

    def __init__(self, reply: ClientReply, request_id: MessageId | None) -> None:
        self.reply = reply
        self.request_id = request_id
        """The id the request travels under upstream (proxy-unique when rewritten)."""
        self.original_id = request_id
        """The id the client used, restored on the way out."""
        self.token_map: dict[Any, Any] = {}


class _Router:
    """The pump's client side: sends each server message to the stream it belongs to."""

    def __init__(self, upstream: _StdioUpstream) -> None:
        self._upstream = upstream

    def send(self, message: Message) -> bool:
        upstream = self._upstream
        stream = upstream.route(message)
        if stream is None:
            log.info("no open stream for %r (session %s)", message, upstream.session.id)
            if message.kind is Kind.REQUEST:
                # The server waits for an answer no client can give: say so, do not leave it hanging.
                error = error_response(
                    message.id,
                    codes.UPSTREAM_UNAVAILABLE,
                    "mcpchaos: no client stream is open to carry this request",
                )
                upstream.pump.receive(Direction.CLIENT_TO_SERVER, error)
            return True
        stream.reply.send(upstream.restore(message, stream))
        return True

    def close(self) -> None:
        return None

    def transport_effect(self, effect: HttpReply | EndStream | Disconnect) -> bool:
        stream = self._upstream.current
        return stream.reply.transport_effect(effect) if stream is not None else False


class _StdioUpstream:
    """One server process, its pump, and the client streams waiting on it."""

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
        """The stream of the message being handled (transport effects answer it)."""
        self.pump = Pump(session, chain, _Router(self), NdjsonEndpoint(child.sink, "server"))
        self._ids = itertools.count(1)
        self.dead = False
        self.reader: asyncio.Task[None] | None = None
        self.exited: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def start(self, max_message_bytes: int) -> None:
        self.reader = asyncio.create_task(self._read(max_message_bytes))

    async def _read(self, max_message_bytes: int) -> None:
        framer = NdjsonFramer(max_message_bytes)

        def deliver(frame: Any) -> None:
            self.current = self.route(frame) if isinstance(frame, Message) else None
            self.pump.receive(Direction.SERVER_TO_CLIENT, frame)
            self.current = None

        try:
            await read_frames(self.child.source, framer, deliver)
            await self.child.wait_exit()
            code = await self.child.reap()
            status = exit_status(code) if code is not None else 1
            self.dead = True
            log.warning(
                "server process %d of session %s exited with status %d",
                self.child.pid,
                self.session.id,
                status,
            )
            self.pump.fail_pending(
                Direction.CLIENT_TO_SERVER,
                codes.UPSTREAM_UNAVAILABLE,
                f"mcpchaos: the upstream server exited (status {status}) before answering",
            )
            for stream in self.all_streams():
                reply = stream.reply
                if reply.writer.state is State.WAITING and stream.request_id is not None:
                    reply.fail(502, codes.UPSTREAM_UNAVAILABLE, "mcpchaos: the upstream server exited")
                else:
                    reply.end()
        finally:
            self.dead = True
            if not self.exited.done():
                self.exited.set_result(None)

    def all_streams(self) -> list[_Stream]:
        return list(self.open_streams) + ([self.get_stream] if self.get_stream is not None else [])

    # ---- routing ----------------------------------------------------------------------------

    def route(self, message: Message) -> _Stream | None:
        if message.kind.is_response and message.id is not None:
            stream = self.streams_by_id.get(message.id)
            if stream is not None:
                return stream
        params = message.params if isinstance(message.params, dict) else {}
        token = params.get("progressToken")
        if token is not None and token in self.streams_by_token:
            return self.streams_by_token[token]
        subscription = _subscription_id(message)
        if subscription is not None and subscription in self.streams_by_id:
            return self.streams_by_id[subscription]  # a subscriptions/listen stream's notification
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
        if stream.request_id is not None and _subscription_id(message) == stream.request_id:
            changed = dict(params)
            changed["_meta"] = {**params["_meta"], SUBSCRIPTION_ID: stream.original_id}
            return message.replace(params=changed)
        return message

    def open(self, reply: ClientReply, message: Message | None) -> tuple[_Stream, Message | None]:
        """Register a stream for ``message`` (None: the GET stream); returns the message as
        it travels upstream (with a proxy-unique id and token when rewriting)."""
        original_id = message.id if message is not None and message.kind is Kind.REQUEST else None
        stream = _Stream(reply, original_id)
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
        table.enter(self.session)
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
        table.leave(self.session)

    async def stop(self, grace: float) -> None:
        self.pump.close()
        await self.child.stop(grace, 1.0)
        if self.reader is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(self.reader, 2.0)
        await self.child.reap()


def _subscription_id(message: Message) -> Any:
    """The ``subscriptions/listen`` request a notification belongs to (2026-07-28), if any."""
    params = message.params
    if isinstance(params, dict):
        meta = params.get("_meta")
        if isinstance(meta, dict):
            return meta.get(SUBSCRIPTION_ID)
    return None


def _progress_token(message: Message) -> Any:
    params = message.params
    if isinstance(params, dict):
        meta = params.get("_meta")
        if isinstance(meta, dict):
            return meta.get("progressToken")
    return None


def _session_of(upstream: _StdioUpstream) -> Session:
    return upstream.session


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
        self._target = self.bridge.path.encode()
        self.sessions: SessionTable[_StdioUpstream] = SessionTable(
            self.bridge.max_sessions,
            _session_of,
            self._session_gone,
            self.chain.observers,
            self.options.session_idle_timeout,
            self.options.session_max_age,
        )
        self._sessionless: _StdioUpstream | None = None
        self._sessionless_lock = asyncio.Lock()
        self._ordinals = itertools.count(1)
        self.front = HttpFront(self.handle, self.options.front_limits(), self.chain.observers)
        self.limiter = self.front.limiter
        self.port: int | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        """Requests waiting for a process to start, and processes being stopped."""
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def expired(self) -> int:
        """Sessions ended by the idle timeout or the maximum age."""
        return self.sessions.expired

    async def start(self, host: str, port: int) -> int:
        self.port = await self.front.start(host, port)
        if self.sessions.expires:
            expire = sweep(self.sessions.expire, self.sessions.idle_timeout, self.sessions.max_age)
            self._sweeper = asyncio.create_task(expire, name="session-sweep")
        return self.port

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None
        await self.front.stop()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        upstreams = [u for u in map(self.sessions.remove, self.sessions.ids()) if u is not None]
        if self._sessionless is not None:
            upstreams.append(self._sessionless)
            self.sessions.ended(self._sessionless.session)
        await asyncio.gather(*(u.stop(self.bridge.shutdown_grace) for u in upstreams), return_exceptions=True)
        self._sessionless = None

    async def run_forever(self, host: str, port: int) -> int:
        """Serve until SIGINT/SIGTERM; returns the exit status."""
        await self.start(host, port)
        banner = (
            f"mcpchaos: listening on http://{host}:{self.port}{self.bridge.path} → {' '.join(self.command)}"
        )
        return await serve_until_stopped(banner, self.stop)

    def _spawn_task(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- requests ---------------------------------------------------------------------------

    def handle(self, request: Request, writer: ResponseWriter) -> None:
        """Route one client request (the front's handler)."""
        if request.path != self._target:
            send_error(
                writer, 404, codes.INVALID_REQUEST, "Not Found: the MCP endpoint is " + self.bridge.path
            )
            return
        session_id = request.header(_SESSION)
        method = request.method
        if method == "DELETE":
            upstream = self.sessions.remove(session_id or "")
            if upstream is None:
                send_error(writer, 404, codes.INVALID_REQUEST, SESSION_GONE)
                return
            self._spawn_task(self._stop_then_answer(upstream, writer))
            return
        if method == "GET":
            if session_id is None:
                writer.send(405, b"Allow: POST, DELETE\r\n")
                return
            upstream = self._live(session_id)
            if upstream is None:
                send_error(writer, 404, codes.INVALID_REQUEST, SESSION_GONE)
                return
            self._serve(request, writer, upstream, None)
            return
        if method != "POST":
            writer.send(405, b"Allow: GET, POST, DELETE\r\n")
            return
        item = read_message(request)
        if isinstance(item, tuple):
            send_message(writer, item[0], item[1])
            return
        if session_id is not None:
            upstream = self._live(session_id)
            if upstream is None:
                send_error(writer, 404, codes.INVALID_REQUEST, SESSION_GONE)
                return
            self._serve(request, writer, upstream, item)
        elif item.method == "initialize" or self._sessionless is None or self._sessionless.dead:
            self._spawn_task(self._start_then_serve(request, writer, item))
        else:
            self._serve(request, writer, self._sessionless, item)

    def _live(self, session_id: str) -> _StdioUpstream | None:
        upstream = self.sessions.get(session_id)
        return None if upstream is None or upstream.dead else upstream

    async def _stop_then_answer(self, upstream: _StdioUpstream, writer: ResponseWriter) -> None:
        await upstream.stop(self.bridge.shutdown_grace)
        writer.send(200, b"")

    async def _start_then_serve(self, request: Request, writer: ResponseWriter, item: Message) -> None:
        try:
            if item.method == "initialize":
                session_id = uuid.uuid4().hex
                upstream = await self._spawn(session_id)
                self.sessions.add(session_id, upstream)
                self._watch(session_id, upstream)
            else:
                async with self._sessionless_lock:
                    if self._sessionless is None or self._sessionless.dead:
                        self._sessionless = await self._spawn(None)
                upstream = self._sessionless
                session_id = None
        except UpstreamStartError as exc:
            log.warning("cannot start the server for a new session: %s", exc)
            send_error(writer, 502, codes.UPSTREAM_UNAVAILABLE, f"mcpchaos: {exc}", item.id)
            return
        if not writer.open:  # the client left while the process started
            if session_id is not None:
                self._abandoned(session_id)
            return
        self._serve(request, writer, upstream, item, session_id)

    async def _spawn(self, session_id: str | None) -> _StdioUpstream:
        ordinal = next(self._ordinals)
        session = Session(id=session_id or f"sessionless-{ordinal}", ordinal=ordinal, transport="http")
        child = await ChildProcess.spawn(self.command)
        upstream = _StdioUpstream(session, child, self.chain, rewrite_ids=session_id is None)
        upstream.start(self.options.max_message_bytes)
        notify(self.chain.observers, "session_started", session)
        log.info("started server pid %d for session %s", child.pid, session.id)
        return upstream

    def _watch(self, session_id: str, upstream: _StdioUpstream) -> None:
        """A session whose process dies is forgotten: it answers 404 and frees its slot."""

        def exited(_: object) -> None:
            if self.sessions.get(session_id) is upstream:
                self.sessions.lost(session_id)

        upstream.exited.add_done_callback(exited)

    def _session_gone(self, session_id: str, upstream: _StdioUpstream, end_process: bool) -> None:
        """Evicted, expired or lost: its process is stopped (in the background)."""
        if end_process:
            log.info("stopping server process %d of session %s", upstream.child.pid, session_id)
        self._spawn_task(upstream.stop(self.bridge.shutdown_grace))

    def _abandoned(self, session_id: str) -> None:
        """The client left before it learnt its session id: nobody can use the session."""
        log.info("session %s abandoned before its initialize was answered; stopping its process", session_id)
        self.sessions.lost(session_id)

    def _serve(
        self,
        request: Request,
        writer: ResponseWriter,
        upstream: _StdioUpstream,
        item: Message | None,
        new_session_id: str | None = None,
    ) -> None:
        if item is not None and upstream.rewrite_ids and item.method == "notifications/cancelled":
            # Ids are rewritten per request here and a cancellation names the client's own id:
            # it could hit another client's request. On 2026-07-28 closing the stream cancels.
            log.info("a sessionless notifications/cancelled was not forwarded (ids are rewritten)")
            writer.send(202, b"")
            return
        answer_needed = item is not None and item.kind is Kind.REQUEST
        accepts_sse = SSE in request.index.get(b"accept", b"")
        stream: _Stream | None = None

        def finished() -> None:
            if stream is None:
                return
            upstream.close_stream(stream)
            self.sessions.touch(upstream.session.id)  # idle counts from the end of the last exchange
            if new_session_id is not None and writer.state is not State.DONE:
                self._abandoned(new_session_id)

        reply = ClientReply(
            writer, item.id if answer_needed and item is not None else None, accepts_sse, finished
        )
        if accepts_sse or item is None:
            reply.set_head(HEAD_SSE, 200, b"")
        if new_session_id is not None:
            reply.extra_headers = block([(SESSION_HEADER, new_session_id)])
        stream, outgoing = upstream.open(reply, item)
        if outgoing is None:
            return  # a GET stream: open until either side ends it
        if answer_needed and outgoing.method not in LONG_LIVED:
            reply.arm_idle(self.options.request_timeout)
        upstream.current = stream
        upstream.pump.receive(Direction.CLIENT_TO_SERVER, outgoing)
        upstream.current = None
        if not answer_needed and not reply.done:
            reply.send_whole(202, reply.extra_headers, b"")
