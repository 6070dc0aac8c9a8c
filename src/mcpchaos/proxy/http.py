"""The Streamable HTTP proxy: an MCP HTTP endpoint in front of an upstream MCP HTTP server.

Every JSON-RPC message in a request body, a JSON response body or an SSE event passes the
same interceptor chain as on stdio, one by one, as it arrives: an SSE stream with progress
notifications reaches the client event by event.

How it maps onto the pump: each client HTTP request is an :class:`Exchange` with its own
:class:`~mcpchaos.proxy.pump.Pump`, whose client side is the request's
:class:`~mcpchaos.proxy.http_reply.ClientReply` and whose server side is the exchange itself:
each message the pump sends upstream is one upstream request, a :class:`_Leg`, read as it
arrives. The leg carrying the client's own message is the *primary* one: its status and
headers answer the client's request; extra legs (a duplicated or emitted message) relay
messages at most. Exchanges of one MCP session share one
:class:`~mcpchaos.intercept.context.Session` (keyed by ``Mcp-Session-Id``), so the session's
message ordinals and pending requests span all of them; a request without a session id
(2026-07-28, or a stateless server) is a session of its own.

Both protocol eras pass through as they are: POST/GET/DELETE, ``Mcp-Session-Id``,
``MCP-Protocol-Version``, ``Mcp-Method``/``Mcp-Name``, ``Last-Event-ID`` and every other
end-to-end header go upstream unchanged; statuses (202, 404, 405, 406...) come back
unchanged; SSE event ids, comments (pings), ``retry`` and priming events are kept. When a
fault changes a 2026-07-28 request, its mirrored headers are written anew from the body.
Paths other than the MCP endpoint's (OAuth metadata, health checks) are relayed untouched.
"""

from __future__ import annotations

import asyncio
import itertools
import logging

from mcpchaos.errors import CircuitOpenError, ConfigError, UpstreamError
from mcpchaos.events import notify
from mcpchaos.intercept.chain import InterceptorChain
from mcpchaos.intercept.context import Session
from mcpchaos.protocol import codes
from mcpchaos.protocol.http_headers import routing_headers
from mcpchaos.protocol.messages import Direction, Invalid, Kind, Message, error_response, parse
from mcpchaos.protocol.oauth_rewrite import (
    is_metadata_path,
    rewrite_resource_metadata,
    rewrite_www_authenticate,
)
from mcpchaos.protocol.sse import SseEvent, SseParser
from mcpchaos.proxy import sessions as table
from mcpchaos.proxy.breaker import CircuitBreaker
from mcpchaos.proxy.http_options import HttpOptions
from mcpchaos.proxy.http_reply import HEAD_JSON, HEAD_SSE, SESSION_GONE, ClientReply
from mcpchaos.proxy.lifecycle import serve_until_stopped, sweep
from mcpchaos.proxy.pump import Pump
from mcpchaos.proxy.relay import RawRelay, StatusHook
from mcpchaos.proxy.sessions import SessionTable
from mcpchaos.proxy.upstream import GuardedUpstream, StatusOnly
from mcpchaos.transport.http import (
    JSON,
    SSE,
    Headers,
    block,
    find,
    media_type,
    request_block,
    response_block,
    sse_frames,
)
from mcpchaos.transport.http_client import UpstreamCall
from mcpchaos.transport.http_front import HttpFront, read_message, send_error, send_message
from mcpchaos.transport.http_server import Request, ResponseWriter, State

log = logging.getLogger("mcpchaos.http")

SESSION_HEADER = "Mcp-Session-Id"
_SESSION = b"mcp-session-id"
_ROUTING = (b"mcp-method", b"mcp-name", b"mcp-protocol-version")
LONG_LIVED = frozenset({"subscriptions/listen"})
"""Requests whose stream stays open until either side ends it: no idle deadline."""
_ORPHAN_GRACE = 2.0
"""Seconds an upstream stream may go on after the client got its answer, so its connection
can be reused; then it is cut."""

__all__ = ["SESSION_HEADER", "HttpOptions", "HttpProxy", "parse_listen"]


