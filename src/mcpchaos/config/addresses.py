"""Every address and URL a user types, parsed in one place, with errors that name the fix.

* :func:`host_port` — ``HOST:PORT``, ``[::1]:PORT``, or ``PORT`` alone (``127.0.0.1:PORT``)
  where the option allows it: ``--listen``, ``--control``, a link's addresses.
* :func:`http_url` — an MCP server's Streamable HTTP endpoint: ``http(s)://HOST[:PORT]/PATH``.
* :func:`control_url` — the control API's base URL as a client takes it: a URL, ``HOST:PORT``
  or ``PORT`` alone.
* :func:`naming` — around a listener's start: a :class:`~mcpchaos.errors.ListenError` names
  the option to change.

Every error is a :class:`~mcpchaos.errors.ConfigError` (exit 2) that says what was wrong with
the value as typed and, where one can be guessed, what was probably meant.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import NamedTuple
from urllib.parse import urlsplit

from mcpchaos.errors import ConfigError, ListenError

LOOPBACK = "127.0.0.1"
"""The host of an address given as a port alone."""


class HttpUrl(NamedTuple):
    """A parsed Streamable HTTP endpoint."""

    origin: str
    """``scheme://host:port`` as typed (no path)."""
    host: str
    port: int
    """The port, or the scheme's default (80, 443)."""
    path: str
    """The endpoint's path, ``/`` when none was given."""
    tls: bool
    """True for ``https``."""


def _join(host: str, port: int | str) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _port(text: str, option: str, value: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise ConfigError(f"{option} {value}: the port must be a number from 0 to 65535, got {text!r}")
    return int(text)


def host_port(
    value: str, option: str, *, port_alone: bool = True, example: str = "127.0.0.1:8080"
) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) → (host, port). ``PORT`` alone means
    ``127.0.0.1:PORT`` when ``port_alone``; otherwise it is an error that suggests it."""
    text = value.strip()
    if "://" in text:
        netloc = urlsplit(text).netloc or example
        raise ConfigError(f"{option} takes HOST:PORT, not a URL; did you mean {option} {netloc}?")
    if text.isdigit():
        port = _port(text, option, value)
        if port_alone:
            return LOOPBACK, port
        raise ConfigError(f"{option} {value} has no host; did you mean {option} {_join(LOOPBACK, port)}?")
    host, sep, port_text = text.rpartition(":")
    if not sep:
        shown = value or "''"
        raise ConfigError(f"{option} {shown} has no port; give HOST:PORT, e.g. {option} {example}")
    port = _port(port_text, option, value)
    if not host.strip("[]"):
        raise ConfigError(f"{option} {value} has no host; did you mean {option} {_join(LOOPBACK, port)}?")
    return host.strip("[]"), port


def http_url(value: str, option: str = "--upstream") -> HttpUrl:
    """``http(s)://host[:port]/path`` → :class:`HttpUrl`; an address without a scheme is an
    error that suggests the URL that was probably meant."""
    text = value.strip()
    if "://" not in text:
        if text.isdigit():
            guess = f"http://{_join(LOOPBACK, text)}/mcp"
        else:
            guess = "http://" + text.lstrip("/") + ("" if "/" in text.lstrip("/") else "/mcp")
        raise ConfigError(f"{option} {value} has no scheme; did you mean {guess}?")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise ConfigError(
            f"{option} must be an http:// or https:// URL (Streamable HTTP), e.g. "
            f"http://127.0.0.1:8000/mcp; got {value}"
        )
    if not parts.hostname:
        raise ConfigError(f"{option} {value} has no host; e.g. http://127.0.0.1:8000/mcp")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"{option} {value}: the port must be a number from 0 to 65535") from None
    tls = parts.scheme == "https"
    port = port or (443 if tls else 80)
    return HttpUrl(f"{parts.scheme}://{parts.netloc}", parts.hostname, port, parts.path or "/", tls)


def control_url(value: str, option: str = "--control") -> str:
    """The control API's base URL (no trailing slash) from a URL, ``HOST:PORT`` or ``PORT``
    (``127.0.0.1:PORT``), the way ``proxy --control`` takes its address."""
    text = value.strip()
    if "://" in text:
        url = http_url(text, option)
        return url.origin + url.path.rstrip("/")
    host, port = host_port(text, option, example="127.0.0.1:9900")
    return f"http://{_join(host, port)}"


@contextlib.contextmanager
def naming(option: str) -> Iterator[None]:
    """A :class:`~mcpchaos.errors.ListenError` raised inside says which option to change."""
    try:
        yield
    except ListenError as exc:
        raise exc.for_option(option) from None


__all__ = ["LOOPBACK", "HttpUrl", "control_url", "host_port", "http_url", "naming"]
