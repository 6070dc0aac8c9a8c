"""What an interceptor knows about a message besides the message itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mcpchaos.protocol.messages import Direction
from mcpchaos.protocol.tracker import SessionTracker


@dataclass(slots=True)
class Session:
    """One client session through the proxy (one stdio child, or one HTTP session)."""

    id: str
    """Stable identifier for logs (e.g. ``stdio-1`` or the Mcp-Session-Id)."""
    ordinal: int
    """1 for the first session the proxy saw, 2 for the next...: seeds per-session randomness."""
    transport: str
    """``stdio`` or ``http``: faults whose form depends on the transport read it."""
    tracker: SessionTracker = field(default_factory=SessionTracker)
    ordinals: dict[Direction, int] = field(
        default_factory=lambda: {Direction.CLIENT_TO_SERVER: 0, Direction.SERVER_TO_CLIENT: 0}
    )
    """Messages seen so far per direction (the next message's ordinal)."""

    held: dict[str, list[Any]] = field(default_factory=dict)
    """Messages parked by Hold effects, by key: session-wide, so a Release from any of the
    session's exchanges (HTTP) frees them."""
    attributes: dict[str, Any] = field(default_factory=dict)
    """Per-session state kept by interceptors (counters, pending reorder keys)."""

    def next_ordinal(self, direction: Direction) -> int:
        """The ordinal of a newly received message in ``direction``; counts it."""
        ordinal = self.ordinals[direction]
        self.ordinals[direction] = ordinal + 1
        return ordinal


@dataclass(slots=True)
class Context:
    """Where and when a message was seen. Read-only by contract (not ``frozen``: a frozen
    dataclass costs ≈ 1.5 µs more to build, and the pump builds one per message)."""

    session: Session
    direction: Direction
    ordinal: int
    """0 for the first message of this session in this direction, then 1, 2..."""
    received_at: float
    """Monotonic time (seconds, the event loop's clock) the message arrived."""
    request_method: str | None = None
    """For a response: the method of the request it answers, when that request was seen."""
    request_tool: str | None = None
    """For a response to ``tools/call``: the tool that was called."""
