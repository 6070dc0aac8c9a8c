"""OAuth discovery through the proxy: point a client's resource metadata at the proxy.

An MCP client following the authorization specification (RFC 9728, Protected Resource
Metadata) learns where the metadata is from a 401's ``WWW-Authenticate: Bearer ...
resource_metadata="http://upstream:8000/.well-known/oauth-protected-resource/mcp"`` (or probes
``/.well-known/oauth-protected-resource/mcp``, then ``/.well-known/oauth-protected-resource``),
fetches it, and checks that its ``resource`` is the URL it connected to (RFC 9728 §3.3; the MCP
SDK compares scheme, host and port, and a path prefix). Through the proxy that URL is the
proxy's, so both the header and the document have to name the proxy's origin instead of the
upstream's. The path, query and fragment stay: the proxy forwards a path as it is.

- :func:`rewrite_www_authenticate` rewrites ``resource_metadata`` URLs on the upstream's origin
  and leaves every other byte of the header value as it is;
- :func:`is_metadata_path` tells which request paths are the metadata document;
- :func:`rewrite_resource_metadata` rewrites the document's ``resource``. It leaves
  ``authorization_servers`` alone: those are separate servers the client talks to directly.

Origins are ``scheme://host[:port]`` (``"http://127.0.0.1:8000"``); a trailing slash is ignored.
The proxy origin should be the one the client used (the request's scheme and Host), so a
client that connected to ``localhost`` is told ``localhost``.

Which URLs count as "on the upstream origin": scheme and host compared without case; a
missing port equals the scheme's default (``http://up`` is ``http://up:80``); and when the
upstream origin's host is a loopback spelling (``localhost``, ``127.0.0.1``, ``[::1]``), a URL
with any of the three and the same scheme and port counts too. An upstream started as
``--upstream http://localhost:8000`` often builds its metadata URLs from its bind address
(``http://127.0.0.1:8000/...``) or the other way round, and on one machine the same port on
the loopback is the same server. (The one exception, two processes on the same port, one on
``127.0.0.1`` and one on ``[::1]``, is not a setup a proxy target has.) Other hosts are never
aliased: ``http://upstream.internal`` does not match ``http://10.0.0.5``.

Sans-IO, and cheap: called on 401s and metadata responses only; the regex is compiled once
and an upstream origin's spellings are computed once per origin (cached).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any, Final

import orjson

METADATA_PATH: Final = "/.well-known/oauth-protected-resource"
"""RFC 9728 §3's well-known path; a resource with a path ``/mcp`` has its metadata at
``/.well-known/oauth-protected-resource/mcp`` (§3.1)."""

_LOOPBACK_HOSTS: Final = ("localhost", "127.0.0.1", "[::1]")
_DEFAULT_PORTS: Final = {"http": "80", "https": "443"}

# A quoted-string (skipped, so a param-like text inside quotes is never touched) or an
# auth-param ``name = value`` whose value is a quoted-string or a bare token (RFC 9110 §11).
# An unterminated quoted-string runs to the end and is not rewritten.
_AUTH_PARAM: Final = re.compile(
    r'"(?:[^"\\]|\\.)*"?'
    r"|(?P<name>[!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*=[ \t]*"
    r'(?P<value>"(?:[^"\\]|\\.)*"?|[^\s,"]*)'
)
_QUOTED_PAIR: Final = re.compile(r"\\(.)")

# Enough of JSON to find a top-level member's bytes in a document orjson has validated.
_JSON_SPACE: Final = re.compile(rb"[ \t\n\r]+")
_JSON_STRING: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_JSON_SCALAR_END: Final = re.compile(rb"[,}\] \t\n\r]")
_JSON_STRUCTURE: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\]]', re.DOTALL)


def rewrite_www_authenticate(value: str, upstream_origin: str, proxy_origin: str) -> str:
    """``value`` with every ``resource_metadata`` URL on the upstream origin moved to
    ``proxy_origin``; the rest (scheme, other params, spacing, quoting) byte for byte.

    Returns ``value`` itself when nothing is on the upstream origin. The parameter name is
    matched without case (RFC 9110 §11.2); a quoted value stays quoted, a bare one bare.
    """
    if "resource_metadata" not in value.lower():
        return value
    pieces: list[str] = []
    done = 0
    for match in _AUTH_PARAM.finditer(value):
        name = match.group("name")
        if name is None or name.lower() != "resource_metadata":
            continue
        raw = match.group("value")
        quoted = raw.startswith('"')
        if quoted and (len(raw) < 2 or not raw.endswith('"') or _escaped_end(raw)):
            continue  # unterminated
        url = _QUOTED_PAIR.sub(r"\1", raw[1:-1]) if quoted else raw
        moved = rewrite_url(url, upstream_origin, proxy_origin)
        if moved is None:
            continue
        start, end = match.span("value")
        pieces.append(value[done:start])
        pieces.append(_quote(moved) if quoted else moved)
        done = end
    if not pieces:
        return value
    pieces.append(value[done:])
    return "".join(pieces)


def is_metadata_path(path: str) -> bool:
    """True for the protected resource metadata paths: ``/.well-known/oauth-protected-resource``
    and the path-suffixed forms ``/.well-known/oauth-protected-resource/<resource path>``.

    ``path`` is the request target's path; a query, if still attached, is ignored (RFC 9728
    §3.1 keeps a resource's query after the inserted well-known path). Case-sensitive, as
    URL paths are.
    """
    if not path.startswith(METADATA_PATH):
        return False
    rest = path[len(METADATA_PATH) :]
    return not rest or rest[0] in "/?"


def rewrite_resource_metadata(body: bytes, upstream_origin: str, proxy_origin: str) -> bytes | None:
    """The metadata document with its ``resource`` moved to ``proxy_origin``, or None when
    there is nothing to change: not a JSON object, no string ``resource``, or a ``resource``
    not on the upstream origin (then the caller forwards the body as it came).

    Only the bytes of the ``resource`` value are replaced; every other byte (spacing, number
    spelling, escapes, ``authorization_servers``, which name other servers) stays. Re-serialising
    the document would not do: orjson reads an integer beyond 64 bits as a float. The length
    changes, so the caller sets Content-Length from the result. Every top-level ``resource``
    member is considered (a document with a duplicate key is read differently by different
    parsers).
    """
    try:
        document: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(document, dict) or "resource" not in document:
        return None
    pieces: list[bytes] = []
    done = 0
    try:
        for key, value_start, value_end in _members(body):
            if key != b'"resource"' and orjson.loads(key) != "resource":
                continue
            value = orjson.loads(body[value_start:value_end])
            moved = rewrite_url(value, upstream_origin, proxy_origin) if isinstance(value, str) else None
            if moved is not None:
                pieces += (body[done:value_start], orjson.dumps(moved))
                done = value_end
    except (IndexError, ValueError):  # bytes orjson accepted but the scanner did not expect
        return None
    if not pieces:
        return None
    pieces.append(body[done:])
    return b"".join(pieces)


def rewrite_url(url: str, upstream_origin: str, proxy_origin: str) -> str | None:
    """``url`` on ``proxy_origin`` when it is on the upstream origin (as the module docstring
    defines it), with its path, query and fragment kept; else None."""
    for prefix in _spellings(upstream_origin):
        n = len(prefix)
        if url[:n].lower() == prefix and (len(url) == n or url[n] in "/?#"):
            return proxy_origin.rstrip("/") + url[n:]
    return None


@lru_cache(maxsize=64)
def _spellings(origin: str) -> tuple[str, ...]:
    """The lower-case ``scheme://host[:port]`` prefixes that name ``origin``."""
    scheme, sep, authority = origin.strip().rstrip("/").lower().partition("://")
    if not sep or not authority:
        return ()
    host, port = _host_and_port(authority)
    default = _DEFAULT_PORTS.get(scheme)
    if port is None:
        port = default
    hosts = _LOOPBACK_HOSTS if host in _LOOPBACK_HOSTS else (host,)
    ports = [f":{port}"] if port is not None else []
    if port is not None and port == default:
        ports.append("")
    if not ports:
        ports.append("")
    return tuple(f"{scheme}://{h}{p}" for h in hosts for p in ports)


