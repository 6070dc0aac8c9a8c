"""JSON-RPC message bodies for the fuzz suite, each with what the proxy owes for it.

A strategy draws a *shape* (a frozen dataclass); :meth:`render` turns it into the bytes sent,
taking its ids from a counter, so every id is unique over a whole run and a duplicated or
misrouted answer can never pass for a right one. The rendered :class:`Body` carries the
oracle: its :class:`Kind` (what the proxy owes), the id the answer carries, the text the echo
upstream (``bench.echo_stdio`` / ``bench.echo_http``) sends back.

The oracle is written from the rules the proxy documents (docs/proxy.md, docs/protocol.md),
not from its code: a valid request is forwarded and answered by the echo; bytes that are not
JSON, JSON that is not an object, and a message with no id to echo get an error with
``"id": null``; a request (method and id) that is invalid gets an error with its id (a float
id such as ``7.5`` echoed as read); valid notifications and responses get nothing.

What the strategies leave out on purpose (each is pinned elsewhere): an oversized line whose
leading id is written with escapes (``tests/fuzz/test_known_bugs.py``); integers of more than
4,300 digits (Python's int-to-str limit makes the proxy's fallback parser refuse them, a
documented-free corner, not a crash); method names the echo or the proxy treat specially
(``initialize``, ``tools/list``, ``server/discover``, ``subscriptions/listen``).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from hypothesis import strategies as st

from mcpchaos.protocol import codes

Ids = Iterator[int]
"""Where a shape takes fresh serial numbers from (one counter per run)."""

VALID_MAX = 1300
"""A valid request's body stays under this: its answer (at most ~3x when the echo escapes every
character) stays under the 4 KiB limits the fuzzed proxies run with."""

_SPECIAL_METHODS = frozenset({"initialize", "tools/list", "server/discover", "subscriptions/listen"})


class Kind(enum.Enum):
    """What the proxy owes for a body (before size limits, which each transport applies)."""

    REQUEST = "request"
    """A valid request: forwarded, answered by the echo with ``id`` and ``text``."""
    QUIET = "quiet"
    """A valid notification or response: nobody answers it."""
    REFUSED = "refused"
    """Invalid, and the error carries ``id`` (a request whose id could be read)."""
    REFUSED_NULL = "refused-null"
    """Invalid, and the error carries ``"id": null``."""
    BLANK = "blank"
    """Only whitespace: a stdio line is skipped; an HTTP body is a parse error."""


@dataclass(frozen=True, slots=True)
class Body:
    """One rendered message and its oracle."""

    family: str
    data: bytes
    kind: Kind
    id: Any = None
    """The id the answer carries (REQUEST, REFUSED)."""
    text: Any = None
    """The text the echo sends back (REQUEST)."""
    code: int | None = None
    """The error code owed (REFUSED, REFUSED_NULL); None: -32700 or -32600."""
    leading_id: Any = None
    """The id an answer to this body carries when it is over the size limit: the id at the
    line's start when it is written plainly there (docs: "with its id when it can be read")."""
    silent: tuple[Any, ...] = ()
    """Ids inside the body that must never be answered (a batch's members)."""
    plain_id: bool = False
    """The id is written plainly enough to be read from the start of an answer's line."""


class Shape(Protocol):
    def render(self, ids: Ids) -> Body: ...


def id_key(value: Any) -> tuple[str, Any]:
    """A dictionary key for an id that keeps ``4`` and ``4.0`` apart."""
    return (type(value).__name__, value)


# ---- JSON pieces as bytes -------------------------------------------------------------------


def json_string(text: str, escape: str = "raw") -> bytes:
    """``text`` as a JSON string: ``raw`` UTF-8, ``ascii`` (\\u escapes for non-ASCII) or ``all``
    (every character escaped). Lone surrogates are always escaped."""
    if escape == "all":
        units: list[str] = []
        for char in text:
            point = ord(char)
            if point >= 0x10000:
                point -= 0x10000
                units += [f"\\u{0xD800 + (point >> 10):04x}", f"\\u{0xDC00 + (point & 0x3FF):04x}"]
            else:
                units.append(f"\\u{point:04x}")
        return ('"' + "".join(units) + '"').encode()
    ascii_only = escape == "ascii" or any(0xD800 <= ord(char) <= 0xDFFF for char in text)
    return json.dumps(text, ensure_ascii=ascii_only).encode()