class HttpProxy:
    """Serve MCP over Streamable HTTP on ``listen``, relaying to ``upstream_url``."""

    def __init__(
        self, upstream_url: str, chain: InterceptorChain | None = None, options: HttpOptions | None = None
    ) -> None:
        self.chain = chain if chain is not None else InterceptorChain()
        self.options = options if options is not None else HttpOptions()
        self.upstream = GuardedUpstream(upstream_url, self.options, self.chain.observers)
        self.upstream_url = upstream_url
        self.mcp_path = self.upstream.path
        self._mcp_target = self.mcp_path.encode()
        self.sessions: SessionTable[Session] = SessionTable(
            self.options.max_sessions,
            _itself,
            self._session_gone,
            self.chain.observers,
            self.options.session_idle_timeout,
            self.options.session_max_age,
        )
        self._ordinals = itertools.count(1)
        self._background: set[asyncio.Task[None]] = set()
        self.front = HttpFront(self.handle, self.options.front_limits(), self.chain.observers)
        self.limiter = self.front.limiter
        self.port: int | None = None

    @property
    def breaker(self) -> CircuitBreaker | None:
        return self.upstream.breaker

    # ---- lifecycle ---------------------------------------------------------------------------

    async def start(self, host: str, port: int) -> int:
        """Listen; returns the port (useful with port 0)."""
        self.port = await self.front.start(host, port)
        if self.sessions.expires:
            expire = sweep(self.sessions.expire, self.sessions.idle_timeout, self.sessions.max_age)
            self._background.add(asyncio.create_task(expire, name="session-sweep"))
        log.info("HTTP proxy on http://%s:%s%s → %s", host, self.port, self.mcp_path, self.upstream_url)
        return self.port

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._background.clear()
        await self.front.stop()
        await self.upstream.close()

    async def run_forever(self, host: str, port: int) -> int:
        """Serve until SIGINT/SIGTERM; returns the exit status."""
        await self.start(host, port)
        banner = f"mcpchaos: listening on http://{host}:{self.port}{self.mcp_path} → {self.upstream_url}"
        return await serve_until_stopped(banner, self.stop)

    # ---- requests ----------------------------------------------------------------------------

    def handle(self, request: Request, writer: ResponseWriter) -> None:
        """Route one client request (the front's handler)."""
        method = request.method
        if request.path != self._mcp_target:
            self.relay(request, writer)
        elif method == "POST":
            item = read_message(request)
            if isinstance(item, tuple):
                send_message(writer, item[0], item[1])
                return
            session = self._session_for(request)
            if session is None:
                send_error(writer, 404, codes.INVALID_REQUEST, SESSION_GONE)
                return
            Exchange(self, request, writer, session, item).start()
        elif method == "GET":
            session = self._session_for(request)
            if session is None:
                send_error(writer, 404, codes.INVALID_REQUEST, SESSION_GONE)
                return
            Exchange(self, request, writer, session, None).start()
        elif method == "DELETE":
            self.relay(request, writer, self._deleted)
        else:
            self.relay(request, writer)

    def relay(self, request: Request, writer: ResponseWriter, on_status: StatusHook | None = None) -> None:
        """Relay a request that carries no MCP messages, untouched (same path and query upstream),
        but for the OAuth resource URLs, which name the proxy instead of the upstream."""
        metadata = is_metadata_path(request.path.decode("latin-1"))
        relay = RawRelay(writer, request, on_status, self.auth_headers, self._metadata if metadata else None)
        headers = request_block(request.headers, request.index)
        body = request.body if request.body or request.index.get(b"content-length") else None
        relay.call = self.upstream.call(
            request.method,
            request.target,
            headers,
            body,
            relay,
            self.options.upstream_timeout,
            self.host_for(request),
        )

    def host_for(self, request: Request) -> str | None:
        """The Host to send upstream: the client's with ``forward_host``, else the upstream's."""
        return request.header(b"host") if self.options.forward_host else None

    # ---- OAuth: the protected resource is the proxy (RFC 9728 metadata, WWW-Authenticate) ----

    def _proxy_origin(self, request: Request) -> str:
        """The proxy's origin as this client reached it."""
        return "http://" + (request.header(b"host") or f"127.0.0.1:{self.port}")

    def auth_headers(self, request: Request, status: int, headers: Headers) -> Headers:
        """An upstream answer's headers with any ``resource_metadata`` URL moved to the proxy."""
        if status != 401 and status != 403:
            return headers
        origin = self._proxy_origin(request)
        return [
            (
                name,
                rewrite_www_authenticate(value.decode("latin-1"), self.upstream.origin, origin).encode(
                    "latin-1"
                ),
            )
            if name.lower() == b"www-authenticate"
            else (name, value)
            for name, value in headers
        ]

    def _metadata(self, request: Request, body: bytes) -> bytes:
        """Protected Resource Metadata naming the upstream as the resource: the proxy's instead."""
        changed = rewrite_resource_metadata(body, self.upstream.origin, self._proxy_origin(request))
        return body if changed is None else changed

    def _deleted(self, request: Request, status: int) -> None:
        session_id = request.header(_SESSION)
        if session_id and status < 300:
            self.sessions.remove(session_id)
        elif session_id and status == 404:
            self.sessions.lost(session_id)

    # ---- sessions ----------------------------------------------------------------------------

    def new_session(self) -> Session:
        """A session not yet known by an id (an initialize, or a sessionless request)."""
        ordinal = next(self._ordinals)
        session = Session(id=f"http-{ordinal}", ordinal=ordinal, transport="http")
        notify(self.chain.observers, "session_started", session)
        return session

    def _session_for(self, request: Request) -> Session | None:
        session_id = request.header(_SESSION)
        if not session_id:
            return self.new_session()
        session = self.sessions.get(session_id)
        if session is not None:
            return session
        if self.sessions.is_gone(session_id):
            return None
        session = self.new_session()  # first sight of an id (e.g. the proxy restarted)
        self.bind(session, session_id)
        return session

    def bind(self, session: Session, session_id: str) -> None:
        session.id = session_id
        self.sessions.add(session_id, session)

    def _session_gone(self, session_id: str, session: Session, end_upstream: bool) -> None:
        """An evicted or expired session: end it at the upstream too (best effort)."""
        if end_upstream:
            headers = block([(SESSION_HEADER, session_id)])
            self.upstream.call("DELETE", self._mcp_target, headers, None, StatusOnly(), 5.0)


