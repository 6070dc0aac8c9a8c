"""Named JSON-RPC and MCP error codes.

Standard JSON-RPC 2.0 codes, the MCP specification's codes, and the codes mcpchaos itself
answers with when it stands in for an upstream that cannot answer. mcpchaos's own codes sit
in the implementation-defined band -32000..-32019 (the 2026-07-28 specification reserves
-32020..-32099 for spec-defined codes) and avoid the MCP SDK's internal -32000/-32001.
"""

from typing import Final

# JSON-RPC 2.0
PARSE_ERROR: Final = -32700
"""Invalid JSON was received."""
INVALID_REQUEST: Final = -32600
"""The JSON sent is not a valid request object."""
METHOD_NOT_FOUND: Final = -32601
"""The method does not exist or is not available."""
INVALID_PARAMS: Final = -32602
"""Invalid method parameters."""
INTERNAL_ERROR: Final = -32603
"""Internal JSON-RPC error."""

# MCP specification
RESOURCE_NOT_FOUND: Final = -32002
"""Resource not found (2025-era specifications; retired, never reused)."""
HEADER_MISMATCH: Final = -32020
"""HTTP headers do not match the body, or required headers are missing (2026-07-28)."""
MISSING_REQUIRED_CLIENT_CAPABILITY: Final = -32021
"""The server requires a client capability the request did not declare (2026-07-28)."""
UNSUPPORTED_PROTOCOL_VERSION: Final = -32022
"""The request's protocol version is not supported (2026-07-28)."""
URL_ELICITATION_REQUIRED: Final = -32042
"""A URL-mode elicitation is required first (2025-11-25)."""

# MCP SDK-internal (never sent by the SDK on the wire; listed so they are recognised)
SDK_CONNECTION_CLOSED: Final = -32000
"""SDK-only: the connection closed before a response arrived."""
SDK_REQUEST_TIMEOUT: Final = -32001
"""SDK-only: a request timed out waiting for its response."""

# mcpchaos's own answers when the upstream cannot answer
UPSTREAM_UNAVAILABLE: Final = -32010
"""The upstream server is gone (exited, crashed, unreachable); the request was not answered."""
UPSTREAM_INVALID_RESPONSE: Final = -32011
"""The upstream sent a response the proxy could not parse; this error replaces it."""
PROXY_SHUTTING_DOWN: Final = -32012
"""The proxy is shutting down and did not forward the request."""
UPSTREAM_TIMEOUT: Final = -32013
"""The upstream did not answer within the proxy's upstream timeout (HTTP 504)."""
REQUEST_TOO_LARGE: Final = -32014
"""The request body is over the proxy's size limit (HTTP 413)."""
UNSUPPORTED_MEDIA_TYPE: Final = -32015
"""The request's Content-Type is not application/json (HTTP 415)."""
TOO_MANY_CONNECTIONS: Final = -32017
"""The proxy is at its connection limit (HTTP 503)."""
CIRCUIT_OPEN: Final = -32016
"""The circuit breaker toward the upstream is open: the request failed fast (HTTP 503)."""
NO_RECORDING: Final = -32019
"""``mcpchaos replay``: the tape holds no recording of this tool call (docs/tapes.md)."""
HOST_OR_ORIGIN_NOT_ALLOWED: Final = -32018
"""DNS-rebinding protection: the request's Host (HTTP 421) or Origin (HTTP 403) is not on the
proxy listener's allow list."""

# Codes of injected errors (error faults); their data carries {"mcpchaos": {"injected": true}}.
INJECTED_CONNECTION_REFUSED: Final = -32000
"""Injected ``connection_refused`` (the SDK's connection-closed code)."""
INJECTED_TIMEOUT: Final = -32001
"""Injected ``timeout`` (the SDK's request-timeout code)."""
INJECTED_RATE_LIMITED: Final = -32004
"""Injected ``rate_limited`` (HTTP: 429 with Retry-After)."""
INJECTED_UNAUTHORIZED: Final = -32005
"""Injected ``unauthorized`` (HTTP: 401 with WWW-Authenticate)."""

NAMES: Final[dict[int, str]] = {
    PARSE_ERROR: "parse_error",
    INVALID_REQUEST: "invalid_request",
    METHOD_NOT_FOUND: "method_not_found",
    INVALID_PARAMS: "invalid_params",
    INTERNAL_ERROR: "internal_error",
    RESOURCE_NOT_FOUND: "resource_not_found",
    HEADER_MISMATCH: "header_mismatch",
    MISSING_REQUIRED_CLIENT_CAPABILITY: "missing_required_client_capability",
    UNSUPPORTED_PROTOCOL_VERSION: "unsupported_protocol_version",
    URL_ELICITATION_REQUIRED: "url_elicitation_required",
    SDK_CONNECTION_CLOSED: "sdk_connection_closed",
    SDK_REQUEST_TIMEOUT: "sdk_request_timeout",
    UPSTREAM_UNAVAILABLE: "upstream_unavailable",
    UPSTREAM_INVALID_RESPONSE: "upstream_invalid_response",
    PROXY_SHUTTING_DOWN: "proxy_shutting_down",
    UPSTREAM_TIMEOUT: "upstream_timeout",
    REQUEST_TOO_LARGE: "request_too_large",
    UNSUPPORTED_MEDIA_TYPE: "unsupported_media_type",
    CIRCUIT_OPEN: "circuit_open",
    TOO_MANY_CONNECTIONS: "too_many_connections",
    HOST_OR_ORIGIN_NOT_ALLOWED: "host_or_origin_not_allowed",
    INJECTED_RATE_LIMITED: "rate_limited",
    INJECTED_UNAUTHORIZED: "unauthorized",
}
"""A short name for each known code, for logs and metrics labels."""


def name_of(code: int) -> str:
    """The short name of an error code, or ``"other"`` for codes not listed above."""
    return NAMES.get(code, "other")
