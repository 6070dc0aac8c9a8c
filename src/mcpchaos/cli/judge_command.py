"""``mcpchaos judge [OPTIONS] -- CLIENT_COMMAND…``: chaos for MCP clients, with verdicts.

Exit status like ``mcpchaos run``: 0 every verdict passed, 1 one failed, 3 none failed but one
was inconclusive (a scenario's fault never reached the client), 2 a usage mistake.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from mcpchaos.cli.arg_types import more_than_zero
from mcpchaos.cli.helpformat import HelpFormatter
from mcpchaos.errors import ConfigError

DESCRIPTION = """\
Start a target (the built-in demo server, a server command or URL, or a tape) behind an mcpchaos
proxy, run CLIENT_COMMAND once per client scenario while that scenario's faults are on, and judge
the client from what the proxy recorded of it: it times out hung calls (within
--call-timeout-bound), cancels what it abandons, does not retry a destructive tool blindly, backs
off under errors (no retry storm), honours Retry-After, initializes again after a 404 on its
session, lists the tools again after list_changed, survives malformed and unknown-id responses,
falls back to initialize when server/discover is refused, and exits by itself (a client still
running at --client-timeout is killed: a failed verdict). Reports as 'mcpchaos run' writes them.

How the client finds the server, in its arguments or its environment:
  {url}        the proxy's Streamable HTTP URL (also $MCPCHAOS_SERVER_URL)
  {command}    a stdio server command reaching the same proxy (also $MCPCHAOS_SERVER_COMMAND,
               shell-quoted); an argument that is exactly {command} becomes its words

