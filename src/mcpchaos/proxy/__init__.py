"""The proxy: interceptor chain, pump, and the proxies built on them."""

from mcpchaos.proxy.chain import FailurePolicy, InterceptorChain
from mcpchaos.proxy.context import Context, Session
from mcpchaos.proxy.effects import (
    Disconnect,
    Drop,
    Effect,
    Effects,
    Emit,
    EndStream,
    Forward,
    Hold,
    HttpReply,
    Release,
    Reply,
)
from mcpchaos.proxy.interceptor import Interceptor
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
