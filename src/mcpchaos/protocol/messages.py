"""JSON-RPC 2.0 envelopes as MCP uses them: parse once, forward the original bytes.

A :class:`Message` keeps the exact bytes it was parsed from, so a message that no fault
touches reaches the other side byte for byte (unknown fields, ``_meta``, number spelling
and unicode escapes all kept). Interceptors never mutate a message: :meth:`Message.replace`
and :meth:`Message.with_wire_bytes` return changed copies, and only those are re-serialised.

:func:`parse` never raises: input that is not a valid JSON-RPC message becomes an
:class:`Invalid` value carrying the error code to answer with and, when it can be recovered,
the id to answer to.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any, Final

import orjson

from mcpchaos.protocol import codes

MessageId = int | str
"""A JSON-RPC id as MCP allows it: a string or an integer (never null, never fractional)."""

JSONRPC_VERSION: Final = "2.0"


class Direction(enum.Enum):
    """Which way a message travels through the proxy."""

    CLIENT_TO_SERVER = "client_to_server"
    SERVER_TO_CLIENT = "server_to_client"

    @property
    def reverse(self) -> Direction:
        """The opposite direction: where a reply to a message in this direction goes."""
        if self is Direction.CLIENT_TO_SERVER:
            return Direction.SERVER_TO_CLIENT
        return Direction.CLIENT_TO_SERVER


class Kind(enum.Enum):
    """The four shapes of a JSON-RPC message."""

    REQUEST = "request"
    NOTIFICATION = "notification"
    RESULT = "result"
    ERROR = "error"

    @property
    def is_response(self) -> bool:
        """True for a result or an error response."""
        return self is Kind.RESULT or self is Kind.ERROR


class Message:
    """One parsed JSON-RPC message with the bytes it travels as.

    ``payload`` is the decoded JSON object; treat it as read-only. ``wire`` is what is
    written to the other side (without the line terminator): the original bytes for a
    message nobody changed, fresh ``orjson`` bytes for one built or replaced here, or any
    bytes at all for a framing-level corruption (see :meth:`with_wire_bytes`).
    """

    __slots__ = ("_wire", "event_id", "kind", "payload")

    def __init__(
        self, kind: Kind, payload: dict[str, Any], wire: bytes | None = None, event_id: str | None = None
    ) -> None:
        self.kind = kind
        self.payload = payload
        self._wire = wire
        self.event_id = event_id
        """The SSE event id the message arrived with (HTTP), kept so resumption still works."""

    @property
    def wire(self) -> bytes:
        """The bytes this message is sent as (serialised lazily for built messages)."""
        if self._wire is None:
            self._wire = _encode(self.payload)
        return self._wire

    @property
    def id(self) -> MessageId | None:
        """The id of a request or response; None for a notification."""
        value = self.payload.get("id")
        return value if isinstance(value, int | str) and not isinstance(value, bool) else None

    @property
    def method(self) -> str | None:
        """The method of a request or notification; None for a response."""
        value = self.payload.get("method")
        return value if isinstance(value, str) else None

    @property
    def params(self) -> Any:
        """The params of a request or notification (may be absent: None)."""
        return self.payload.get("params")

    @property
    def tool_name(self) -> str | None:
        """For a ``tools/call`` request, the name of the tool called; otherwise None."""
        if self.payload.get("method") != "tools/call":
            return None
        params = self.payload.get("params")
        if isinstance(params, dict):
            name = params.get("name")
            if isinstance(name, str):
                return name
        return None

    def replace(self, **fields: Any) -> Message:
        """A copy with top-level fields set (``DELETE`` as a value removes the field).

        The copy keeps this message's kind: a corrupted request is still reported as a
        request, even when the new payload would no longer parse as one.
        """
        payload = dict(self.payload)
        for key, value in fields.items():
            if value is DELETE:
                payload.pop(key, None)
            else:
                payload[key] = value
        return Message(self.kind, payload, None, self.event_id)

    def with_wire_bytes(self, wire: bytes) -> Message:
        """A copy that is sent as exactly ``wire`` (framing-level faults: truncated JSON,
        invalid UTF-8, a line split in two) while ``payload`` still describes the original."""
        return Message(self.kind, self.payload, wire, self.event_id)

    def with_event_id(self, event_id: str | None) -> Message:
        """The same message tagged with the SSE event id it travels under."""
        return Message(self.kind, self.payload, self._wire, event_id)

    def __repr__(self) -> str:
        return f"Message({self.kind.value}, id={self.id!r}, method={self.method!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return self.kind is other.kind and self.payload == other.payload

    __hash__ = None  # type: ignore[assignment]


class _Delete:
    """Marker for :meth:`Message.replace`: remove the field."""

    def __repr__(self) -> str:
        return "DELETE"


DELETE: Final = _Delete()


@dataclass(frozen=True, slots=True)
class Invalid:
    """Input that is not a valid JSON-RPC message, as a value.

    ``code`` is the JSON-RPC error to answer with (-32700 for unparsable bytes, -32600 for
    JSON that is not a valid message); ``id`` is the id recovered from the input, when it has
    a usable one, so the answer can reach the right pending request; ``is_request`` tells
    whether the sender expects an answer (it had a method and an id).
    """

    raw: bytes
    code: int
    reason: str
    id: MessageId | None = None
    is_request: bool = False


def _encode(payload: dict[str, Any]) -> bytes:
    """Serialise with orjson; fall back to the standard library for what orjson refuses
    (integers beyond 64 bits, lone surrogates), so building a message never fails."""
    try:
        return orjson.dumps(payload)
    except TypeError:
        return json.dumps(payload, separators=(",", ":"), default=repr).encode()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _decode(data: bytes) -> Any:
    """Decode JSON with orjson; fall back to the standard library for the rare valid JSON
    orjson refuses (lone surrogate escapes, numbers beyond double range). Raises ValueError."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as first:
        try:
            return json.loads(data, parse_constant=_reject_constant)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise first from None


