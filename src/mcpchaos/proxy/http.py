"""The Streamable HTTP proxy: an MCP HTTP endpoint in front of an upstream MCP HTTP server.

Every JSON-RPC message in a request body, a JSON response body or an SSE event passes the
same interceptor chain as on stdio, one by one, as it arrives: an SSE stream with progress
notifications reaches the client event by event.

How it maps onto the pump: each client HTTP request is an *exchange* with its own
:class:`~mcpchaos.proxy.pump.Pump`, whose client side is this request's HTTP response and whose
server side makes upstream HTTP requests. Exchanges of one MCP session share one
:class:`~mcpchaos.intercept.context.Session` (keyed by ``Mcp-Session-Id``), so the session's
message ordinals and pending requests span all of them. A request without a session id
(2026-07-28, or a stateless server) is a session of its own.

Both protocol eras pass through as they are: POST/GET/DELETE, ``Mcp-Session-Id``,
``MCP-Protocol-Version``, ``Mcp-Method``/``Mcp-Name``, ``Last-Event-ID`` and every other
end-to-end header go upstream unchanged; statuses (202, 404, 405, 406...) come back
unchanged; SSE event ids, comments (pings), ``retry`` and priming events are kept.
Paths other than the MCP endpoint's (OAuth metadata, health checks) are relayed untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from mcpchaos.deadlines import Deadlines
from mcpchaos.errors import (
    CircuitOpenError,
    ClientAbortedError,
    ConfigError,
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamTooLargeError,
)
from mcpchaos.events import notify
from mcpchaos.intercept.chain import InterceptorChain
from mcpchaos.intercept.context import Session
from mcpchaos.intercept.effects import Disconnect, EndStream, HttpReply
from mcpchaos.protocol import codes
from mcpchaos.protocol.http_headers import routing_headers
from mcpchaos.protocol.messages import Direction, Invalid, Kind, Message, MessageId, error_response, parse
from mcpchaos.protocol.ndjson import DEFAULT_MAX_LINE_BYTES
from mcpchaos.protocol.sse import SseEvent, encode_event
from mcpchaos.proxy.breaker import BreakerConfig, BreakerState, CircuitBreaker
from mcpchaos.proxy.lifecycle import serve_until_stopped, sweep
from mcpchaos.proxy.pump import Pump
from mcpchaos.transport.http import (
    UpstreamClient,
    iter_chunks,
    read_body,
    request_headers,
    response_headers,
    sse_frames,
)
from mcpchaos.transport.limits import ConnectionLimiter

log = logging.getLogger("mcpchaos.http")

SESSION_HEADER = "Mcp-Session-Id"
_CLIENT_HIGH_WATER = 1024 * 1024
"""Bytes of messages queued for a client before the upstream stops being read."""
SESSION_GONE = "Session not found (ended by the proxy: initialize again)"
"""The error message of a request whose session the proxy evicted or expired."""
JSON = "application/json"
SSE = "text/event-stream"


@dataclass(frozen=True, slots=True)
class HttpOptions:
    """Knobs of the HTTP proxy."""

    max_body_bytes: int = DEFAULT_MAX_LINE_BYTES
    """Largest request body accepted from a client (413 above it)."""
    max_message_bytes: int = DEFAULT_MAX_LINE_BYTES
    """Largest upstream JSON body or SSE event (the client gets a JSON-RPC error above it)."""
    upstream_timeout: float = 30.0
    """Seconds to wait for the upstream's response headers (504 after it)."""
    request_timeout: float = 300.0
    """Longest a client request is held when nothing will answer it (e.g. a dropped message)."""
    connect_timeout: float = 5.0
    """Seconds to open a connection to the upstream."""
    max_sessions: int = 10_000
    """Sessions at most; beyond it the least recently used is evicted (404 for its next request)."""
    session_idle_timeout: float | None = None
    """Seconds a session may go unused before it expires (None: never)."""
    session_max_age: float | None = None
    """Seconds a session may live at all, used or not, before it expires (None: forever)."""
    breaker: BreakerConfig | None = None
    """A circuit breaker toward the upstream (None: no breaker)."""
    max_connections: int = 0
    """Open client connections at most (0: no limit)."""
    header_timeout: float = 10.0
    """Seconds a new connection gets to send its request head (408 and closed after it)."""
    body_timeout: float = 30.0
    """Seconds to receive a request body once its head arrived (408 after it)."""
    idle_timeout: float = 75.0
    """Seconds a kept-alive connection may sit idle between requests."""
    over_limit: str = "503"
    """A connection over the limit gets ``503`` (a JSON-RPC error body) or ``reset``."""


