"""One client HTTP request through the HTTP proxy: an :class:`Exchange`, and the upstream
requests it causes, each a :class:`_Leg` read as it arrives.

The exchange has its own :class:`~mcpchaos.proxy.pump.Pump`, whose client side is the
request's :class:`~mcpchaos.proxy.http_reply.ClientReply` and whose server side is the
exchange itself: each message the pump sends upstream is one upstream request. The leg
carrying the client's own message is the *primary* one: its status and headers answer the
client's request; extra legs (a duplicated or emitted message) relay messages at most.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from mcpchaos.errors import CircuitOpenError, UpstreamError
from mcpchaos.intercept.context import Session
from mcpchaos.protocol import codes
from mcpchaos.protocol.http_headers import recorded_headers, routing_headers
from mcpchaos.protocol.messages import Direction, Invalid, Kind, Message, Rerouted, parse
from mcpchaos.protocol.sse import SseEvent, SseParser
from mcpchaos.proxy import sessions as table
from mcpchaos.proxy.http_reply import HEAD_JSON, HEAD_SSE, LONG_LIVED, ClientReply
from mcpchaos.proxy.pump import Pump
from mcpchaos.proxy.sessions import SESSION_KEY
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
from mcpchaos.transport.http_message import Request, ResponseWriter, State

if TYPE_CHECKING:
    from mcpchaos.proxy.http import HttpProxy

log = logging.getLogger("mcpchaos.http")

_ROUTING = (b"mcp-method", b"mcp-name", b"mcp-protocol-version")
"""The mirrored headers of a 2026-07-28 request, written anew when its body changed."""
_UNREADABLE = b"unreadable"
"""A leg's mode when its JSON or SSE body came compressed (the proxy asks for identity)."""
_ORPHAN_GRACE = 2.0
"""Seconds an upstream stream may go on after the client got its answer, so its connection
can be reused; then it is cut."""


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
        self.reply.end_waits = self._timer_running
        self.legs: list[_Leg] = []
        self.primary_head: tuple[int, Headers] | None = None
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
            recorder = self.proxy.chain.recorder
            if recorder is not None:  # the history checks the mirrored headers against the body
                recorder.transport_meta(self.session, recorded_headers(self.request.index))
                self.reply.on_failed = recorder.answered_by_proxy(self.session)
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

    def _headers_for(self, message: Message | None) -> bytes:
        request = self.request
        if self._headers is None:
            self._headers = request.forward_block()
        overrides = message.header_overrides if message is not None else ()
        if message is None or (
            not overrides and (message is self.original or b"mcp-method" not in request.index)
        ):
            return self._headers
        # A 2026-07-28 request changed by a fault, or an extra message: its mirrored headers
        # say what its own body says, unless a header fault says otherwise.
        version = request.header(b"mcp-protocol-version")
        routing: dict[str, tuple[str, str | None]] = {
            name.lower(): (name, value) for name, value in routing_headers(message, version).items()
        }
        routing.update((name.lower(), (name, value)) for name, value in overrides)
        pairs = [(name, value) for name, value in routing.values() if value is not None]
        return request_block(request.headers, request.index, _ROUTING) + block(pairs)

    def _call(self, message: Message | None, method: str) -> None:
        proxy = self.proxy
        primary = self._claims_primary(message)
        leg = _Leg(self, primary, message)
        self.legs.append(leg)
        body = message.wire if message is not None else None
        headers = self._headers_for(message)
        if isinstance(message, Rerouted):  # a replica hop: another server process, its own path
            replica = proxy.replica(message.upstream_url)
            leg.call = replica.call(
                method, replica.target, headers, body, leg, proxy.options.upstream_timeout
            )
            return
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

    def _timer_running(self) -> bool:
        return self.pump.scheduled > 0

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
            if self.primary_head is None:
                reply.send_whole(202, b"", b"")
            else:
                reply.send_whole(self.primary_head[0], response_block(self.primary_head[1]), b"")
        elif self.session.tracker.request_for(Direction.SERVER_TO_CLIENT, reply.request_id) is None:
            # The client cancelled the request (notifications/cancelled) and nothing will answer
            # it: its stream ends empty, as a server ends a cancelled request's stream.
            reply.end()
        elif self.primary_head is not None and self.pump.stats.dropped == 0:
            # The upstream ended its answer with no message in it (an empty SSE body): the
            # client gets just that, as it would directly. (A dropped answer is held instead.)
            reply.send_whole(self.primary_head[0], response_block(self.primary_head[1]), b"")
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
        # A listen stream ended under the client (a cut) never finishes upstream on its own:
        # it is cut there at once too, as for a client gone, not left open for a grace.
        original = self.original
        long_lived = original is not None and original.method in LONG_LIVED
        client_gone = self.reply.writer.state is State.ABORTED or long_lived
        still_upstream = any(leg.call is not None and not leg.call.finished for leg in self.legs)
        for leg in self.legs:
            leg.orphan(client_gone)
        self.legs.clear()
        self.pump.close()
        if self.reply.request_id is not None:
            session.tracker.forget(Direction.CLIENT_TO_SERVER, self.reply.request_id)
        if self.reply.injected_status == 404 and session.id in proxy.sessions:
            # An injected 404 on a session (session_expiry) ends it as an expiry would: the
            # client's next request with its id gets 404 too, and it is ended upstream, but
            # not before a call forwarded to run there (reach_server) had its grace: a DELETE
            # on another connection could reach the server first, and the call never ran.
            if still_upstream:
                session.attributes[table.END_UPSTREAM_AFTER] = _ORPHAN_GRACE
            proxy.sessions.expire_now(session.id)
        if session.id not in proxy.sessions:  # sessionless, or deleted: it ends here
            proxy.sessions.ended(session)


