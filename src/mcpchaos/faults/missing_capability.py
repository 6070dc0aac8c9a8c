"""missing_capability (2026-07-28): a request is answered -32021 MissingRequiredClientCapability
naming the capability the targeted call needs (``missing_capability.capability``, a dotted
path such as ``elicitation`` or ``extensions.<id>``), as a server does when the request's
``params._meta`` client capabilities lack it; ``when: always`` rejects even when it is
declared (a server that gets capability checks wrong). The request never reaches the server;
on HTTP the error travels as a 400, the official SDK server's status for it.

``data.requiredCapabilities`` is the capability as an object (``{"elicitation": {}}``), the
shape the SDK server sends.
"""

from __future__ import annotations

import random
from typing import Any

from mcpchaos.config.faults import FaultSettings, FaultType
from mcpchaos.faults.base import Decision, Fault, register
from mcpchaos.intercept.context import Context
from mcpchaos.intercept.effects import HttpReply, Reply
from mcpchaos.protocol import codes
from mcpchaos.protocol.http_headers import body_protocol_version
from mcpchaos.protocol.messages import Direction, Kind, Message, error_response

CLIENT_CAPABILITIES_META_KEY = "io.modelcontextprotocol/clientCapabilities"


def _path(capability: str) -> list[str]:
    # ``extensions.io.modelcontextprotocol/tasks``: everything after ``extensions.`` is one key.
    head, _, rest = capability.partition(".")
    return [head, rest] if head == "extensions" and rest else capability.split(".")


def declared(message: Message, capability: str) -> bool:
    """Whether the request's ``_meta`` client capabilities contain ``capability``."""
    params = message.params
    meta = params.get("_meta") if isinstance(params, dict) else None
    node: Any = meta.get(CLIENT_CAPABILITIES_META_KEY) if isinstance(meta, dict) else None
    for key in _path(capability):
        if not isinstance(node, dict) or node.get(key) is None:
            return False
        node = node[key]
    return True


def required(capability: str) -> dict[str, Any]:
    """``elicitation`` → ``{"elicitation": {}}``; ``sampling.tools`` → ``{"sampling": {"tools": {}}}``."""
    shape: dict[str, Any] = {}
    for key in reversed(_path(capability)):
        shape = {key: shape}
    return shape


def applies(message: Message, ctx: Context, settings: FaultSettings) -> bool:
    if message.kind is not Kind.REQUEST or ctx.direction is not Direction.CLIENT_TO_SERVER:
        return False
    if body_protocol_version(message) is None:
        return False
    config = settings.missing_capability
    return config.when == "always" or not declared(message, config.capability)


def decide(message: Message, ctx: Context, rng: random.Random, settings: FaultSettings) -> Decision:
    capability = settings.missing_capability.capability
    data = {
        "requiredCapabilities": required(capability),
        "mcpchaos": {"fault": "missing_capability", "injected": True},
    }
    text = f"Client did not declare the {capability} capability required by this request"
    error = error_response(message.id, codes.MISSING_REQUIRED_CLIENT_CAPABILITY, text, data)
    params: dict[str, Any] = {
        "capability": capability,
        "declared": declared(message, capability),
        "code": codes.MISSING_REQUIRED_CLIENT_CAPABILITY,
    }
    if ctx.session.transport == "http":
        params["http_status"] = 400
        return [HttpReply(400, (), error)], params
    return [Reply(error)], params


MISSING_CAPABILITY = register(Fault(FaultType.MISSING_CAPABILITY, applies, decide))
