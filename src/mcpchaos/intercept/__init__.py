"""The interception vocabulary: effects, the per-message context, the interceptor protocol
and the chain with its fixed outer guard. Faults, metrics and limits import it; it imports
no transport and no proxy (so ``faults/`` never has to import the proxy)."""

from mcpchaos.intercept.chain import FailurePolicy, InterceptorChain
from mcpchaos.intercept.context import Context, Session
from mcpchaos.intercept.effects import (
    Disconnect,
    Drop,
    Effect,
    Effects,
    Emit,
    EndStream,
    Exhaust,
    Forward,
    Hold,
    HttpReply,
    Release,
    Reply,
)
from mcpchaos.intercept.interceptor import Interceptor

__all__ = [
    "Context",
    "Disconnect",
    "Drop",
    "Effect",
    "Effects",
    "Emit",
    "EndStream",
    "Exhaust",
    "FailurePolicy",
    "Forward",
    "Hold",
    "HttpReply",
    "Interceptor",
    "InterceptorChain",
    "Release",
    "Reply",
    "Session",
]