def json_object(pairs: list[tuple[bytes, bytes]], ws: bytes = b"") -> bytes:
    """An object from (key JSON, value JSON) pairs, with ``ws`` around every token."""
    inner = (ws + b"," + ws).join(key + ws + b":" + ws + value for key, value in pairs)
    return b"{" + ws + inner + ws + b"}"


def _key(name: str) -> bytes:
    return b'"' + name.encode() + b'"'


ODD_NUMBERS = (
    b"1e400",
    b"-1e400",
    b"1e-400",
    b"-0",
    b"-0.0",
    b"0.1e1",
    b"1E+2",
    b"123456789012345678901234567890",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"9007199254740993",
    b"1.7976931348623157e308",
    b"5e-324",
)
"""Numbers at and past the edges of doubles and 64-bit integers (valid JSON, every one)."""

_scalars = st.one_of(
    st.integers().map(lambda n: str(n).encode()),
    st.sampled_from(ODD_NUMBERS),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: repr(f).encode()),
    st.sampled_from([b"true", b"false", b"null"]),
    st.tuples(st.text(max_size=16), st.sampled_from(["raw", "ascii", "all"])).map(
        lambda pair: json_string(*pair)
    ),
)


def _array(items: list[bytes]) -> bytes:
    return b"[" + b",".join(items) + b"]"


def _nested(depth: int, array: bool) -> bytes:
    return b"[" * depth + b"]" * depth if array else b'{"a":' * depth + b"0" + b"}" * depth


fragments: st.SearchStrategy[bytes] = st.one_of(
    st.recursive(
        _scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4).map(_array),
            st.lists(st.tuples(st.text(max_size=8).map(json_string), inner), max_size=4).map(json_object),
        ),
        max_leaves=8,
    ),
    st.builds(_nested, st.integers(1, 64), st.booleans()),
)
"""Any valid JSON value as bytes: odd numbers, escapes, nesting up to 64 levels."""

whitespace = st.sampled_from([b"", b"", b" ", b"\t", b" \t "])
whitespace_with_newlines = st.sampled_from([b"", b" ", b"\t", b"\n", b"\r\n  "])


# ---- ids -------------------------------------------------------------------------------------


_ID_STYLES = ("int", "neg", "big", "str", "text", "ascii", "all", "surrogate")
_PLAIN_ID_STYLES = ("int", "neg", "str", "text")


def render_id(style: str, serial: int, label: str = "") -> tuple[Any, bytes, bool]:
    """An id unique to ``serial``: (its value, its JSON, whether it is written plainly enough to
    be read from a line's first bytes: an integer of at most 18 digits, a string without
    escapes of at most 256 bytes)."""
    if style == "int":
        return serial, str(serial).encode(), True
    if style == "neg":
        return -serial, str(-serial).encode(), True
    if style == "big":  # beyond 64 bits: kept exactly, never a float
        return 10**30 + serial, str(10**30 + serial).encode(), False
    if style == "str":
        return f"s{serial}", json_string(f"s{serial}"), True
    if style == "surrogate":  # a lone surrogate, valid JSON that orjson refuses
        return f"\ud800{serial}", json_string(f"\ud800{serial}"), False
    value = f"{serial}·{label}"  # the serial first: unique whatever the label holds
    data = json_string(value, {"text": "raw", "ascii": "ascii", "all": "all"}[style])
    plain = style == "text" and b"\\" not in data and len(data) <= 258
    return value, data, plain


id_styles = st.sampled_from(_ID_STYLES)
labels = st.text(max_size=10)
"""Free text inside string ids (any character but lone surrogates)."""


