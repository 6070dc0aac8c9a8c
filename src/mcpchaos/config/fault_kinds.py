"""The faults' vocabulary: fault kinds, error kinds, corruption modes, message classes and the
handshake's methods. Plain enums, apart from the pydantic models of :mod:`mcpchaos.config.faults`
(which re-exports them), because every ``mcpchaos`` process builds the whole command line, whose
choices name them, and building those models costs more than the rest of a demo server's
command line (docs/testing.md, start-up)."""

from __future__ import annotations

import enum


class FaultType(enum.StrEnum):
    """The fault kinds."""

    DELAY = "delay"
    ERROR = "error"
    CORRUPTION = "corruption"
    DROP = "drop"
    DUPLICATE = "duplicate"
    REORDER = "reorder"
    RESOURCE_EXHAUSTION = "resource_exhaustion"
    # Protocol faults (config/protocol_faults.py has their settings).
    ERA_DOWNGRADE = "era_downgrade"
    HEADER_MISMATCH = "header_mismatch"
    MISSING_CAPABILITY = "missing_capability"
    RESULT_SHAPE = "result_shape"
    SESSION_EXPIRY = "session_expiry"
    LIST_CHANGED = "list_changed"
    """Server → client: ``notifications/tools/list_changed`` before the message (no settings)."""
    # 2026-07-28 feature faults (config/feature_faults.py has their settings).
    INPUT_REQUIRED = "input_required"
    SUBSCRIPTION = "subscription"
    TASK = "task"


class ErrorType(enum.StrEnum):
    """The injected error kinds (each has a documented code, message and HTTP form)."""

    TIMEOUT = "timeout"
    CONNECTION_REFUSED = "connection_refused"
    INVALID_DATA = "invalid_data"
    INTERNAL_ERROR = "internal_error"
    RATE_LIMITED = "rate_limited"
    UNAUTHORIZED = "unauthorized"


class CorruptionMode(enum.StrEnum):
    """How a message is corrupted."""

    METHOD_SUFFIX = "method_suffix"
    """The method name gets ``_corrupted`` appended (requests and notifications)."""
    JSONRPC_VERSION = "jsonrpc_version"
    """``"jsonrpc"`` becomes ``"1.0"``."""
    NULL_PARAMS = "null_params"
    """``params`` becomes null (requests and notifications)."""
    REPLACE_ID = "replace_id"
    """The id is replaced by one nobody used (requests and responses)."""
    TRUNCATED_JSON = "truncated_json"
    """Only the first half of the bytes is sent."""
    INVALID_UTF8 = "invalid_utf8"
    """Bytes that are not UTF-8 are spliced into the message."""
    SPLIT_LINE = "split_line"
    """The message is sent as two lines (stdio; on HTTP it is a body with a newline inside)."""
    WRONG_TYPES = "wrong_types"
    """Fields get the wrong JSON types (method a number, params a string, id an object)."""
    UNKNOWN_RESPONSE_ID = "unknown_response_id"
    """An extra response whose id matches no request is sent just before the message."""


SPEC_CORRUPTION_MODES = (
    CorruptionMode.METHOD_SUFFIX,
    CorruptionMode.JSONRPC_VERSION,
    CorruptionMode.NULL_PARAMS,
    CorruptionMode.REPLACE_ID,
)


class MessageClass(enum.StrEnum):
    """What a message is and which way it goes, for targeting."""

    CLIENT_REQUEST = "client_request"
    CLIENT_NOTIFICATION = "client_notification"
    CLIENT_RESPONSE = "client_response"
    """A client's answer to a server→client request."""
    SERVER_REQUEST = "server_request"
    """A server→client request (sampling, elicitation, roots)."""
    SERVER_NOTIFICATION = "server_notification"
    SERVER_RESPONSE = "server_response"
    NOTIFICATIONS = "notifications"
    """Shorthand: notifications in either direction."""
    ALL = "all"
    """Shorthand: every message, both directions (the handshake still only when named)."""


HANDSHAKE_METHODS = frozenset({"initialize", "notifications/initialized", "server/discover"})
"""Left alone unless a ``match.methods`` entry names one of them exactly (a glob such as
``*`` does not): a fault there stops a client from connecting at all, not one call."""
