"""The stdio → HTTP bridge: an MCP client launches us over stdio, the server speaks HTTP.

``mcpchaos proxy --upstream http://host:port/mcp`` (no ``--listen``, no command). The stdio
client is one MCP session: each message it writes is POSTed to the upstream (with the
session's ``Mcp-Session-Id`` once the upstream assigned one, and the MCP routing headers a
2026-07-28 request needs, derived from the body); JSON or SSE answers come back as lines.
After a 2025-era handshake a GET stream carries the server's unsolicited messages. When the
client closes stdin, requests still in flight are given the grace period to finish, then
the upstream session is ended with DELETE. Upstream calls go through the same guarded caller
as the HTTP proxy's (pooled connections, the ``--breaker``, one error mapping), so a failure
answers the same JSON-RPC code here as there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from mcpchaos.errors import UpstreamError
from mcpchaos.intercept.chain import InterceptorChain
from mcpchaos.intercept.context import Session
from mcpchaos.protocol import codes
from mcpchaos.protocol.http_headers import routing_headers
from mcpchaos.protocol.messages import Direction, Invalid, Kind, Message, MessageId, error_response, parse
from mcpchaos.protocol.ndjson import NdjsonFramer, OversizedLine
from mcpchaos.protocol.sse import SseEvent, SseParser
from mcpchaos.proxy.breaker import CircuitBreaker
from mcpchaos.proxy.http_options import HttpOptions
from mcpchaos.proxy.pump import Pump
from mcpchaos.proxy.upstream import GuardedUpstream, StatusOnly
from mcpchaos.transport.http import JSON, SSE, Headers, block, find, media_type, sse_frames
from mcpchaos.transport.http_client import UpstreamCall
from mcpchaos.transport.pipes import open_sink, open_source
from mcpchaos.transport.stdio import NdjsonEndpoint, read_frames

log = logging.getLogger("mcpchaos.bridge")

_SESSION = b"mcp-session-id"
_ACCEPT_BOTH = "application/json, text/event-stream"


class _HttpUpstream:
    """The pump's server endpoint: one POST per message, answers fed back to the pump."""

    def __init__(self, bridge: StdioToHttpBridge) -> None:
        self._bridge = bridge

    def send(self, message: Message) -> bool:
        if self._bridge.closing:
            return False
        self._bridge.post(message)
        return True

    def close(self) -> None:
        return None


class _Answer:
    """The upstream's answer to one POSTed message (or the GET stream), fed to the pump."""

    __slots__ = ("_bridge", "_json", "_parser", "_status", "answered", "call", "message")

    def __init__(self, bridge: StdioToHttpBridge, message: Message | None) -> None:
        self._bridge = bridge
        self.message = message
        self.call: UpstreamCall | None = None
        self._parser: SseParser | None = None
        self._json = False
        self._status = 0
        self.answered = False

    @property
    def _wanted(self) -> MessageId | None:
        message = self.message
        return message.id if message is not None and message.kind is Kind.REQUEST else None

    def head(self, status: int, headers: Headers) -> bool:
        bridge = self._bridge
        self._status = status
        session_id = find(headers, _SESSION)
        if session_id and bridge.upstream_session_id is None and status < 300:
            bridge.upstream_session_id = session_id.decode("latin-1")
        if status == 404 and bridge.upstream_session_id is not None:
            log.warning("the upstream no longer knows session %s (404)", bridge.upstream_session_id)
            bridge.upstream_session_id = None
        mode = media_type(find(headers, b"content-type"))
        if self.message is None and (status != 200 or mode != SSE):  # the GET stream is not offered
            log.debug("no GET stream from the upstream (HTTP %d)", status)
            if self.call is not None:
                self.call.cancel()
            bridge.finished(self)
            return True
        if mode == SSE:
            self._parser = SseParser(bridge.options.max_message_bytes)
            return False
        self._json = mode == JSON  # any other body is read and ignored
        return True

    def body(self, chunk: bytes) -> None:
        bridge = self._bridge
        if self._parser is None:
            if self._json and self.call is not None:
                self.call.keep(chunk, bridge.options.max_message_bytes)
            return
        wanted = self._wanted
        for frame in sse_frames(self._parser, chunk, wanted):
            if isinstance(frame, SseEvent):
                continue  # comments and priming events mean nothing on stdio
            if isinstance(frame, Message) and frame.kind.is_response and frame.id == wanted:
                self.answered = True
            bridge.deliver(frame)

    def done(self) -> None:
        bridge = self._bridge
        raw = self.call.kept() if self._json and self.call is not None else b""
        if raw.strip():
            item = parse(raw)
            if isinstance(item, Message):
                self.answered = item.kind.is_response and item.id == self._wanted
                bridge.deliver(item)
        message = self.message
        if message is not None and message.kind is Kind.REQUEST and not self.answered:
            # The upstream ended its answer without a response to this request (an error body
            # with id null, a stream cut short): the client gets an error, not silence.
            text = f"mcpchaos: the upstream answered HTTP {self._status} without a response to this request"
            bridge.deliver(error_response(message.id, codes.UPSTREAM_INVALID_RESPONSE, text))
        bridge.finished(self)

    def failed(self, error: UpstreamError) -> bool:
        bridge = self._bridge
        message = self.message
        if message is None:
            log.debug("GET stream ended: %s", error)
        elif message.kind is Kind.REQUEST:
            bridge.deliver(error_response(message.id, error.rpc_code, f"mcpchaos: {error}"))
        bridge.finished(self)
        return message is not None


