"""The interceptor interface: see a message, return effects. No I/O, no sleeping.

Example: answer every ``tools/call`` of the tool ``delete_everything`` with an error::

    from mcpchaos.protocol import codes
    from mcpchaos.protocol.messages import error_response
    from mcpchaos.intercept import Context, Interceptor, Reply

    class RefuseDangerousTool:
        name = "refuse-dangerous"

        def intercept(self, message, ctx):
            if message.tool_name == "delete_everything":
                return [Reply(error_response(message.id, codes.INVALID_PARAMS, "refused"))]
            return None  # forward unchanged
"""

from __future__ import annotations

from typing import Protocol

from mcpchaos.intercept.context import Context
from mcpchaos.intercept.effects import Effects
from mcpchaos.protocol.messages import Message


class Interceptor(Protocol):
    """Anything with a ``name`` and an ``intercept`` method.

    ``intercept`` returns None to forward the message unchanged (the cheap common case), or
    a sequence of effects. It must not mutate ``message``: return a changed copy
    (:meth:`Message.replace`) in a :class:`Forward` instead.
    """

    @property
    def name(self) -> str: ...

    def intercept(self, message: Message, ctx: Context) -> Effects | None: ...
