"""Fault configurations the scenarios share (FaultConfig as JSON for the control API)."""

from __future__ import annotations

from typing import Any

LOAD_METHODS = ["tools/*", "resources/*", "prompts/*"]
"""The methods the load calls; handshakes (initialize) are left alone, so a client that has
to re-initialize can."""


def request_errors(probability: float, error_types: list[str] | None = None) -> dict[str, Any]:
    """Injected JSON-RPC errors on the load's requests: each fault is exactly one failed
    request, so success ≈ 1 − probability."""
    return {
        "fault_probability": probability,
        "enabled_faults": {"error": True},
        "error_config": {"types": error_types or ["internal_error"]},
        "match": {"message_classes": ["client_request"], "methods": LOAD_METHODS},
    }


def kinds(probability: float, enabled: list[str], custom: dict[str, Any] | None = None) -> dict[str, Any]:
    """Any fault kinds on the load's requests (their defaults otherwise); ``custom`` (a whole
    FaultConfig) replaces the generated one, with its probability set to ``probability``."""
    if custom is not None:
        return {**custom, "fault_probability": probability}
    if enabled == ["error"]:
        return request_errors(probability)
    return {
        "fault_probability": probability,
        "enabled_faults": dict.fromkeys(enabled, True),
        "error_config": {"types": ["internal_error"]},
        "match": {"message_classes": ["client_request"], "methods": LOAD_METHODS},
    }
