"""Fault configurations the scenarios share (FaultConfig as JSON for the control API).

They rely on the default targeting (docs/faults.md): ``fault_probability`` is the chance that
a call gets a fault, one draw per call, the handshake left alone. So error faults at p fail a
fraction p of the load's calls and leave success ≈ 1 − p, the theory the degradation verdict
and the report's reference line use.
"""

from __future__ import annotations

from typing import Any

LOAD_METHODS = ["tools/*", "resources/*", "prompts/*"]
"""The methods the load calls (a ``ping`` is no part of it)."""


def request_errors(probability: float, error_types: list[str] | None = None) -> dict[str, Any]:
    """Injected JSON-RPC errors on the load's calls: each fault is exactly one failed call, so
    success ≈ 1 − probability."""
    return {
        "fault_probability": probability,
        "enabled_faults": {"error": True},
        "error_config": {"types": error_types or ["internal_error"]},
        "match": {"methods": LOAD_METHODS},
    }


def kinds(probability: float, enabled: list[str], custom: dict[str, Any] | None = None) -> dict[str, Any]:
    """Any fault kinds on the load's calls (their defaults otherwise); ``custom`` (a whole
    FaultConfig) replaces the generated one, with its probability set to ``probability`` (its
    own ``match`` or the default: calls, not the handshake)."""
    if custom is not None:
        return {**custom, "fault_probability": probability}
    if enabled == ["error"]:
        return request_errors(probability)
    return {
        "fault_probability": probability,
        "enabled_faults": dict.fromkeys(enabled, True),
        "error_config": {"types": ["internal_error"]},
        "match": {"methods": LOAD_METHODS},
    }
