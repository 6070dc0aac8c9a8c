"""What changed between two tapes of the same client (sans-IO; docs/tapes.md, "tape diff").

The rules:

1. A tape is read as the *calls the client made*: each request on the client wire, in order
   (sessions in order), with the first answer the client was given. Notifications are not
   compared.
2. Calls are aligned by method and target (the tool, prompt or resource they name) with a
   longest-matching-subsequence alignment (:mod:`difflib`); a call on one side only is reported
   as ``added`` or ``removed``.
3. Aligned calls are compared field by field: the params (for ``tools/call``, the arguments:
   ``argument`` differences) and the answer (``result`` differences, or an error appearing).
4. Ignored, by rule: JSON-RPC ids, every timestamp, session ids, HTTP headers, and ``_meta``
   at any depth (progress tokens, protocol version, client info mirrors).
5. Timing: an aligned call's latency (request read → answer written, on the client wire) is
   reported as ``timing`` only when it changed by more than ``threshold_s`` *and* by more than
   half of the slower of the two, so the noise of two runs on a busy machine is not a change.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Final, Literal

from mcpchaos.history.pairing import pair
from mcpchaos.history.record import CLIENT
from mcpchaos.history.tape import Tape
from mcpchaos.protocol.messages import Direction

DEFAULT_THRESHOLD_S: Final = 0.1
TARGET_PARAMS: Final = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
Change = Literal["added", "removed", "argument", "result", "timing"]


@dataclass(slots=True, frozen=True)
class TapeCall:
    method: str
    target: str | None
    params: Any
    answer: Any
    """``{"result": ...}``, ``{"error": ...}`` or None (never answered)."""
    latency: float | None

    @property
    def label(self) -> str:
        return self.method if self.target is None else f"{self.method} {self.target}"


@dataclass(slots=True, frozen=True)
class Difference:
    change: Change
    index: int
    """The call's position on tape A (added: on tape B), from 1."""
    label: str
    path: str = ""
    a: Any = None
    b: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("change", "index", "label", "path", "a", "b")}


def client_calls(tape: Tape) -> list[TapeCall]:
    """The client's requests and what it was answered, in order (rule 1)."""
    calls = []
    for session in tape.sessions():
        for call in pair(tape.entries(session, CLIENT)).calls:
            request = call.request
            if request.direction is not Direction.CLIENT_TO_SERVER or request.method is None:
                continue
            params = _strip(request.params)
            target_key = TARGET_PARAMS.get(request.method)
            target = params.get(target_key) if target_key else None
            if request.method == "tools/call":
                params = params.get("arguments", {})
            answer, latency = None, None
            if call.responses:
                first = call.responses[0]
                payload = first.payload
                answer = {k: _strip(payload[k]) for k in ("result", "error") if k in payload}
                latency = max(first.time - request.time, 0.0)
            calls.append(
                TapeCall(request.method, target if isinstance(target, str) else None, params, answer, latency)
            )
    return calls


def diff(a: Tape, b: Tape, threshold_s: float = DEFAULT_THRESHOLD_S) -> list[Difference]:
    """The differences between two tapes, by the rules above."""
    calls_a, calls_b = client_calls(a), client_calls(b)
    matcher = difflib.SequenceMatcher(
        None, [c.label for c in calls_a], [c.label for c in calls_b], autojunk=False
    )
    found: list[Difference] = []
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            for i, j in zip(range(a0, a1), range(b0, b1), strict=True):
                found.extend(_compare(i + 1, calls_a[i], calls_b[j], threshold_s))
            continue
        found.extend(Difference("removed", i + 1, calls_a[i].label) for i in range(a0, a1))
        found.extend(Difference("added", j + 1, calls_b[j].label) for j in range(b0, b1))
    return found


def _compare(index: int, a: TapeCall, b: TapeCall, threshold_s: float) -> list[Difference]:
    found = [
        Difference("argument", index, a.label, path, x, y) for path, x, y in _paths(a.params, b.params, "")
    ]
    found += [
        Difference("result", index, a.label, path, x, y) for path, x, y in _paths(a.answer, b.answer, "")
    ]
    if a.latency is not None and b.latency is not None:
        change = abs(a.latency - b.latency)
        if change > threshold_s and change > 0.5 * max(a.latency, b.latency):
            found.append(
                Difference("timing", index, a.label, "latency_s", round(a.latency, 3), round(b.latency, 3))
            )
    return found


def _paths(a: Any, b: Any, path: str) -> list[tuple[str, Any, Any]]:
    """Where two JSON values differ: (path, value in a, value in b) at the first differing depth."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in list(a) + [k for k in b if k not in a]:
            out += _paths(a.get(key), b.get(key), f"{path}.{key}" if path else str(key))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out += _paths(x, y, f"{path}[{i}]")
        return out
    return [] if a == b else [(path, a, b)]


def _strip(value: Any) -> Any:
    """``value`` without ``_meta`` at any depth (rule 4)."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "_meta"}
    if isinstance(value, list):
        return [_strip(item) for item in value]
    return value
