"""Settings of the protocol faults: what MCP itself can get wrong, on both eras.

Kept apart from :mod:`mcpchaos.config.faults` (which imports them into ``FaultSettings``,
``FaultConfig`` and ``Rule``) so the transport-level kinds and the protocol-level kinds each
read in one screen. docs/faults.md has the table of what a correct peer does for each.
"""

from __future__ import annotations

import enum
from typing import Literal, Self

from pydantic import Field, model_validator

from mcpchaos.config.model import StrictModel

LEGACY_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26"]
"""The handshake-era versions a legacy server names."""
MODERN_VERSIONS = ["2026-07-28"]
"""The sessionless versions a 2026-only server names."""
MAX_TTL_MS = 24 * 60 * 60 * 1000


class EraDowngradeConfig(StrictModel):
    """``era_downgrade``: answer a request as a server of the other era would."""

    legacy_versions: list[str] = Field(default_factory=lambda: list(LEGACY_VERSIONS))
    """Versions named in the -32022 that answers a 2026-07-28 request (so a client that
    speaks them falls back to ``initialize``)."""
    modern_versions: list[str] = Field(default_factory=lambda: list(MODERN_VERSIONS))
    """Versions named in the -32022 that answers ``initialize`` (a 2026-only server)."""
    legacy_body: bool = False
    """Answer a 2026-07-28 request the way a handshake-era server does instead of with -32022:
    on HTTP the SDK 1.x 400 (-32000 "Bad Request: Unsupported protocol version ..."); on stdio
    -32601 (a legacy server does not know ``server/discover``)."""

    @model_validator(mode="after")
    def _some_versions(self) -> Self:
        if not self.legacy_versions or not self.modern_versions:
            raise ValueError("legacy_versions and modern_versions must each name at least one version")
        return self


class MirroredHeader(enum.StrEnum):
    """A 2026-07-28 HTTP header that mirrors the body."""

    METHOD = "mcp-method"
    NAME = "mcp-name"
    """Only on ``tools/call``, ``prompts/get``, ``resources/read``."""
    PROTOCOL_VERSION = "mcp-protocol-version"


class HeaderMismatchConfig(StrictModel):
    """``header_mismatch`` (HTTP, 2026-07-28): a mirrored header disagrees with the body."""

    headers: list[MirroredHeader] = Field(
        default_factory=lambda: [MirroredHeader.METHOD, MirroredHeader.NAME]
    )
    """Headers to choose from (uniformly, among those the request carries)."""
    omit: bool = False
    """Leave the chosen header out instead of changing it (also a -32020)."""

    @model_validator(mode="after")
    def _some_header(self) -> Self:
        if not self.headers:
            raise ValueError("headers must name at least one mirrored header")
        return self


class MissingCapabilityConfig(StrictModel):
    """``missing_capability`` (2026-07-28): -32021 naming a client capability the call needs."""

    capability: str = "elicitation"
    """The capability the targeted calls need, as a dotted path into the client capabilities
    (``elicitation``, ``sampling.tools``, ``roots``, ``extensions.<id>``)."""
    when: Literal["missing", "always"] = "missing"
    """``missing``: only when the request's ``_meta`` lacks it (what a correct server does);
    ``always``: also when it is declared (a server that wrongly rejects)."""


class ResultShapeMode(enum.StrEnum):
    """How a result's 2026-07-28 shape is broken."""

    MISSING_RESULT_TYPE = "missing_result_type"
    """``resultType`` removed (fits a result that has one)."""
    WRONG_RESULT_TYPE = "wrong_result_type"
    """``resultType`` set to ``result_shape.result_type`` (fits every result)."""
    LONG_TTL = "long_ttl"
    """``ttlMs`` set to ``result_shape.ttl_ms`` (fits cacheable results: the list methods and
    ``resources/read``)."""
    PUBLIC_SCOPE = "public_scope"
    """``cacheScope: "public"`` on a cacheable result (private data shared across users)."""
    LATE_RESULT = "late_result"
    """HTTP: the client's response stream is closed first; the result arrives after it and
    goes nowhere (a stream closed is a request cancelled in 2026-07-28)."""


class ResultShapeConfig(StrictModel):
    """``result_shape``: a result that lies about its shape or its freshness."""

    modes: list[ResultShapeMode] = Field(default_factory=lambda: list(ResultShapeMode))
    """Modes to choose from (uniformly, among those that fit the result)."""
    result_type: str = "mcpchaos/unknown"
    """``wrong_result_type``: the value written."""
    ttl_ms: int = Field(MAX_TTL_MS, ge=0, le=10 * MAX_TTL_MS)
    """``long_ttl``: the value written (default 24 h, the cap the official SDK applies)."""

    @model_validator(mode="after")
    def _some_mode(self) -> Self:
        if not self.modes:
            raise ValueError("modes must name at least one result_shape mode")
        return self


class SessionExpiryConfig(StrictModel):
    """``session_expiry`` (HTTP, 2025-era sessions): the session ends under a call."""

    reach_server: bool = False
    """True: the call is forwarded first (the server runs it), then the client gets the 404;
    False: the 404 answers it before it reaches the server."""