class StdioToHttpBridge:
    """One stdio client ↔ one upstream Streamable HTTP MCP session."""

    def __init__(
        self,
        upstream_url: str,
        chain: InterceptorChain | None = None,
        options: HttpOptions | None = None,
        client_in_fd: int = 0,
        client_out_fd: int = 1,
        shutdown_grace: float = 1.5,
    ) -> None:
        self.upstream_url = upstream_url
        self.chain = chain if chain is not None else InterceptorChain()
        self.options = options if options is not None else HttpOptions()
        self._fds = (client_in_fd, client_out_fd)
        self._grace = shutdown_grace
        self.session = Session(id="bridge-1", ordinal=1, transport="stdio")
        self.upstream_session_id: str | None = None
        self.closing = False
        self._answers: set[_Answer] = set()
        self._get_stream_opened = False
        self.pump: Pump | None = None
        self.upstream = GuardedUpstream(upstream_url, self.options, self.chain.observers)  # validates the URL
        self.breaker: CircuitBreaker | None = self.upstream.breaker

    async def run(self) -> int:
        source = await open_source(self._fds[0])
        sink = await open_sink(self._fds[1])
        self.pump = Pump(self.session, self.chain, NdjsonEndpoint(sink, "client"), _HttpUpstream(self))
        pump = self.pump
        try:
            framer = NdjsonFramer(self.options.max_message_bytes)
            await read_frames(
                source, framer, lambda frame: pump.receive(Direction.CLIENT_TO_SERVER, frame), sink.drain
            )
            log.info("client closed stdin; finishing in-flight requests and ending the upstream session")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._grace):
                    await pump.wait_answered(Direction.CLIENT_TO_SERVER)
            return 0
        finally:
            self.closing = True
            for answer in list(self._answers):
                if answer.call is not None:
                    answer.call.cancel()
            self._answers.clear()
            await self._end_session()
            pump.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sink.drain(), 1.0)
            sink.close()
            source.close()
            await self.upstream.close()

    def _headers(self, message: Message | None, accept: str = _ACCEPT_BOTH) -> bytes:
        headers: dict[str, str] = {"Accept": accept}
        if message is not None:
            headers["Content-Type"] = "application/json"
            headers.update(routing_headers(message, self.session.tracker.protocol_version))
        elif self.session.tracker.protocol_version is not None:
            headers["MCP-Protocol-Version"] = self.session.tracker.protocol_version
        if self.upstream_session_id is not None:
            headers["Mcp-Session-Id"] = self.upstream_session_id
        return block(headers.items())

    def post(self, message: Message) -> None:
        """POST one message; whatever comes back is fed to the pump."""
        answer = _Answer(self, message)
        self._answers.add(answer)
        upstream = self.upstream
        answer.call = upstream.call(
            "POST",
            upstream.target,
            self._headers(message),
            message.wire,
            answer,
            self.options.upstream_timeout,
        )

    def deliver(self, frame: Message | Invalid | OversizedLine) -> None:
        if self.pump is not None and not self.closing:
            self.pump.receive(Direction.SERVER_TO_CLIENT, frame)

    def finished(self, answer: _Answer) -> None:
        self._answers.discard(answer)
        message = answer.message
        if (
            message is not None
            and message.method == "notifications/initialized"
            and not self._get_stream_opened
        ):
            self._get_stream_opened = True
            self._listen()

    def _listen(self) -> None:
        """The standalone GET stream for unsolicited server messages (2025 era), if offered."""
        if self.closing:
            return
        answer = _Answer(self, None)
        self._answers.add(answer)
        upstream = self.upstream
        answer.call = upstream.call(
            "GET",
            upstream.target,
            self._headers(None, SSE.decode()),
            None,
            answer,
            self.options.upstream_timeout,
        )

    async def _end_session(self) -> None:
        if self.upstream_session_id is None:
            return
        ended: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        upstream = self.upstream
        upstream.call("DELETE", upstream.target, self._headers(None), None, StatusOnly(ended), 2.0)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.5):
                status = await ended
                log.info("ended upstream session %s (HTTP %d)", self.upstream_session_id, status)
