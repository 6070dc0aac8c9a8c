"""An interceptor that logs every message it sees, one line each, and changes nothing."""

from __future__ import annotations

import logging

from mcpchaos.intercept.context import Context
from mcpchaos.intercept.effects import Effects
from mcpchaos.protocol.messages import Direction, Message

log = logging.getLogger("mcpchaos.trace")

_ARROWS = {Direction.CLIENT_TO_SERVER: "client → server", Direction.SERVER_TO_CLIENT: "server → client"}


class TraceInterceptor:
    """Logs ``direction kind method id (bytes)`` at INFO for each message."""

    name = "trace"

    def intercept(self, message: Message, ctx: Context) -> Effects | None:
        if log.isEnabledFor(logging.INFO):
            label = message.method or (
                f"response to {ctx.request_method}" if ctx.request_method else "response"
            )
            tool = f" [{message.tool_name}]" if message.tool_name else ""
            log.info(
                "%s #%d %s %s%s id=%s (%d bytes)",
                _ARROWS[ctx.direction],
                ctx.ordinal,
                message.kind.value,
                label,
                tool,
                message.id,
                len(message.wire),
            )
        return None
