"""JSON-RPC 2.0 envelopes as MCP uses them: parse once, forward the original bytes.

A :class:`Message` keeps the exact bytes it was parsed from, so a message that no fault
touches reaches the other side byte for byte (unknown fields, ``_meta``, number spelling
and unicode escapes all kept). Interceptors never mutate a message: :meth:`Message.replace`
and :meth:`Message.with_wire_bytes` return changed copies, and only those are re-serialised.

:func:`parse` never raises: input that is not a valid JSON-RPC message becomes an
:class:`Invalid` value carrying the error code to answer with and, when it can be recovered,
the id to answer to.

Which ids are accepted (docs/protocol.md has the table). MCP requires "a string or integer
ID" and never null; JSON-RPC 2.0 allows any number but says ids SHOULD NOT have fractional
parts. mcpchaos accepts what MCP allows and the official SDK's ``RequestId`` (strict ``int``
or ``str``) accepts:

- a JSON string (any, including ``""``), or a JSON integer literal of any size (``7``,
  ``-1``, ``12345678901234567890123``);
- not a number written with a fraction or an exponent, even an integral one (``4.0``,
  ``1e3``): -32600, as from an SDK server; nor null, a boolean, an object or an array.

A request whose id is not accepted is answered -32600 with its id echoed as it was read
(``"id": 4.0``), so the client can match the error to its request; JSON-RPC's ``null`` is
only for an id that cannot be read: a parse error, a number beyond double range, or an id
that is null, a boolean, an object or an array (none of which a JSON-RPC response may carry
as its id).
:attr:`Invalid.echo_id` is that id; :attr:`Invalid.id` stays None, because the id is not one
a pending request can have.
"""

from __future__ import annotations

import enum
import json
import math
from dataclasses import dataclass
from typing import Any, Final

import orjson

from mcpchaos.protocol import codes

MessageId = int | str
"""A JSON-RPC id as MCP allows it: a string or an integer (never null, never fractional)."""

EchoId = int | float | str
"""An id that an error response may echo: an accepted id, or a number that is not one (4.0)."""

JSONRPC_VERSION: Final = "2.0"


class Direction(enum.Enum):
    """Which way a message travels through the proxy."""

    CLIENT_TO_SERVER = "client_to_server"
    SERVER_TO_CLIENT = "server_to_client"

    # Members are singletons: identity hashing (in C) instead of Enum's hash of the name, in
    # Python, which every dict keyed by a direction paid per message (≈ 20 calls per request).
    __hash__ = object.__hash__

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

    __slots__ = ("_wire", "event_id", "header_overrides", "id", "kind", "method", "payload")

    def __init__(
        self, kind: Kind, payload: dict[str, Any], wire: bytes | None = None, event_id: str | None = None
    ) -> None:
        self.kind = kind
        self.payload = payload
        self._wire = wire
        self.event_id = event_id
        """The SSE event id the message arrived with (HTTP), kept so resumption still works."""
        self.header_overrides: tuple[tuple[str, str | None], ...] = ()
        """HTTP headers to send this request upstream with, in place of the mirrored ones
        derived from its body (``None``: leave the header out). Set by header faults through
        :meth:`with_header_overrides`; ignored on stdio."""
        # Read once here: every layer asks for them, several times a message (plain slots,
        # not properties: ≈ 11 lookups a proxied request).
        value = payload.get("id")
        self.id: MessageId | None = (
            value if isinstance(value, int | str) and not isinstance(value, bool) else None
        )
        """The id of a request or response; None for a notification."""
        method = payload.get("method")
        self.method: str | None = method if isinstance(method, str) else None
        """The method of a request or notification; None for a response."""

    @property
    def wire(self) -> bytes:
        """The bytes this message is sent as (serialised lazily for built messages)."""
        if self._wire is None:
            self._wire = _encode(self.payload)
        return self._wire

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

    def with_header_overrides(self, overrides: tuple[tuple[str, str | None], ...]) -> Message:
        """The same message, to be sent over HTTP with these headers overriding the ones its
        body implies (see :attr:`header_overrides`)."""
        copy = Message(self.kind, self.payload, self._wire, self.event_id)
        copy.header_overrides = overrides
        return copy

    def rerouted(self, upstream_url: str) -> Rerouted:
        """The same message, to be sent over HTTP to ``upstream_url`` instead of the proxy's
        upstream (see :class:`Rerouted`)."""
        return Rerouted(self, upstream_url)

    def __repr__(self) -> str:
        return f"Message({self.kind.value}, id={self.id!r}, method={self.method!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return self.kind is other.kind and self.payload == other.payload

    __hash__ = None  # type: ignore[assignment]


