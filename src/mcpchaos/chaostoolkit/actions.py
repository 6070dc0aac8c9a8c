"""Chaos Toolkit actions: change the faults and the network of a running mcpchaos."""

from __future__ import annotations

from typing import Any

from mcpchaos.chaostoolkit.client import Configuration, Secrets, call

__all__ = [
    "heal",
    "partition",
    "patch_faults",
    "patch_network",
    "reset_faults",
    "reset_network",
    "set_faults",
    "set_network",
]


def set_faults(
    faults: dict[str, Any],
    control_url: str | None = None,
    token: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Replace the fault configuration (a FaultConfig; omitted fields take their defaults)."""
    result: dict[str, Any] = call("PUT", "/faults", faults, control_url, token, configuration, secrets)
    return result


def patch_faults(
    faults: dict[str, Any],
    control_url: str | None = None,
    token: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Merge ``faults`` into the fault configuration in force."""
    result: dict[str, Any] = call("PATCH", "/faults", faults, control_url, token, configuration, secrets)
    return result


def reset_faults(
    control_url: str | None = None,
    token: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Back to the fault configuration the proxy started with (a rollback)."""
    result: dict[str, Any] = call("POST", "/faults/reset", {}, control_url, token, configuration, secrets)
    return result


def set_network(
    network: dict[str, Any],
    control_url: str | None = None,
    token: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Replace the simulated network (a NetworkConfig: latency, bandwidth, loss, ...)."""
    result: dict[str, Any] = call("PUT", "/network", network, control_url, token, configuration, secrets)
    return result


def patch_network(
    network: dict[str, Any],
    control_url: str | None = None,
    token: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Merge ``network`` into the simulated network in force."""
    result: dict[str, Any] = call("PATCH", "/network", network, control_url, token, configuration, secrets)
    return result


def reset_network(
    control_url: str | None = None,
    token: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """An unimpaired network, healed (a rollback)."""
    heal(control_url, token, configuration, secrets)
    return set_network({}, control_url, token, configuration, secrets)


def partition(
    duration_ms: float | None = None,
    control_url: str | None = None,
    token: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Nothing passes until healed (or for ``duration_ms``)."""
    body = {} if duration_ms is None else {"duration_ms": duration_ms}
    result: dict[str, Any] = call(
        "POST", "/network/partition", body, control_url, token, configuration, secrets
    )
    return result


def heal(
    control_url: str | None = None,
    token: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """End a partition."""
    result: dict[str, Any] = call("POST", "/network/heal", {}, control_url, token, configuration, secrets)
    return result