# ---- valid requests ----------------------------------------------------------------------------


def _method_ok(name: str) -> bool:
    return name not in _SPECIAL_METHODS


methods = st.one_of(
    st.sampled_from(["tools/call", "tools/call", "ping", "resources/read", "prompts/get", "x"]),
    st.text(min_size=1, max_size=16).filter(_method_ok),
)
_PARAMS_FORMS = ("echo", "echo", "echo", "list", "none", "null", "odd-arguments")
_ODD_ARGUMENTS = (b"5", b'"text"', b"[1,2]", b"null", b"true")


@dataclass(frozen=True, slots=True)
class ValidRequest:
    """A valid JSON-RPC request; the echo answers with ``params.arguments.text`` ("" without)."""

    id_style: str
    label: str
    method: str
    method_escape: str
    params_form: str
    text: str
    text_escape: str
    surrogate_text: bool
    extras: tuple[bytes, ...]
    meta: bytes | None
    order: tuple[int, ...]
    duplicate_id: bool
    ws: bytes

    def render(self, ids: Ids) -> Body:
        body = self._render(ids, with_extras=True)
        if len(body.data) > VALID_MAX:  # keep valid requests valid whatever the extras drew
            body = self._render(ids, with_extras=False)
        assert len(body.data) <= VALID_MAX, body.data[:200]
        return body

    def _render(self, ids: Ids, with_extras: bool) -> Body:
        value, id_json, plain = render_id(self.id_style, next(ids), self.label)
        text = self.text + ("\udc00" if self.surrogate_text else "")
        echoed: Any = ""
        params: bytes | None
        if self.params_form == "echo":
            arguments = [(b'"text"', json_string(text, self.text_escape))]
            if with_extras:
                arguments += [(_key(f"x{index}"), extra) for index, extra in enumerate(self.extras)]
            params = json_object(
                [(b'"name"', b'"echo"'), (b'"arguments"', json_object(arguments, self.ws))], self.ws
            )
            echoed = text
        elif self.params_form == "list":
            params = _array(list(self.extras) if with_extras else [])
        elif self.params_form == "null":
            params = b"null"
        elif self.params_form == "odd-arguments":
            params = json_object([(b'"arguments"', _ODD_ARGUMENTS[len(self.text) % len(_ODD_ARGUMENTS)])])
        else:
            params = None
        pairs = [
            (b'"jsonrpc"', b'"2.0"'),
            (b'"id"', id_json),
            (b'"method"', json_string(self.method, self.method_escape)),
        ]
        if params is not None:
            pairs.append((b'"params"', params))
        pairs = [pairs[index] for index in self.order if index < len(pairs)]
        if self.meta is not None and with_extras:
            pairs.append((b'"_meta"', self.meta))
        if self.duplicate_id:  # the last one counts (as orjson, the standard library and the SDK read it)
            pairs.insert(0, (b'"id"', b'"never-answered"'))
        return Body("valid", json_object(pairs, self.ws), Kind.REQUEST, value, echoed, plain_id=plain)


valid_requests = st.builds(
    ValidRequest,
    id_style=id_styles,
    label=labels,
    method=methods,
    method_escape=st.sampled_from(["raw", "raw", "ascii", "all"]),
    params_form=st.sampled_from(_PARAMS_FORMS),
    text=st.text(max_size=60),
    text_escape=st.sampled_from(["raw", "ascii", "all"]),
    surrogate_text=st.booleans(),
    extras=st.lists(fragments, max_size=3).map(tuple),
    meta=st.none() | fragments,
    order=st.permutations([0, 1, 2, 3]).map(tuple),
    duplicate_id=st.booleans(),
    ws=whitespace,
)


# ---- valid messages nobody answers ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Notification:
    method: str
    params: bytes | None
    ws: bytes

    def render(self, ids: Ids) -> Body:
        params = self.params
        if self.method == "notifications/cancelled":  # of a request that never was
            params = json_object([(b'"requestId"', json_string(f"c{next(ids)}"))])
        pairs = [(b'"jsonrpc"', b'"2.0"'), (b'"method"', json_string(self.method))]
        if params is not None:
            pairs.append((b'"params"', params))
        return Body("notification", json_object(pairs, self.ws), Kind.QUIET)


