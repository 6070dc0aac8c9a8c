"""HTTP header rules shared by the server and client sides of the HTTP core (no I/O).

Headers travel as the parser gave them, ``(name, value)`` byte pairs in order, and leave as a
block of ``Name: value\\r\\n`` lines: a relayed header is never decoded, re-cased or re-joined.
"""

from __future__ import annotations

from collections.abc import Iterable

from mcpchaos.protocol.messages import Invalid, Message, MessageId, parse
from mcpchaos.protocol.ndjson import OversizedLine
from mcpchaos.protocol.sse import OversizedEvent, SseEvent, SseParser

Headers = list[tuple[bytes, bytes]]

# RFC 9110 §7.6.1 connection-specific fields, plus the framing ones each hop computes itself.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
    }
)
# Asked of the upstream: identity encoding (bodies are parsed as they stream; every request
# head says so, as a missing Accept-Encoding would allow any coding, RFC 9110 §12.5.3), and no
# 100-continue (the proxy has the whole body already). A Content-Encoding an upstream sends
# anyway is kept on what is relayed as bytes; a body the proxy must read refuses it.
REQUEST_DROP = HOP_BY_HOP | {b"accept-encoding", b"expect"}
_RESPONSE_DROP = HOP_BY_HOP

JSON = b"application/json"
SSE = b"text/event-stream"


def _connection_listed(headers: Headers) -> set[bytes]:
    """Header names listed in Connection: hop-by-hop too (RFC 9110 §7.6.1)."""
    listed: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            listed.update(token.strip().lower() for token in value.split(b",") if token.strip())
    return listed


def _filtered(headers: Headers, drop: frozenset[bytes], connection: bytes | None) -> list[bytes]:
    if connection is not None:
        drop = drop | _connection_listed(headers)
    return [name + b": " + value + b"\r\n" for name, value in headers if name.lower() not in drop]


def request_block(headers: Headers, index: dict[bytes, bytes], skip: Iterable[bytes] = ()) -> bytes:
    """The client's headers to send upstream: all but hop-by-hop ones (and ``skip``)."""
    drop = REQUEST_DROP | frozenset(skip) if skip else REQUEST_DROP
    return b"".join(_filtered(headers, drop, index.get(b"connection")))


def response_block(headers: Headers, skip: Iterable[bytes] = ()) -> bytes:
    """An upstream's response headers to send to the client: all but hop-by-hop ones."""
    drop = _RESPONSE_DROP | frozenset(skip) if skip else _RESPONSE_DROP
    connection = next((v for n, v in headers if n.lower() == b"connection"), None)
    return b"".join(_filtered(headers, drop, connection))


def block(pairs: Iterable[tuple[str, str]]) -> bytes:
    """``Name: value`` lines from text pairs."""
    return b"".join(f"{name}: {value}\r\n".encode("latin-1") for name, value in pairs)


def find(headers: Headers, name: bytes) -> bytes | None:
    """The first value of header ``name`` (lower-case), or None."""
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def media_type(value: bytes | None) -> bytes:
    """``application/json; charset=utf-8`` → ``application/json``."""
    if not value:
        return b""
    cut = value.find(b";")
    return (value if cut < 0 else value[:cut]).strip().lower()


def request_head(
    method: str, target: bytes, authority: str, headers: bytes, body_length: int | None
) -> bytes:
    """A whole HTTP/1.1 request head, blank line included."""
    length = b"" if body_length is None else b"Content-Length: %d\r\n" % body_length
    return b"%s %s HTTP/1.1\r\nHost: %s\r\nAccept-Encoding: identity\r\n%s%s\r\n" % (
        method.encode("ascii"),
        target,
        authority.encode("ascii"),
        headers,
        length,
    )


SseFrame = Message | Invalid | OversizedLine | SseEvent
"""What an SSE body yields: a message event's data parsed (a Message tagged with its event id,
or Invalid), OversizedLine for an event over the limit, any other event (comment, ping,
priming event) as the SseEvent itself."""


def sse_frames(parser: SseParser, chunk: bytes, pending_id: MessageId | None = None) -> list[SseFrame]:
    """Feed ``chunk`` to ``parser``; the frames it completed. An event over the limit carries
    ``pending_id`` (the id of the request the stream answers), so that request gets an error."""
    parser.feed(chunk)
    frames: list[SseFrame] = []
    while True:
        event = parser.next_event()
        if isinstance(event, SseEvent):
            if event.is_message and event.data is not None:
                item = parse(event.data.encode())
                frames.append(item.with_event_id(event.id) if isinstance(item, Message) else item)
            else:
                frames.append(event)
        elif isinstance(event, OversizedEvent):
            frames.append(OversizedLine(event.size, event.limit, pending_id, complete=True))
        else:
            return frames


__all__ = [
    "HOP_BY_HOP",
    "JSON",
    "SSE",
    "Headers",
    "SseFrame",
    "block",
    "find",
    "media_type",
    "request_block",
    "request_head",
    "response_block",
    "sse_frames",
]
