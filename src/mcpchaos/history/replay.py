"""The recorded server's answers, from a tape (sans-IO; docs/tapes.md, "Matching").

What the server said is on the tape's *server wire* (what the server was given and what it
sent, before any fault the proxy added on the client's side), so a tape recorded under faults
still replays the server's own answers. Every session's server wire is paired
(:func:`mcpchaos.history.pairing.pair`); each request the server answered becomes a
:class:`Recorded` call: method, params (without ``_meta``), the answer (``result`` or
``error``) and how long the server took.

A request is matched, in this order:

1. **exact**: the same method and the same params (``_meta`` ignored; for ``tools/call`` the
   same tool name and arguments). Repeated exact calls take the recordings in their recorded
   order, then keep the last one.
2. **nearest**: the same method (for ``tools/call``: the same tool name) with the most equal
   top-level params (for ``tools/call``: arguments), then the fewest differing ones, then the
   earliest recorded.
3. **none**: ``ping`` is answered ``{}``; a ``tools/call`` of a tool never recorded gets
   JSON-RPC error :data:`~mcpchaos.protocol.codes.NO_RECORDING`; any other method never
   recorded gets ``-32601`` (method not found, as a server that does not know it would), so a
   2026-07-28 client falls back to ``initialize`` on a tape recorded in the 2025-11-25 era.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

import orjson

from mcpchaos.history.pairing import pair
from mcpchaos.history.record import SERVER
from mcpchaos.history.tape import Tape
from mcpchaos.protocol import codes
from mcpchaos.protocol.messages import Direction

Match = Literal["exact", "nearest", "none"]
_KNOWN_ANSWER: Final[dict[str, dict[str, Any]]] = {"ping": {"result": {}}}


@dataclass(slots=True, frozen=True)
class Recorded:
    """One request the recorded server answered."""

    method: str
    params: dict[str, Any]
    reply: dict[str, Any]
    """``{"result": ...}`` or ``{"error": ...}``, as the server sent it."""
    delay: float
    """Seconds from the request reaching the server to its answer."""


@dataclass(slots=True, frozen=True)
class Answer:
    reply: dict[str, Any]
    delay: float
    match: Match

    def message(self, request_id: Any) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "id": request_id, **self.reply}


def recorded_calls(tape: Tape) -> list[Recorded]:
    """Every answered client request on the tape's server wires, in recorded order."""
    found: list[tuple[float, Recorded]] = []
    for session in tape.sessions():
        for call in pair(tape.entries(session, SERVER)).calls:
            request = call.request
            if request.direction is not Direction.CLIENT_TO_SERVER or not call.responses:
                continue
            response = call.responses[0].payload
            key = "result" if "result" in response else "error" if "error" in response else None
            if key is None or request.method is None:
                continue
            params = _without_meta(request.params)
            delay = max(call.responses[0].time - request.time, 0.0)
            found.append((request.time, Recorded(request.method, params, {key: response[key]}, delay)))
    found.sort(key=lambda item: item[0])
    return [recorded for _, recorded in found]


class Answers:
    """Answers requests like the recorded server (stateful only in the repeat counters)."""

    def __init__(self, calls: list[Recorded]) -> None:
        self._by_target: dict[tuple[str, str | None], list[Recorded]] = {}
        for call in calls:
            self._by_target.setdefault((call.method, _tool(call.method, call.params)), []).append(call)
        self._served: dict[bytes, int] = {}

    def answer(self, method: str, params: dict[str, Any] | None) -> Answer:
        params = _without_meta(params or {})
        tool = _tool(method, params)
        candidates = self._by_target.get((method, tool), [])
        exact_key = _canonical(params)
        exact = [call for call in candidates if _canonical(call.params) == exact_key]
        if exact:
            key = orjson.dumps(method) + exact_key
            served = self._served.get(key, 0)
            self._served[key] = served + 1
            chosen = exact[min(served, len(exact) - 1)]
            return Answer(chosen.reply, chosen.delay, "exact")
        if candidates:
            wanted = _compared(method, params)
            best = max(candidates, key=lambda call: _closeness(wanted, _compared(method, call.params)))
            return Answer(best.reply, best.delay, "nearest")
        if method in _KNOWN_ANSWER:
            return Answer(_KNOWN_ANSWER[method], 0.0, "none")
        if method == "tools/call":
            message = f"mcpchaos replay: no recording of tools/call {tool!r} on this tape"
            return Answer(_error(codes.NO_RECORDING, message), 0.0, "none")
        message = f"mcpchaos replay: no recording of method {method!r} on this tape"
        return Answer(_error(codes.METHOD_NOT_FOUND, message), 0.0, "none")


def _error(code: int, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _without_meta(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k != "_meta"} if "_meta" in params else params


def _tool(method: str, params: dict[str, Any]) -> str | None:
    name = params.get("name") if method == "tools/call" else None
    return name if isinstance(name, str) else None


def _compared(method: str, params: dict[str, Any]) -> dict[str, Any]:
    """What the nearest match compares: a tool call's arguments, any other request's params."""
    if method == "tools/call":
        arguments = params.get("arguments")
        return arguments if isinstance(arguments, dict) else {}
    return params


def _closeness(wanted: dict[str, Any], recorded: dict[str, Any]) -> tuple[int, int]:
    """(equal keys, minus differing keys): larger is nearer; ``max`` keeps the first of ties."""
    equal = sum(1 for k, v in wanted.items() if k in recorded and _canonical(recorded[k]) == _canonical(v))
    differing = len(wanted.keys() | recorded.keys()) - equal
    return (equal, -differing)


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
