"""The proxy: the pump and the proxies built on it. The interception vocabulary lives in
:mod:`mcpchaos.intercept` and is re-exported here for code written against ``mcpchaos.proxy``."""

from mcpchaos.intercept import (
    Context,
    Disconnect,
    Drop,
    Effect,
    Effects,
    Emit,
    EndStream,
    FailurePolicy,
    Forward,
    Hold,
    HttpReply,
    Interceptor,
    InterceptorChain,
    Release,
    Reply,
    Session,
)
from mcpchaos.proxy.pump import Endpoint, Pump

__all__ = [
    "Context",
    "Disconnect",
    "Drop",
    "Effect",
    "Effects",
    "Emit",
    "EndStream",
    "Endpoint",
    "FailurePolicy",
    "Forward",
    "Hold",
    "HttpReply",
    "Interceptor",
    "InterceptorChain",
    "Pump",
    "Release",
    "Reply",
    "Session",
]
