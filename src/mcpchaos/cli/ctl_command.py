"""``mcpchaos ctl``: the control API from the shell.

mcpchaos ctl --control http://127.0.0.1:9900 status
mcpchaos ctl faults set examples/flaky-tools.yaml        # or - for stdin
mcpchaos ctl faults patch '{"fault_probability": 0.5}'
mcpchaos ctl log --follow
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from mcpchaos.errors import ConfigError, McpChaosError


class ControlError(McpChaosError):
    """The control API answered with an error, or could not be reached."""


def add_parser(commands: Any) -> None:
    ctl = commands.add_parser(
        "ctl",
        help="read and change a running proxy or link through its control API",
        description="Talk to the control API of a running 'mcpchaos proxy --control ...' or 'mcpchaos link "
        "--control ...'. Configurations may be given as a YAML/JSON file, '-' for stdin, or inline JSON.",
    )
    ctl.add_argument(
        "--control",
        metavar="URL",
        default=os.environ.get("MCPCHAOS_CONTROL"),
        help="the control API, e.g. http://127.0.0.1:9900 (default: $MCPCHAOS_CONTROL)",
    )
    ctl.add_argument(
        "--token",
        default=os.environ.get("MCPCHAOS_CONTROL_TOKEN"),
        help="the control token, if the API needs one (default: $MCPCHAOS_CONTROL_TOKEN)",
    )
    sub = ctl.add_subparsers(dest="ctl_command", metavar="COMMAND", required=True)
    sub.add_parser("status", help="health, sessions and faults injected so far")
    faults = sub.add_parser("faults", help="show, set, patch or reset the fault configuration")
    faults.add_argument("action", choices=["show", "set", "patch", "reset"])
    faults.add_argument("config", nargs="?", help="for set/patch: a file, '-' or inline JSON")
    network = sub.add_parser("network", help="show, set or patch the network configuration")
    network.add_argument("action", choices=["show", "set", "patch"])
    network.add_argument("config", nargs="?", help="for set/patch: a file, '-' or inline JSON")
    partition = sub.add_parser("partition", help="start a network partition")
    partition.add_argument("--duration-ms", type=float, help="heal by itself after this long")
    sub.add_parser("heal", help="end a network partition")
    log = sub.add_parser("log", help="the injected faults, as JSON lines")
    log.add_argument("--since", type=int, default=0, help="only records after this sequence number")
    log.add_argument("--follow", action="store_true", help="keep printing new records (Ctrl-C to stop)")
    metrics = sub.add_parser("metrics", help="the metrics (Prometheus text, or --json)")
    metrics.add_argument("--json", action="store_true")


def _config_body(value: str | None, action: str) -> Any:
    if value is None:
        raise ConfigError(f"'{action}' needs a configuration: a file, '-' for stdin, or inline JSON")
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
        raise ConfigError(f"{value}: not valid YAML/JSON: {exc}") from None


async def _call(args: argparse.Namespace, method: str, path: str, body: Any = None, raw: bool = False) -> Any:
    if not args.control:
        raise ConfigError("give --control URL (the proxy's --control address), or set MCPCHAOS_CONTROL")
    base = args.control if "://" in args.control else f"http://{args.control}"
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
            http.request(method, base.rstrip("/") + path, json=body, headers=headers) as response,
        ):
            text = await response.text()
            if response.status >= 400:
                raise ControlError(f"{method} {path}: HTTP {response.status}: {text.strip()}")
            return text if raw else json.loads(text)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ControlError(f"cannot reach the control API at {base}: {exc}") from None


def _print(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


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
        if args.action == "show":
            _print(await _call(args, "GET", "/faults"))
        elif args.action == "reset":
            _print(await _call(args, "POST", "/faults/reset"))
        else:
            method = "PUT" if args.action == "set" else "PATCH"
            _print(await _call(args, method, "/faults", _config_body(args.config, args.action)))
    elif command == "network":
        if args.action == "show":
            _print(await _call(args, "GET", "/network"))
        else:
            method = "PUT" if args.action == "set" else "PATCH"
            _print(await _call(args, method, "/network", _config_body(args.config, args.action)))
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