class _Leg:
    """One upstream request of an exchange, read as it arrives (the pool's sink)."""

    __slots__ = (
        "_coding",
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
        self._coding = ""
        self._parser: SseParser | None = None
        self._status = 0
        self.headers: Headers = []

    def head(self, status: int, headers: Headers) -> bool:
        exchange = self.exchange
        self._status = status
        self.headers = headers = exchange.proxy.auth_headers(exchange.request, status, headers)
        self._mode = mode = media_type(find(headers, b"content-type"))
        coding = find(headers, b"content-encoding")
        if mode in (JSON, SSE) and coding is not None and coding.strip().lower() not in (b"", b"identity"):
            # Asked for identity, sent compressed: the messages in it cannot be read (done() says so).
            self._mode = mode = _UNREADABLE
            self._coding = coding.decode("latin-1")
        if self.primary:
            self._session_news(status, headers)
            exchange.primary_head = (status, headers)
            if mode == SSE:  # the stream's own Content-Type and Cache-Control are the reply's
                relayed = response_block(headers, (b"content-type", b"cache-control"))
                exchange.reply.set_head(HEAD_SSE, status, relayed)
                if exchange.original is None:  # a GET stream may stay quiet for long
                    exchange.reply.open_stream()
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
            session_id = find(headers, SESSION_KEY)
            if session_id is not None and session_id.decode("latin-1") not in proxy.sessions:
                proxy.bind(exchange.session, session_id.decode("latin-1"))
        elif status == 404:
            sent = exchange.request.header(SESSION_KEY)
            if sent:  # the upstream lost this session (the 404 is relayed: the client starts over)
                proxy.sessions.lost(sent)
        elif status < 300:
            sent = exchange.request.header(SESSION_KEY)
            if sent and sent not in proxy.sessions and not proxy.sessions.is_gone(sent):
                # An id the proxy had not seen, which the upstream accepts (the proxy restarted):
                # a session from now on.
                proxy.bind(exchange.session, sent)

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
        if self._mode == _UNREADABLE:
            if self.primary:
                text = (
                    f"mcpchaos: the upstream sent a {self._coding}-encoded answer although asked for identity"
                )
                reply.fail(502, codes.UPSTREAM_INVALID_RESPONSE, text)
            return
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
            recorder = exchange.proxy.chain.recorder
            if recorder is not None:
                recorder.transport_meta(exchange.session, {"status": status})
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
            # The reply ends the exchange, which forgets the request in the tracker.
            exchange.reply.fail(error.http_status, error.rpc_code, f"mcpchaos: {error}")
        else:
            log.info("an extra upstream call failed (session %s): %s", exchange.session.id, error)
        if self in exchange.legs:
            exchange.leg_finished(self)
        return counts

    def orphan(self, client_gone: bool) -> None:
        """The exchange is over: let a running upstream request finish on its own for a moment
        (so it runs as sent, and its connection can be reused), then cut it."""
        call = self.call
        if call is None or call.finished:
            return
        if client_gone:  # the client left: the upstream sees its request go (2026-07-28: cancelled)
            call.cancel()
        else:
            # The client has its answer. Cut at once, the upstream would see an extra request
            # (a duplicate) vanish before it ran; most answers end well before the grace.
            asyncio.get_running_loop().call_later(_ORPHAN_GRACE, call.cancel)
