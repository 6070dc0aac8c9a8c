"""HTTP requests for the HTTP proxy, and the answer it owes for each.

A request is a message body (:mod:`tests.fuzz.messages`) in a POST to the MCP endpoint with
drawn headers (Content-Type right, wrong or missing; Content-Encoding; Accept variants; a
made-up ``Mcp-Session-Id``; Host and Origin allowed or not; extra headers; HTTP/1.0; Expect:
100-continue) and framing (Content-Length, chunked in random pieces with extensions and
trailers), or another method or path, or a broken head or framing.

The proxy owes, in this order (docs/proxy.md): 400 with a JSON-RPC error for a request HTTP
cannot parse (and the connection closes); 413 -32014 for a body over ``--max-body-bytes``; 421
for a Host, 403 for an Origin not allowed (-32018); other paths and methods relayed (the echo
upstream answers 404 off ``/mcp``, 405 for a method it does not take, 200 for DELETE); 415
-32015 for a body not ``application/json`` or compressed; then the body's own answer: 200 with
the echo for a valid request, 202 for a notification or response, 400 with the JSON-RPC error
(and the id when it can be read) for the rest.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from mcpchaos.protocol import codes
from tests.fuzz.messages import Body, Ids, Kind, Shape, bodies, json_object, weighted

MCP_PATH = b"/mcp"


@dataclass(frozen=True, slots=True)
class HttpOwed:
    """The answer owed: a status; for a JSON-RPC error its code (None: -32700 or -32600) and
    id; for an echo the id and text; whether the proxy closes the connection after it."""

    status: int
    code: int | None = None
    id: Any = None
    text: Any = None
    echo: bool = False
    error: bool = False
    closes: bool = False


@dataclass(frozen=True, slots=True)
class HttpCase:
    label: str
    raw: bytes
    owed: HttpOwed
    head: bool = False
    """A HEAD request: its answer has no body."""
    keeps_alive: bool = True
    """Safe to pipeline behind: nothing about it asks to close the connection."""


def body_owed(body: Body, limit: int) -> HttpOwed:
    if len(body.data) > limit:
        return HttpOwed(413, codes.REQUEST_TOO_LARGE, None, error=True, closes=True)
    if body.kind is Kind.REQUEST:
        return HttpOwed(200, id=body.id, text=body.text, echo=True)
    if body.kind is Kind.QUIET:
        return HttpOwed(202)
    if body.kind is Kind.REFUSED:
        return HttpOwed(400, body.code, body.id, error=True)
    if body.kind is Kind.REFUSED_NULL:
        return HttpOwed(400, body.code, None, error=True)
    return HttpOwed(400, codes.PARSE_ERROR, None, error=True)  # blank: not JSON


def _head(method: bytes, target: bytes, version: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    lines = [b"%s %s HTTP/%s" % (method, target, version)]
    lines += [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def chunked(data: bytes, cuts: tuple[int, ...], extension: bool, trailer: bool) -> bytes:
    """``data`` in chunked transfer coding, cut at ``cuts`` (fractions of 1000)."""
    points = sorted({len(data) * cut // 1000 for cut in cuts} | {0, len(data)})
    out = []
    for start, end in itertools.pairwise(points):
        if end > start:
            size = b"%x" % (end - start)
            out.append(size + (b";ext=1" if extension else b"") + b"\r\n" + data[start:end] + b"\r\n")
    out.append(b"0\r\n" + (b"X-Trailer: t\r\n" if trailer else b"") + b"\r\n")
    return b"".join(out)


ALLOWED_HOSTS = (
    b"127.0.0.1:%d",
    b"localhost",
    b"LOCALHOST:1",
    b"[::1]:8080",
    b"127.0.0.1",
    b"localhost:65535",
)
REFUSED_HOSTS = (
    b"evil.example",
    b"evil.example:%d",
    b"127.0.0.1.evil.example",
    b"localhost:x",
    b"127.0.0.2",
    b"",
)
ALLOWED_ORIGINS = (b"http://localhost:3000", b"http://127.0.0.1", b"http://[::1]:8080", b"HTTP://LOCALHOST:1")
REFUSED_ORIGINS = (
    b"http://evil.example",
    b"https://localhost.evil.example",
    b"null",
    b"http://127.0.0.1.evil",
)
JSON_TYPES = (
    b"application/json",
    b"application/json; charset=utf-8",
    b"Application/JSON",
    b"application/json ;x=y",
)
OTHER_TYPES = (
    b"text/plain",
    b"application/jsonx",
    b"application/x-www-form-urlencoded",
    b"multipart/form-data; boundary=x",
    b"",
    b"json",
)
ACCEPTS = (
    None,
    b"application/json, text/event-stream",
    b"application/json",
    b"text/event-stream",
    b"*/*",
    b"text/html",
    b"application/json;q=0, text/event-stream;q=0.5",
    b"garbage/*;;q=x",
)
ENCODINGS_REFUSED = (b"gzip", b"br", b"deflate", b"x-unknown", b"gzip, identity")
_TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SPECIAL_HEADERS = {
    b"host",
    b"origin",
    b"content-type",
    b"content-length",
    b"content-encoding",
    b"transfer-encoding",
    b"connection",
    b"expect",
    b"upgrade",
    b"te",
    b"trailer",
    b"mcp-session-id",
}


@dataclass(frozen=True, slots=True)
class Post:
    """A POST carrying a JSON-RPC body, with drawn headers and framing."""

    body: Shape
    content_type: int
    """Index into JSON_TYPES (>= 0) or -1 - index into OTHER_TYPES; None-like: -99 (missing)."""
    encoding: int
    """-1: none; 0: identity; n: ENCODINGS_REFUSED[n - 1]."""
    accept: int
    session: str
    host: int
    """>= 0: ALLOWED_HOSTS; < 0: REFUSED_HOSTS[-1 - host]; -99: none sent."""
    origin: int
    """-99: none; >= 0: ALLOWED_ORIGINS; < 0: REFUSED_ORIGINS."""
    framing: str
    cuts: tuple[int, ...]
    extension: bool
    trailer: bool
    extra: tuple[tuple[str, bytes], ...]
    expect_continue: bool
    http10: bool
    close: bool
    query: bool
    protocol_version: bytes | None

    def render(self, ids: Ids, port: int, limit: int) -> HttpCase:
        body = self.body.render(ids)
        owed = body_owed(body, limit)
        headers: list[tuple[bytes, bytes]] = []
        host_ok = True
        if self.host != -99:
            value = ALLOWED_HOSTS[self.host] if self.host >= 0 else REFUSED_HOSTS[-1 - self.host]
            host_ok = self.host >= 0
            headers.append((b"Host", value.replace(b"%d", b"%d" % port)))
        else:
            host_ok = False
        origin_ok = True
        if self.origin != -99:
            origin_ok = self.origin >= 0
            value = ALLOWED_ORIGINS[self.origin] if origin_ok else REFUSED_ORIGINS[-1 - self.origin]
            headers.append((b"Origin", value))
        type_ok = False
        if self.content_type != -99:
            type_ok = self.content_type >= 0
            value = JSON_TYPES[self.content_type] if type_ok else OTHER_TYPES[-1 - self.content_type]
            headers.append((b"Content-Type", value))
        encoding_ok = self.encoding <= 0
        if self.encoding == 0:
            headers.append((b"Content-Encoding", b"identity"))
        elif self.encoding > 0:
            headers.append((b"Content-Encoding", ENCODINGS_REFUSED[self.encoding - 1]))
        if ACCEPTS[self.accept] is not None:
            headers.append((b"Accept", ACCEPTS[self.accept]))  # type: ignore[arg-type]
        if self.session == "bogus":
            headers.append((b"Mcp-Session-Id", b"bogus-%d" % next(ids)))
        elif self.session == "binary":
            headers.append((b"Mcp-Session-Id", b"\xff\xfe-%d" % next(ids)))
        elif self.session == "empty":
            headers.append((b"Mcp-Session-Id", b""))
        if self.protocol_version is not None:
            headers.append((b"MCP-Protocol-Version", self.protocol_version))
        headers += [(name.encode(), value) for name, value in self.extra]
        if self.expect_continue:
            headers.append((b"Expect", b"100-continue"))
        if self.close:
            headers.append((b"Connection", b"close"))
        if self.framing == "chunked" and not self.http10:
            headers.append((b"Transfer-Encoding", b"chunked"))
            payload = chunked(body.data, self.cuts, self.extension, self.trailer)
        else:
            headers.append((b"Content-Length", b"%d" % len(body.data)))
            payload = body.data
        target = MCP_PATH + (b"?x=1&y=%2F" if self.query else b"")
        raw = _head(b"POST", target, b"1.0" if self.http10 else b"1.1", headers) + payload
        if owed.status != 413:
            if not host_ok:
                owed = HttpOwed(421, codes.HOST_OR_ORIGIN_NOT_ALLOWED, None, error=True)
            elif not origin_ok:
                owed = HttpOwed(403, codes.HOST_OR_ORIGIN_NOT_ALLOWED, None, error=True)
            elif not type_ok or not encoding_ok:
                owed = HttpOwed(415, codes.UNSUPPORTED_MEDIA_TYPE, None, error=True)
        keeps = not (self.close or self.http10 or owed.closes)
        return HttpCase(f"post:{body.family}", raw, owed, keeps_alive=keeps)


def _extra_header_name(name: str) -> bool:
    return name.lower().encode() not in _SPECIAL_HEADERS


extra_headers = st.lists(
    st.tuples(
        st.text(alphabet=_TCHARS, min_size=1, max_size=12).filter(_extra_header_name),
        st.binary(max_size=40).map(lambda data: bytes(b for b in data if 0x20 <= b < 0x7F).strip()),
    ),
    max_size=3,
).map(tuple)


def posts(limit: int) -> st.SearchStrategy[Post]:
    """POSTs to the MCP endpoint; most with a right Content-Type, an allowed Host, no Origin."""
    return st.builds(
        Post,
        body=bodies(limit),
        content_type=weighted(
            [
                (12, st.integers(0, len(JSON_TYPES) - 1)),
                (1, st.integers(-len(OTHER_TYPES), -1)),
                (1, st.just(-99)),
            ]
        ),
        encoding=weighted([(12, st.just(-1)), (2, st.just(0)), (1, st.integers(1, len(ENCODINGS_REFUSED)))]),
        accept=st.integers(0, len(ACCEPTS) - 1),
        session=st.sampled_from(["none", "none", "none", "bogus", "binary", "empty"]),
        host=weighted(
            [
                (14, st.integers(0, len(ALLOWED_HOSTS) - 1)),
                (1, st.integers(-len(REFUSED_HOSTS), -1)),
                (1, st.just(-99)),
            ]
        ),
        origin=weighted(
            [
                (12, st.just(-99)),
                (2, st.integers(0, len(ALLOWED_ORIGINS) - 1)),
                (1, st.integers(-len(REFUSED_ORIGINS), -1)),
            ]
        ),
        framing=st.sampled_from(["length", "length", "chunked"]),
        cuts=st.lists(st.integers(0, 1000), max_size=6).map(tuple),
        extension=st.booleans(),
        trailer=st.booleans(),
        extra=extra_headers,
        expect_continue=weighted([(9, st.just(False)), (1, st.just(True))]),
        http10=weighted([(19, st.just(False)), (1, st.just(True))]),
        close=weighted([(19, st.just(False)), (1, st.just(True))]),
        query=weighted([(9, st.just(False)), (1, st.just(True))]),
        protocol_version=st.none()
        | st.sampled_from([b"2025-11-25", b"2025-06-18", b"2026-07-28", b"1999-01-01", b"x"]),
    )


@dataclass(frozen=True, slots=True)
class Other:
    """Another method or path: relayed to the upstream (or refused by the Host check)."""

    method: bytes
    path: bytes
    host_ok: bool
    session: bool
    body: bytes

    def render(self, ids: Ids, port: int, limit: int) -> HttpCase:
        # HEAD only where the upstream answers: the proxy's own errors to a HEAD carry a body
        # (tests/fuzz/test_known_bugs.py), which would shift every later answer on the connection.
        host_ok = self.host_ok or self.method == b"HEAD"
        headers = [(b"Host", b"127.0.0.1:%d" % port if host_ok else b"evil.example")]
        if self.session:
            headers.append((b"Mcp-Session-Id", b"bogus-%d" % next(ids)))
        headers.append((b"Content-Length", b"%d" % len(self.body)))
        raw = _head(self.method, self.path, b"1.1", headers) + self.body
        head = self.method == b"HEAD"
        if not host_ok:
            owed = HttpOwed(421, codes.HOST_OR_ORIGIN_NOT_ALLOWED, None, error=True)
        elif self.path.split(b"?")[0] != MCP_PATH:
            owed = HttpOwed(404)
        elif self.method == b"DELETE":
            owed = HttpOwed(200)
        else:
            owed = HttpOwed(405)
        return HttpCase(f"other:{self.method.decode()}", raw, owed, head=head)


others = st.builds(
    Other,
    method=st.sampled_from([b"GET", b"DELETE", b"PUT", b"PATCH", b"OPTIONS", b"HEAD", b"PURGE", b"POST"]),
    path=st.sampled_from(
        [b"/mcp", b"/other", b"/mcp/", b"/MCP", b"/mcp/x", b"/", b"/.well-known/x", b"/mcp?q=1"]
    ),
    host_ok=weighted([(6, st.just(True)), (1, st.just(False))]),
    session=st.booleans(),
    body=st.sampled_from([b"", b"{}", b"x" * 100]),
).filter(lambda other: not (other.method == b"POST" and other.path.split(b"?")[0] == MCP_PATH))


@dataclass(frozen=True, slots=True)
class Broken:
    """A request HTTP cannot parse: a garbage head, an unknown method, broken framing. (Not a
    request line without a version: llhttp takes ``POST /mcp`` as HTTP/0.9, and the proxy answers
    it 415 and closes, which is fine.)"""

    variant: int
    junk: bytes

    def render(self, ids: Ids, port: int, limit: int) -> HttpCase:
        host = b"127.0.0.1:%d" % port
        body = b'{"jsonrpc":"2.0","id":%d,"method":"ping"}' % next(ids)
        typed = [(b"Host", host), (b"Content-Type", b"application/json")]
        variants = [
            # garbage from the first byte: no method can start so
            b"\x00" + self.junk + b"\r\n\r\n",
            b"{" + self.junk + b"\r\n\r\n",
            _head(b"FOO", MCP_PATH, b"1.1", [(b"Host", host)]),
            _head(b"post", MCP_PATH, b"1.1", [(b"Host", host)]),
            _head(b"POST", MCP_PATH, b"1.1", [*typed, (b"Transfer-Encoding", b"chunked")])
            + b"zz\r\n"
            + body
            + b"\r\n0\r\n\r\n",
            _head(
                b"POST",
                MCP_PATH,
                b"1.1",
                [*typed, (b"Content-Length", b"%d" % len(body)), (b"Content-Length", b"3")],
            )
            + body,
            _head(b"POST", MCP_PATH, b"1.1", [*typed, (b"Content-Length", b"-1")]),
            _head(b"POST", MCP_PATH, b"1.1", [*typed, (b"Content-Length", b"1x")]),
            _head(
                b"POST",
                MCP_PATH,
                b"1.1",
                [*typed, (b"Content-Length", b"%d" % len(body)), (b"Transfer-Encoding", b"chunked")],
            )
            + chunked(body, (), False, False),
            _head(b"POST", MCP_PATH, b"1.1", [*typed, (b"Transfer-Encoding", b"chunked, identity")])
            + chunked(body, (), False, False),
            b"POST /mcp HTTP/1.1\r\nHost: " + host + b"\r\nNoColonHere\r\n\r\n",
            b"POST /mcp HTTP/1.1\r\nHost : " + host + b"\r\n\r\n",
            b"POST /mcp HTTP/9.9\r\nHost: " + host + b"\r\n\r\n",
        ]
        raw = variants[self.variant % len(variants)]
        return HttpCase(
            f"broken:{self.variant % len(variants)}",
            raw,
            HttpOwed(400, codes.INVALID_REQUEST, None, error=True, closes=True),
            keeps_alive=False,
        )


broken = st.builds(
    Broken, st.integers(0, 12), st.binary(max_size=60).map(lambda data: data.replace(b"\r\n\r\n", b""))
)

HttpShape = Post | Other | Broken


def http_cases(limit: int) -> st.SearchStrategy[Any]:
    return weighted([(12, posts(limit)), (2, others), (1, broken)])


def request_batches(limit: int, max_requests: int = 8) -> st.SearchStrategy[list[tuple[Any, bool]]]:
    """Batches of requests, each flagged whether to pipeline it behind the one before."""
    return st.lists(st.tuples(http_cases(limit), st.booleans()), min_size=2, max_size=max_requests)


__all__ = ["HttpCase", "HttpOwed", "HttpShape", "body_owed", "chunked", "json_object", "request_batches"]