_object_fragments = st.lists(st.tuples(st.text(max_size=8).map(json_string), fragments), max_size=3).map(
    json_object
)
notifications = st.builds(
    Notification,
    method=st.one_of(
        st.sampled_from(
            [
                "notifications/progress",
                "notifications/message",
                "notifications/cancelled",
                "notifications/roots/list_changed",
                "notifications/initialized",
            ]
        ),
        st.text(min_size=1, max_size=16).filter(_method_ok),
    ),
    params=st.none() | _object_fragments | st.just(b"[]") | st.just(b"null"),
    ws=whitespace,
)


@dataclass(frozen=True, slots=True)
class StrayResponse:
    """A valid response to a request the server never sent."""

    id_style: str
    result: bytes | None
    error_code: int
    ws: bytes

    def render(self, ids: Ids) -> Body:
        id_json = b"null" if self.id_style == "null" else render_id(self.id_style, next(ids))[1]
        if self.result is not None and self.id_style != "null":
            answer = (b'"result"', self.result)
        else:
            error = json_object([(b'"code"', str(self.error_code).encode()), (b'"message"', b'"stray"')])
            answer = (b'"error"', error)
        pairs = [(b'"jsonrpc"', b'"2.0"'), (b'"id"', id_json), answer]
        return Body("stray-response", json_object(pairs, self.ws), Kind.QUIET)


stray_responses = st.builds(
    StrayResponse,
    id_style=st.sampled_from(["int", "str", "text", "big", "null"]),
    result=st.none() | fragments,
    error_code=st.integers(-(2**31), 2**31),
    ws=whitespace,
)


# ---- invalid messages -----------------------------------------------------------------------


_BAD_RESPONSES = (
    (b'"result"', b"{}", b'"error"', b'{"code":1,"message":"m"}'),  # both
    (b'"x"', b"1"),  # neither
    (b'"error"', b"5"),
    (b'"error"', b'{"code":"1","message":"m"}'),
    (b'"error"', b'{"code":1.5,"message":"m"}'),
    (b'"error"', b'{"code":1}'),
    (b'"error"', b'{"code":1,"message":2}'),
)


@dataclass(frozen=True, slots=True)
class BadResponse:
    """No method, and not a valid response: answered with ``"id": null`` (it is no request)."""

    variant: int
    bad_id: bytes | None
    bad_version: bytes | None
    ws: bytes

    def render(self, ids: Ids) -> Body:
        parts = _BAD_RESPONSES[self.variant % len(_BAD_RESPONSES)]
        pairs = [(parts[index], parts[index + 1]) for index in range(0, len(parts), 2)]
        if self.bad_id is not None or self.bad_version is not None:  # then the answer itself may be fine
            pairs = [(b'"result"', b"{}")]
        id_json = self.bad_id if self.bad_id is not None else render_id("int", next(ids))[1]
        version = self.bad_version if self.bad_version is not None else b'"2.0"'
        pairs = [(b'"jsonrpc"', version), (b'"id"', id_json), *pairs]
        return Body(
            "bad-response", json_object(pairs, self.ws), Kind.REFUSED_NULL, code=codes.INVALID_REQUEST
        )


_NULL_IDS = (b"null", b"true", b"false", b"{}", b"[]", b'{"id":1}', b"1e400")
_BAD_VERSIONS = (b'"1.0"', b"2.0", b"null", b'"2.0 "', b'"2"', b"[]")
bad_responses = st.builds(
    BadResponse,
    variant=st.integers(0, len(_BAD_RESPONSES) - 1),
    bad_id=st.none() | st.sampled_from([b"true", b"{}", b"[]", b"1.5", b"1e400"]),
    bad_version=st.none() | st.sampled_from(_BAD_VERSIONS),
    ws=whitespace,
)