# ---- events an exchange's HTTP handler reacts to ----------------------------------------


@dataclass(frozen=True, slots=True)
class _UpstreamHead:
    status: int
    headers: CIMultiDict[str]
    is_sse: bool


@dataclass(frozen=True, slots=True)
class _UpstreamRaw:
    """An upstream response that is not JSON-RPC: relayed as it is."""

    status: int
    headers: CIMultiDict[str]
    body: bytes


@dataclass(frozen=True, slots=True)
class _UpstreamFailed:
    status: int
    message: Message


@dataclass(frozen=True, slots=True)
class _RawEvent:
    """An SSE event with no JSON-RPC message (comment, ping, priming event): relayed."""

    data: bytes


@dataclass(frozen=True, slots=True)
class _TaskDone:
    pass


_Event = (
    Message
    | _UpstreamHead
    | _UpstreamRaw
    | _UpstreamFailed
    | _RawEvent
    | _TaskDone
    | HttpReply
    | EndStream
    | (Disconnect)
)


IN_FLIGHT = "http.in_flight"
"""Session attribute: how many of its requests and streams are open now (not idle while > 0)."""


class SessionRegistry:
    """MCP sessions by ``Mcp-Session-Id``.

    Beyond ``max_sessions`` the least recently used session is evicted (O(1)); a session
    unused for ``idle_timeout`` seconds, or older than ``max_age``, expires. Either way its id
    is remembered as gone, so the client's next request with it gets 404 and the client
    initializes again; the proxy also ends it at the upstream (``on_gone``), so nothing piles
    up there. A session the upstream says it does not know (404) is forgotten at once
    (:meth:`lost`): it is dead, waiting for the idle timeout would only keep its memory.
    """

    def __init__(
        self,
        max_sessions: int,
        observers: list[Any] | None = None,
        idle_timeout: float | None = None,
        on_gone: Callable[[str], None] | None = None,
        max_age: float | None = None,
    ) -> None:
        self._max = max_sessions
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._last_used: dict[str, float] = {}
        self._born: dict[str, float] = {}
        """When each session was bound, oldest first (dicts keep insertion order)."""
        self.max_age = max_age
        self.lost_count = 0
        self._gone: OrderedDict[str, None] = OrderedDict()
        self._ordinals = itertools.count(1)
        self._observers = observers if observers is not None else []
        self.idle_timeout = idle_timeout
        self._on_gone = on_gone
        self.evicted = 0
        self.expired = 0

    def new(self) -> Session:
        """A session not yet known by an id (an initialize, or a sessionless request)."""
        ordinal = next(self._ordinals)
        session = Session(id=f"http-{ordinal}", ordinal=ordinal, transport="http")
        notify(self._observers, "session_started", session)
        return session

    def get(self, session_id: str) -> Session | None:
        """The session for ``session_id``; made on first sight (e.g. after a proxy restart);
        None for a session this proxy evicted or expired (answer 404)."""
        if session_id in self._gone:
            return None
        session = self._sessions.get(session_id)
        now = time.monotonic()
        if session is None:
            session = self.new()
            self.bind(session, session_id)
        elif self._is_stale(session_id, now):  # between two sweeps: expire it now
            self._expire(session_id)
            return None
        else:
            self._sessions.move_to_end(session_id)
            self._last_used[session_id] = now
        return session

    def bind(self, session: Session, session_id: str) -> None:
        """The upstream named ``session``: remember it under that id."""
        session.id = session_id
        self._sessions[session_id] = session
        self._sessions.move_to_end(session_id)
        self._last_used[session_id] = self._born[session_id] = time.monotonic()
        while len(self._sessions) > self._max:
            forgotten_id, forgotten = self._sessions.popitem(last=False)
            self.evicted += 1
            notify(self._observers, "session_evicted", forgotten)
            self._bury(forgotten_id, forgotten)

    @property
    def expires(self) -> bool:
        """Whether sessions expire at all (a sweep is needed)."""
        return bool(self.idle_timeout or self.max_age)

    def expire(self, now: float) -> int:
        """End the sessions unused for ``idle_timeout`` seconds or older than ``max_age``;
        returns how many."""
        stale: list[str] = []
        if self.idle_timeout:
            stale = [
                sid
                for sid, used in self._last_used.items()
                if now - used > self.idle_timeout and not self._busy(sid)
            ]
        if self.max_age:
            for session_id, born in self._born.items():  # oldest first: stop at the first young one
                if now - born <= self.max_age:
                    break
                stale.append(session_id)
        for session_id in stale:
            self._expire(session_id)
        return len(stale)

    def _busy(self, session_id: str) -> bool:
        """A request or a stream of this session is open: it is in use, however long that takes."""
        session = self._sessions.get(session_id)
        return session is not None and session.attributes.get(IN_FLIGHT, 0) > 0

    def touch(self, session_id: str) -> None:
        """An exchange of this session just ended: its idle time starts now."""
        if session_id in self._last_used:
            self._last_used[session_id] = time.monotonic()

    def _is_stale(self, session_id: str, now: float) -> bool:
        if (
            self.idle_timeout
            and now - self._last_used.get(session_id, now) > self.idle_timeout
            and not self._busy(session_id)
        ):
            return True
        return bool(self.max_age) and now - self._born.get(session_id, now) > (self.max_age or 0.0)

    def _expire(self, session_id: str) -> None:
        session = self._sessions.pop(session_id, None)
        if session is not None:
            self.expired += 1
            notify(self._observers, "session_expired", session)
            self._bury(session_id, session)

    def lost(self, session_id: str) -> None:
        """The upstream answered 404 for this session: it lost it (e.g. it restarted). Forget
        it now, without a DELETE (there is nothing left to end); counted as expired."""
        session = self._sessions.pop(session_id, None)
        if session is None:
            return
        log.info("the upstream no longer knows session %s; forgetting it", session_id)
        self.lost_count += 1
        self.expired += 1
        notify(self._observers, "session_expired", session)
        self._bury(session_id, session, end_upstream=False)

    def _bury(self, session_id: str, session: Session, end_upstream: bool = True) -> None:
        self._last_used.pop(session_id, None)
        self._born.pop(session_id, None)
        self._gone[session_id] = None
        while len(self._gone) > max(self._max * 10, 10_000):  # remembered, within bounds
            self._gone.popitem(last=False)
        self.ended(session)
        if self._on_gone is not None and end_upstream:
            self._on_gone(session_id)

    def remove(self, session_id: str) -> None:
        session = self._sessions.pop(session_id, None)
        self._last_used.pop(session_id, None)
        self._born.pop(session_id, None)
        if session is not None:
            self.ended(session)

    def ended(self, session: Session) -> None:
        """Report ``session`` as ended, once (its last exchange and a DELETE may both say so)."""
        if not session.attributes.get("ended"):
            session.attributes["ended"] = True
            notify(self._observers, "session_ended", session)

    def all(self) -> list[Session]:
        """The sessions known now, least recently used first."""
        return list(self._sessions.values())

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._sessions


