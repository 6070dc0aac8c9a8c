"""The demo server's deliberately bad behaviours for the 2026-07-28 features (``--fragile``).

Each one is what a real server gets wrong, made small, so a harness scenario can show its
verdict failing for a real reason (docs/harness.md names the scenario each mode is for):

- ``era-fallback`` (:func:`refuse_handshake`): the server speaks only 2026-07-28 and refuses
  ``initialize`` with -32022: a client sent back to the handshake era cannot reach it.
- ``accept-tampered-state`` (:class:`TrustingCodec`): the ``requestState`` it hands out is
  checked by nothing; any token a client brings back is taken as the last state it minted.
- ``per-process-state`` (in the server module): ``--request-state-key`` is ignored, the state is
  sealed with a key made per process, so no replica can finish a round this process began.
- ``sticky-subscription`` (:class:`FirstListenerBus`): it keeps the subscriber of the first
  ``subscriptions/listen`` and never the later ones: after a re-listen no update arrives.
- ``stuck-tasks`` (``DemoTasks(stuck=True)`` in :mod:`mcpchaos.demo.tasks`): a task never
  finishes and ``tasks/cancel`` is acknowledged without stopping it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.subscriptions import InMemorySubscriptionBus, ServerEvent
from mcp.shared.exceptions import MCPError

from mcpchaos.protocol import codes

MODERN_ONLY = ["2026-07-28"]


async def refuse_handshake(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Server middleware: ``initialize`` gets -32022 naming only 2026-07-28 (raised before
    ``call_next``, the only way the SDK lets middleware veto the handshake)."""
    if ctx.method == "initialize":
        requested = (ctx.params or {}).get("protocolVersion", "unknown")
        raise MCPError(
            codes.UNSUPPORTED_PROTOCOL_VERSION,
            f"Unsupported protocol version: {requested}",
            data={"supported": MODERN_ONLY, "requested": requested},
        )
    return await call_next(ctx)


class TrustingCodec:
    """A ``RequestStateCodec`` that protects nothing: ``unseal`` gives back the state of the
    token if it knows it, and otherwise the last state it sealed, so a tampered token passes
    (the SDK still checks the claims inside: the tool, its arguments, the expiry)."""

    def __init__(self) -> None:
        self._sealed: dict[str, bytes] = {}
        self._last = b"{}"

    def seal(self, payload: bytes) -> str:
        token = "plain." + base64.urlsafe_b64encode(payload).decode().rstrip("=")
        if len(self._sealed) > 1000:  # bounded: a long run must not grow it forever
            self._sealed.clear()
        self._sealed[token] = payload
        self._last = payload
        return token

    def unseal(self, token: str) -> bytes:
        return self._sealed.get(token, self._last)


class FirstListenerBus(InMemorySubscriptionBus):
    """Delivers events to the first listener that ever subscribed, and only to it: a server
    that holds one subscriber slot and does not hand it to the next ``subscriptions/listen``."""

    def __init__(self) -> None:
        super().__init__()
        self._first: Callable[[ServerEvent], None] | None = None

    def subscribe(self, listener: Callable[[ServerEvent], None]) -> Callable[[], None]:
        if self._first is None:
            self._first = listener
            return super().subscribe(listener)
        return lambda: None  # registered, as far as the caller can tell; never called
