"""NDJSON lines for the stdio proxy, and what it owes for each.

A line is a body (:mod:`tests.fuzz.messages`) and its terminator (``\\n`` or ``\\r\\n``). Over
stdio, size comes first: a line over ``--max-message-bytes`` is answered -32600 with the id
that starts it, when one does (else ``"id": null``); a valid request whose echoed answer would
be over the limit is answered -32011 (the server's line is too large) with its id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.echo_stdio import encode
from hypothesis import strategies as st

from mcpchaos.protocol import codes
from tests.fuzz.messages import Body, Ids, Kind, Shape, bodies


@dataclass(frozen=True, slots=True)
class Owed:
    """What the proxy owes for one line: an ``answer`` (id, echoed text), an ``error`` with an id,
    a ``null-error`` (``"id": null``) or ``nothing``; ``code`` None allows -32700 or -32600."""

    what: str
    id: Any = None
    text: Any = None
    code: int | None = None
    silent: tuple[Any, ...] = ()


def echo_answer_size(request_id: Any, text: Any) -> int:
    """The length of the line ``bench.echo_stdio`` answers an echo request with."""
    result = {"content": [{"type": "text", "text": text}], "isError": False}
    return len(encode({"jsonrpc": "2.0", "id": request_id, "result": result}))


def stdio_owed(body: Body, limit: int) -> Owed:
    if len(body.data) > limit:
        if body.leading_id is not None:
            return Owed("error", body.leading_id, code=codes.INVALID_REQUEST, silent=body.silent)
        return Owed("null-error", code=codes.INVALID_REQUEST, silent=body.silent)
    if body.kind is Kind.REQUEST:
        if echo_answer_size(body.id, body.text) > limit:
            assert body.plain_id, "an answer over the limit must carry an id the proxy can read"
            return Owed("error", body.id, code=codes.UPSTREAM_INVALID_RESPONSE)
        return Owed("answer", body.id, body.text)
    if body.kind is Kind.REFUSED:
        return Owed("error", body.id, code=body.code, silent=body.silent)
    if body.kind is Kind.REFUSED_NULL:
        return Owed("null-error", code=body.code, silent=body.silent)
    return Owed("nothing", silent=body.silent)


@dataclass(frozen=True, slots=True)
class LineShape:
    body: Shape
    crlf: bool

    def render(self, ids: Ids, limit: int) -> tuple[bytes, Body, Owed]:
        body = self.body.render(ids)
        return body.data + (b"\r\n" if self.crlf else b"\n"), body, stdio_owed(body, limit)


def line_batches(limit: int, max_lines: int = 30) -> st.SearchStrategy[list[LineShape]]:
    """Batches of lines of every kind (one hypothesis example is one batch)."""
    line = st.builds(LineShape, bodies(limit), st.booleans())
    return st.lists(line, min_size=3, max_size=max_lines)