def _json_error(status: int, message: Message, headers: CIMultiDict[str] | None = None) -> web.Response:
    out = CIMultiDict(headers or {})
    out["Content-Type"] = JSON
    return web.Response(status=status, body=message.wire, headers=out)


def aborted() -> web.Response:
    """What a handler returns once a Disconnect effect aborted its connection: aiohttp fails
    to write it to the closed transport and lets it go quietly (an exception escaping the
    handler would be logged as an error with a traceback, and this abort is intended)."""
    return web.Response(status=499)


def error_body(status: int, code: int, text: str, request_id: MessageId | None = None) -> web.Response:
    """An HTTP error whose body is a JSON-RPC error (what mcpchaos answers itself with)."""
    return _json_error(status, error_response(request_id, code, text))


async def read_client_message(request: web.Request, options: HttpOptions) -> Message | web.Response:
    """The JSON-RPC message a client POSTed, or the answer to send instead: 415 for another
    Content-Type, 413 for a body over the limit, 408 for one that does not arrive in time,
    400 for bytes that are not a JSON-RPC message."""
    if request.content_type != JSON:
        return error_body(
            415,
            codes.UNSUPPORTED_MEDIA_TYPE,
            f"Unsupported Media Type: Content-Type must be {JSON}, got {request.content_type!r}",
        )

    def too_large() -> web.Response:  # built only when needed (a Response is ≈ 2.5 µs per call)
        return error_body(
            413,
            codes.REQUEST_TOO_LARGE,
            f"Request body exceeds the proxy's limit of {options.max_body_bytes} bytes",
        )

    if request.content_length is not None and request.content_length > options.max_body_bytes:
        return too_large()
    try:
        if request.content.is_eof():  # the body came with the head: no timer to arm
            body = await request.read()
        else:
            async with asyncio.timeout(options.body_timeout):
                body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return too_large()
    except TimeoutError:
        return error_body(
            408,
            codes.INVALID_REQUEST,
            f"Request Timeout: the body did not arrive within {options.body_timeout:g}s",
        )
    if len(body) > options.max_body_bytes:
        return too_large()
    item = parse(body)
    if isinstance(item, Invalid):
        log.warning("invalid message from an HTTP client: %s: %r", item.reason, body[:200])
        return error_body(400, item.code, item.reason, item.id if item.is_request else None)
    return item


