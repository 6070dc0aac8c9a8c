"""The fast Streamable HTTP client: raw aiohttp + orjson, ~10x cheaper than the SDK client.

All fast clients share one ``aiohttp.ClientSession`` (one connection pool). Each client is
one MCP session (2025-11-25: ``initialize`` then ``Mcp-Session-Id`` on every request) or a
sessionless 2026-07-28 client. Every request ends in exactly one recorder outcome; nothing
here raises past :meth:`FastHttpClient.call` except cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from mcpchaos.deadlines import Deadlines
from mcpchaos.harness.load.recorder import Recorder, Ticket
from mcpchaos.harness.load.wire import PreparedOp, initialize_bytes, request_bytes
from mcpchaos.protocol.client_wire import (
    INITIALIZED,
    POST_HEADERS,
    SESSION_ERA,
    SESSIONLESS_ERA,
    is_response,
    loads,
    method_not_found,
)
from mcpchaos.protocol.sse import NEED_DATA, SseEvent, SseParser

_DRAIN_S = 0.25
"""After the answer, how long we keep reading its SSE stream to catch duplicated responses
(a server closes the stream right after the answer, so this is normally instant)."""


class RequestFailedError(Exception):
    """A request ended without a JSON-RPC answer; ``kind`` is the outcome's transport kind."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class HandshakeRejectedError(Exception):
    """The server answered the handshake with a JSON-RPC error."""

    def __init__(self, payload: dict[str, Any]) -> None:
        error = payload.get("error")
        if isinstance(error, dict):
            super().__init__(f"error {error.get('code')}: {error.get('message')}")
        else:
            super().__init__(f"error: {error}")
        self.payload = payload


def transport_kind(error: BaseException) -> str:
    """The transport outcome kind of an aiohttp / OS exception."""
    if isinstance(error, aiohttp.ClientConnectorError):
        return "refused" if isinstance(error.os_error, ConnectionRefusedError) else "connect_error"
    if isinstance(error, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | ConnectionError):
        return "reset"
    if isinstance(error, aiohttp.ClientOSError):
        return "reset"
    return type(error).__name__


