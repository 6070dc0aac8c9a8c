"""What load to drive: the loop kind, how many clients, the request mix, the protocol era."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from mcpchaos.config.model import StrictModel


class Operation(StrictModel):
    """One kind of request in the mix."""

    name: str
    """A label for the operation, e.g. ``"echo"``."""
    weight: float = Field(default=1.0, gt=0)
    """Relative weight in the seeded weighted choice."""
    method: str = "tools/call"
    """The JSON-RPC method."""
    params: dict[str, Any] = Field(default_factory=dict)
    """The request params, e.g. ``{"name": "echo", "arguments": {"text": "hi"}}``."""


def _default_mix() -> list[Operation]:
    return [Operation(name="echo", params={"name": "echo", "arguments": {"text": "hi"}})]


class LoadSettings(StrictModel):
    """How the load driver behaves."""

    mode: Literal["closed", "open"] = "closed"
    """``closed``: each client sends its next request when the last one ended; ``open``:
    requests arrive at a fixed rate whatever the answers (shows queueing collapse)."""
    clients: int = Field(default=8, ge=1)
    """Closed loop: concurrent clients, each its own MCP session. Open loop: the session pool size."""
    think_time_s: float = Field(default=0.0, ge=0)
    """Closed loop: pause between one client's requests."""
    rate_per_s: float = Field(default=50.0, gt=0)
    """Open loop: arrivals per second, evenly spaced, not waiting for answers."""
    max_in_flight: int = Field(default=500, ge=1)
    """Open loop: requests in flight at most; arrivals over it end as transport ``client_overload``."""
    deadline_s: float | None = Field(default=5.0, gt=0)
    """Per-request deadline; None = a client without timeouts (it can hang: the harness detects it)."""
    startup_s: float = Field(default=30.0, gt=0)
    """Deadline of a session's start (a stdio server's process start and the era's handshake),
    apart from the per-request one: start-up is not a call (npx/uvx servers take seconds)."""
    mix: list[Operation] = Field(default_factory=_default_mix, min_length=1)
    """The weighted request mix (seeded choice per client)."""
    protocol: Literal["2025-11-25", "2026-07-28"] = "2025-11-25"
    """The protocol era: sessions with an initialize handshake, or sessionless requests."""
    sdk_share: float = Field(default=0.0, ge=0, le=1)
    """Share of clients that use the official SDK client (realism, ~10x the CPU) instead of the fast one."""
    reinitialize: bool = True
    """On a lost session (HTTP 404, server process gone) re-initialize and go on; False = a fragile
    client that gives up (its later requests end as transport ``session_lost``)."""
    seed: int = 0
    """Seed of the operation choice (client ``i`` uses ``Random(seed + i)``)."""
