"""One stdio server process behind the HTTP→stdio bridge: its pump, and the client HTTP
streams waiting on it, with each server message routed to the stream it belongs to (by the
response's id, the progress token, the ``subscriptions/listen`` id, else the GET stream or the
newest open request). For sessionless clients the ids and tokens are rewritten on the way in
and restored on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from typing import Any

from mcpchaos.intercept.chain import InterceptorChain
from mcpchaos.intercept.context import Session
from mcpchaos.intercept.effects import Disconnect, EndStream, HttpReply
from mcpchaos.protocol import codes
from mcpchaos.protocol.messages import Direction, Kind, Message, MessageId, error_response
from mcpchaos.protocol.ndjson import NdjsonFramer
from mcpchaos.proxy import sessions as table
from mcpchaos.proxy.http_reply import ClientReply
from mcpchaos.proxy.pump import Pump
from mcpchaos.transport.http_message import State
from mcpchaos.transport.stdio import ChildProcess, NdjsonEndpoint, exit_status, read_frames

log = logging.getLogger("mcpchaos.bridge")

SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId"
"""The ``_meta`` key tagging each notification of a ``subscriptions/listen`` stream."""


class Stream:
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

    def __init__(self, upstream: StdioUpstream) -> None:
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
            return False
        return stream.reply.send(upstream.restore(message, stream))

    def close(self) -> None:
        return None

    # A batch (several messages at once, see the pump) is the stream of the message being handled.

    def begin_batch(self) -> None:
        stream = self._upstream.current
        if stream is not None:
            stream.reply.begin_batch()

    def end_batch(self) -> None:
        stream = self._upstream.current
        if stream is not None:
            stream.reply.end_batch()

    @property
    def unavailable_reason(self) -> str:
        stream = self._upstream.current
        return stream.reply.unavailable_reason if stream is not None else "no client stream is open"

    def transport_effect(self, effect: HttpReply | EndStream | Disconnect) -> bool:
        stream = self._upstream.current
        return stream.reply.transport_effect(effect) if stream is not None else False


class StdioUpstream:
    """One server process, its pump, and the client streams waiting on it."""

    def __init__(
        self, session: Session, child: ChildProcess, chain: InterceptorChain, rewrite_ids: bool
    ) -> None:
        self.session = session
        self.child = child
        self.rewrite_ids = rewrite_ids
        self.streams_by_id: dict[MessageId, Stream] = {}
        self.streams_by_token: dict[Any, Stream] = {}
        self.open_streams: list[Stream] = []
        self.get_stream: Stream | None = None
        self.current: Stream | None = None
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

    def all_streams(self) -> list[Stream]:
        return list(self.open_streams) + ([self.get_stream] if self.get_stream is not None else [])

    # ---- routing ----------------------------------------------------------------------------

    def route(self, message: Message) -> Stream | None:
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

    def restore(self, message: Message, stream: Stream) -> Message:
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

    def open(self, reply: ClientReply, message: Message | None) -> tuple[Stream, Message | None]:
        """Register a stream for ``message`` (None: the GET stream); returns the message as
        it travels upstream (with a proxy-unique id and token when rewriting)."""
        original_id = message.id if message is not None and message.kind is Kind.REQUEST else None
        stream = Stream(reply, original_id)
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

    def _rewrite_token(self, message: Message, stream: Stream, unique: int) -> Message:
        token = _progress_token(message)
        if token is None:
            return message
        new_token = f"mcpchaos-{unique}"
        stream.token_map[new_token] = token
        params = dict(message.params)
        params["_meta"] = {**params["_meta"], "progressToken": new_token}
        return message.replace(params=params)

    def close_stream(self, stream: Stream) -> None:
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
