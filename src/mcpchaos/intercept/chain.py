"""The interceptor chain, built once, with a fixed outer guard.

Each interceptor sees the messages the previous ones forwarded. A :class:`Forward` with a
delay keeps its delay as the message moves down the chain (delays add up); every other
effect is final for that message and passes through untouched.

The guard catches any exception an interceptor raises (or a return value that is not a list
of effects), logs it, counts it and applies the failure policy: fail-open forwards the
message that interceptor received, unchanged; fail-closed answers a request with -32603
and drops anything else. The proxy never dies because of an interceptor.
"""

from __future__ import annotations

import enum
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from mcpchaos.intercept.context import Context
from mcpchaos.intercept.effects import Drop, Effect, Forward, Reply
from mcpchaos.intercept.interceptor import Interceptor
from mcpchaos.protocol import codes
from mcpchaos.protocol.messages import Kind, Message, error_response

log = logging.getLogger("mcpchaos.chain")

_EFFECT_TYPES = Effect.__args__


class FailurePolicy(enum.Enum):
    """What the guard does with a message whose interceptor raised."""

    FAIL_OPEN = "fail-open"
    """Forward the message unchanged (default: a broken fault must not break the session)."""
    FAIL_CLOSED = "fail-closed"
    """Answer a request with -32603 Internal error; drop other messages."""


FailureListener = Callable[[str, Message, Context, BaseException], None]


class InterceptorChain:
    """An ordered, immutable list of interceptors behind one error guard."""

    __slots__ = ("_interceptors", "_listeners", "failures", "observers", "policy", "recorder")

    def __init__(
        self,
        interceptors: Sequence[Interceptor] = (),
        policy: FailurePolicy = FailurePolicy.FAIL_OPEN,
    ) -> None:
        self._interceptors: tuple[Interceptor, ...] = tuple(interceptors)
        self.policy = policy
        self.failures: Counter[str] = Counter()
        """Interceptor failures so far, by interceptor name."""
        self._listeners: list[FailureListener] = []
        self.observers: list[Any] = []
        """Pump observers (metrics): every pump running this chain reports to them."""
        self.recorder: Any = None
        """The history recorder (:class:`mcpchaos.observe.history.HistoryRecorder`), when
        ``--history`` asked for one: every pump running this chain records each message it
        reads and writes there. None (the default) records nothing."""

    @property
    def interceptors(self) -> tuple[Interceptor, ...]:
        """The interceptors, in the order messages meet them."""
        return self._interceptors

    def on_failure(self, listener: FailureListener) -> None:
        """Call ``listener(name, message, ctx, exception)`` on every interceptor failure."""
        self._listeners.append(listener)

    def run(self, message: Message, ctx: Context) -> list[Effect] | None:
        """The effects for ``message``; None means forward it unchanged, now."""
        effects: list[Effect] | None = None
        for interceptor in self._interceptors:
            if effects is None:
                effects = self._guarded(interceptor, message, ctx)
                continue
            next_effects: list[Effect] = []
            for effect in effects:
                if type(effect) is not Forward:
                    next_effects.append(effect)
                    continue
                produced = self._guarded(interceptor, effect.message, ctx)
                if produced is None:
                    next_effects.append(effect)
                else:
                    next_effects.extend(_delayed(produced, effect.delay))
            effects = next_effects
        return effects

    def _guarded(self, interceptor: Interceptor, message: Message, ctx: Context) -> list[Effect] | None:
        try:
            produced = interceptor.intercept(message, ctx)
            if produced is None:
                return None
            effects = list(produced)
            for effect in effects:
                if not isinstance(effect, _EFFECT_TYPES):
                    raise TypeError(f"returned {effect!r}, which is not an effect")
            return effects
        except Exception as exc:
            return self._handle_failure(interceptor, message, ctx, exc)

    def _handle_failure(
        self, interceptor: Interceptor, message: Message, ctx: Context, exc: Exception
    ) -> list[Effect] | None:
        name = getattr(interceptor, "name", type(interceptor).__name__)
        self.failures[name] += 1
        log.error(
            "interceptor %r failed on %s %r (session %s): %s: %s; %s",
            name,
            ctx.direction.value,
            message,
            ctx.session.id,
            type(exc).__name__,
            exc,
            self.policy.value,
            exc_info=log.isEnabledFor(logging.DEBUG),
        )
        for listener in self._listeners:
            try:
                listener(name, message, ctx, exc)
            except Exception:  # a broken listener must not break the guard either
                log.exception("interceptor failure listener raised")
        if self.policy is FailurePolicy.FAIL_OPEN:
            return None
        if message.kind is Kind.REQUEST:
            error = error_response(
                message.id, codes.INTERNAL_ERROR, f"Internal error: mcpchaos interceptor {name!r} failed"
            )
            return [Reply(error)]
        return [Drop(f"interceptor {name!r} failed (fail-closed)")]


def _delayed(effects: list[Effect], delay: float) -> list[Effect]:
    """Carry an upstream interceptor's delay onto the effects a later one produced."""
    if delay <= 0:
        return effects
    shifted: list[Effect] = []
    for effect in effects:
        if isinstance(effect, Forward):
            shifted.append(Forward(effect.message, effect.delay + delay))
        elif isinstance(effect, Reply):
            shifted.append(Reply(effect.message, effect.delay + delay))
        else:
            shifted.append(effect)
    return shifted
