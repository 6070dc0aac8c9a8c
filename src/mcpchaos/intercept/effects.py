"""What an interceptor asks the pump to do with a message. Data only; the pump acts.

``Disconnect`` closes connections abruptly (on HTTP: the client's TCP connection, as a
crash would); ``HttpReply`` and ``EndStream`` are transport-level and fall back to their
stdio meaning where HTTP has none.

An interceptor returns a sequence of effects (or None, meaning "forward unchanged"). The pump
applies them in order. Delays are seconds relative to when the message was received.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mcpchaos.protocol.messages import Direction, Message


@dataclass(frozen=True, slots=True)
class Forward:
    """Send ``message`` (the original or a changed copy) on in its direction, after ``delay``."""

    message: Message
    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class Reply:
    """Answer the sender instead of forwarding (e.g. an injected JSON-RPC error)."""

    message: Message
    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class Drop:
    """Do not forward; nothing answers. ``reason`` goes to the debug log."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class Emit:
    """Send an extra message ``toward`` a side (the message being handled is unaffected)."""

    message: Message
    toward: Direction
    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class Hold:
    """Park ``message`` under ``key`` until a :class:`Release` of that key, or at most
    ``max_hold`` seconds, whichever comes first; then forward it."""

    message: Message
    key: str
    max_hold: float


@dataclass(frozen=True, slots=True)
class Release:
    """Forward every message held under ``key`` now, in the order they were held."""

    key: str


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Close the session's connections (both sides), as a dying peer would."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class HttpReply:
    """Answer the sender at the HTTP level: ``status`` with ``headers`` (e.g. 429 with
    Retry-After, 401 with WWW-Authenticate, 503) and ``message`` as a JSON body, if any.
    On stdio, where there is no status, it becomes ``Reply(message)`` (or a drop)."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    message: Message | None = None


@dataclass(frozen=True, slots=True)
class EndStream:
    """End the client's open HTTP response now (an SSE stream cut midway, cleanly at the
    HTTP level). The message being handled is dropped. On stdio it is a plain drop."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class Exhaust:
    """Spend resources in the proxy: ``memory`` allocates and touches ``amount`` MB for
    ``hold`` seconds; ``cpu`` burns ``amount`` ms of CPU, stalling the event loop
    (``in_thread`` False: every session waits, as behind a stalled server) or a worker thread.
    The message being handled is unaffected (pair it with a Forward)."""

    kind: str
    amount: float
    hold: float = 0.0
    in_thread: bool = False


Effect = Forward | Reply | Drop | Emit | Hold | Release | Disconnect | HttpReply | EndStream | Exhaust
Effects = Sequence[Effect]
