"""Restarting a crashed stdio server: the policy (whether, and after how long) and the
server-side endpoint that holds or refuses client messages while no server runs.

The stdio proxy owns the process lifecycle; this module only decides and buffers, so the
policy is tested without processes and the pump never learns that servers come and go.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Literal

from mcpchaos.protocol.messages import Kind, Message, MessageId
from mcpchaos.transport.pipes import ByteSink
from mcpchaos.transport.stdio import NdjsonEndpoint

log = logging.getLogger("mcpchaos.proxy")


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """When and how the stdio proxy starts a new server after the old one failed."""

    mode: Literal["never", "on-failure"] = "never"
    """``never``: the proxy exits with the server's status (the default); ``on-failure``: a
    server that exits non-zero or dies of a signal is started again."""
    backoff: float = 0.5
    """Seconds before the first restart; doubled for each one after it."""
    max_backoff: float = 10.0
    """The longest wait before a restart."""
    max_restarts: int = 5
    """Restarts in the proxy's lifetime; the failure after the last one ends the proxy."""
    during_restart: Literal["queue", "fail"] = "queue"
    """What a client message meets while no server runs: a bounded queue (delivered in order
    once the new server is initialized) or an immediate -32010 answer."""
    queue_limit: int = 100
    """Client messages held during a restart; beyond it requests are answered -32010."""
    replay_timeout: float = 10.0
    """How long the new server gets to answer the replayed ``initialize``."""

    def should_restart(self, status: int, restarts: int) -> bool:
        """Whether a server that ended with ``status`` is started again, ``restarts`` restarts
        having happened already. A clean exit (0) is the server's choice, not a failure."""
        return self.mode == "on-failure" and status != 0 and restarts < self.max_restarts

    def delay(self, attempt: int) -> float:
        """The wait before restart number ``attempt`` (1 for the first)."""
        return min(self.backoff * 2.0 ** max(attempt - 1, 0), self.max_backoff)


class UpstreamEndpoint:
    """The pump's server side across restarts.

    While a server runs, messages go straight to it. Between a crash and the end of the new
    server's initialize replay, client requests and notifications are queued (bounded) or
    refused; returning False from :meth:`send` makes the pump answer a request with -32010.
    """

    def __init__(self, policy: RestartPolicy) -> None:
        self._policy = policy
        self._live: NdjsonEndpoint | None = None
        self._queue: deque[Message] = deque()
        self._closed = False

    @property
    def live(self) -> bool:
        """True while a server is attached."""
        return self._live is not None

    @property
    def unavailable_reason(self) -> str:
        """What the pump tells the client when a request is refused here."""
        if self._live is None and not self._closed:
            return "mcpchaos: the upstream server is restarting"
        return "mcpchaos: the upstream server is gone"

    @property
    def sink(self) -> ByteSink | None:
        """The running server's stdin (for backpressure), None during a restart."""
        return self._live.sink if self._live is not None else None

    def attach(self, server: NdjsonEndpoint) -> None:
        """A server is ready: deliver what waited for it, in order, then write through."""
        while self._queue:
            message = self._queue.popleft()
            if not server.send(message):  # the new server died already: keep the rest queued
                self._queue.appendleft(message)
                return
        self._live = server

    def detach(self) -> None:
        """The server is gone and another will be started: hold or refuse from now on."""
        self._live = None

    def queued_ids(self) -> set[MessageId]:
        """Ids of the requests waiting in the queue (never sent to any server)."""
        return {message.id for message in self._queue if message.id is not None}

    def clear(self) -> int:
        """Forget the queue (the proxy gives up); returns how many messages it held."""
        count = len(self._queue)
        self._queue.clear()
        return count

    def send(self, message: Message) -> bool:
        if self._live is not None:
            return self._live.send(message)
        if self._closed:
            return False
        kind = message.kind
        if kind.is_response:
            # It answers a request of the server that died; no later server asked for it.
            log.info("dropped a client response during a server restart (id %r)", message.id)
            return True
        if self._policy.during_restart == "fail" or len(self._queue) >= self._policy.queue_limit:
            if kind is Kind.NOTIFICATION:
                why = "the restart queue is full" if self._policy.during_restart == "queue" else "fail"
                log.warning(
                    "dropped a client notification during a server restart (%s): %s", why, message.method
                )
            return False
        self._queue.append(message)
        return True

    def close(self) -> None:
        self._closed = True
        self._queue.clear()
        if self._live is not None:
            self._live.close()
