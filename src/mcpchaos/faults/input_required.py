"""input_required: faults on multi-round-trip requests (2026-07-28), client → server.

A multi-round-trip call (``tools/call``, ``prompts/get``, ``resources/read``) may be answered
with ``resultType: "input_required"``, ``inputRequests`` and an opaque ``requestState``; the
client fulfils the requests and retries the call with ``inputResponses`` and the state echoed.
Modes (``input_required.modes``, one drawn among those that fit the request):

- ``extra_round``: a first call is answered by the proxy with an ``input_required`` the server
  never sent (one input request of ``input_required.kind``, no state). A correct client answers
  and retries; a correct server ignores an input response it did not ask for, so the call ends
  normally one round late.
- ``undeclared_kind``: the same, asking for a kind the request's ``_meta`` client capabilities
  do not declare. A correct client fails the call cleanly (it cannot answer), not hang.
- ``endless_loop``: every round is answered with another ``input_required``. The proxy's own
  ``requestState`` (``mcpchaos-loop:<n>``) counts the rounds, so the decision keeps no memory;
  after ``input_required.max_rounds`` the retry goes to the server, stripped of it. A correct
  client gives up after its own bound (the SDK: ``input_required_max_rounds``, 10).
- ``tampered_state``: a retry's ``requestState`` is altered on its way. A correct server
  refuses it (the SDK seals its state: -32602 "Invalid or expired requestState").
- ``expired_state``: a retry is held ``input_required.expire_delay_ms``, so a state with a TTL
  has expired when it arrives (a correct server refuses it, or asks again).
- ``replica_hop`` (HTTP): a retry goes to ``input_required.replica_url``, another process of the
  same server, instead of the upstream that issued its state: is the server really stateless?
  One whose state is sealed with a key every replica shares completes the call; the official
  SDK's default (a key made per process) refuses it (-32602), as it refuses a tampered state.
"""

from __future__ import annotations

import random
from typing import Any, Final

from mcpchaos.config.faults import FaultSettings, FaultType
from mcpchaos.config.feature_faults import InputKind, InputRequiredMode
from mcpchaos.faults.base import Decision, Fault, register
from mcpchaos.intercept.context import Context
from mcpchaos.intercept.effects import Forward, Reply
from mcpchaos.protocol.messages import Direction, Kind, Message, result_response

MULTI_ROUND_METHODS: Final = frozenset({"tools/call", "prompts/get", "resources/read"})
"""The requests that may be answered with ``input_required``."""
CLIENT_CAPABILITIES: Final = "io.modelcontextprotocol/clientCapabilities"
LOOP_STATE: Final = "mcpchaos-loop:"
"""Prefix of the ``requestState`` the endless loop issues (its round count follows)."""

INPUT_REQUESTS: Final[dict[InputKind, dict[str, Any]]] = {
    InputKind.ELICITATION: {
        "method": "elicitation/create",
        "params": {
            "mode": "form",
            "message": "mcpchaos: an input the server did not ask for",
            "requestedSchema": {"type": "object", "properties": {"confirm": {"type": "boolean"}}},
        },
    },
    InputKind.SAMPLING: {
        "method": "sampling/createMessage",
        "params": {
            "messages": [{"role": "user", "content": {"type": "text", "text": "mcpchaos"}}],
            "maxTokens": 10,
        },
    },
    InputKind.ROOTS: {"method": "roots/list"},
}
"""One input request of each kind, as an ``inputRequests`` value."""


def _params(message: Message) -> dict[str, Any]:
    params = message.params
    return params if isinstance(params, dict) else {}


def _declared(message: Message) -> set[str]:
    meta = _params(message).get("_meta")
    capabilities = meta.get(CLIENT_CAPABILITIES) if isinstance(meta, dict) else None
    return set(capabilities) if isinstance(capabilities, dict) else set()


def _undeclared(message: Message) -> list[InputKind]:
    declared = _declared(message)
    return [kind for kind in InputKind if kind.value not in declared]


