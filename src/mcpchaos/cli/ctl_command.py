"""``mcpchaos ctl``: the control API from the shell.

mcpchaos ctl --control 9900 status                       # a port means 127.0.0.1:PORT
mcpchaos ctl faults set examples/flaky-tools.yaml        # or - for stdin, or inline JSON
mcpchaos ctl faults add error --probability 0.3 --tool 'write_*'
mcpchaos ctl faults remove error-1
mcpchaos ctl faults off                                  # no faults at all; 'reset': the start-up ones
mcpchaos ctl log --follow
mcpchaos ctl check                                       # the history checker (proxy --history)

The commands, their help and examples: :mod:`mcpchaos.cli.ctl_parser`. Usage mistakes (a
bad address, a missing or unreadable configuration, a rule that does not validate) exit 2
before anything is sent; an error answered by the API, or no API, exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from mcpchaos.cli.ctl_parser import add_parser
from mcpchaos.config import addresses
from mcpchaos.config.faults import Rule
from mcpchaos.config.load import describe_yaml_error, validate
from mcpchaos.errors import ConfigError, McpChaosError

__all__ = ["ControlError", "add_parser", "control_url", "rule_from_args", "run"]


class ControlError(McpChaosError):
    """The control API answered with an error, or could not be reached."""


def control_url(value: str | None) -> str:
    """``--control`` as ``proxy --control`` takes it (PORT, HOST:PORT) or a URL → a base URL."""
    if not value:
        raise ConfigError("give --control PORT (the proxy's --control address), or set MCPCHAOS_CONTROL")
    return addresses.control_url(value)


def _config_body(value: str) -> Any:
    if value == "-":
        text = sys.stdin.read()
    elif value.lstrip().startswith("{"):
        text = value
    else:
        try:
            text = Path(value).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read {value}: {exc.strerror or exc}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(describe_yaml_error(exc, value)) from None


def _delay(text: str) -> dict[str, float]:
    low, _, high = text.partition("-")
    try:
        bounds = (float(low), float(high or low))
    except ValueError:
        raise ConfigError(
            f"--delay-ms must be MS or MIN-MAX in milliseconds (e.g. 300 or 200-800), got {text!r}"
        ) from None
    return {"min_ms": bounds[0], "max_ms": bounds[1], "jitter": bounds[0] != bounds[1]}


def rule_from_args(args: argparse.Namespace) -> Rule:
    """The rule ``ctl faults add`` describes, validated here (a mistake is exit 2)."""
    kind = args.kind
    for option, value, fits in (
        ("--delay-ms", args.delay_ms, "delay"),
        ("--error-type", args.error_type, "error"),
        ("--corruption-mode", args.corruption_mode, "corruption"),
    ):
        if value and kind != fits:
            raise ConfigError(f"{option} is for '{fits}' rules, not '{kind}'")
    match: dict[str, Any] = {
        "tools": args.tool,
        "methods": args.method,
        "sessions": args.session,
        "first_n": args.first_n,
        "every_nth": args.every_nth,
    }
    if args.classes:
        match["message_classes"] = args.classes
    data: dict[str, Any] = {
        "name": args.name,
        "match": match,
        "probability": args.probability,
        "enabled_faults": {kind: True},
    }
    if args.delay_ms is not None:
        data["delay_ms"] = _delay(args.delay_ms)
    if args.error_type:
        data["error_config"] = {"types": args.error_type}
    if args.corruption_mode:
        data["corruption_config"] = {"modes": args.corruption_mode}
    return validate(Rule, data, "faults add")


async def _call(args: argparse.Namespace, method: str, path: str, body: Any = None, raw: bool = False) -> Any:
    base = control_url(args.control)
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
            http.request(method, base + path, json=body, headers=headers) as response,
        ):
            text = await response.text()
            if response.status >= 400:
                raise ControlError(f"{method} {path}: HTTP {response.status}: {text.strip()}")
            return text if raw else json.loads(text)
    except aiohttp.ClientConnectorError as exc:
        reason = exc.os_error.strerror or str(exc.os_error)
        raise ControlError(
            f"cannot reach the control API at {base}: {reason} (is a proxy running with --control there?)"
        ) from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ControlError(f"cannot reach the control API at {base}: {exc or type(exc).__name__}") from None


def _print(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


async def _faults(args: argparse.Namespace) -> Any:
    action = args.action
    if action == "show":
        return await _call(args, "GET", "/faults")
    if action == "reset":
        return await _call(args, "POST", "/faults/reset")
    if action == "off":
        return await _call(args, "PUT", "/faults", {})  # FaultConfig(): nothing; the seed is kept
    if action == "add":
        rule = rule_from_args(args)
        return await _call(args, "POST", "/faults/rules", rule.model_dump(mode="json", exclude_unset=True))
    if action == "remove":
        return await _call(args, "DELETE", "/faults/rules/" + urllib.parse.quote(args.name, safe=""))
    body = _config_body(args.config)
    return await _call(args, "PUT" if action == "set" else "PATCH", "/faults", body)


async def _network(args: argparse.Namespace) -> Any:
    if args.action == "show":
        return await _call(args, "GET", "/network")
    if args.action == "reset":
        return await _call(args, "POST", "/network/reset")
    body = _config_body(args.config)
    return await _call(args, "PUT" if args.action == "set" else "PATCH", "/network", body)


async def _check(args: argparse.Namespace) -> int:
    """``ctl check``: the violations, one a line (or the whole report); 1 if any is unexplained."""
    query = f"?grace_ms={args.grace_ms}" if args.grace_ms is not None else ""
    report = await _call(args, "GET", "/history/check" + query)
    if args.json:
        _print(report)
    else:
        for violation in report["violations"]:
            induced = " (induced by an injected fault)" if violation["induced_by_fault"] else ""
            messages = ", ".join(f"#{seq}" for seq in violation["messages"])
            print(
                f"{violation['rule']}: session {violation['session']} ({violation['wire']} side), "
                f"messages {messages}: {violation['detail']}{induced}"
            )
        unexplained = sum(report["unexplained_by_rule"].values())
        print(
            f"{report['sessions']} session(s), {report['messages']} message(s): {unexplained} violation(s), "
            f"{sum(report['induced_by_rule'].values())} induced by faults, "
            f"{report['unanswered_total']} request(s) unanswered at the end"
            + (
                f", {report['truncated_sessions']} session(s) truncated"
                if report["truncated_sessions"]
                else ""
            )
        )
    return 0 if report["clean"] else 1


async def run(args: argparse.Namespace) -> int:
    command = args.ctl_command
    if command == "status":
        health = await _call(args, "GET", "/health")
        sessions = await _call(args, "GET", "/sessions")
        metrics = await _call(args, "GET", "/metrics.json")
        _print(
            {
                "health": health,
                "sessions": sessions["sessions"],
                "faults_injected": metrics["faults_total"],
                "messages": metrics["messages_total"],
            }
        )
    elif command == "faults":
        _print(await _faults(args))
    elif command == "network":
        _print(await _network(args))
    elif command == "partition":
        body = {"duration_ms": args.duration_ms} if args.duration_ms is not None else {}
        _print(await _call(args, "POST", "/network/partition", body))
    elif command == "heal":
        _print(await _call(args, "POST", "/network/heal"))
    elif command == "metrics":
        if args.json:
            _print(await _call(args, "GET", "/metrics.json"))
        else:
            print(await _call(args, "GET", "/metrics", raw=True), end="")
    elif command == "check":
        return await _check(args)
    elif command == "log":
        since = args.since
        while True:
            page = await _call(args, "GET", f"/faults/log?since={since}")
            for record in page["records"]:
                print(json.dumps(record, ensure_ascii=False), flush=True)
            since = page["next"]
            if not args.follow:
                break
            await asyncio.sleep(0.5)
    return 0