@dataclass(frozen=True, slots=True)
class BadRequest:
    """A method and an id, and something wrong: answered with the id when it can be echoed."""

    id_form: str
    """``valid``, ``fraction`` (7.5), ``exponent`` (7e0, read 7.0) or ``unreadable`` (null, true...)."""
    id_style: str
    unreadable: bytes
    version: bytes | None
    """None: ``"2.0"``; ``b""``: the field left out."""
    method: bytes | None
    """None: a valid method; else a value of the wrong type."""
    params: bytes | None
    ws: bytes

    def render(self, ids: Ids) -> Body:
        serial = next(ids)
        echo: Any
        if self.id_form == "valid":
            echo, id_json, _plain = render_id(self.id_style, serial)
        elif self.id_form == "fraction":
            echo, id_json = serial + 0.5, b"%d.5" % serial
        elif self.id_form == "exponent":
            echo, id_json = float(serial), b"%de0" % serial
        else:
            echo, id_json = None, self.unreadable
        invalid_elsewhere = self.version is not None or self.method is not None or self.params is not None
        if self.id_form == "valid" and not invalid_elsewhere:
            version = b'"1.0"'  # something must be wrong
        else:
            version = self.version if self.version is not None else b'"2.0"'
        pairs = [(b'"id"', id_json), (b'"method"', self.method if self.method is not None else b'"ping"')]
        if version:
            pairs.insert(0, (b'"jsonrpc"', version))
        if self.params is not None:
            pairs.append((b'"params"', self.params))
        data = json_object(pairs, self.ws)
        if echo is None:
            return Body("bad-request", data, Kind.REFUSED_NULL, code=codes.INVALID_REQUEST)
        return Body("bad-request", data, Kind.REFUSED, echo, code=codes.INVALID_REQUEST)


bad_requests = st.builds(
    BadRequest,
    id_form=st.sampled_from(["valid", "valid", "fraction", "exponent", "unreadable"]),
    id_style=st.sampled_from(_ID_STYLES),
    unreadable=st.sampled_from(_NULL_IDS),
    version=st.none() | st.sampled_from((b"", *_BAD_VERSIONS)),
    method=st.none() | st.sampled_from([b"5", b"null", b"[]", b"{}", b"true", b"1.5"]),
    params=st.none() | st.sampled_from([b"5", b'"s"', b"true", b"false", b"0"]),
    ws=whitespace,
)


@dataclass(frozen=True, slots=True)
class Batch:
    """A JSON-RPC batch (MCP removed them): refused as a whole; its members are never answered."""

    members: tuple[ValidRequest, ...]

    def render(self, ids: Ids) -> Body:
        bodies = [member.render(ids) for member in self.members]
        data = _array([body.data for body in bodies])
        silent = tuple(body.id for body in bodies)
        return Body("batch", data, Kind.REFUSED_NULL, code=codes.INVALID_REQUEST, silent=silent)


batches = st.builds(Batch, st.lists(valid_requests, max_size=3).map(tuple))


@dataclass(frozen=True, slots=True)
class NotAnObject:
    """Valid JSON that is not an object (a scalar, an array, deep nesting)."""

    data: bytes

    def render(self, ids: Ids) -> Body:
        return Body("not-an-object", self.data, Kind.REFUSED_NULL)


def _no_object_start(data: bytes) -> bool:
    return not data.lstrip().startswith(b"{")


not_objects = st.builds(
    NotAnObject,
    st.one_of(
        fragments.filter(_no_object_start),
        st.integers(65, 2500).map(lambda depth: _nested(depth, True)),
        st.integers(65, 600).map(lambda depth: _nested(depth, False)),
    ),
)


@dataclass(frozen=True, slots=True)
class ForeignObject:
    """An object with none of JSON-RPC's fields."""

    pairs: tuple[tuple[bytes, bytes], ...]

    def render(self, ids: Ids) -> Body:
        return Body(
            "foreign-object", json_object(list(self.pairs)), Kind.REFUSED_NULL, code=codes.INVALID_REQUEST
        )


