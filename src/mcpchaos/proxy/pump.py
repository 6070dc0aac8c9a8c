"""The pump: carries messages through the chain and carries out the effects.

It is the only place in the proxy that sends, waits or closes. It is transport-neutral: a
transport gives it two :class:`Endpoint` objects (the client side and the server side) and
calls :meth:`Pump.receive` with every frame it reads. Delays and holds are event-loop timers,
not tasks or sleeps, so a delayed message never blocks another message or another session.

Several messages meant for the client at once (a fault's extra message with the message
itself, a duplicate, a release after the message that freed it) are sent as one *batch* to an
endpoint that takes batches (:class:`BatchingEndpoint`, an HTTP response): there the request's
answer would otherwise end the response before the rest, or a JSON answer hold only one of
them. What a batch could not deliver is logged as a warning, never dropped in silence.

Why one module of ≈ 540 lines: every effect's meaning (send, delay, hold, release, reply,
disconnect, exhaust, batch) and the answering of malformed frames act on the same per-session
state (timers, held messages, the tracker); this is the one place that sends, and it stays whole.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Protocol, cast

from mcpchaos.intercept.chain import InterceptorChain
from mcpchaos.intercept.context import Context, Session
from mcpchaos.intercept.effects import (
    Disconnect,
    Drop,
    Effect,
    Emit,
    EndStream,
    Exhaust,
    Forward,
    Hold,
    HttpReply,
    Release,
    Reply,
)
from mcpchaos.protocol import codes
from mcpchaos.protocol.messages import Direction, Invalid, Kind, Message, MessageId, error_response
from mcpchaos.protocol.ndjson import OversizedLine, recover_leading_id

log = logging.getLogger("mcpchaos.pump")

_LOGGED_BYTES = 200


class Endpoint(Protocol):
    """One side of a session as the pump sees it."""

    def send(self, message: Message) -> bool:
        """Queue ``message`` for this side without blocking; False if the side is closed."""
        ...

    def close(self) -> None:
        """Close this side (abruptly if need be); idempotent."""
        ...


class PumpObserver(Protocol):
    """Listens to what every pump does (the metrics). Called synchronously: keep it cheap."""

    def received(self, ctx: Context, message: Message, upstream: float | None) -> None:
        """A message arrived and is about to meet the chain; for a response, ``upstream`` is
        the seconds since its request was forwarded to this peer."""
        ...

    def sent(self, direction: Direction, message: Message, waited: float | None) -> None:
        """A message was written; for a response, ``waited`` is the seconds since its
        request arrived at the proxy (end to end, faults included)."""
        ...

    def invalid(self, direction: Direction) -> None:
        """A malformed or oversized frame arrived."""
        ...


class TransportEffects(Protocol):
    """An endpoint that can carry out transport-level effects (the HTTP client side)."""

    def transport_effect(self, effect: HttpReply | EndStream | Disconnect) -> bool:
        """Carry out ``effect``; False if this endpoint cannot (the pump falls back)."""
        ...


class BatchingEndpoint(Protocol):
    """A client endpoint that must know when several messages come at once (an HTTP response:
    its answer ends it, and a JSON body holds one message)."""

    def begin_batch(self) -> None:
        """Several messages follow now: carry them all (stream a JSON answer instead, if the
        client accepts that) and end only once :meth:`end_batch` is called."""
        ...

    def end_batch(self) -> None:
        """The batch is over: what comes next is refused once the answer went out."""
        ...

    @property
    def unavailable_reason(self) -> str:
        """Why a message was refused (for the log)."""
        ...


@dataclass(slots=True)
class PumpStats:
    """Counts kept by one pump (the metrics layer reads and aggregates them)."""

    received: int = 0
    forwarded: int = 0
    replied: int = 0
    dropped: int = 0
    emitted: int = 0
    invalid: int = 0
    failed_pending: int = 0
    internal_errors: int = 0


@dataclass(slots=True, eq=False)
class _Held:
    pump: Pump
    direction: Direction
    message: Message
    timer: asyncio.TimerHandle | None


MAX_OUTSTANDING_MEMORY_MB = 2048
"""Memory spikes outstanding at once, all sessions together; beyond it a spike is skipped."""
_outstanding_memory_mb = 0


class Pump:
    """Moves the messages of one session between its two endpoints."""

    def __init__(
        self,
        session: Session,
        chain: InterceptorChain,
        client: Endpoint,
        server: Endpoint,
        on_disconnect: Callable[[str], None] | None = None,
    ) -> None:
        self.session = session
        self.chain = chain
        self._endpoints = {Direction.CLIENT_TO_SERVER: server, Direction.SERVER_TO_CLIENT: client}
        self._timers: set[asyncio.TimerHandle] = set()
        self._on_disconnect = on_disconnect
        self._loop = asyncio.get_running_loop()
        self.stats = PumpStats()
        self.closed = False
        self._response_written: asyncio.Event | None = None
        """Made by the first :meth:`wait_answered` (an HTTP exchange's pump never waits)."""
        self.after_timer: Callable[[], None] | None = None
        """Told after a delayed or held message went out (an HTTP exchange re-checks whether
        anything more can happen)."""
        self._batch_sent: int | None = None
        """While a batch is being sent: how many of its messages the client side took."""
        self._batching: BatchingEndpoint | None = (
            cast(BatchingEndpoint, client) if hasattr(client, "begin_batch") else None
        )
        """The client side, when it takes batches (decided once: the endpoints never change)."""

    # ---- input -------------------------------------------------------------------------

    def receive(self, direction: Direction, item: Message | Invalid | OversizedLine) -> None:
        """Handle one frame read from the side that ``direction`` starts at."""
        if self.closed:
            return
        try:
            if type(item) is Message:
                self._receive_message(direction, item)
            elif isinstance(item, Invalid):
                self._receive_invalid(direction, item)
            elif isinstance(item, OversizedLine):
                self._receive_oversized(direction, item)
        except Exception:  # a bug here must cost one message, never the proxy
            self.stats.internal_errors += 1
            log.exception(
                "internal error handling a message %s (session %s)", direction.value, self.session.id
            )

    def _receive_message(self, direction: Direction, message: Message) -> None:
        self.stats.received += 1
        tracker = self.session.tracker
        now = self._loop.time()
        ordinal = self.session.next_ordinal(direction)
        kind = message.kind
        request_method: str | None = None
        request_tool: str | None = None
        if kind is Kind.REQUEST:
            tracker.note_message(direction, message)
            tracker.request_received(direction, message, now)
        elif kind is Kind.NOTIFICATION:
            tracker.note_message(direction, message)
        else:
            pending = tracker.request_for(direction, message.id)
            if pending is not None:
                request_method = pending.method
                request_tool = pending.tool
        recorder = self.chain.recorder
        if recorder is not None:
            recorder.read(self.session, direction, message, now, ordinal)
        ctx = Context(self.session, direction, ordinal, now, request_method, request_tool)
        observers = self.chain.observers
        if observers:
            upstream = tracker.answer_latency(direction, message.id, now) if kind.is_response else None
            for observer in observers:
                observer.received(ctx, message, upstream)
        effects = self.chain.run(message, ctx)
        if effects is None:
            self._send(direction, message)
        else:
            self._apply(direction, effects)

    def _receive_invalid(self, direction: Direction, invalid: Invalid) -> None:
        self.stats.invalid += 1
        for observer in self.chain.observers:
            observer.invalid(direction)
        log.warning(
            "invalid message %s (session %s): %s: %r",
            direction.value,
            self.session.id,
            invalid.reason,
            invalid.raw[:_LOGGED_BYTES],
        )
        if direction is Direction.CLIENT_TO_SERVER:
            if (
                not invalid.is_request
                and invalid.code != codes.PARSE_ERROR
                and self._answer_as_broken_response(direction, invalid.id, invalid.reason)
            ):
                return
            # JSON-RPC: answer with the request's id when it could be read, even one that is
            # not accepted (4.0), else null (always null for a parse error).
            answer_id = invalid.echo_id if invalid.is_request else None
            self._send(direction.reverse, error_response(answer_id, invalid.code, invalid.reason))
            self.stats.replied += 1
            return
        if invalid.is_request and invalid.echo_id is not None:
            self._send(direction.reverse, error_response(invalid.echo_id, invalid.code, invalid.reason))
            self.stats.replied += 1
            return
        recovered = invalid.id if invalid.id is not None else recover_leading_id(invalid.raw)
        self._answer_as_broken_response(direction, recovered, invalid.reason)
        # Anything else from the server is logged only: answering a server with id null
        # would only confuse it.

    def _receive_oversized(self, direction: Direction, line: OversizedLine) -> None:
        self.stats.invalid += 1
        for observer in self.chain.observers:
            observer.invalid(direction)
        reason = f"Invalid Request: message of {line.size} bytes exceeds the limit of {line.limit} bytes"
        log.warning("oversized message %s (session %s): %s", direction.value, self.session.id, reason)
        if direction is Direction.CLIENT_TO_SERVER:
            self._send(direction.reverse, error_response(line.id, codes.INVALID_REQUEST, reason))
            self.stats.replied += 1
        else:
            self._answer_as_broken_response(direction, line.id, reason)

    def _answer_as_broken_response(
        self, direction: Direction, answer_id: MessageId | None, reason: str
    ) -> bool:
        """If a broken message carries the id of a request pending in the other direction,
        it was meant as that request's response: answer the requester with an error instead,
        so the request is not left hanging. Returns True if it did."""
        if answer_id is None or self.session.tracker.request_for(direction, answer_id) is None:
            return False
        peer = "server" if direction is Direction.SERVER_TO_CLIENT else "client"
        error = error_response(
            answer_id,
            codes.UPSTREAM_INVALID_RESPONSE,
            f"mcpchaos: the {peer} sent an invalid response ({reason})",
        )
        self._send(direction, error)
        self.stats.replied += 1
        return True

    # ---- effects -----------------------------------------------------------------------

    def _apply(self, direction: Direction, effects: list[Effect]) -> None:
        batching = self._batching
        # One effect sends one message at most, unless it releases held ones: the common case
        # (a message forwarded) skips the count.
        if batching is None or (len(effects) == 1 and not isinstance(effects[0], Release)):
            self._apply_each(direction, effects)
            return
        expected = self._toward_client_now(direction, effects)
        if expected < 2:
            self._apply_each(direction, effects)
            return
        self._batch_sent = 0
        batching.begin_batch()
        try:
            self._apply_each(direction, effects)
        finally:
            sent = self._batch_sent or 0
            self._batch_sent = None
            batching.end_batch()
        if sent < expected:
            log.warning(
                "%d of %d messages meant for the client together were not delivered (session %s): %s",
                expected - sent,
                expected,
                self.session.id,
                batching.unavailable_reason,
            )

    def _toward_client_now(self, direction: Direction, effects: list[Effect]) -> int:
        """How many messages ``effects`` send to the client side at once (not on a timer)."""
        to_client = Direction.SERVER_TO_CLIENT
        count = 0
        for effect in effects:
            if isinstance(effect, Forward):
                count += direction is to_client and effect.delay <= 0
            elif isinstance(effect, Reply):
                count += direction is not to_client and effect.delay <= 0
            elif isinstance(effect, Emit):
                count += effect.toward is to_client and effect.delay <= 0
            elif isinstance(effect, Release):
                held = self.session.held.get(effect.key, ())
                count += sum(1 for entry in held if entry.pump is self and entry.direction is to_client)
        return count

    def _apply_each(self, direction: Direction, effects: list[Effect]) -> None:
        for effect in effects:
            match effect:
                case Forward(message, delay):
                    self._later(delay, direction, message)
                    self.stats.forwarded += 1
                case Reply(message, delay):
                    self._later(delay, direction.reverse, message, reply=True)
                    self.stats.replied += 1
                case Drop(reason):
                    self.stats.dropped += 1
                    log.debug(
                        "dropped a message %s (session %s): %s", direction.value, self.session.id, reason
                    )
                case Emit(message, toward, delay):
                    self._later(delay, toward, message)
                    self.stats.emitted += 1
                case Hold(message, key, max_hold):
                    self._hold(direction, message, key, max_hold)
                case Release(key):
                    self._release(key)
                case Disconnect(reason):
                    if not self._transport_effect(effect):
                        self.disconnect(reason)
                case HttpReply(status, _, message):
                    if not self._transport_effect(effect):
                        if message is not None:
                            self._send(direction.reverse, message)
                        else:
                            self.stats.dropped += 1
                    elif message is not None and self.chain.recorder is not None:
                        # Answered at the HTTP level: the client still saw this message.
                        self.chain.recorder.written(
                            self.session, direction.reverse, message, self._loop.time(), {"status": status}
                        )
                    self.stats.replied += 1
                case Exhaust():
                    self._exhaust(effect)
                case EndStream(reason):
                    self.stats.dropped += 1
                    if not self._transport_effect(effect):
                        log.debug("end-stream on a transport without streams: dropped (%s)", reason)

    def _transport_effect(self, effect: HttpReply | EndStream | Disconnect) -> bool:
        """Offer a transport-level effect to the client-side endpoint, if it takes them."""
        client = self._endpoints[Direction.SERVER_TO_CLIENT]
        handler = getattr(client, "transport_effect", None)
        return bool(handler(effect)) if handler is not None else False

    def _later(self, delay: float, direction: Direction, message: Message, reply: bool = False) -> None:
        if delay <= 0:
            self._send(direction, message)
            return
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(handle)
            if reply and self._cancelled(direction, message):
                # The proxy answers in the server's place, so it does what a server must: nothing
                # for a request the client cancelled meanwhile (notifications/cancelled).
                self.stats.dropped += 1
                log.debug("%r not sent: its request was cancelled (session %s)", message, self.session.id)
            else:
                self._send_guarded(direction, message)
            if self.after_timer is not None:
                self.after_timer()

        handle = self._loop.call_later(delay, fire)
        self._timers.add(handle)

    def _cancelled(self, direction: Direction, message: Message) -> bool:
        """A delayed reply whose request no longer waits: the client cancelled it."""
        return message.kind.is_response and self.session.tracker.request_for(direction, message.id) is None

    def _hold(self, direction: Direction, message: Message, key: str, max_hold: float) -> None:
        entry = _Held(self, direction, message, None)
        held = self.session.held
        held.setdefault(key, []).append(entry)

        def expire() -> None:
            entries = held.get(key)
            if entries is None or entry not in entries:
                return
            entries.remove(entry)
            if not entries:
                del held[key]
            if entry.timer is not None:
                self._timers.discard(entry.timer)
            self._send_guarded(entry.direction, entry.message)
            if self.after_timer is not None:
                self.after_timer()

        entry.timer = self._loop.call_later(max(max_hold, 0.0), expire)
        self._timers.add(entry.timer)

    def _release(self, key: str) -> None:
        for entry in self.session.held.pop(key, []):
            if entry.timer is not None:
                entry.timer.cancel()
                entry.pump._timers.discard(entry.timer)
            entry.pump._send_guarded(entry.direction, entry.message)
            if entry.pump is not self and entry.pump.after_timer is not None:
                entry.pump.after_timer()  # released from another exchange: that one re-checks

    def _exhaust(self, effect: Exhaust) -> None:
        global _outstanding_memory_mb
        if effect.kind == "memory":
            megabytes = int(effect.amount)
            if _outstanding_memory_mb + megabytes > MAX_OUTSTANDING_MEMORY_MB:
                log.warning(
                    "memory spike of %d MB skipped: %d MB already outstanding",
                    megabytes,
                    _outstanding_memory_mb,
                )
                return
            block = bytearray(megabytes * 1024 * 1024)
            for offset in range(0, len(block), 4096):  # touch every page so it is really resident
                block[offset] = 1
            _outstanding_memory_mb += megabytes

            def free() -> None:
                global _outstanding_memory_mb
                block.clear()
                _outstanding_memory_mb -= megabytes

            self._loop.call_later(max(effect.hold, 0.0), free)  # runs even if the pump closes
        elif effect.kind == "cpu":
            if effect.in_thread:
                self._loop.run_in_executor(None, _burn_cpu, effect.amount / 1000)
            else:
                _burn_cpu(effect.amount / 1000)

    @property
    def scheduled(self) -> int:
        """Delayed and held messages waiting on a timer right now."""
        return len(self._timers)

    @property
    def held_count(self) -> int:
        """Messages this pump parked with Hold effects, still held."""
        return sum(1 for entries in self.session.held.values() for entry in entries if entry.pump is self)

    # ---- output ------------------------------------------------------------------------

    def _send_guarded(self, direction: Direction, message: Message) -> None:
        """``_send`` from a timer callback: a failure costs this message, never the loop's
        other callbacks or the rest of a release."""
        try:
            self._send(direction, message)
        except Exception:
            self.stats.internal_errors += 1
            log.exception(
                "internal error sending a delayed message %s (session %s)", direction.value, self.session.id
            )

    def _send(self, direction: Direction, message: Message) -> None:
        """Write ``message`` to the side ``direction`` points at; if that side is gone and
        the message is a request, answer its sender with an error instead of silence."""
        if self.closed:
            return
        endpoint = self._endpoints[direction]
        observers = self.chain.observers
        waited = None
        if message.kind.is_response:
            request = self.session.tracker.response_sent(direction, message)
            if request is not None:
                waited = self._loop.time() - request.received_at
            if self._response_written is not None:
                self._response_written.set()
        elif observers and message.kind is Kind.REQUEST and message.id is not None:
            self.session.tracker.request_forwarded(direction, message.id, self._loop.time())
        if endpoint.send(message):
            if self._batch_sent is not None and direction is Direction.SERVER_TO_CLIENT:
                self._batch_sent += 1
            for observer in observers:
                observer.sent(direction, message, waited)
            recorder = self.chain.recorder
            if recorder is not None:
                recorder.written(self.session, direction, message, self._loop.time())
            return
        if message.kind is Kind.REQUEST and direction is Direction.CLIENT_TO_SERVER:
            # An endpoint may say why it refused (e.g. a server restart under way).
            reason = getattr(endpoint, "unavailable_reason", "mcpchaos: the upstream server is gone")
            error = error_response(message.id, codes.UPSTREAM_UNAVAILABLE, reason)
            self._send(Direction.SERVER_TO_CLIENT, error)
        else:
            log.debug("%s side closed; %r not delivered", direction.value, message)

    async def wait_answered(self, direction: Direction) -> None:
        """Return once no request travelling in ``direction`` is waiting for an answer
        (callers bound it with a timeout)."""
        tracker = self.session.tracker
        while tracker.pending_count(direction) > 0 and not self.closed:
            if self._response_written is None:
                self._response_written = asyncio.Event()
            self._response_written.clear()
            await self._response_written.wait()

    def fail_pending(
        self, direction: Direction, code: int, text: str, keep: Collection[MessageId] = ()
    ) -> int:
        """Answer every request still pending in ``direction`` with an error (its side is
        gone), except those in ``keep`` (not yet sent to the side that went away). Cancels
        delayed and held messages: they would only reach a dead peer.
        Returns how many requests were answered."""
        self._cancel_timers()
        answered = 0
        for pending in self.session.tracker.take_pending(direction, keep):
            error = error_response(pending.id, code, text, {"mcpchaos": {"method": pending.method}})
            if self._endpoints[direction.reverse].send(error):
                answered += 1
                if self.chain.recorder is not None:
                    self.chain.recorder.written(self.session, direction.reverse, error, self._loop.time())
        self.stats.failed_pending += answered
        return answered

    def disconnect(self, reason: str) -> None:
        """Close both sides (a Disconnect effect, or a transport giving up)."""
        log.info("disconnecting session %s: %s", self.session.id, reason)
        if self._on_disconnect is not None:
            self._on_disconnect(reason)
        else:
            self.close()

    def close(self) -> None:
        """Stop: cancel timers, forget held messages, close both endpoints. Idempotent."""
        if self.closed:
            return
        self._cancel_timers()
        self.closed = True
        for endpoint in self._endpoints.values():
            endpoint.close()

    def _cancel_timers(self) -> None:
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        held = self.session.held
        for key in list(held):
            held[key] = [entry for entry in held[key] if entry.pump is not self]
            if not held[key]:
                del held[key]


def _burn_cpu(seconds: float) -> None:
    """Spin for ``seconds`` of wall time (a CPU spike; capped by the fault configuration)."""
    import time

    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