def _host_and_port(authority: str) -> tuple[str, str | None]:
    """``host`` / ``[v6]`` and the port (None when absent) of an authority."""
    if authority.startswith("["):
        end = authority.find("]")
        if end != -1:
            rest = authority[end + 1 :]
            return authority[: end + 1], rest[1:] if rest.startswith(":") and rest[1:] else None
    host, colon, port = authority.rpartition(":")
    if colon and port.isdigit():
        return host, port
    return authority, None


def _members(body: bytes) -> Iterator[tuple[bytes, int, int]]:
    """The top-level members of a JSON object already known to be valid: each key's bytes
    (quotes included) and where its value's bytes start and end."""
    pos = _skip_space(body, 0)
    if body[pos : pos + 1] != b"{":
        raise ValueError("not an object")
    pos = _skip_space(body, pos + 1)
    while body[pos : pos + 1] == b'"':
        key = _JSON_STRING.match(body, pos)
        if key is None:
            raise ValueError("unterminated key")
        pos = _skip_space(body, key.end())
        value_start = _skip_space(body, pos + 1)  # past the colon
        value_end = _value_end(body, value_start)
        yield key.group(), value_start, value_end
        pos = _skip_space(body, value_end)
        if body[pos : pos + 1] == b",":
            pos = _skip_space(body, pos + 1)


def _value_end(body: bytes, pos: int) -> int:
    """Where the JSON value starting at ``pos`` ends."""
    first = body[pos : pos + 1]
    if first == b'"':
        string = _JSON_STRING.match(body, pos)
        if string is None:
            raise ValueError("unterminated string")
        return string.end()
    if first not in (b"{", b"["):
        scalar = _JSON_SCALAR_END.search(body, pos)
        return len(body) if scalar is None else scalar.start()
    depth = 0
    for token in _JSON_STRUCTURE.finditer(body, pos):
        char = token.group()
        if char in (b"{", b"["):
            depth += 1
        elif char in (b"}", b"]"):
            depth -= 1
            if depth == 0:
                return token.end()
    raise ValueError("unterminated container")


def _skip_space(body: bytes, pos: int) -> int:
    match = _JSON_SPACE.match(body, pos)
    return pos if match is None else match.end()


def _escaped_end(quoted: str) -> bool:
    """True when the closing quote of ``quoted`` is itself escaped (odd trailing backslashes)."""
    inner = quoted[1:-1]
    return (len(inner) - len(inner.rstrip("\\"))) % 2 == 1


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