_RPC_FIELDS = frozenset({"jsonrpc", "id", "method", "params", "result", "error"})
foreign_objects = st.builds(
    ForeignObject,
    st.lists(
        st.tuples(st.text(max_size=8).filter(lambda key: key not in _RPC_FIELDS).map(json_string), fragments),
        max_size=4,
    ).map(tuple),
)


def _decodes_to_fields(data: bytes) -> bool:
    """True if ``data`` is JSON for an object that has a field (then it is no plain garbage)."""
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return False
    return isinstance(value, dict) and bool(value)


@dataclass(frozen=True, slots=True)
class Garbage:
    """Bytes that are not one JSON-RPC message: random bytes and text, invalid UTF-8 inside a
    valid request, a cut or extended request, JSON's near misses."""

    family: str
    data: bytes

    def render(self, ids: Ids) -> Body:
        if not self.data.strip():
            return Body("blank", self.data, Kind.BLANK)
        return Body(self.family, self.data, Kind.REFUSED_NULL)


_INVALID_UTF8 = (b"\xff", b"\xfe", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\xf4\x90\x80\x80")
_SAMPLE = (
    b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"abc"}}}'
)
_NEAR_MISSES = (
    b"{'jsonrpc':'2.0','id':1,'method':'ping'}",
    b'{"jsonrpc":"2.0","id":1,"method":"ping",}',
    b'{"jsonrpc":"2.0","id":1,"method":"ping"} // comment',
    b'/* c */ {"jsonrpc":"2.0","id":1,"method":"ping"}',
    b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"n":NaN}}',
    b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"n":Infinity}}',
    b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"n":-Infinity}}',
    b'{"jsonrpc":"2.0","id":01,"method":"ping"}',
    b'{"jsonrpc":"2.0","id":0x10,"method":"ping"}',
    b'{"jsonrpc":"2.0","id":1,"method":"ping"}{"jsonrpc":"2.0","id":2,"method":"ping"}',
    b'\xef\xbb\xbf{"jsonrpc":"2.0","id":1,"method":"ping"}',
    b'{"jsonrpc":"2.0","id":1,"method":"pi\x00ng"}',
    b'{"jsonrpc":"2.0","id":1,"method":"pi\tng"}',
    b'{"jsonrpc":"2.0","id":"\\ud800\\u","method":"ping"}',
    b'{"jsonrpc":"2.0","id":"\\x41","method":"ping"}',
    b'{"jsonrpc":"2.0","id":1,"method":"ping"',
    b'"jsonrpc":"2.0","id":1,"method":"ping"}',
    b"{" * 3000,
    b"[" * 3000,
)


def _spliced(data: bytes, at: int, insert: bytes) -> bytes:
    at = 1 + at % (len(data) - 1)
    return data[:at] + insert + data[at:]


def _without_newlines(data: bytes) -> bytes:
    return data.replace(b"\n", b" ")


garbage = st.one_of(
    st.binary(max_size=300)
    .map(_without_newlines)
    .filter(lambda data: not _decodes_to_fields(data))
    .map(lambda data: Garbage("random-bytes", data)),
    st.text(max_size=200)
    .map(lambda text: _without_newlines(text.encode()))
    .filter(lambda data: not _decodes_to_fields(data))
    .map(lambda data: Garbage("random-text", data)),
    st.builds(
        lambda insert, text: Garbage(
            "invalid-utf8", _SAMPLE.replace(b"abc", text.encode()[:40] + insert + b"z")
        ),
        st.sampled_from(_INVALID_UTF8),
        st.text(max_size=20).map(lambda text: text.replace('"', "").replace("\\", "")),
    ),
    st.builds(
        lambda at, insert: Garbage("invalid-utf8", _spliced(_SAMPLE, at, insert)),
        st.integers(0, 10_000),
        st.sampled_from(_INVALID_UTF8),
    ),
    st.builds(
        lambda cut: Garbage("truncated", _SAMPLE[: 1 + cut % (len(_SAMPLE) - 1)]), st.integers(0, 10_000)
    ),
    st.builds(
        lambda tail: Garbage("trailing-garbage", _SAMPLE + tail),
        st.sampled_from([b"x", b"}", b",", b"{}", b"\x00", b"]", b'"']),
    ),
    st.sampled_from(_NEAR_MISSES).map(lambda data: Garbage("near-miss", data)),
    st.text(alphabet=" \t\r\x0b\x0c", max_size=8).map(lambda text: Garbage("blank", text.encode())),
)