class FastHttpClient:
    """One MCP session over Streamable HTTP on a shared aiohttp pool."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        url: str,
        headers: Mapping[str, str],
        protocol: str,
        reinitialize: bool,
        deadline_s: float | None,
        recorder: Recorder,
        on_session: Callable[[], None],
        deadlines: Deadlines | None = None,
        startup_s: float = 30.0,
    ) -> None:
        """``startup_s``: the deadline of the era's handshake, apart from a call's."""
        self._http = http
        self._url = url
        self._base_headers = {**POST_HEADERS, **headers}
        self._headers = self._base_headers
        self._protocol = protocol
        self._reinitialize = reinitialize
        self._deadline_s = deadline_s
        self._startup_s = startup_s
        # Shared by a driver's clients (one timer for all their requests); None: no deadline.
        self._deadlines = deadlines if deadlines is not None or deadline_s is None else Deadlines(deadline_s)
        self._recorder = recorder
        self._on_session = on_session
        self._next_id = 0
        self._ready = False
        self._gave_up = False
        self._lock = asyncio.Lock()

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # -- session -----------------------------------------------------------------

    async def open(self) -> None:
        """Do the handshake now if the session is not open (raises on failure)."""
        async with asyncio.timeout(self._startup_s):
            await self._ensure_session()

    def drop_session(self) -> None:
        """Forget the session (no DELETE: as if the client crashed); the next request re-initializes."""
        self._ready = False

    async def close(self) -> None:
        self._ready = False

    async def _ensure_session(self) -> None:
        if self._ready:
            return
        async with self._lock:
            if self._ready:
                return
            if self._gave_up:
                raise RequestFailedError("session_lost")
            if self._protocol == SESSIONLESS_ERA:
                self._headers = {**self._base_headers, "MCP-Protocol-Version": SESSIONLESS_ERA}
            else:
                await self._initialize()
            self._ready = True
            self._on_session()

    async def _initialize(self) -> None:
        """``initialize`` then ``notifications/initialized``, reported to the recorder as a
        handshake (not a request): written unless the connection was refused."""
        request_id = self._new_id()
        initialize_done = opened = False
        written = True
        rejected: dict[str, Any] | None = None
        try:
            async with self._http.post(
                self._url, data=initialize_bytes(request_id), headers=self._base_headers
            ) as response:
                session_id = response.headers.get("Mcp-Session-Id")
                answer = await self._answer(response, request_id, None)
            initialize_done = True
            if "error" in answer:
                rejected = answer
                raise HandshakeRejectedError(answer)
            headers = {**self._base_headers, "MCP-Protocol-Version": SESSION_ERA}
            if session_id is not None:  # a stateless server gives none
                headers["Mcp-Session-Id"] = session_id
            async with self._http.post(self._url, data=INITIALIZED, headers=headers) as response:
                await response.read()
                if response.status >= 400:
                    raise RequestFailedError(f"http_{response.status}")
            self._headers = headers
            opened = True
        except aiohttp.ClientConnectorError:
            written = initialize_done  # refused before the initialize went out
            raise
        finally:
            self._recorder.handshake(sent=written, opened=opened, answer=rejected)

    def _session_lost(self) -> None:
        self._ready = False
        if not self._reinitialize:
            self._gave_up = True

    # -- requests ----------------------------------------------------------------

    async def call(self, op: PreparedOp, ticket: Ticket) -> None:
        """Send one request and record its single outcome."""
        recorder = self._recorder
        deadlines = self._deadlines
        deadline = None
        try:
            if not self._ready:  # start-up has its own deadline, not the call's
                try:
                    async with asyncio.timeout(self._startup_s):
                        await self._ensure_session()
                except TimeoutError:
                    raise RequestFailedError("startup_timeout") from None
            deadline = deadlines.enter() if deadlines is not None else None
            await self._ensure_session()
            request_id = self._new_id()
            headers = {**self._headers, **op.headers} if op.headers else self._headers
            ticket.sent = True
            async with self._http.post(
                self._url, data=request_bytes(request_id, op), headers=headers
            ) as response:
                answer = await self._answer(response, request_id, ticket)
            if not ticket.done:  # an SSE answer was recorded as it arrived
                recorder.response(ticket, answer)
        except asyncio.CancelledError:
            if deadline is None or not deadline.cancelled_it():
                raise
            recorder.deadline(ticket)
        except TimeoutError:  # not ours (the pool has no timeouts), but a timeout all the same
            recorder.deadline(ticket)
        except RequestFailedError as failure:
            recorder.transport(ticket, failure.kind)
        except HandshakeRejectedError as refused:
            recorder.transport(ticket, "handshake_rejected", str(refused))  # the call never went
        except aiohttp.ClientConnectorError as error:
            ticket.sent = False  # never connected: nothing reached the server
            recorder.transport(ticket, transport_kind(error))
        except (aiohttp.ClientError, OSError) as error:
            recorder.transport(ticket, transport_kind(error))
        finally:
            if deadlines is not None and deadline is not None:
                deadlines.leave(deadline)

    async def _answer(
        self, response: aiohttp.ClientResponse, request_id: int, ticket: Ticket | None
    ) -> dict[str, Any]:
        """The JSON-RPC response to ``request_id`` carried by ``response`` (JSON or SSE)."""
        status = response.status
        if status == 404:
            # Unknown or expired session: the answer is the status, whatever the body says.
            self._session_lost()
            raise RequestFailedError("http_404")
        content_type = response.headers.get("Content-Type", "")
        if status == 200 and content_type.startswith("text/event-stream"):
            return await self._read_stream(response, request_id, ticket)
        body = await response.read()
        message = loads(body) if body else None
        if message is None or not is_response(message):
            raise RequestFailedError("invalid_json" if status == 200 and body else f"http_{status}")
        if status != 200 and "error" not in message:
            raise RequestFailedError(f"http_{status}")
        answer_id = message.get("id")
        if answer_id != request_id and not (answer_id is None and "error" in message):
            self._recorder.unexpected()
            raise RequestFailedError("unexpected_response")
        return message

    async def _read_stream(
        self, response: aiohttp.ClientResponse, request_id: int, ticket: Ticket | None
    ) -> dict[str, Any]:
        parser = SseParser()
        answer: dict[str, Any] | None = None
        async for chunk in response.content.iter_any():
            parser.feed(chunk)
            while (event := parser.next_event()) is not NEED_DATA:
                if not isinstance(event, SseEvent) or not event.is_message or event.data is None:
                    continue
                message = loads(event.data)
                if message is None:
                    continue  # a corrupted event: the request may still get its answer
                if "method" in message:
                    if "id" in message:
                        await self._refuse(message["id"])
                    continue  # notifications (progress, logs) are skipped
                if message.get("id") != request_id:
                    self._recorder.unexpected()
                elif answer is None:
                    answer = message
                elif ticket is not None:
                    self._recorder.duplicated(ticket)
            if answer is not None:
                if ticket is None:
                    return answer
                # Record now (the latency is the answer's), then look for duplicates briefly.
                self._recorder.response(ticket, answer)
                with contextlib.suppress(TimeoutError, aiohttp.ClientError):
                    async with asyncio.timeout(_DRAIN_S):
                        await self._drain(parser, response, request_id, ticket)
                return answer
        raise RequestFailedError("stream_ended")

    async def _drain(
        self, parser: SseParser, response: aiohttp.ClientResponse, request_id: int, ticket: Ticket
    ) -> None:
        async for chunk in response.content.iter_any():
            parser.feed(chunk)
            while (event := parser.next_event()) is not NEED_DATA:
                if isinstance(event, SseEvent) and event.is_message and event.data is not None:
                    message = loads(event.data)
                    if message is not None and is_response(message):
                        if message.get("id") == request_id:
                            self._recorder.duplicated(ticket)
                        else:
                            self._recorder.unexpected()

    async def _refuse(self, request_id: Any) -> None:
        """Answer a server-to-client request with -32601 so the server does not wait for us."""
        with contextlib.suppress(aiohttp.ClientError, OSError):
            async with self._http.post(
                self._url, data=method_not_found(request_id), headers=self._headers
            ) as response:
                await response.read()
