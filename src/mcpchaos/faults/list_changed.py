"""list_changed: the client is told the server's tool list changed (``notifications/tools/
list_changed``, server → client), just before the message it is injected on.

Drawn for server → client messages (``match.message_classes: [server_response]`` for a call's
answer): the notification goes first, so on HTTP it rides the call's own response stream (a
stream that ends with the response would carry nothing after it). The message itself goes on
unchanged. A correct client lists the tools again before its next call (the history rule
``relist_after_list_changed``, and ``mcpchaos judge``'s verdict of that name).
"""

from __future__ import annotations

import random

from mcpchaos.config.faults import FaultSettings, FaultType
from mcpchaos.faults.base import Decision, Fault, register
from mcpchaos.intercept.context import Context
from mcpchaos.intercept.effects import Emit, Forward
from mcpchaos.protocol.messages import Direction, Message, notification

METHOD = "notifications/tools/list_changed"


def applies(message: Message, ctx: Context, settings: FaultSettings) -> bool:
    return ctx.direction is Direction.SERVER_TO_CLIENT


def decide(message: Message, ctx: Context, rng: random.Random, settings: FaultSettings) -> Decision:
    return [Emit(notification(METHOD), Direction.SERVER_TO_CLIENT), Forward(message)], {"method": METHOD}


LIST_CHANGED = register(Fault(FaultType.LIST_CHANGED, applies, decide))