@dataclass(frozen=True, slots=True)
class SizedRequest:
    """A valid echo request padded to ``size`` bytes exactly, around and beyond the limit; its
    id written plainly, first, after ``jsonrpc``, or last (then it cannot be read from the
    line's first bytes)."""

    size: int
    id_style: str
    label: str
    position: str

    def render(self, ids: Ids) -> Body:
        value, id_json, plain = render_id(self.id_style, next(ids), self.label)
        head = [(b'"jsonrpc"', b'"2.0"'), (b'"method"', b'"tools/call"')]
        id_pair = (b'"id"', id_json)
        if self.position == "first":
            head.insert(0, id_pair)
        elif self.position == "after-jsonrpc":
            head.insert(1, id_pair)

        def build(pad: int) -> bytes:
            arguments = json_object([(b'"text"', b'"' + b"x" * pad + b'"')])
            pairs = [*head, (b'"params"', json_object([(b'"name"', b'"echo"'), (b'"arguments"', arguments)]))]
            if self.position == "last":
                pairs.append(id_pair)
            return json_object(pairs)

        pad = max(0, self.size - len(build(0)))
        leading = value if plain and self.position != "last" else None
        return Body("sized", build(pad), Kind.REQUEST, value, "x" * pad, leading_id=leading, plain_id=plain)


def sized_requests(limit: int) -> st.SearchStrategy[SizedRequest]:
    """Requests of sizes just under, at and over ``limit``, and far over it."""
    return st.builds(
        SizedRequest,
        size=st.one_of(st.integers(limit - 64, limit + 64), st.integers(limit + 1, 4 * limit)),
        id_style=st.sampled_from(_PLAIN_ID_STYLES),
        label=st.text(
            alphabet=st.characters(exclude_characters='"\\', exclude_categories=("Cc", "Cs")), max_size=10
        ),
        position=st.sampled_from(["first", "after-jsonrpc", "last"]),
    )


@dataclass(frozen=True, slots=True)
class OversizedGarbage:
    """Random bytes repeated past the limit (no id to read)."""

    seed: bytes
    size: int

    def render(self, ids: Ids) -> Body:
        data = (self.seed * (self.size // len(self.seed) + 1))[: self.size]
        return Body("oversized-garbage", data, Kind.REFUSED_NULL)


def oversized_garbage(limit: int) -> st.SearchStrategy[OversizedGarbage]:
    return st.builds(
        OversizedGarbage,
        seed=st.binary(min_size=1, max_size=16)
        .map(_without_newlines)
        .filter(lambda data: bool(data.strip()) and not data.lstrip().startswith(b"{")),
        size=st.integers(limit + 1, 3 * limit),
    )


def weighted(choices: list[tuple[int, st.SearchStrategy[Any]]]) -> st.SearchStrategy[Any]:
    """One of ``choices``, each drawn in proportion to its weight (``st.one_of`` draws its
    branches evenly and folds repeated ones together)."""
    pool = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(pool).flatmap(lambda strategy: strategy)


def bodies(limit: int) -> st.SearchStrategy[Shape]:
    """Every kind of body; valid requests about 40 % of them."""
    return weighted(
        [
            (40, valid_requests),
            (5, sized_requests(limit)),
            (6, notifications),
            (5, stray_responses),
            (6, bad_responses),
            (8, bad_requests),
            (3, batches),
            (5, not_objects),
            (3, foreign_objects),
            (16, garbage),
            (3, oversized_garbage(limit)),
        ]
    )