def _itself(session: Session) -> Session:
    return session


class Exchange:
    """One client HTTP request, the upstream requests it causes, and the response."""

    __slots__ = (
        "_headers",
        "_primary_claimed",
        "closed",
        "legs",
        "original",
        "primary_head",
        "proxy",
        "pump",
        "reply",
        "request",
        "session",
    )

    def __init__(
        self,
        proxy: HttpProxy,
        request: Request,
        writer: ResponseWriter,
        session: Session,
        item: Message | None,
    ) -> None:
        self.proxy = proxy
        self.request = request
        self.session = session
        self.original = item
        request_id = item.id if item is not None and item.kind is Kind.REQUEST else None
        accepts_sse = SSE in request.index.get(b"accept", b"")
        self.reply = ClientReply(writer, request_id, accepts_sse, self._close)
        self.pump = Pump(session, proxy.chain, self.reply, self)
        self.pump.after_timer = self.check_settled
        self.legs: list[_Leg] = []
        self.primary_head: tuple[int, bytes] | None = None
        """The primary leg's status and headers (all of them), once it answered."""
        self._primary_claimed = False
        self._headers: bytes | None = None
        self.closed = False

    def start(self) -> None:
        table.enter(self.session)
        item = self.original
        if item is None:  # a GET stream: as long as both ends want it, no idle limit
            self._call(None, self.request.method)
        else:
            if self.reply.request_id is not None and item.method not in LONG_LIVED:
                self.reply.arm_idle(self.proxy.options.request_timeout)
            self.pump.receive(Direction.CLIENT_TO_SERVER, item)
        self.check_settled()

    # ---- the pump's server endpoint: one upstream request per message ------------------------

    def send(self, message: Message) -> bool:
        if self.closed:
            return False
        self._call(message, "POST")
        return True

    def close(self) -> None:
        return None

    def _claims_primary(self, message: Message | None) -> bool:
        """Is this upstream call the one for the client's own message (changed or not)? Only
        that call's status and headers answer the client's HTTP request."""
        original = self.original
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

    def _headers_for(self, message: Message | None, primary: bool) -> bytes:
        request = self.request
        if self._headers is None:
            self._headers = request_block(request.headers, request.index)
        if message is None or message is self.original or b"mcp-method" not in request.index:
            return self._headers
        # A 2026-07-28 request changed by a fault, or an extra message: its mirrored headers
        # say what its own body says.
        version = request.header(b"mcp-protocol-version")
        routing = routing_headers(message, version)
        return request_block(request.headers, request.index, _ROUTING) + block(routing.items())

    def _call(self, message: Message | None, method: str) -> None:
        proxy = self.proxy
        primary = self._claims_primary(message)
        leg = _Leg(self, primary, message)
        self.legs.append(leg)
        body = message.wire if message is not None else None
        headers = self._headers_for(message, primary)
        leg.call = proxy.upstream.call(
            method,
            self.request.target,
            headers,
            body,
            leg,
            proxy.options.upstream_timeout,
            proxy.host_for(self.request),
        )

    # ---- how it ends ---------------------------------------------------------------------------

    def leg_finished(self, leg: _Leg) -> None:
        if leg in self.legs:
            self.legs.remove(leg)
        self.check_settled()

    def check_settled(self) -> None:
        """If nothing more can happen (no upstream call running, nothing delayed or held),
        end the response the way the client would have seen it end directly."""
        reply = self.reply
        if self.closed or reply.done or self.legs or self.pump.scheduled:
            return
        if reply.request_id is not None and self.session.attributes.get(table.ENDED):
            # The session ended (evicted, expired, deleted) while this request was in flight:
            # the DELETE sent upstream closed the request's stream without an answer.
            reply.session_gone()
        elif reply.writer.state is State.STREAMING:
            reply.end()
        elif reply.request_id is None:
            # A notification or response: the upstream's status if it answered, else 202.
            status, headers = self.primary_head if self.primary_head is not None else (202, b"")
            reply.send_whole(status, headers, b"")
        elif self.primary_head is not None and self.pump.stats.dropped == 0:
            # The upstream ended its answer with no message in it (an empty SSE body): the
            # client gets just that, as it would directly. (A dropped answer is held instead.)
            status, headers = self.primary_head
            reply.send_whole(status, headers, b"")
        # else: a request nothing will answer (a dropped message): held until the idle timer.

    def _close(self) -> None:
        """The response is over (sent, or the client went away)."""
        if self.closed:
            return
        self.closed = True
        session = self.session
        table.leave(session)
        proxy = self.proxy
        proxy.sessions.touch(session.id)
        for leg in self.legs:
            leg.orphan()
        self.legs.clear()
        self.pump.close()
        if self.reply.request_id is not None:
            session.tracker.forget(Direction.CLIENT_TO_SERVER, self.reply.request_id)
        if session.id not in proxy.sessions:  # sessionless, or deleted: it ends here
            proxy.sessions.ended(session)


