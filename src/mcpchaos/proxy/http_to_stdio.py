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
from mcpchaos.protocol import codes
from mcpchaos.protocol.http_headers import recorded_headers
from mcpchaos.protocol.messages import Direction, Kind, Message
from mcpchaos.proxy.http_options import HttpOptions
from mcpchaos.proxy.http_reply import HEAD_SSE, LONG_LIVED, SESSION_GONE, ClientReply
from mcpchaos.proxy.lifecycle import serve_until_stopped, sweep
from mcpchaos.proxy.sessions import SESSION_HEADER, SESSION_KEY, SessionTable
from mcpchaos.proxy.stdio_upstream import StdioUpstream, Stream
from mcpchaos.transport.http import SSE, block
from mcpchaos.transport.http_front import HttpFront, read_message, send_error, send_message
from mcpchaos.transport.http_message import Request, ResponseWriter, State
from mcpchaos.transport.stdio import ChildProcess

log = logging.getLogger("mcpchaos.bridge")


@dataclass(frozen=True, slots=True)
class BridgeOptions:
    """Knobs of the HTTP → stdio bridge."""

    path: str = "/mcp"
    """The MCP endpoint path clients use."""
    max_sessions: int = 100
    """Server processes for sessions at most; beyond it the least recently used is stopped."""
    shutdown_grace: float = 1.5
    """Seconds a process gets to exit after its stdin closes, before SIGTERM."""
    max_processes: int | None = None
    """Server processes started at most over the bridge's life (None: no bound). Past it a new
    session is refused (HTTP 502, the reason in the JSON-RPC error) and no process starts: a
    client that keeps opening sessions (handshakes timing out, re-initializing) cannot spawn
    without end."""


def _session_of(upstream: StdioUpstream) -> Session:
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
        self.sessions: SessionTable[StdioUpstream] = SessionTable(
            self.bridge.max_sessions,
            _session_of,
            self._session_gone,
            self.chain.observers,
            self.options.session_idle_timeout,
            self.options.session_max_age,
        )
        self._sessionless: StdioUpstream | None = None
        self._sessionless_lock = asyncio.Lock()
        self._ordinals = itertools.count(1)
        self.processes_started = 0
        """Server processes started so far (see ``BridgeOptions.max_processes``)."""
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
        session_id = request.header(SESSION_KEY)
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

    def _live(self, session_id: str) -> StdioUpstream | None:
        upstream = self.sessions.get(session_id)
        return None if upstream is None or upstream.dead else upstream

    async def _stop_then_answer(self, upstream: StdioUpstream, writer: ResponseWriter) -> None:
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

    async def _spawn(self, session_id: str | None) -> StdioUpstream:
        limit = self.bridge.max_processes
        if limit is not None and self.processes_started >= limit:
            notify(self.chain.observers, "server_process_refused")
            raise UpstreamStartError(
                f"{self.processes_started} server processes started, the limit (--max-server-processes "
                f"{limit}): no new process for this session"
            )
        ordinal = next(self._ordinals)
        session = Session(id=session_id or f"sessionless-{ordinal}", ordinal=ordinal, transport="http")
        self.processes_started += 1  # before the await: two sessions at once never both pass the bound
        try:
            child = await ChildProcess.spawn(self.command)
        except UpstreamStartError:
            self.processes_started -= 1
            raise
        upstream = StdioUpstream(session, child, self.chain, rewrite_ids=session_id is None)
        upstream.start(self.options.max_message_bytes)
        notify(self.chain.observers, "server_process_started")
        upstream.exited.add_done_callback(lambda _: notify(self.chain.observers, "server_process_exited"))
        notify(self.chain.observers, "session_started", session)
        log.info("started server pid %d for session %s", child.pid, session.id)
        return upstream

    def _watch(self, session_id: str, upstream: StdioUpstream) -> None:
        """A session whose process dies is forgotten: it answers 404 and frees its slot."""

        def exited(_: object) -> None:
            if self.sessions.get(session_id) is upstream:
                self.sessions.lost(session_id)

        upstream.exited.add_done_callback(exited)

    def _session_gone(self, session_id: str, upstream: StdioUpstream, end_process: bool) -> None:
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
        upstream: StdioUpstream,
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
        stream: Stream | None = None

        def finished() -> None:
            if stream is None:
                return
            upstream.close_stream(stream)
            session_id = upstream.session.id
            if reply.injected_status == 404 and session_id in self.sessions:
                # An injected 404 (session_expiry) ends the session as an expiry would.
                self.sessions.expire_now(session_id)
                return
            self.sessions.touch(session_id)  # idle counts from the end of the last exchange
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
        recorder = self.chain.recorder
        if recorder is not None:  # the history checks the mirrored headers against the body
            recorder.transport_meta(upstream.session, recorded_headers(request.index))
            reply.on_failed = recorder.answered_by_proxy(upstream.session)
        upstream.pump.receive(Direction.CLIENT_TO_SERVER, outgoing)
        upstream.current = None
        if not answer_needed and not reply.done:
            reply.send_whole(202, reply.extra_headers, b"")