class Rerouted(Message):
    """A message the HTTP proxy sends to another upstream (``upstream_url``: a replica of the
    server, or one restarted) instead of its own: the ``input_required`` replica hop. A subclass,
    so a plain message pays nothing for it; ignored on stdio."""

    __slots__ = ("upstream_url",)

    def __init__(self, message: Message, upstream_url: str) -> None:
        super().__init__(message.kind, message.payload, message._wire, message.event_id)
        self.header_overrides = message.header_overrides
        self.upstream_url = upstream_url


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
    an accepted one, so the answer can reach the right pending request; ``is_request`` tells
    whether the sender expects an answer (it had a method and an id); ``echo_id`` is the id
    the error response carries: ``id``, or the id as read when it is a finite number that is
    not accepted (``4.0``); None (``"id": null``) when there is nothing to echo.
    """

    raw: bytes
    code: int
    reason: str
    id: MessageId | None = None
    is_request: bool = False
    echo_id: EchoId | None = None


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
    orjson refuses (lone surrogate escapes, numbers beyond double range). Raises ValueError.

    Bytes that are not UTF-8 stay refused: the standard library would read an encoded lone
    surrogate (``\xed\xa0\x80``) through ``surrogatepass``, and a server reading the same
    bytes strictly would answer an id the client never sent."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as first:
        try:
            return json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise first from None


def _valid_id(value: Any) -> bool:
    return isinstance(value, int | str) and not isinstance(value, bool)


_BEYOND_INT64: Final = float(2**63)
"""A float id at least this large (in magnitude) may be an integer literal orjson could not
hold in 64 bits (it reads those as floats); smaller floats were written as floats."""


def _reread_float_id(
    data: bytes, obj: dict[str, Any], raw_id: float
) -> tuple[dict[str, Any], Any, MessageId | None]:
    """orjson reads an integer literal beyond 64 bits as a float; the standard library reads
    it exactly. Only for a huge float id, so never on the hot path: a
    ``12345678901234567890123`` id is accepted with the exact payload, a ``1e20`` id stays a
    float (not accepted)."""
    try:
        exact = json.loads(data, parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # e.g. an integer over the int-to-str digit limit
        return obj, raw_id, None
    if isinstance(exact, dict) and _valid_id(exact.get("id")):
        return exact, exact["id"], exact["id"]
    return obj, raw_id, None


def _echo_id(value: Any) -> EchoId | None:
    """The id an error answering a message with id ``value`` carries (off the hot path)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | str) or (isinstance(value, float) and math.isfinite(value)):
        return value
    return None


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
    if usable_id is None and isinstance(raw_id, float) and abs(raw_id) >= _BEYOND_INT64:
        obj, raw_id, usable_id = _reread_float_id(data, obj, raw_id)
    method = obj.get("method")
    looks_like_request = "method" in obj and "id" in obj

    if obj.get("jsonrpc") != JSONRPC_VERSION:
        return Invalid(
            data,
            codes.INVALID_REQUEST,
            'Invalid Request: "jsonrpc" must be "2.0"',
            usable_id,
            looks_like_request,
            _echo_id(raw_id),
        )
    if "method" in obj:
        if not isinstance(method, str):
            return Invalid(
                data,
                codes.INVALID_REQUEST,
                'Invalid Request: "method" must be a string',
                usable_id,
                looks_like_request,
                _echo_id(raw_id),
            )
        params = obj.get("params")
        if params is not None and not isinstance(params, dict | list):
            return Invalid(
                data,
                codes.INVALID_REQUEST,
                'Invalid Request: "params" must be an object',
                usable_id,
                looks_like_request,
                _echo_id(raw_id),
            )
        if "id" not in obj:
            return Message(Kind.NOTIFICATION, obj, data)
        if usable_id is None:
            return Invalid(
                data,
                codes.INVALID_REQUEST,
                f'Invalid Request: "id" must be a string or an integer, not {_id_type(raw_id)}',
                None,
                True,
                _echo_id(raw_id),
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
            echo_id=_echo_id(raw_id),
        )
    if "id" not in obj or (raw_id is not None and usable_id is None):
        return Invalid(
            data,
            codes.INVALID_REQUEST,
            'Invalid response: "id" missing or of the wrong type',
            echo_id=_echo_id(raw_id),
        )
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
                echo_id=usable_id,
            )
        return Message(Kind.ERROR, obj, data)
    return Message(Kind.RESULT, obj, data)


def _id_type(value: Any) -> str:
    if isinstance(value, float):
        return "a number with a fraction or an exponent"
    return _json_type(value)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def error_response(id: EchoId | None, code: int, message: str, data: Any = None) -> Message:
    """Build a JSON-RPC error response (``id`` None gives ``"id": null``, as JSON-RPC asks
    for errors about messages whose id could not be read; a float is echoed as it was read)."""
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
