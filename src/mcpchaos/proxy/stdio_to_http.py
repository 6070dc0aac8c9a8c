"""The stdio → HTTP bridge: an MCP client launches us over stdio, the server speaks HTTP.

``mcpchaos proxy --upstream http://host:port/mcp`` (no ``--listen``, no command). The stdio
client is one MCP session: each message it writes is POSTed to the upstream (with the
session's ``Mcp-Session-Id`` once the upstream assigned one, and the MCP routing headers a
2026-07-28 request needs, derived from the body); JSON or SSE answers come back as lines.
After a 2025-era handshake a GET stream carries the server's unsolicited messages. When the
client closes stdin, requests still in flight are given the grace period to finish, then
the upstream session is ended with DELETE. With a circuit breaker (``--breaker``), while it
is open, requests are answered -32016 at once instead of being POSTed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

import aiohttp
from multidict import CIMultiDict

from mcpchaos.errors import CircuitOpenError, UpstreamError, UpstreamTimeoutError, UpstreamTooLargeError
from mcpchaos.events import notify
from mcpchaos.intercept.chain import InterceptorChain
from mcpchaos.intercept.context import Session
from mcpchaos.protocol import codes
from mcpchaos.protocol.http_headers import routing_headers
from mcpchaos.protocol.messages import Direction, Kind, Message, error_response, parse
from mcpchaos.protocol.ndjson import NdjsonFramer
from mcpchaos.protocol.sse import SseEvent
from mcpchaos.proxy.breaker import BreakerState, CircuitBreaker
from mcpchaos.proxy.http import JSON, SESSION_HEADER, SSE, HttpOptions
from mcpchaos.proxy.pump import Pump
from mcpchaos.transport.http import UpstreamClient, read_body, sse_frames
from mcpchaos.transport.pipes import open_sink, open_source
from mcpchaos.transport.stdio import NdjsonEndpoint, read_frames

log = logging.getLogger("mcpchaos.bridge")


class _HttpUpstream:
    """The pump's server endpoint: one POST per message, answers fed back to the pump."""

    def __init__(self, bridge: StdioToHttpBridge) -> None:
        self._bridge = bridge

    def send(self, message: Message) -> bool:
        if self._bridge.closing:
            return False
        self._bridge.spawn(self._bridge.post(message))
        return True

    def close(self) -> None:
        return None


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
        self.upstream = UpstreamClient(self.options.connect_timeout)
        self.closing = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._get_stream_opened = False
        self.pump: Pump | None = None
        self.breaker = CircuitBreaker(self.options.breaker) if self.options.breaker is not None else None
        if self.breaker is not None:
            self.breaker.on_transition(self._breaker_moved)

    def _breaker_moved(self, before: BreakerState, after: BreakerState) -> None:
        log.warning("circuit breaker toward %s: %s → %s", self.upstream_url, before.value, after.value)
        notify(self.chain.observers, "breaker_transition", before.value, after.value)

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run ``coroutine`` as a task owned by the bridge (cancelled when it stops)."""
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run(self) -> int:
        await self.upstream.start()
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
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._end_session()
            pump.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sink.drain(), 1.0)
            sink.close()
            source.close()
            await self.upstream.close()

    def _headers(self, message: Message | None, accept: str = f"{JSON}, {SSE}") -> CIMultiDict[str]:
        headers: CIMultiDict[str] = CIMultiDict({"Accept": accept})
        if message is not None:
            headers["Content-Type"] = JSON
            headers.update(routing_headers(message, self.session.tracker.protocol_version))
        elif self.session.tracker.protocol_version is not None:
            headers["MCP-Protocol-Version"] = self.session.tracker.protocol_version
        if self.upstream_session_id is not None:
            headers[SESSION_HEADER] = self.upstream_session_id
        return headers

    async def post(self, message: Message) -> None:
        """POST one message; feed whatever comes back to the pump."""
        assert self.pump is not None
        breaker = self.breaker
        loop = asyncio.get_running_loop()
        try:
            if breaker is not None and not breaker.allow(loop.time()):
                raise CircuitOpenError("the circuit breaker toward the upstream is open; failing fast")
            async with self.upstream.request(
                "POST", self.upstream_url, self._headers(message), message.wire, self.options.upstream_timeout
            ) as response:
                if breaker is not None:  # as on the HTTP proxy: a 5xx is the upstream failing
                    breaker.record(response.status < 500, loop.time())
                session_id = response.headers.get(SESSION_HEADER)
                if session_id and self.upstream_session_id is None:
                    self.upstream_session_id = session_id
                answered = await self._feed(response, message)
            if message.kind is Kind.REQUEST and not answered:
                # The upstream ended its answer without a response to this request (an error
                # body with id null, a stream cut short): the client gets an error, not silence.
                error = error_response(
                    message.id,
                    codes.UPSTREAM_INVALID_RESPONSE,
                    f"mcpchaos: the upstream answered HTTP {response.status} without a "
                    "response to this request",
                )
                self.pump.receive(Direction.SERVER_TO_CLIENT, error)
        except UpstreamError as exc:
            if breaker is not None and not isinstance(exc, UpstreamTooLargeError | CircuitOpenError):
                breaker.record(False, loop.time())
            self._fail(message, exc)
        if message.method == "notifications/initialized" and not self._get_stream_opened:
            self._get_stream_opened = True
            self.spawn(self._listen())

    async def _feed(self, response: aiohttp.ClientResponse, sent: Message | None) -> bool:
        """Feed the answer to the pump; True if it held a response to ``sent``."""
        assert self.pump is not None
        wanted = sent.id if sent is not None and sent.kind is Kind.REQUEST else None
        answered = False
        if response.content_type == SSE:
            async for frames in sse_frames(response, self.options.max_message_bytes):
                for frame in frames:
                    if isinstance(frame, SseEvent):
                        continue  # comments and priming events mean nothing on stdio
                    answered = answered or (
                        isinstance(frame, Message) and frame.kind.is_response and frame.id == wanted
                    )
                    self.pump.receive(Direction.SERVER_TO_CLIENT, frame)
            return answered
        body = await read_body(response, self.options.max_message_bytes, self.options.upstream_timeout)
        if response.status == 404 and self.upstream_session_id is not None:
            log.warning("the upstream no longer knows session %s (404)", self.upstream_session_id)
            self.upstream_session_id = None
        if body.strip() and response.content_type == JSON:
            item = parse(body)
            if isinstance(item, Message):
                self.pump.receive(Direction.SERVER_TO_CLIENT, item)
                return item.kind.is_response and item.id == wanted
        return False

    def _fail(self, message: Message, exc: UpstreamError) -> None:
        assert self.pump is not None
        if isinstance(exc, CircuitOpenError):  # failing fast is the breaker working, not news
            code = codes.CIRCUIT_OPEN
        else:
            log.warning("upstream request failed: %s", exc)
            timeout = isinstance(exc, UpstreamTimeoutError)
            code = codes.UPSTREAM_TIMEOUT if timeout else codes.UPSTREAM_UNAVAILABLE
        if message.kind is not Kind.REQUEST:
            return
        self.pump.receive(Direction.SERVER_TO_CLIENT, error_response(message.id, code, f"mcpchaos: {exc}"))

    async def _listen(self) -> None:
        """The standalone GET stream for unsolicited server messages (2025 era), if offered."""
        try:
            async with self.upstream.request(
                "GET", self.upstream_url, self._headers(None, SSE), None, self.options.upstream_timeout
            ) as response:
                if response.status != 200 or response.content_type != SSE:
                    log.debug("no GET stream from the upstream (HTTP %d)", response.status)
                    return
                await self._feed(response, None)
        except UpstreamError as exc:
            log.debug("GET stream ended: %s", exc)

    async def _end_session(self) -> None:
        if self.upstream_session_id is None:
            return
        with contextlib.suppress(UpstreamError, aiohttp.ClientError):
            async with self.upstream.request(
                "DELETE", self.upstream_url, self._headers(None), None, 2.0
            ) as response:
                log.info("ended upstream session %s (HTTP %d)", self.upstream_session_id, response.status)