class _ClientSide:
    """The pump's client endpoint: this exchange's HTTP response."""

    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange

    def send(self, message: Message) -> bool:
        return self._exchange.post(message)

    def close(self) -> None:
        return None

    def transport_effect(self, effect: HttpReply | EndStream | Disconnect) -> bool:
        return self._exchange.post(effect)


class _UpstreamSide:
    """The pump's server endpoint: each message sent is one upstream POST."""

    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange

    def send(self, message: Message) -> bool:
        return self._exchange.call_upstream(message)

    def close(self) -> None:
        return None


class Exchange:
    """One client HTTP request, the upstream requests it causes, and the response."""

    def __init__(self, proxy: HttpProxy, request: web.Request, session: Session) -> None:
        self.proxy = proxy
        self.request = request
        self.session = session
        self.pump = Pump(session, proxy.chain, _ClientSide(self), _UpstreamSide(self))
        self.request_id: MessageId | None = None
        self.response: web.StreamResponse | None = None
        self._events: asyncio.Queue[_Event] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._head: _UpstreamHead | None = None
        self._queued_bytes = 0
        self._room = asyncio.Event()
        self._room.set()
        self._original: Message | None = None
        self._primary_claimed = False
        self._finished = False
        self._loop = asyncio.get_running_loop()

    # -- called by the pump (synchronously) ----------------------------------------------

    def post(self, event: _Event) -> bool:
        if self._finished:
            return False
        if isinstance(event, Message):
            self._queued_bytes += len(event.wire)
            if self._queued_bytes > _CLIENT_HIGH_WATER:
                self._room.clear()
        self._events.put_nowait(event)
        return True

    def _taken(self, event: _Event) -> None:
        if isinstance(event, Message):
            self._queued_bytes -= len(event.wire)
            if self._queued_bytes <= _CLIENT_HIGH_WATER // 2:
                self._room.set()

    def call_upstream(self, message: Message | None, method: str = "POST") -> bool:
        if self._finished:
            return False
        task = asyncio.create_task(self._upstream(message, method))
        self._tasks.add(task)
        return True

    # -- the upstream side ----------------------------------------------------------------

    def _claims_primary(self, message: Message | None) -> bool:
        """Is this upstream call the one for the client's own message? Only that call's
        status and headers answer the client's HTTP request; the replies to extra calls
        (an emitted stray, a duplicate) are relayed as messages at most."""
        original = self._original
        if original is None or message is None:
            return True
        if self._primary_claimed:
            return False
        if original.kind is Kind.REQUEST:
            claims = message.kind is Kind.REQUEST and message.id == original.id
        else:
            claims = message.kind is original.kind
        self._primary_claimed = claims
        return claims

    async def _upstream(self, message: Message | None, method: str) -> None:
        options = self.proxy.options
        primary = self._claims_primary(message)
        headers = request_headers(self.request.headers)
        if not primary and message is not None and "Mcp-Method" in headers:
            headers.popall("Mcp-Name", None)
            headers.update(routing_headers(message, None))  # an extra message carries its own routing headers
        body = message.wire if message is not None else None
        breaker = self.proxy.breaker
        try:
            if breaker is not None and not breaker.allow(self._loop.time()):
                raise CircuitOpenError("the circuit breaker toward the upstream is open; failing fast")
            async with self.proxy.upstream.request(
                method, self.proxy.upstream_url_for(self.request), headers, body, options.upstream_timeout
            ) as response:
                self._bind_session(response)
                status = response.status
                if status == 404 and primary:
                    self._session_lost()
                if breaker is not None:
                    breaker.record(status < 500, self._loop.time())
                out_headers = response_headers(response.headers)
                if response.content_type == SSE:
                    if primary:
                        self.post(_UpstreamHead(status, out_headers, is_sse=True))
                    await self._relay_sse(response)
                elif response.content_type == JSON:
                    raw = await read_body(response, options.max_message_bytes, options.upstream_timeout)
                    item = parse(raw) if raw.strip() else None
                    if not primary:
                        # An extra call's JSON answer: relayed only if it answers the client's request.
                        if isinstance(item, Message) and item.id is not None and item.id == self.request_id:
                            self.pump.receive(Direction.SERVER_TO_CLIENT, item)
                    elif item is None:  # e.g. 202 Accepted labelled JSON with no body
                        self.post(_UpstreamRaw(status, out_headers, raw))
                    elif isinstance(item, Message):
                        self.post(_UpstreamHead(status, out_headers, is_sse=False))
                        self.pump.receive(Direction.SERVER_TO_CLIENT, item)
                    elif item.id is not None or status < 300:
                        # A JSON body that is not a valid message: the pump answers for it.
                        self.post(_UpstreamHead(status, out_headers, is_sse=False))
                        self.pump.receive(Direction.SERVER_TO_CLIENT, item)
                    else:
                        self.post(_UpstreamRaw(status, out_headers, raw))
                else:
                    raw = await read_body(response, options.max_message_bytes, options.upstream_timeout)
                    if primary:
                        self.post(_UpstreamRaw(status, out_headers, raw))
        except UpstreamError as exc:
            if self.session.attributes.get("ended") and not isinstance(exc, CircuitOpenError):
                # The proxy ended this session (evicted, expired, deleted) and the upstream cut
                # the request's stream: our doing, not an upstream failure, so no breaker count
                # and no 502; the exchange answers it as a request of a gone session (404).
                log.debug("session %s ended under a request: %s", self.session.id, exc)
                return
            if breaker is not None and not isinstance(exc, UpstreamTooLargeError | CircuitOpenError):
                breaker.record(False, self._loop.time())
            if primary:
                self._upstream_failed(message, exc)
            else:
                log.info("an extra upstream call failed (session %s): %s", self.session.id, exc)
        finally:
            current = asyncio.current_task()
            if current is not None:
                self._tasks.discard(current)
            self.post(_TaskDone())

    async def _relay_sse(self, response: aiohttp.ClientResponse) -> None:
        async for frames in sse_frames(response, self.proxy.options.max_message_bytes):
            # Backpressure: while the client is slow to take what is queued for it, stop
            # reading the upstream (its own TCP window then holds it back), never buffer more.
            await self._room.wait()
            for frame in frames:
                if isinstance(frame, SseEvent):
                    self.post(_RawEvent(frame.encode()))
                else:
                    self.pump.receive(Direction.SERVER_TO_CLIENT, frame)

    def _upstream_failed(self, message: Message | None, exc: UpstreamError) -> None:
        if not isinstance(exc, CircuitOpenError):  # failing fast is the breaker working, not news
            log.warning("upstream request failed (session %s): %s", self.session.id, exc)
            notify(self.proxy.chain.observers, "transport_error", type(exc).__name__)
        if isinstance(exc, CircuitOpenError):
            status, code = 503, codes.CIRCUIT_OPEN
        elif isinstance(exc, UpstreamTimeoutError):
            status, code = 504, codes.UPSTREAM_TIMEOUT
        elif isinstance(exc, UpstreamTooLargeError):
            status, code = 502, codes.UPSTREAM_INVALID_RESPONSE
        else:
            status, code = 502, codes.UPSTREAM_UNAVAILABLE
        request_id = message.id if message is not None and message.kind is Kind.REQUEST else None
        error = error_response(request_id, code, f"mcpchaos: {exc}")
        if request_id is not None:
            self.session.tracker.response_sent(Direction.SERVER_TO_CLIENT, error)
        self.post(_UpstreamFailed(status, error))

    def _session_lost(self) -> None:
        """404 for a request with a session id: the upstream lost that session (the 404 is
        relayed, so the client initializes again); forget ours now."""
        session_id = self.request.headers.get(SESSION_HEADER)
        if session_id:
            self.proxy.sessions.lost(session_id)

    def _bind_session(self, response: aiohttp.ClientResponse) -> None:
        session_id = response.headers.get(SESSION_HEADER)
        if session_id and session_id not in self.proxy.sessions:
            self.proxy.sessions.bind(self.session, session_id)

    # -- the client side ------------------------------------------------------------------

    async def serve(self, item: Message | None) -> web.StreamResponse:
        """Run the exchange to its end and return the response (already sent if streamed)."""
        # How long the exchange may go without anything happening. A GET stream has no
        # limit (it lives as long as both ends want); a request's clock restarts at every event.
        idle_limit = None if item is None else self.proxy.options.request_timeout
        attributes = self.session.attributes
        attributes[IN_FLIGHT] = attributes.get(IN_FLIGHT, 0) + 1
        try:
            if item is None:
                self.call_upstream(None, self.request.method)
            else:
                self._original = item
                if item.kind is Kind.REQUEST:
                    self.request_id = item.id
                self.pump.receive(Direction.CLIENT_TO_SERVER, item)
            while True:
                if self._events.empty() and self._settled():
                    done = await self._finish_settled()
                    if done is not None:
                        return done
                if not self._events.empty():  # already queued (the answer right behind its head)
                    event = self._events.get_nowait()
                elif idle_limit is None:
                    event = await self._events.get()
                else:
                    # One shared timer for every exchange's wait (they all last request_timeout).
                    deadlines = self.proxy.idle_deadlines
                    deadline = deadlines.enter()
                    try:
                        event = await self._events.get()
                    except asyncio.CancelledError:
                        if not deadline.cancelled_it():
                            raise
                        return await self._give_up()
                    finally:
                        deadlines.leave(deadline)
                self._taken(event)
                result = await self._handle(event)
                if result is not None:
                    return result
        finally:
            attributes[IN_FLIGHT] -= 1
            self.proxy.sessions.touch(self.session.id)
            self._finished = True
            for task in self._tasks:
                task.cancel()
            self.pump.close()
            if self.request_id is not None:
                self.session.tracker.forget(Direction.CLIENT_TO_SERVER, self.request_id)
            if self.session.id not in self.proxy.sessions:  # sessionless, or deleted: it ends here
                self.proxy.sessions.ended(self.session)

    def _settled(self) -> bool:
        """Nothing more can happen: no upstream call running, no delayed or held message."""
        return not self._tasks and self.pump.scheduled == 0

    async def _finish_settled(self) -> web.StreamResponse | None:
        if self.request_id is not None and self.session.attributes.get("ended"):
            # The session ended (evicted, expired, deleted) while this request was in flight:
            # the DELETE the proxy sent upstream made the upstream close the request's stream
            # without an answer, and nothing else will come. Holding the request (as for a
            # dropped message) would leave the client silent until its own deadline.
            return await self._session_gone()
        if self.response is not None:
            await self.response.write_eof()
            return self.response
        if self.request_id is None:
            # A notification or response: the upstream's status if it answered, else 202.
            if self._head is not None:
                return web.Response(status=self._head.status, headers=self._head.headers)
            return web.Response(status=202)
        return None  # a request nothing will answer: hold it until the client gives up

    async def _session_gone(self) -> web.StreamResponse:
        """Answer a request whose session ended under it: 404 as for any request of a gone
        session, or, once its stream has started, a JSON-RPC error on the stream."""
        if self.response is None:
            return error_body(404, codes.INVALID_REQUEST, SESSION_GONE, self.request_id)
        assert self.request_id is not None
        await self._write_event(error_response(self.request_id, codes.INVALID_REQUEST, SESSION_GONE))
        await self.response.write_eof()
        return self.response

    async def _give_up(self) -> web.StreamResponse:
        limit = self.proxy.options.request_timeout
        text = f"mcpchaos: no answer within the proxy's request timeout ({limit:g}s)"
        if self.response is not None:
            if self.request_id is not None:
                await self._write_event(error_response(self.request_id, codes.UPSTREAM_TIMEOUT, text))
            await self.response.write_eof()
            return self.response
        return error_body(504, codes.UPSTREAM_TIMEOUT, text, self.request_id)

    async def _handle(self, event: _Event) -> web.StreamResponse | None:
        if isinstance(event, Message):
            return await self._deliver(event)
        if isinstance(event, _UpstreamHead):
            self._head = event
            if event.status == 202 and self.request_id is None:
                return None  # answered once settled
            return None
        if isinstance(event, _RawEvent):
            if self.response is None:
                await self._start_stream()
            assert self.response is not None
            await self.response.write(event.data)
            return None
        if isinstance(event, _UpstreamRaw):
            if self.response is None:
                return web.Response(status=event.status, headers=event.headers, body=event.body)
            return None
        if isinstance(event, _UpstreamFailed):
            if self.response is None:
                return _json_error(event.status, event.message)
            await self._write_event(event.message)
            await self.response.write_eof()
            return self.response
        if isinstance(event, HttpReply):
            return await self._http_reply(event)
        if isinstance(event, EndStream):
            if self.response is None:
                await self._start_stream()
            assert self.response is not None
            await self.response.write_eof()
            return self.response
        if isinstance(event, Disconnect):
            return self._abort(event.reason)
        return None  # _TaskDone: the loop re-checks whether the exchange has settled

    async def _deliver(self, message: Message) -> web.StreamResponse | None:
        answers = message.kind.is_response and message.id == self.request_id and self.request_id is not None
        if self.response is None:
            wants_stream = self._head is not None and self._head.is_sse
            upstream_json = self._head is not None and not self._head.is_sse
            # A JSON body holds exactly one message: the upstream's answer, whatever its id
            # (e.g. a 404 "Session not found" error with id null).
            if upstream_json or (answers and not wants_stream):
                status = self._head.status if self._head is not None else 200
                # The head's headers are this exchange's own copy (response_headers): no second copy.
                headers = self._head.headers if self._head is not None else CIMultiDict()
                headers["Content-Type"] = JSON
                return web.Response(status=status, headers=headers, body=message.wire)
            if not wants_stream and not self._client_accepts_sse():
                log.warning("dropped %r: the client's response is JSON and holds only one message", message)
                return None
            await self._start_stream()
        await self._write_event(message)
        if answers:
            assert self.response is not None
            # Copies queued with the answer (a duplicated response) still go out on the stream.
            while not self._events.empty():
                extra = self._events.get_nowait()
                self._taken(extra)
                if isinstance(extra, Message):
                    await self._write_event(extra)
            await self.response.write_eof()
            return self.response
        return None

    async def _http_reply(self, reply: HttpReply) -> web.StreamResponse | None:
        if self.response is None:
            headers = CIMultiDict(reply.headers)
            if reply.message is not None:
                headers.setdefault("Content-Type", JSON)
                return web.Response(status=reply.status, headers=headers, body=reply.message.wire)
            return web.Response(status=reply.status, headers=headers)
        # The stream has started: a status can no longer be sent; deliver the message.
        if reply.message is not None:
            return await self._deliver(reply.message)
        return None

    def _abort(self, reason: str) -> web.StreamResponse:
        log.info("aborting the client connection (session %s): %s", self.session.id, reason)
        transport = self.request.transport
        if transport is not None:
            transport.abort()
        raise ClientAbortedError(f"mcpchaos: connection aborted ({reason})")

    def _client_accepts_sse(self) -> bool:
        return SSE in self.request.headers.get("Accept", "")

    async def _start_stream(self) -> None:
        headers = (
            CIMultiDict(self._head.headers) if self._head is not None and self._head.is_sse else CIMultiDict()
        )
        headers["Content-Type"] = SSE
        headers.setdefault("Cache-Control", "no-cache")
        status = self._head.status if self._head is not None and self._head.is_sse else 200
        response = web.StreamResponse(status=status, headers=headers)
        await response.prepare(self.request)
        self.response = response

    async def _write_event(self, message: Message) -> None:
        assert self.response is not None
        await self.response.write(encode_event(message.wire, event_id=message.event_id))


