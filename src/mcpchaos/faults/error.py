"""error: the sender gets a JSON-RPC error instead of the real answer.

A request is answered with the error and not forwarded; a response is replaced by the error
(same id). Every injected error's ``data`` is ``{"mcpchaos": {"fault": "error", "error_type":
..., "injected": true}}`` so clients, tests and checks can tell it from a real one.

On HTTP, client requests also get the transport form: ``rate_limited`` → 429 with
Retry-After, ``unauthorized`` → 401 with WWW-Authenticate, ``connection_refused`` → the
connection closes with no response. ``timeout`` holds the request ``timeout_ms``, then answers
with the timeout error, or never (``timeout_answers: false``), on both transports.
"""

from __future__ import annotations

import random
from typing import Any, Final

from mcpchaos.config.faults import ErrorType, FaultSettings, FaultType
from mcpchaos.faults.base import Decision, Fault, register
from mcpchaos.intercept.context import Context
from mcpchaos.intercept.effects import Disconnect, Drop, Effect, Forward, HttpReply, Reply
from mcpchaos.protocol import codes
from mcpchaos.protocol.messages import Direction, Kind, Message, error_response

ERRORS: Final[dict[ErrorType, tuple[int, str]]] = {
    ErrorType.TIMEOUT: (codes.INJECTED_TIMEOUT, "Request timed out"),
    ErrorType.CONNECTION_REFUSED: (codes.INJECTED_CONNECTION_REFUSED, "Connection refused"),
    ErrorType.INVALID_DATA: (codes.INVALID_PARAMS, "Invalid data"),
    ErrorType.INTERNAL_ERROR: (codes.INTERNAL_ERROR, "Internal error"),
    ErrorType.RATE_LIMITED: (codes.INJECTED_RATE_LIMITED, "Rate limit exceeded"),
    ErrorType.UNAUTHORIZED: (codes.INJECTED_UNAUTHORIZED, "Unauthorized"),
}
"""Code and default message of each injected error kind."""


def applies(message: Message, ctx: Context, settings: FaultSettings) -> bool:
    return message.kind is not Kind.NOTIFICATION and message.id is not None


def injected_error(message: Message, error_type: ErrorType, settings: FaultSettings, **extra: Any) -> Message:
    code, text = ERRORS[error_type]
    text = settings.error_config.custom_messages.get(error_type, text)
    data = {"mcpchaos": {"fault": "error", "error_type": error_type.value, "injected": True, **extra}}
    return error_response(message.id, code, text, data)


def decide(message: Message, ctx: Context, rng: random.Random, settings: FaultSettings) -> Decision:
    config = settings.error_config
    error_type = rng.choice(config.types)
    params: dict[str, Any] = {"error_type": error_type.value, "code": ERRORS[error_type][0]}
    if message.kind.is_response:
        # The receiver gets an error in place of the real result.
        return [Forward(injected_error(message, error_type, settings))], params
    http_client_request = ctx.session.transport == "http" and ctx.direction is Direction.CLIENT_TO_SERVER
    effects: list[Effect]
    if error_type is ErrorType.TIMEOUT:
        params["timeout_ms"] = config.timeout_ms
        if config.timeout_answers:
            effects = [Reply(injected_error(message, error_type, settings), config.timeout_ms / 1000)]
        else:
            effects = [Drop("timeout fault: never answered")]
    elif error_type is ErrorType.RATE_LIMITED and http_client_request:
        retry = str(config.retry_after_s)
        error = injected_error(message, error_type, settings, retry_after_s=config.retry_after_s)
        effects = [HttpReply(429, (("Retry-After", retry),), error)]
        params["http_status"] = 429
    elif error_type is ErrorType.UNAUTHORIZED and http_client_request:
        challenge = 'Bearer error="invalid_token", error_description="injected by mcpchaos"'
        effects = [
            HttpReply(401, (("WWW-Authenticate", challenge),), injected_error(message, error_type, settings))
        ]
        params["http_status"] = 401
    elif error_type is ErrorType.CONNECTION_REFUSED and http_client_request:
        effects = [Disconnect("connection_refused fault")]
        params["http"] = "connection closed"
    else:
        effects = [Reply(injected_error(message, error_type, settings))]
    return effects, params


ERROR = register(Fault(FaultType.ERROR, applies, decide))
