"""DNS-rebinding protection for the proxy's own MCP listener: Host and Origin allow lists.

A web page on ``evil.example`` can make the browser's DNS answer ``127.0.0.1`` and then talk to
a server on the user's loopback as if it were the page's own origin. The request then carries
``Host: evil.example`` (and, from a page, ``Origin: http://evil.example``), which is what this
check refuses. It follows the official MCP Python SDK (``mcp.server.transport_security``):

- the Host is checked first: missing or not allowed → HTTP **421** (Misdirected Request);
- then the Origin: absent is allowed (same-origin and non-browser clients send none), present
  and not allowed → HTTP **403**;
- an entry ending in ``:*`` allows that host or origin on any port (``"127.0.0.1:*"``,
  ``"http://[::1]:*"``); any other entry must match exactly;
- listening on a loopback address with nothing configured allows the loopback names on any
  port (``127.0.0.1``, ``localhost``, ``[::1]``); listening elsewhere with nothing configured
  checks nothing (:func:`for_listener` returns None), as the SDK does.

Where this differs from the SDK, on purpose: matching ignores case (host names and URL schemes
are case-insensitive, RFC 9110 §4.2.3); a ``:*`` port must be digits (the SDK accepts anything
after the colon); ``:*`` also matches the value without a port (a client on the scheme's default
port sends ``Host: localhost``, which the SDK refuses); a loopback listen address other than the
three names (``127.0.0.2``) is added to the defaults, so the proxy accepts its own address.

The SDK answers with plain-text bodies ``Invalid Host header`` / ``Invalid Origin header``; a
:class:`Rejection` carries that text (with the value received) and a JSON-RPC code, so the
caller can answer with a JSON-RPC error body like every other error mcpchaos sends itself.

Sans-IO and cheap per request: the lists are lower-cased into frozensets once, a check is a
few set look-ups and string splits (no regex, no URL parsing, no pydantic).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from mcpchaos.protocol import codes
from mcpchaos.protocol.messages import Message, error_response

LOOPBACK_HOSTS: Final = ("127.0.0.1:*", "localhost:*", "[::1]:*")
"""The SDK's default allowed hosts when it listens on a loopback address."""
LOOPBACK_ORIGINS: Final = ("http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*")
"""The SDK's default allowed origins when it listens on a loopback address."""

MISDIRECTED_REQUEST: Final = 421
FORBIDDEN: Final = 403
_SHOWN_CHARS: Final = 200
"""How much of a refused header value a rejection message quotes."""


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a request is refused: the HTTP status, the JSON-RPC error code and the message."""

    status: int
    code: int
    message: str

    def response(self) -> Message:
        """The JSON-RPC error to send as the body (``"id": null``: the body is not read)."""
        return error_response(None, self.code, self.message)


@dataclass(frozen=True, slots=True)
class HostPolicy:
    """Allowed Host and Origin values, normalised once (build it with :meth:`of`).

    ``*_exact`` hold entries that must match exactly; ``*_any_port`` hold the ``:*`` entries
    without that suffix. All lower-case.
    """

    hosts_exact: frozenset[str]
    hosts_any_port: frozenset[str]
    origins_exact: frozenset[str]
    origins_any_port: frozenset[str]

    @classmethod
    def of(cls, allowed_hosts: Iterable[str], allowed_origins: Iterable[str]) -> HostPolicy:
        """A policy from SDK-style lists (``"localhost:*"``, ``"proxy.example:8443"``,
        ``"https://app.example"``). An empty host list refuses every request; an empty origin
        list refuses every request that carries an Origin."""
        hosts_exact, hosts_any_port = _split(allowed_hosts)
        origins_exact, origins_any_port = _split(allowed_origins)
        return cls(hosts_exact, hosts_any_port, origins_exact, origins_any_port)

    def check(self, host: str | None, origin: str | None) -> Rejection | None:
        """None when the request may go on, else the :class:`Rejection` to answer with.

        ``host`` and ``origin`` are the raw header values (None when absent).
        """
        if not host:
            return _rejection(MISDIRECTED_REQUEST, "Host", None)
        if not _allowed(host.lower(), self.hosts_exact, self.hosts_any_port):
            return _rejection(MISDIRECTED_REQUEST, "Host", host)
        if origin and not _allowed(origin.lower(), self.origins_exact, self.origins_any_port):
            return _rejection(FORBIDDEN, "Origin", origin)
        return None


def for_listener(
    listen_host: str,
    allowed_hosts: Iterable[str] | None = None,
    allowed_origins: Iterable[str] | None = None,
) -> HostPolicy | None:
    """The policy for a listener on ``listen_host`` (an address or name, IPv6 with or without
    brackets), or None for no check.

    With neither list given: the loopback defaults (plus the listen address itself on any port)
    when ``listen_host`` is a loopback address, else None. With either given, the lists are used
    as they are and a list not given is empty (the SDK's behaviour): configure both.
    """
    if allowed_hosts is not None or allowed_origins is not None:
        return HostPolicy.of(allowed_hosts or (), allowed_origins or ())
    if not is_loopback(listen_host):
        return None
    hosts = list(LOOPBACK_HOSTS)
    origins = list(LOOPBACK_ORIGINS)
    own = listen_host.lower().strip("[]")
    if own not in ("127.0.0.1", "localhost", "::1"):
        spelled = f"[{own}]" if ":" in own else own
        hosts.append(f"{spelled}:*")
        origins.append(f"http://{spelled}:*")
    return HostPolicy.of(hosts, origins)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (``127.0.0.0/8``, ``::1``, bracketed or not)."""
    name = host.lower().strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _split(entries: Iterable[str]) -> tuple[frozenset[str], frozenset[str]]:
    exact: set[str] = set()
    any_port: set[str] = set()
    for entry in entries:
        value = entry.lower()
        if value.endswith(":*"):
            any_port.add(value[:-2])
        else:
            exact.add(value)
    return frozenset(exact), frozenset(any_port)


def _allowed(value: str, exact: frozenset[str], any_port: frozenset[str]) -> bool:
    """``value`` (lower-case) is an exact entry, or an any-port entry with a numeric port or none.

    ``rpartition(":")`` finds the port of ``host:port``, ``[::1]:port`` and
    ``scheme://host:port``; for ``[::1]`` or ``http://localhost`` it finds no numeric port and
    the whole value is the host.
    """
    if value in exact:
        return True
    if not any_port:
        return False
    base, colon, port = value.rpartition(":")
    if colon and port.isdigit() and port.isascii() and base in any_port:
        return True
    return value in any_port


def _rejection(status: int, header: str, value: str | None) -> Rejection:
    """The SDK's text (``Invalid Host header``) and what was received, quoted in part."""
    shown = "missing" if value is None else repr(value[:_SHOWN_CHARS])
    return Rejection(status, codes.HOST_OR_ORIGIN_NOT_ALLOWED, f"Invalid {header} header: {shown}")