class HttpProxy:
    """Serve MCP over Streamable HTTP on ``listen``, relaying to ``upstream_url``."""

    def __init__(
        self, upstream_url: str, chain: InterceptorChain | None = None, options: HttpOptions | None = None
    ) -> None:
        parts = urlsplit(upstream_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"--upstream must be an http(s) URL like http://127.0.0.1:8000/mcp, got {upstream_url!r}"
            )
        self.upstream_url = upstream_url
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self.mcp_path = parts.path or "/"
        self._mcp_url = URL(f"{self._origin}{self.mcp_path}", encoded=True)
        self.chain = chain if chain is not None else InterceptorChain()
        self.options = options if options is not None else HttpOptions()
        self.sessions = SessionRegistry(
            self.options.max_sessions,
            self.chain.observers,
            self.options.session_idle_timeout,
            self._end_upstream_session,
            self.options.session_max_age,
        )
        self._background: set[asyncio.Task[None]] = set()
        self.breaker = CircuitBreaker(self.options.breaker) if self.options.breaker is not None else None
        if self.breaker is not None:
            self.breaker.on_transition(self._breaker_moved)
        self.upstream = UpstreamClient(self.options.connect_timeout)
        self.idle_deadlines = Deadlines(self.options.request_timeout)
        """How long an exchange waits for its next event, for every exchange on one timer."""
        self._runner: web.AppRunner | None = None
        self._server: asyncio.Server | None = None
        self.limiter = ConnectionLimiter(
            self.options.max_connections, self.options.over_limit, self.options.header_timeout
        )
        self.limiter.observers = self.chain.observers  # connections reach the metrics too
        self.port: int | None = None

    def _breaker_moved(self, before: BreakerState, after: BreakerState) -> None:
        log.warning("circuit breaker toward %s: %s → %s", self.upstream_url, before.value, after.value)
        notify(self.chain.observers, "breaker_transition", before.value, after.value)

    def upstream_url_for(self, request: web.Request) -> URL:
        """The upstream URL for a client request: same path and query on the upstream origin."""
        if request.raw_path == self.mcp_path:
            # Nearly every request: the URL built once, not formatted and parsed per call (1.5 µs).
            return self._mcp_url
        return URL(f"{self._origin}{request.rel_url}", encoded=True)

    async def start(self, host: str, port: int) -> int:
        """Listen; returns the port (useful with port 0)."""
        await self.upstream.start()
        if self.sessions.expires:
            self._background.add(asyncio.create_task(self._sweep(), name="session-sweep"))
        app = web.Application(client_max_size=self.options.max_body_bytes + 1)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, keepalive_timeout=self.options.idle_timeout
        )
        await self._runner.setup()
        # Our own listening socket, so every connection passes the limiter first.
        handler = self._runner.server
        assert handler is not None
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self.limiter.factory(handler), host, port, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("HTTP proxy on http://%s:%s%s → %s", host, self.port, self.mcp_path, self.upstream_url)
        return self.port

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._background.clear()
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.upstream.close()

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
        if request.path != self.mcp_path:
            return await self._relay_raw(request)
        if request.method == "POST":
            return await self._post(request)
        if request.method == "GET":
            session = self._session_for(request, None)
            if session is None:
                return self._gone_session()
            return await Exchange(self, request, session).serve(None)
        if request.method == "DELETE":
            response = await self._relay_raw(request)
            session_id = request.headers.get(SESSION_HEADER)
            if session_id and response.status < 300:
                self.sessions.remove(session_id)
            elif session_id and response.status == 404:
                self.sessions.lost(session_id)
            return response
        return await self._relay_raw(request)

    async def _post(self, request: web.Request) -> web.StreamResponse:
        item = await read_client_message(request, self.options)
        if not isinstance(item, Message):
            return item
        session = self._session_for(request, item)
        if session is None:
            return self._gone_session()
        return await Exchange(self, request, session).serve(item)

    def _session_for(self, request: web.Request, item: Message | None) -> Session | None:
        session_id = request.headers.get(SESSION_HEADER)
        if session_id:
            return self.sessions.get(session_id)
        return self.sessions.new()

    @staticmethod
    def _gone_session() -> web.Response:
        return error_body(404, codes.INVALID_REQUEST, SESSION_GONE)

    def _end_upstream_session(self, session_id: str) -> None:
        """An evicted or expired session: end it at the upstream too (best effort)."""
        task = asyncio.create_task(self._delete_upstream(session_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _delete_upstream(self, session_id: str) -> None:
        headers = CIMultiDict({SESSION_HEADER: session_id})
        with contextlib.suppress(UpstreamError):
            async with self.upstream.request("DELETE", self.upstream_url, headers, None, 5.0):
                pass

    async def _sweep(self) -> None:
        """Expire idle and old sessions, every few seconds."""
        await sweep(self.sessions.expire, self.sessions.idle_timeout, self.sessions.max_age)

    async def _relay_raw(self, request: web.Request) -> web.StreamResponse:
        """Relay a request that carries no MCP messages, untouched (bodies streamed)."""
        body = await request.read() if request.can_read_body else None
        try:
            async with self.upstream.request(
                request.method,
                self.upstream_url_for(request),
                request_headers(request.headers),
                body,
                self.options.upstream_timeout,
            ) as upstream:
                response = web.StreamResponse(
                    status=upstream.status, headers=response_headers(upstream.headers)
                )
                await response.prepare(request)
                try:
                    async for chunk in iter_chunks(upstream):
                        await response.write(chunk)
                except UpstreamError as exc:
                    # The status line is gone already: the only honest signal left is to cut
                    # the connection, so the client sees a truncated body, not a second response.
                    log.warning("upstream broke mid-body on %s: %s", request.path, exc)
                    if request.transport is not None:
                        request.transport.abort()
                    return response
                await response.write_eof()
                return response
        except UpstreamTimeoutError as exc:
            return error_body(504, codes.UPSTREAM_TIMEOUT, f"mcpchaos: {exc}")
        except UpstreamError as exc:
            return error_body(502, codes.UPSTREAM_UNAVAILABLE, f"mcpchaos: {exc}")

    async def run_forever(self, host: str, port: int) -> int:
        """Serve until SIGINT/SIGTERM; returns the exit status."""
        await self.start(host, port)
        banner = f"mcpchaos: listening on http://{host}:{self.port}{self.mcp_path} → {self.upstream_url}"
        return await serve_until_stopped(banner, self.stop)


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) → (host, port); ConfigError if malformed."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit() or not host:
        raise ConfigError(f"--listen must be HOST:PORT (e.g. 127.0.0.1:8080), got {value!r}")
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ConfigError(f"--listen port must be 0-65535, got {port}")
    return host.strip("[]"), port


__all__ = ["HttpOptions", "HttpProxy", "SessionRegistry", "parse_listen"]
