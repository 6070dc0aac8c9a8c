"""``mcpchaos ctl``'s command line: every subcommand with a description and examples in its
``--help``. What they do: :mod:`mcpchaos.cli.ctl_command`."""

from __future__ import annotations

import argparse
import os
import textwrap
from typing import Any

from mcpchaos.config.fault_kinds import CorruptionMode, ErrorType, FaultType, MessageClass


def _sub(parent: Any, name: str, help: str, description: str, examples: str) -> argparse.ArgumentParser:
    """A subcommand whose --help says what it does and shows examples."""
    parser: argparse.ArgumentParser = parent.add_parser(
        name,
        help=help,
        description=textwrap.fill(description, 88),
        epilog="examples:\n" + "\n".join(f"  {line}" for line in examples.strip().splitlines()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 1 (0.3 is 30% of calls)")
    return value


def add_parser(commands: Any) -> None:
    ctl = _sub(
        commands,
        "ctl",
        help="read and change a running proxy or link through its control API",
        description="Talk to the control API of a running 'mcpchaos proxy --control ...' or 'mcpchaos link "
        "--control ...'. Configurations may be given as a YAML/JSON file, '-' for stdin, or inline JSON. "
        "Exit status: 0 done, 1 the API answered an error or cannot be reached, 2 a usage mistake.",
        examples="""
mcpchaos proxy --control 9900 -- python -m my_server     # in one terminal
mcpchaos ctl --control 9900 status                       # in another
export MCPCHAOS_CONTROL=9900; mcpchaos ctl faults add error --probability 0.3 --tool 'write_*'
""",
    )
    ctl.add_argument(
        "--control",
        metavar="ADDRESS",
        default=os.environ.get("MCPCHAOS_CONTROL"),
        help="the control API: PORT (on 127.0.0.1), HOST:PORT or a URL such as http://127.0.0.1:9900, "
        "as given to 'proxy --control' (default: $MCPCHAOS_CONTROL)",
    )
    ctl.add_argument(
        "--token",
        default=os.environ.get("MCPCHAOS_CONTROL_TOKEN"),
        help="the control token, if the API needs one (default: $MCPCHAOS_CONTROL_TOKEN)",
    )
    sub = ctl.add_subparsers(dest="ctl_command", metavar="COMMAND", required=True)
    _sub(
        sub,
        "status",
        help="health, sessions and faults injected so far",
        description="Print the proxy's health, its open sessions, and the faults and messages counted.",
        examples="mcpchaos ctl status\nmcpchaos ctl --control 9900 status     # a port means 127.0.0.1:PORT",
    )
    _add_faults(sub)
    _add_network(sub)
    partition = _sub(
        sub,
        "partition",
        help="start a network partition",
        description="Nothing passes between the proxy and its upstream until 'heal' (or --duration-ms).",
        examples="mcpchaos ctl partition --duration-ms 5000",
    )
    partition.add_argument("--duration-ms", type=float, help="heal by itself after this long")
    _sub(
        sub,
        "heal",
        help="end a network partition",
        description="End a network partition.",
        examples="mcpchaos ctl heal",
    )
    log = _sub(
        sub,
        "log",
        help="the injected faults, as JSON lines",
        description="Print the faults injected so far (the last 10,000), one JSON record a line.",
        examples="mcpchaos ctl log\nmcpchaos ctl log --follow     # keep printing new ones (Ctrl-C to stop)",
    )
    log.add_argument(
        "--since", type=int, default=0, help="only records after this sequence number (default: 0)"
    )
    log.add_argument("--follow", action="store_true", help="keep printing new records (Ctrl-C to stop)")
    metrics = _sub(
        sub,
        "metrics",
        help="the metrics (Prometheus text, or --json)",
        description="Print the proxy's metrics: Prometheus text exposition, or JSON with --json.",
        examples="mcpchaos ctl metrics\nmcpchaos ctl metrics --json",
    )
    metrics.add_argument("--json", action="store_true", help="JSON instead of Prometheus text")
    check = _sub(
        sub,
        "check",
        help="check every session's history against the MCP invariants (proxy --history)",
        description="Run the history checker on the proxy's live history ('mcpchaos proxy --history'): "
        "every request ends in one response or a cancellation, nothing after a cancellation, progress "
        "only increases, known subscriptions, mirrored headers match bodies, re-list after list-changed, "
        "resultType on 2026-07-28 results, no id reused in flight (docs/history.md). Prints the "
        "violations; exit 0 when none is left unexplained by an injected fault, 1 otherwise.",
        examples="mcpchaos ctl check\nmcpchaos ctl check --json     # the whole report\n"
        "mcpchaos ctl check --grace-ms 500     # allow slower races",
    )
    check.add_argument("--json", action="store_true", help="print the checker's whole report as JSON")
    check.add_argument(
        "--grace-ms",
        type=float,
        help="how late a message may be after a cancellation or list-changed and still count as a "
        "race (default: 100)",
    )


def _add_faults(sub: Any) -> None:
    faults = _sub(
        sub,
        "faults",
        help="show or change the fault configuration: set, patch, add, remove, off, reset",
        description="Show or change the running fault configuration (docs/faults.md). A probability is the "
        "chance that a call gets a fault; a rule's own probability wins over the top level's.",
        examples="""
mcpchaos ctl faults show
mcpchaos ctl faults add error --probability 0.3 --tool 'write_*'
mcpchaos ctl faults off
""",
    )
    actions = faults.add_subparsers(dest="action", metavar="ACTION", required=True)
    _sub(
        actions,
        "show",
        help="the configuration in force, its seed and the faults injected",
        description="Print the fault configuration in force, the seed and the number of faults injected.",
        examples="mcpchaos ctl faults show",
    )
    for name, verb, example in (
        ("set", "replace the configuration with", "mcpchaos ctl faults set examples/flaky-tools.yaml"),
        (
            "patch",
            "merge into the configuration",
            """mcpchaos ctl faults patch '{"fault_probability": 0.3}'""",
        ),
    ):
        action = _sub(
            actions,
            name,
            help=f"{verb} a FaultConfig (file, '-' or inline JSON)",
            description=f"{verb.capitalize()} a FaultConfig given as a YAML/JSON file, '-' for stdin, or "
            "inline JSON" + (" (objects merge key by key; lists are replaced)." if name == "patch" else "."),
            examples=f"{example}\necho 'fault_probability: 0' | mcpchaos ctl faults {name} -",
        )
        action.add_argument("config", metavar="CONFIG", help="a file, '-' for stdin, or inline JSON")
    _sub(
        actions,
        "reset",
        help="back to the start-up configuration",
        description="Back to the fault configuration the proxy started with (--faults and the fault flags).",
        examples="mcpchaos ctl faults reset",
    )
    _sub(
        actions,
        "off",
        help="no faults at all (the seed is kept)",
        description="Inject no faults at all: the top level and every rule go. 'reset' brings back the "
        "start-up configuration.",
        examples="mcpchaos ctl faults off",
    )
    add = _sub(
        actions,
        "add",
        help="add a rule: KIND with a probability, targeted by tool, method...",
        description="Add a rule (tried first, before the rules already there): calls that match get KIND "
        "with --probability. Without --tool/--method/--class it matches every call (not the handshake).",
        examples="""
mcpchaos ctl faults add error --probability 0.3 --tool 'write_*'
mcpchaos ctl faults add delay --delay-ms 200-800 --method 'resources/*' --name slow-resources
mcpchaos ctl faults add error --error-type rate_limited --tool search
mcpchaos ctl faults add drop --class server_response --tool 'read_*' --probability 0.1
""",
    )
    add.add_argument(
        "kind", metavar="KIND", choices=[kind.value for kind in FaultType], help=_choices(FaultType)
    )
    add.add_argument("--name", help="the rule's name, for 'remove' and the fault log (default: KIND-N)")
    add.add_argument(
        "--probability",
        metavar="P",
        type=_probability,
        default=1.0,
        help="chance that a matching call gets it (default: 1)",
    )
    add.add_argument(
        "--tool", action="append", default=[], metavar="GLOB", help="tool name glob (repeatable)"
    )
    add.add_argument("--method", action="append", default=[], metavar="GLOB", help="method glob (repeatable)")
    add.add_argument(
        "--class",
        dest="classes",
        action="append",
        default=[],
        metavar="CLASS",
        choices=[value.value for value in MessageClass],
        help=f"message class (repeatable; default: client_request): {_choices(MessageClass)}",
    )
    add.add_argument(
        "--session", action="append", default=[], metavar="GLOB", help="session id glob (repeatable)"
    )
    add.add_argument(
        "--first-n", type=int, metavar="N", help="only the first N matching messages of a session"
    )
    add.add_argument(
        "--every-nth", type=int, metavar="N", help="only every Nth matching message of a session"
    )
    add.add_argument("--delay-ms", metavar="MS|MIN-MAX", help="delay: fixed, or drawn between MIN and MAX")
    add.add_argument(
        "--error-type",
        action="append",
        default=[],
        metavar="TYPE",
        choices=[value.value for value in ErrorType],
        help=f"error: the types to choose from (repeatable; default: all): {_choices(ErrorType)}",
    )
    add.add_argument(
        "--corruption-mode",
        action="append",
        default=[],
        metavar="MODE",
        choices=[value.value for value in CorruptionMode],
        help="corruption: the modes to choose from (repeatable; default: the specification's four)",
    )
    remove = _sub(
        actions,
        "remove",
        help="remove a rule by name",
        description="Remove the rule called NAME ('faults show' lists them; an unnamed rule is rule-INDEX).",
        examples="mcpchaos ctl faults remove error-1",
    )
    remove.add_argument("name", metavar="NAME")


def _add_network(sub: Any) -> None:
    network = _sub(
        sub,
        "network",
        help="show or change the simulated network: set, patch, reset",
        description="Show or change the running network simulation (docs/network.md).",
        examples="""
mcpchaos ctl network show
mcpchaos ctl network patch '{"both": {"latency": {"base_ms": 100}}}'
mcpchaos ctl network reset
""",
    )
    actions = network.add_subparsers(dest="action", metavar="ACTION", required=True)
    _sub(
        actions,
        "show",
        help="the network configuration in force",
        description="Print the network configuration in force and whether it is partitioned.",
        examples="mcpchaos ctl network show",
    )
    for name, verb, example in (
        ("set", "replace the configuration with", "mcpchaos ctl network set examples/network-wan.yaml"),
        (
            "patch",
            "merge into the configuration",
            """mcpchaos ctl network patch '{"both": {"latency": {"base_ms": 100}}}'""",
        ),
    ):
        action = _sub(
            actions,
            name,
            help=f"{verb} a NetworkConfig (file, '-' or inline JSON)",
            description=f"{verb.capitalize()} a NetworkConfig given as a YAML/JSON file, '-' for stdin, or "
            "inline JSON.",
            examples=example,
        )
        action.add_argument("config", metavar="CONFIG", help="a file, '-' for stdin, or inline JSON")
    _sub(
        actions,
        "reset",
        help="back to the start-up network (a partition healed, toxics removed)",
        description="Back to the network the proxy started with: impairments as at start-up, a partition "
        "started since healed, toxics added through the Toxiproxy API removed.",
        examples="mcpchaos ctl network reset",
    )


def _choices(enum: Any) -> str:
    return ", ".join(member.value for member in enum)
