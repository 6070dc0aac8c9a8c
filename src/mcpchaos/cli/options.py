"""Turn command-line options into validated configuration (files first, flags on top)."""

from __future__ import annotations

import argparse

from mcpchaos.config.addresses import host_port
from mcpchaos.config.faults import FaultConfig, FaultType
from mcpchaos.config.load import load_file, validate
from mcpchaos.config.network import NetworkConfig
from mcpchaos.errors import ConfigError
from mcpchaos.proxy.breaker import BreakerConfig
from mcpchaos.proxy.http_options import HttpOptions
from mcpchaos.proxy.restart import RestartPolicy


def fault_config(args: argparse.Namespace) -> FaultConfig | None:
    """The FaultConfig the fault options describe (``--faults`` file, then the shorthand
    flags on top); None when no fault option was given."""
    if (
        args.faults is None
        and args.fault_probability is None
        and args.faults_enabled is None
        and args.seed is None
    ):
        return None
    base = load_file(FaultConfig, args.faults) if args.faults else FaultConfig()
    data = base.model_dump(mode="json", exclude_unset=True)
    if args.fault_probability is not None:
        data["fault_probability"] = args.fault_probability
    if args.faults_enabled is not None:
        names = [name.strip() for name in args.faults_enabled.split(",") if name.strip()]
        known = {kind.value for kind in FaultType}
        unknown = [name for name in names if name not in known]
        if unknown:
            choices = ", ".join(sorted(known))
            raise ConfigError(f"--faults-enabled: unknown fault {', '.join(unknown)}; choose from {choices}")
        weights = data.get("enabled_faults", {}).get("weights", {})
        data["enabled_faults"] = {**{name: True for name in names}, "weights": weights}
    if args.seed is not None:
        data["seed"] = args.seed
    return validate(FaultConfig, data, args.faults or "fault options")


def network_config(args: argparse.Namespace) -> NetworkConfig | None:
    """The NetworkConfig the network options describe (``--network`` file, then shorthand
    flags on ``both``); None when no network option was given."""
    flags = (args.latency_ms, args.jitter_ms, args.bandwidth_kbps, args.loss, args.network_seed)
    if args.network is None and all(flag is None for flag in flags):
        return None
    base = load_file(NetworkConfig, args.network) if args.network else NetworkConfig()
    data = base.model_dump(mode="json", exclude_unset=True)
    both = data.setdefault("both", {})
    if args.latency_ms is not None or args.jitter_ms is not None:
        latency = both.setdefault("latency", {})
        if args.latency_ms is not None:
            latency["base_ms"] = args.latency_ms
        if args.jitter_ms is not None:
            latency["jitter_ms"] = args.jitter_ms
    if args.bandwidth_kbps is not None:
        both["bandwidth"] = {"bytes_per_second": args.bandwidth_kbps * 1000}
    if args.loss is not None:
        both["packet_loss"] = {"probability": args.loss}
    if args.network_seed is not None:
        data["seed"] = args.network_seed
    return validate(NetworkConfig, data, args.network or "network options")


def http_options(args: argparse.Namespace) -> HttpOptions:
    breaker = None
    if args.breaker:
        try:
            breaker = BreakerConfig(
                failure_rate=args.breaker_failure_rate,
                window_s=args.breaker_window,
                min_requests=args.breaker_min,
                open_s=args.breaker_open,
                probes=args.breaker_probes,
            )
        except ValueError as exc:
            raise ConfigError(f"--breaker options: {exc}") from None
    return HttpOptions(
        max_body_bytes=args.max_body_bytes,
        max_message_bytes=args.max_message_bytes,
        upstream_timeout=args.upstream_timeout,
        request_timeout=args.request_timeout,
        breaker=breaker,
        max_connections=max(args.max_connections, 0),
        header_timeout=args.header_timeout,
        max_sessions=max(args.max_sessions or 10_000, 1),
        session_idle_timeout=args.session_idle_timeout,
        session_max_age=args.session_max_age,
        body_timeout=args.body_timeout,
        idle_timeout=args.idle_timeout,
        over_limit=args.over_limit or "503",
        allowed_hosts=_listed(args.allowed_hosts),
        allowed_origins=_listed(args.allowed_origins),
        forward_host=args.forward_host,
    )


def _listed(value: str | None) -> tuple[str, ...] | None:
    """``a,b`` → ("a", "b"); None when the option was not given."""
    if value is None:
        return None
    return tuple(item.strip() for item in value.split(",") if item.strip())


def restart_policy(args: argparse.Namespace) -> RestartPolicy:
    """The stdio server restart options."""
    if args.max_restarts < 0 or args.restart_queue < 0:
        raise ConfigError("--max-restarts and --restart-queue must be zero or more")
    return RestartPolicy(
        mode=args.restart,
        backoff=args.restart_backoff,
        max_backoff=max(args.restart_max_backoff, args.restart_backoff),
        max_restarts=args.max_restarts,
        during_restart=args.during_restart,
        queue_limit=args.restart_queue,
    )


def control_address(value: str | None) -> tuple[str, int] | None:
    """``--control HOST:PORT`` (or just ``PORT``, on 127.0.0.1)."""
    return None if value is None else host_port(value, "--control", example="127.0.0.1:9900")


def listen_address(value: str | None) -> tuple[str, int] | None:
    """``--listen HOST:PORT`` (or just ``PORT``, on 127.0.0.1)."""
    return None if value is None else host_port(value, "--listen")