class _Leg:
    """One upstream request of an exchange, read as it arrives (the pool's sink)."""

    __slots__ = (
        "_mode",
        "_parser",
        "_status",
        "call",
        "exchange",
        "headers",
        "message",
        "primary",
    )

    def __init__(self, exchange: Exchange, primary: bool, message: Message | None) -> None:
        self.exchange = exchange
        self.primary = primary
        self.message = message
        self.call: UpstreamCall | None = None
        self._mode = b""
        self._parser: SseParser | None = None
        self._status = 0
        self.headers: Headers = []

    def head(self, status: int, headers: Headers) -> bool:
        exchange = self.exchange
        self._status = status
        self.headers = headers = exchange.proxy.auth_headers(exchange.request, status, headers)
        self._mode = mode = media_type(find(headers, b"content-type"))
        if self.primary:
            self._session_news(status, headers)
            exchange.primary_head = (status, response_block(headers))
            if mode == SSE:  # the stream's own Content-Type and Cache-Control are the reply's
                relayed = response_block(headers, (b"content-type", b"cache-control"))
                exchange.reply.set_head(HEAD_SSE, status, relayed)
        if mode == SSE:
            self._parser = SseParser(exchange.proxy.options.max_message_bytes)
            return False
        return True

    def _session_news(self, status: int, headers: Headers) -> None:
        exchange = self.exchange
        proxy = exchange.proxy
        original = exchange.original
        if original is not None and original.method == "initialize" and status < 300:
            # Only a successful initialize makes a session (a 400 carrying a fresh id does not).
            session_id = find(headers, _SESSION)
            if session_id is not None and session_id.decode("latin-1") not in proxy.sessions:
                proxy.bind(exchange.session, session_id.decode("latin-1"))
        elif status == 404:
            sent = exchange.request.header(_SESSION)
            if sent:  # the upstream lost this session (the 404 is relayed: the client starts over)
                proxy.sessions.lost(sent)

    def body(self, chunk: bytes) -> None:
        exchange = self.exchange
        if exchange.closed:
            return
        parser = self._parser
        if parser is None:
            if self.call is not None:
                self.call.keep(chunk, exchange.proxy.options.max_message_bytes)
            return
        pending = exchange.reply.request_id if self.primary else None
        pump = exchange.pump
        reply = exchange.reply
        for frame in sse_frames(parser, chunk, pending):
            if isinstance(frame, SseEvent):
                reply.raw_event(frame.encode())
            else:
                pump.receive(Direction.SERVER_TO_CLIENT, frame)
        call = self.call
        if reply.paused and call is not None:
            # Backpressure: while the client is slow to take what it was sent, stop reading
            # the upstream (its own TCP window then holds it back), never buffer more.
            call.pause()
            reply.when_drained(call.resume)

    def done(self) -> None:
        exchange = self.exchange
        if not exchange.closed and self._parser is None:
            self._deliver_body()
        exchange.leg_finished(self)

    def _deliver_body(self) -> None:
        exchange = self.exchange
        raw = self.call.kept() if self.call is not None else b""
        status = self._status
        reply = exchange.reply
        if self._mode != JSON:
            if self.primary:
                reply.send_whole(status, response_block(self.headers), raw)
            return
        item = parse(raw) if raw.strip() else None
        if not self.primary:
            # An extra call's JSON answer: relayed only if it answers the client's request.
            if isinstance(item, Message) and item.id is not None and item.id == reply.request_id:
                exchange.pump.receive(Direction.SERVER_TO_CLIENT, item)
            return
        if item is None:  # e.g. 202 Accepted labelled JSON with no body
            reply.send_whole(status, response_block(self.headers), raw)
        elif isinstance(item, Message) or (
            isinstance(item, Invalid) and (item.id is not None or status < 300)
        ):
            # A JSON body holds exactly one message: the upstream's answer, whatever its id
            # (e.g. a 404 "Session not found" error with id null); an invalid one the pump answers for.
            reply.set_head(HEAD_JSON, status, response_block(self.headers, (b"content-type",)))
            exchange.pump.receive(Direction.SERVER_TO_CLIENT, item)
        else:
            reply.send_whole(status, response_block(self.headers), raw)

    def failed(self, error: UpstreamError) -> bool:
        exchange = self.exchange
        if exchange.closed:
            return False
        counts = True
        if exchange.session.attributes.get(table.ENDED) and not isinstance(error, CircuitOpenError):
            # The proxy ended this session (evicted, expired, deleted) and the upstream cut the
            # request's stream: our doing, not an upstream failure; answered as a gone session.
            log.debug("session %s ended under a request: %s", exchange.session.id, error)
            counts = False
        elif self.primary:
            request_id = exchange.reply.request_id
            if request_id is not None:
                error_message = error_response(request_id, error.rpc_code, f"mcpchaos: {error}")
                exchange.session.tracker.response_sent(Direction.SERVER_TO_CLIENT, error_message)
            exchange.reply.fail(error.http_status, error.rpc_code, f"mcpchaos: {error}")
        else:
            log.info("an extra upstream call failed (session %s): %s", exchange.session.id, error)
        if self in exchange.legs:
            exchange.leg_finished(self)
        return counts

    def orphan(self) -> None:
        """The exchange is over: let a running upstream answer finish on its own for a moment
        (so its connection can be reused), then cut it."""
        call = self.call
        if call is None or call.finished:
            return
        if self._parser is None:
            call.cancel()
        else:
            asyncio.get_running_loop().call_later(_ORPHAN_GRACE, call.cancel)


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) → (host, port); ConfigError if malformed."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit() or not host:
        raise ConfigError(f"--listen must be HOST:PORT (e.g. 127.0.0.1:8080), got {value!r}")
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ConfigError(f"--listen port must be 0-65535, got {port}")
    return host.strip("[]"), port