def _fits(mode: InputRequiredMode, message: Message, settings: FaultSettings, ctx: Context) -> bool:
    params = _params(message)
    if mode is InputRequiredMode.REPLICA_HOP:
        hop = settings.input_required.replica_url is not None and ctx.session.transport == "http"
        return hop and isinstance(params.get("requestState"), str)
    retry = "inputResponses" in params or "requestState" in params
    if mode in (InputRequiredMode.EXTRA_ROUND, InputRequiredMode.UNDECLARED_KIND):
        if retry:
            return False
        return mode is InputRequiredMode.EXTRA_ROUND or bool(_undeclared(message))
    if mode is InputRequiredMode.ENDLESS_LOOP:
        state = params.get("requestState")
        return not retry or (isinstance(state, str) and state.startswith(LOOP_STATE))
    return isinstance(params.get("requestState"), str)  # tampered/expired: a retry with state


def _fitting(message: Message, settings: FaultSettings, ctx: Context) -> list[InputRequiredMode]:
    return [mode for mode in settings.input_required.modes if _fits(mode, message, settings, ctx)]


def applies(message: Message, ctx: Context, settings: FaultSettings) -> bool:
    return (
        message.kind is Kind.REQUEST
        and ctx.direction is Direction.CLIENT_TO_SERVER
        and message.method in MULTI_ROUND_METHODS
        and bool(_fitting(message, settings, ctx))
    )


def input_required(message: Message, kind: InputKind, key: str, state: str | None = None) -> Message:
    """The ``input_required`` result answering ``message`` with one input request."""
    assert message.id is not None  # applies: a request
    result: dict[str, Any] = {"resultType": "input_required", "inputRequests": {key: INPUT_REQUESTS[kind]}}
    if state is not None:
        result["requestState"] = state
    return result_response(message.id, result)


def _loop_round(state: Any) -> int:
    try:
        return int(str(state).removeprefix(LOOP_STATE)) if isinstance(state, str) else 0
    except ValueError:
        return 0


def decide(message: Message, ctx: Context, rng: random.Random, settings: FaultSettings) -> Decision:
    config = settings.input_required
    mode = rng.choice(_fitting(message, settings, ctx))
    params: dict[str, Any] = {"mode": mode.value}
    key = f"mcpchaos-{rng.getrandbits(32):08x}"
    if mode is InputRequiredMode.EXTRA_ROUND:
        params["kind"] = config.kind.value
        return [Reply(input_required(message, config.kind, key))], params
    if mode is InputRequiredMode.UNDECLARED_KIND:
        kind = rng.choice(_undeclared(message))
        params["kind"] = kind.value
        return [Reply(input_required(message, kind, key))], params
    request = _params(message)
    if mode is InputRequiredMode.ENDLESS_LOOP:
        done = _loop_round(request.get("requestState"))
        params["round"] = done + 1
        if done >= config.max_rounds:
            # The bound: the call goes to the server as if the loop had never been.
            stripped = {k: v for k, v in request.items() if k not in ("inputResponses", "requestState")}
            params["released"] = True
            return [Forward(message.replace(params=stripped))], params
        state = f"{LOOP_STATE}{done + 1}"
        return [Reply(input_required(message, config.kind, key, state))], params
    if mode is InputRequiredMode.TAMPERED_STATE:
        state = str(request["requestState"])
        # Flip one character in the middle: same length, same alphabet, wrong content.
        at = len(state) // 2
        flipped = "A" if state[at : at + 1] != "A" else "B"
        tampered = state[:at] + flipped + state[at + 1 :] if state else "mcpchaos-tampered"
        params["at"] = at
        return [Forward(message.replace(params={**request, "requestState": tampered}))], params
    if mode is InputRequiredMode.REPLICA_HOP and config.replica_url is not None:
        params["replica"] = config.replica_url
        return [Forward(message.rerouted(config.replica_url))], params
    params["delay_ms"] = config.expire_delay_ms
    return [Forward(message, config.expire_delay_ms / 1000)], params


INPUT_REQUIRED = register(Fault(FaultType.INPUT_REQUIRED, applies, decide))