def _valid_id(value: Any) -> bool:
    return isinstance(value, int | str) and not isinstance(value, bool)


def parse(data: bytes) -> Message | Invalid:
    """Parse one JSON-RPC message from ``data`` (one line, without its terminator).

    Never raises. Batches (JSON arrays) are answered as invalid requests: MCP removed
    JSON-RPC batching in 2025-06-18 and no current SDK sends them.
    """
    try:
        obj = _decode(data)
    except (ValueError, RecursionError) as exc:
        return Invalid(data, codes.PARSE_ERROR, f"Parse error: {exc}")
    if not isinstance(obj, dict):
        if isinstance(obj, list):
            return Invalid(data, codes.INVALID_REQUEST, "Invalid Request: JSON-RPC batches are not supported")
        return Invalid(
            data, codes.INVALID_REQUEST, f"Invalid Request: expected a JSON object, got {_json_type(obj)}"
        )

    raw_id = obj.get("id")
    usable_id = raw_id if _valid_id(raw_id) else None
    method = obj.get("method")
    looks_like_request = "method" in obj and "id" in obj

    if obj.get("jsonrpc") != JSONRPC_VERSION:
        return Invalid(
            data,
            codes.INVALID_REQUEST,
            'Invalid Request: "jsonrpc" must be "2.0"',
            usable_id,
            looks_like_request,
        )
    if "method" in obj:
        if not isinstance(method, str):
            return Invalid(
                data,
                codes.INVALID_REQUEST,
                'Invalid Request: "method" must be a string',
                usable_id,
                looks_like_request,
            )
        params = obj.get("params")
        if params is not None and not isinstance(params, dict | list):
            return Invalid(
                data,
                codes.INVALID_REQUEST,
                'Invalid Request: "params" must be an object',
                usable_id,
                looks_like_request,
            )
        if "id" not in obj:
            return Message(Kind.NOTIFICATION, obj, data)
        if usable_id is None:
            return Invalid(
                data,
                codes.INVALID_REQUEST,
                'Invalid Request: "id" must be a string or an integer',
                None,
                True,
            )
        return Message(Kind.REQUEST, obj, data)

    has_result = "result" in obj
    has_error = "error" in obj
    if has_result == has_error:
        why = "both" if has_result else "neither"
        return Invalid(
            data,
            codes.INVALID_REQUEST,
            f'Invalid message: has {why} "result" and "error" and no "method"',
            usable_id,
        )
    if "id" not in obj or (raw_id is not None and usable_id is None):
        return Invalid(data, codes.INVALID_REQUEST, 'Invalid response: "id" missing or of the wrong type')
    if has_error:
        error = obj["error"]
        if not (
            isinstance(error, dict)
            and isinstance(error.get("code"), int)
            and isinstance(error.get("message"), str)
        ):
            return Invalid(
                data,
                codes.INVALID_REQUEST,
                'Invalid response: "error" needs an integer code and a string message',
                usable_id,
            )
        return Message(Kind.ERROR, obj, data)
    return Message(Kind.RESULT, obj, data)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__


def error_response(id: MessageId | None, code: int, message: str, data: Any = None) -> Message:
    """Build a JSON-RPC error response (``id`` None gives ``"id": null``, as JSON-RPC asks
    for errors about messages whose id could not be read)."""
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return Message(Kind.ERROR, {"jsonrpc": JSONRPC_VERSION, "id": id, "error": error})


def request(id: MessageId, method: str, params: dict[str, Any] | None = None) -> Message:
    """Build a JSON-RPC request."""
    payload: dict[str, Any] = {"jsonrpc": JSONRPC_VERSION, "id": id, "method": method}
    if params is not None:
        payload["params"] = params
    return Message(Kind.REQUEST, payload)


def notification(method: str, params: dict[str, Any] | None = None) -> Message:
    """Build a JSON-RPC notification."""
    payload: dict[str, Any] = {"jsonrpc": JSONRPC_VERSION, "method": method}
    if params is not None:
        payload["params"] = params
    return Message(Kind.NOTIFICATION, payload)


def result_response(id: MessageId, result: dict[str, Any]) -> Message:
    """Build a JSON-RPC result response."""
    return Message(Kind.RESULT, {"jsonrpc": JSONRPC_VERSION, "id": id, "result": result})
