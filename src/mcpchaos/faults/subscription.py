"""subscription: faults on ``subscriptions/listen`` streams (2026-07-28), server → client.

A listen request's answer is one long-lived stream: first ``notifications/subscriptions/
acknowledged``, then the events, each tagged with ``_meta["io.modelcontextprotocol/
subscriptionId"]`` (the listen request's id). There is no resumption: a client whose stream
is lost must listen again and refetch. Modes (``subscription.modes``, one drawn among those
that fit the frame; frames are drawn for only when ``match.message_classes`` names
``server_notification``):

- ``cut_stream``: the stream ends abruptly at this frame. On HTTP the listen response ends
  (the same cut a dying server makes); on stdio, where there is no stream to end, the listen
  request is answered with an error (-32603), which ends it as abruptly. The frame is lost.
- ``starve``: the frame is swallowed and the stream stays open: nothing, not even a
  keepalive, reaches the client (a correct client notices with its own liveness bound).
- ``unknown_id``: the frame's subscription id is replaced by one no listen request used (a
  correct client ignores it; the history checker flags it).
- ``drop_ack``: the acknowledgement is swallowed (a correct client bounds its wait for it).

Delaying, duplicating and reordering events are the ``delay``, ``duplicate`` and ``reorder``
kinds targeted at ``server_notification`` (no second mechanism here).
"""

from __future__ import annotations

import random
from typing import Any, Final

from mcpchaos.config.faults import FaultSettings, FaultType
from mcpchaos.config.feature_faults import SubscriptionMode
from mcpchaos.faults.base import Decision, Fault, register
from mcpchaos.history.rules import SUBSCRIPTION_ID_META_KEY
from mcpchaos.intercept.context import Context
from mcpchaos.intercept.effects import Drop, Effect, Emit, EndStream, Forward
from mcpchaos.protocol import codes
from mcpchaos.protocol.messages import Direction, Kind, Message, error_response

ACKNOWLEDGED: Final = "notifications/subscriptions/acknowledged"


def subscription_id(message: Message) -> Any:
    """The listen stream a frame belongs to (None for a frame outside any stream)."""
    params = message.params
    meta = params.get("_meta") if isinstance(params, dict) else None
    return meta.get(SUBSCRIPTION_ID_META_KEY) if isinstance(meta, dict) else None


def _fits(mode: SubscriptionMode, message: Message) -> bool:
    is_ack = message.method == ACKNOWLEDGED
    if mode is SubscriptionMode.DROP_ACK:
        return is_ack
    return not is_ack


def _fitting(message: Message, settings: FaultSettings) -> list[SubscriptionMode]:
    return [mode for mode in settings.subscription.modes if _fits(mode, message)]


def applies(message: Message, ctx: Context, settings: FaultSettings) -> bool:
    return (
        message.kind is Kind.NOTIFICATION
        and ctx.direction is Direction.SERVER_TO_CLIENT
        and subscription_id(message) is not None
        and bool(_fitting(message, settings))
    )


def decide(message: Message, ctx: Context, rng: random.Random, settings: FaultSettings) -> Decision:
    mode = rng.choice(_fitting(message, settings))
    listen_id = subscription_id(message)
    params: dict[str, Any] = {"mode": mode.value, "subscription_id": listen_id}
    effects: list[Effect]
    if mode is SubscriptionMode.CUT_STREAM:
        if ctx.session.transport == "http":
            effects = [EndStream("subscription cut_stream")]
        else:
            lost = error_response(listen_id, codes.INTERNAL_ERROR, "mcpchaos: subscription stream cut")
            effects = [Drop("subscription cut_stream"), Emit(lost, Direction.SERVER_TO_CLIENT)]
    elif mode is SubscriptionMode.UNKNOWN_ID:
        unknown = f"mcpchaos-unknown-{rng.getrandbits(32):08x}"
        request = dict(message.params) if isinstance(message.params, dict) else {}
        request["_meta"] = {**request.get("_meta", {}), SUBSCRIPTION_ID_META_KEY: unknown}
        params["unknown_id"] = unknown
        effects = [Forward(message.replace(params=request))]
    else:  # starve, drop_ack: swallowed, the stream left open
        effects = [Drop(f"subscription {mode.value}")]
    return effects, params


SUBSCRIPTION = register(Fault(FaultType.SUBSCRIPTION, applies, decide))