What a judged client is expected to do, each run: connect (either era), list the tools, call
some of them (at least two calls; the demo's echo, and delete_item, its destructive tool, once)
and exit (any status: an error report is fine, hanging is not)."""

EPILOG = """\
examples:
  mcpchaos judge -- python my_client.py {url}
  mcpchaos judge --scenario hung_call,rate_limited --call-timeout-bound 5 -- node client.js {url}
  mcpchaos judge -- python my_stdio_client.py {command}
  mcpchaos judge --target 'python -m my_server' -- python my_client.py
  mcpchaos judge --tape run.tape --faults examples/flaky-tools.yaml -- python my_client.py {url}
  mcpchaos judge --list

exit status: 0 all passed, 1 a verdict failed, 2 usage or configuration error,
3 inconclusive (nothing failed, but a scenario's fault never reached the client).
See docs/judge.md."""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "judge",
        help="run an MCP client against faults and judge how it behaves",
        usage="%(prog)s [--scenario NAMES | --faults FILE] [--target CMD|URL | --tape FILE]\n"
        "       [--call-timeout-bound S] [--client-timeout S] [--out DIR] [--junit FILE]\n"
        "       -- CLIENT_COMMAND [ARGS...]",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    what = parser.add_argument_group("what the client meets")
    what.add_argument(
        "--target",
        metavar="CMD|URL",
        help="the server behind the proxy: a stdio command (quoted), a Streamable HTTP URL, or "
        "'demo' (default: the built-in demo server)",
    )
    what.add_argument("--tape", metavar="FILE", help="replay this tape as the server (docs/tapes.md)")
    what.add_argument(
        "--scenario",
        metavar="NAMES",
        help="built-in client scenarios, joined by commas (default: all; --list shows them)",
    )
    what.add_argument(
        "--faults",
        metavar="FILE",
        help="your own fault profile instead (a FaultConfig, as 'mcpchaos proxy --faults'): one "
        "run, judged by every verdict its faults exercise",
    )
    bounds = parser.add_argument_group("bounds")
    bounds.add_argument(
        "--call-timeout-bound",
        type=more_than_zero,
        default=10.0,
        metavar="S",
        help="a call with no answer must be given up within S seconds (default: 10)",
    )
    bounds.add_argument(
        "--client-timeout",
        type=more_than_zero,
        default=30.0,
        metavar="S",
        help="the client is killed if it still runs after S seconds, and fails exits_cleanly (default: 30)",
    )
    bounds.add_argument(
        "--max-request-rate",
        type=more_than_zero,
        default=10.0,
        metavar="R",
        help="once errors come, at most R requests in any one second (default: 10)",
    )
    report = parser.add_argument_group("report")
    report.add_argument(
        "--out", type=Path, default=Path("judge-report"), metavar="DIR", help="where to write the reports"
    )
    report.add_argument("--junit", type=Path, metavar="FILE", help="also write the verdicts as JUnit XML")
    parser.add_argument(
        "--seed", type=int, default=1, help="seed for the faults, over a --faults profile's own (default: 1)"
    )
    parser.add_argument("--list", action="store_true", help="list the client scenarios and exit")
    parser.add_argument(
        "client_command", nargs=argparse.REMAINDER, metavar="-- CLIENT_COMMAND", help="the client to judge"
    )
    parser.set_defaults(run_command=run)


def _scenarios(args: argparse.Namespace) -> tuple[list[Any], bool]:
    """The scenarios to run, and whether their verdicts are required (built-in ones)."""
    from mcpchaos.harness.judge.scenarios import SCENARIOS, ClientScenario
    from mcpchaos.harness.judge.verdicts import PROFILE_VERDICTS

    if args.faults is not None:
        if args.scenario is not None:
            raise ConfigError("--scenario and --faults both choose the faults: give one")
        from mcpchaos.config.faults import FaultConfig
        from mcpchaos.config.load import load_file

        config = load_file(FaultConfig, args.faults)
        profile = ClientScenario(
            "profile",
            f"the fault profile {args.faults}",
            config.model_dump(mode="json", exclude_defaults=True),
            tuple(v for v in PROFILE_VERDICTS if v != "exits_cleanly"),
        )
        return [profile], False
    if args.scenario is None:
        return list(SCENARIOS.values()), True
    names = [name.strip() for name in args.scenario.split(",") if name.strip()]
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown or not names:
        raise ConfigError(
            f"--scenario: unknown {', '.join(unknown) or '(none given)'}; known: {', '.join(SCENARIOS)}"
        )
    return [SCENARIOS[name] for name in names], True


def _target(args: argparse.Namespace) -> tuple[Any, str]:
    from mcpchaos.harness.stack import TargetSpec

    if args.tape is None:
        target = TargetSpec.parse(args.target)
        if target.kind == "attach":
            raise ConfigError("--target: give a server command, a URL or 'demo'")
        return target, target.describe()
    if args.target is not None:
        raise ConfigError("--target and --tape both name the server: give one")
    from mcpchaos.history import tape

    tape.read(args.tape)  # a missing or broken tape is a usage mistake, said now
    command = (sys.executable, "-m", "mcpchaos.proxy.replay_server", "--timing", "none", args.tape)
    return TargetSpec(kind="command", command=command), f"the tape {args.tape}, replayed as a server"


def run(args: argparse.Namespace) -> int:
    from mcpchaos.harness.judge.scenarios import SCENARIOS

    if args.list:
        width = max(len(name) for name in SCENARIOS)
        for name, scenario in SCENARIOS.items():
            print(f"{name:<{width}}  {scenario.description}")
        return 0
    client = list(args.client_command)
    if client and client[0] == "--":
        client = client[1:]
    if not client:
        raise ConfigError("judge needs the client to run: mcpchaos judge [OPTIONS] -- CLIENT_COMMAND {url}")
    _check_client(client)
    scenarios, required = _scenarios(args)
    target, description = _target(args)
    if target.kind in ("command", "url") and args.tape is None:
        from mcpchaos.harness.preflight import check_target

        # A server that is not there fails now, in seconds, not once per scenario (exit 2).
        asyncio.run(check_target(target, "2025-11-25"))
    return _judge(args, client, scenarios, required, target, description)


def _check_client(client: list[str]) -> None:
    """A client command that cannot run is a usage mistake, said before anything starts."""
    import os
    import shutil

    program = client[0]
    found = (
        shutil.which(program) if os.sep not in program else (program if os.access(program, os.X_OK) else None)
    )
    if found is None:
        raise ConfigError(
            f"the client command {program!r} was not found or is not executable "
            "(give its path, or a program on PATH, after --)"
        )


def _judge(
    args: argparse.Namespace,
    client: list[str],
    scenarios: list[Any],
    required: bool,
    target: Any,
    description: str,
) -> int:
    from rich.console import Console

    from mcpchaos.cli.run_command import EXIT_STATUS
    from mcpchaos.harness.judge.runner import JudgeSettings, run_judge
    from mcpchaos.harness.judge.verdicts import Bounds
    from mcpchaos.harness.progress import TerminalProgress, summary_table, word
    from mcpchaos.harness.report import figures, write_reports
    from mcpchaos.harness.report.junit import write_junit

    out: Path = args.out
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create --out {out}: {exc.strerror or exc}") from None
    settings = JudgeSettings(
        client=tuple(client),
        target=target,
        scenarios=scenarios,
        workdir=out / "work",
        bounds=Bounds(args.call_timeout_bound, args.max_request_rate),
        client_timeout_s=args.client_timeout,
        required=required,
        seed=args.seed,
        description=description,
    )
    progress = TerminalProgress()
    progress.message(f"mcpchaos judge: {len(scenarios)} scenario(s) against {description}")
    try:
        journal = asyncio.run(run_judge(settings, _command(sys.argv[1:], args.seed), progress))
    finally:
        progress.close()
    files = write_reports(journal, out)
    if args.junit is not None:
        write_junit(args.junit, journal)
    result = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    result.print(summary_table(journal.scenarios, "mcpchaos judge"))
    result.print(f"journal: {files.journal}\nreport:  {files.html}\nfindings: {files.markdown}")
    result.print(f"tapes and client output: {settings.workdir}")
    if args.junit is not None:
        result.print(f"junit:   {args.junit}")
    result.print(f"{word(journal.status)}: {figures.tally([s.status for s in journal.scenarios])}")
    return EXIT_STATUS[journal.status]


def _command(argv: list[str], seed: int) -> list[str]:
    """The command line for the journal, its seed written before the client's command (the
    reports' "Rerun:" line would otherwise add it after, to the client's arguments)."""
    options, dashes, client = argv, [], []
    if "--" in argv:
        at = argv.index("--")
        options, dashes, client = argv[:at], ["--"], argv[at + 1 :]
    if not any(arg == "--seed" or arg.startswith("--seed=") for arg in options):
        options = [*options, "--seed", str(seed)]
    return ["mcpchaos", *options, *dashes, *client]
