"""Redaction of secrets in tape lines (sans-IO; docs/tapes.md, "Redaction").

On by default: the values of the credential headers (``authorization``, ``proxy-authorization``,
``cookie``, ``set-cookie``) in a line's transport metadata, and of every JSON field or header a
user names (``--redact FIELD``, compared without case, at any depth of the message). A redacted
value becomes the string ``"[redacted]"``, so a reader still sees that the field was there.
Redaction copies: the recorded message itself is never changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

REDACTED: Final = "[redacted]"
CREDENTIAL_HEADERS: Final = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})


class Redactor:
    """What to redact; ``enabled=False`` (``--no-redact``) redacts nothing."""

    def __init__(self, fields: Iterable[str] = (), enabled: bool = True) -> None:
        self.enabled = enabled
        self.fields = frozenset(name.lower() for name in fields) if enabled else frozenset()
        self.headers = (CREDENTIAL_HEADERS | self.fields) if enabled else frozenset()
        self._needles = [name.encode() for name in self.fields]

    def describe(self) -> dict[str, Any] | bool:
        """What the tape header says about redaction."""
        if not self.enabled:
            return False
        return {"headers": sorted(self.headers), "fields": sorted(self.fields), "with": REDACTED}

    def meta(self, meta: dict[str, Any] | None) -> dict[str, Any] | None:
        """Transport metadata with the named headers' values replaced."""
        if not self.headers or not meta:
            return meta
        headers = meta.get("headers")
        if not isinstance(headers, dict) or not any(name.lower() in self.headers for name in headers):
            return meta
        redacted = {k: REDACTED if k.lower() in self.headers else v for k, v in headers.items()}
        return {**meta, "headers": redacted}

    def message(self, value: Any, raw: bytes | None = None) -> Any:
        """A JSON value with every named field's value replaced, at any depth. With ``raw``
        (the bytes it was parsed from), a message that cannot hold a named field is returned
        as it is without a walk: no name in the bytes (compared lower-case) and no ``\\u``
        escape that could spell one."""
        if not self.fields:
            return value
        if raw is not None:
            lowered = raw.lower()
            if b"\\u" not in raw and not any(name in lowered for name in self._needles):
                return value
        return _redact(value, self.fields)


def _redact(value: Any, fields: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {k: REDACTED if k.lower() in fields else _redact(v, fields) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(item, fields) for item in value]
    return value
