"""The client response writer of every HTTP shape: how the messages meant for one client HTTP
request become its HTTP response.

A :class:`ClientReply` is the pump's client endpoint for one request. Its transport states
are the :class:`~mcpchaos.transport.http_server.ResponseWriter`'s (waiting → whole response
sent | streaming → done); what it adds is the MCP choice of form, made once, when the first
message arrives, from the answer's *head*:

==========  ==================================================================================
head        the first message meant for the client
==========  ==================================================================================
``json``    the upstream answered JSON: that one message is the body, with its status/headers
``sse``     the upstream (or the bridge, for a client that accepts SSE) streams: an SSE stream
``none``    nothing decided yet (an injected answer before any upstream call): the request's
            own answer goes out as JSON; anything else opens a stream if the client accepts one
==========  ==================================================================================

The stream ends right after the request's own answer (on the next loop turn), or, while the
pump still has a message on a timer (:attr:`ClientReply.end_waits`), once the exchange has
settled, so a delayed message due after the answer still reaches the client. Messages the
pump sends together with the answer, as a *batch* (:meth:`begin_batch`: a fault's extra
message, a duplicated response), all go out before it ends; a batch meant for a JSON answer is
streamed instead when the client accepts SSE (a JSON body holds one message), with the
upstream's status and headers. Flow control: :attr:`paused` tells a source to stop reading
while the client is slow; :meth:`when_drained` resumes it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from mcpchaos.intercept.effects import Disconnect, EndStream, HttpReply
from mcpchaos.protocol import codes
from mcpchaos.protocol.messages import Message, MessageId, error_response
from mcpchaos.protocol.sse import encode_event
from mcpchaos.transport.http import block
from mcpchaos.transport.http_front import JSON_HEADER
from mcpchaos.transport.http_message import ResponseWriter, State

log = logging.getLogger("mcpchaos.http")

SSE_HEADERS = b"Content-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
SESSION_GONE = "Session not found (ended by the proxy: initialize again)"
"""The error message of a request whose session the proxy evicted or expired."""

HEAD_NONE, HEAD_JSON, HEAD_SSE = "none", "json", "sse"
LONG_LIVED = frozenset({"subscriptions/listen"})
"""Requests whose stream stays open until either side ends it: no idle deadline."""


class ClientReply:
    """One client request's response, fed message by message."""

    __slots__ = (
        "_answered",
        "_batch",
        "_done_callback",
        "_ending",
        "_idle_handle",
        "_idle_limit",
        "_last_activity",
        "_loop",
        "accepts_sse",
        "end_waits",
        "extra_headers",
        "head_headers",
        "head_kind",
        "head_status",
        "injected_status",
        "on_failed",
        "request_id",
        "writer",
    )

    def __init__(
        self,
        writer: ResponseWriter,
        request_id: MessageId | None,
        accepts_sse: bool,
        on_done: Callable[[], None],
    ) -> None:
        self.writer = writer
        self.request_id = request_id
        """The id of the client's request (None for a notification, a response, a GET)."""
        self.accepts_sse = accepts_sse
        self.head_kind = HEAD_NONE
        self.head_status = 200
        self.head_headers = b""
        """The upstream's header lines: sent with the answer its head announced."""
        self.injected_status: int | None = None
        """The status of an HttpReply effect that answered the request (a fault), if any."""
        self.extra_headers = b""
        """Header lines every response to this request carries (the bridge's session id)."""
        self.on_failed: Callable[[Message, int], None] | None = None
        """Told of each error the proxy answers on its own (:meth:`fail`: the upstream is gone,
        timed out, sent nonsense; the session is gone), which no pump writes: the history
        records it as the request's response."""
        self.end_waits: Callable[[], bool] | None = None
        """True while the pump still has a message on a timer (a delay, a hold) that may be for
        this response: then the answer does not end the stream, the exchange does once it
        settled (a delayed notification due after the answer reaches the client, late, as on
        stdio, instead of being cancelled in silence)."""
        self._done_callback: Callable[[], None] | None = on_done
        self._loop = asyncio.get_running_loop()
        self._ending = False
        self._batch = False
        self._answered = False
        self._idle_limit = 0.0
        self._idle_handle: asyncio.TimerHandle | None = None
        self._last_activity = 0.0
        writer.on_lost(self._finished)

    # ---- the answer's head ---------------------------------------------------------------

    def set_head(self, kind: str, status: int, headers: bytes) -> None:
        self.head_kind = kind
        self.head_status = status
        self.head_headers = headers

    # ---- the pump's endpoint ---------------------------------------------------------------

    def send(self, message: Message) -> bool:
        """Deliver ``message`` to the client; False once the response is over."""
        writer = self.writer
        if not writer.open or (self._ending and not self._batch):
            return False
        self._last_activity = self._loop.time()
        answers = self.request_id is not None and message.id == self.request_id and message.kind.is_response
        if writer.state is State.WAITING:
            kind = self.head_kind
            whole = kind == HEAD_JSON or (answers and kind == HEAD_NONE)
            if whole and not (self._batch and self.accepts_sse):
                if kind == HEAD_JSON:
                    headers = self.head_headers + self.extra_headers + JSON_HEADER
                    writer.send(self.head_status, headers, message.wire)
                else:
                    writer.send(200, self.extra_headers + JSON_HEADER, message.wire)
                self._finished()
                return True
            if kind == HEAD_NONE and not self.accepts_sse:
                if not self._batch:  # the pump reports a batch's refusals in one line
                    log.warning("not delivered: %r: %s", message, self.unavailable_reason)
                return False
            self._start()
        writer.write(encode_event(message.wire, event_id=message.event_id))
        if answers and not self._ending:
            if self.end_waits is not None and self.end_waits():
                self._answered = True  # the exchange ends the stream once nothing more is due
            else:
                self._ending = True
                self._loop.call_soon(self.end)
        return True

    def begin_batch(self) -> None:
        """Several messages follow at once (see the module's docstring)."""
        self._batch = True

    def end_batch(self) -> None:
        self._batch = False

    @property
    def unavailable_reason(self) -> str:
        """Why this response takes no more messages (for the log)."""
        state = self.writer.state
        if state is State.ABORTED:
            return "the client's connection is gone"
        if not self.accepts_sse:
            return "the client's response is JSON, which holds one message (its Accept has no SSE)"
        return "the client's response was over"

    def close(self) -> None:
        return None

    def transport_effect(self, effect: HttpReply | EndStream | Disconnect) -> bool:
        writer = self.writer
        if not writer.open:
            return False
        if isinstance(effect, HttpReply):
            if writer.state is State.WAITING:
                self.injected_status = effect.status
                headers = block(effect.headers)
                if effect.message is None:
                    writer.send(effect.status, self.extra_headers + headers)
                else:
                    if not any(name.lower() == "content-type" for name, _ in effect.headers):
                        headers += JSON_HEADER
                    writer.send(effect.status, self.extra_headers + headers, effect.message.wire)
                self._finished()
            elif effect.message is not None:  # the stream started: a status can no longer be sent
                self.send(effect.message)
        elif isinstance(effect, EndStream):
            self.end()
        else:
            log.info("aborting the client connection: %s", effect.reason)
            writer.abort()
            self._finished()
        return True

    # ---- raw bytes and endings --------------------------------------------------------------

    def raw_event(self, data: bytes) -> None:
        """An SSE event with no JSON-RPC message (comment, ping, priming event): relayed."""
        if not self.writer.open or self._ending:
            return
        self._last_activity = self._loop.time()
        if self.writer.state is State.WAITING:
            self._start()
        self.writer.write(data)

    def open_stream(self) -> None:
        """Send the stream's head now, before any event (a GET stream: the client learns at
        once that it is open, as it would directly)."""
        if self.writer.open and self.writer.state is State.WAITING:
            self._start()

    def _start(self) -> None:
        if self.head_kind == HEAD_NONE:
            self.writer.start(200, self.extra_headers + SSE_HEADERS)
        else:  # an upstream's head (a JSON one when a batch is streamed instead): its status, headers
            self.writer.start(self.head_status, self.head_headers + self.extra_headers + SSE_HEADERS)

    def end(self) -> None:
        """End the response: a stream is closed (started first if need be)."""
        writer = self.writer
        if writer.state is State.WAITING:
            self._start()
        if writer.state is State.STREAMING:
            writer.end()
        self._finished()

    def send_whole(self, status: int, headers: bytes, body: bytes) -> None:
        """Relay an upstream response that is not JSON-RPC (202, an empty body, a 4xx page)."""
        if self.writer.state is State.WAITING:
            self.writer.send(status, headers, body)
        self._finished()

    def fail(self, status: int, code: int, text: str) -> None:
        """Answer the request with an error: a whole response if nothing was sent, else an
        event on the stream (and the stream ends). A stream that carried the answer already (and
        waits for a late message) just ends: a request has one answer."""
        if self._answered:
            self.end()
            return
        error = error_response(self.request_id, code, text)
        if self.on_failed is not None and self.request_id is not None and self.writer.open:
            self.on_failed(error, status)
        writer = self.writer
        if writer.state is State.WAITING:
            writer.send(status, self.extra_headers + JSON_HEADER, error.wire)
        elif writer.state is State.STREAMING:
            if self.request_id is not None:
                writer.write(encode_event(error.wire))
            writer.end()
        self._finished()

    def session_gone(self) -> None:
        self.fail(404, codes.INVALID_REQUEST, SESSION_GONE)

    # ---- the idle deadline -------------------------------------------------------------------

    def arm_idle(self, limit: float) -> None:
        """Give up (504, or an error event) after ``limit`` seconds with nothing happening.
        One timer per request, re-armed lazily: activity only moves a timestamp."""
        self._idle_limit = limit
        self._last_activity = self._loop.time()
        self._idle_handle = self._loop.call_later(limit, self._idle_check)

    def _idle_check(self) -> None:
        self._idle_handle = None
        if not self.writer.open:
            return
        quiet = self._loop.time() - self._last_activity
        if quiet < self._idle_limit:
            self._idle_handle = self._loop.call_later(self._idle_limit - quiet, self._idle_check)
            return
        text = f"mcpchaos: no answer within the proxy's request timeout ({self._idle_limit:g}s)"
        self.fail(504, codes.UPSTREAM_TIMEOUT, text)

    # ---- flow control ---------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self.writer.paused

    def when_drained(self, callback: Callable[[], None]) -> None:
        self.writer.when_drained(callback)

    @property
    def done(self) -> bool:
        return self._done_callback is None

    def _finished(self) -> None:
        if self._idle_handle is not None:
            self._idle_handle.cancel()
            self._idle_handle = None
        callback, self._done_callback = self._done_callback, None
        if callback is not None:
            callback()


__all__ = ["HEAD_JSON", "HEAD_NONE", "HEAD_SSE", "LONG_LIVED", "SESSION_GONE", "SSE_HEADERS", "ClientReply"]
