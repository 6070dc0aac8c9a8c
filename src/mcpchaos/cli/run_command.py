"""``mcpchaos run SCENARIO`` and ``mcpchaos scenarios``: the chaos harness from the shell.

Exit status of ``run``: 0 when every scenario that applies passed, 1 when a verdict failed (or
a scenario could not run), 3 when none failed but one was inconclusive (its baseline too weak
to judge against, or every scenario skipped), 2 for a usage or configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from mcpchaos.errors import ConfigError

if TYPE_CHECKING:
    from mcpchaos.harness.scenario import Scenario

SUITE = "suite"

EXIT_STATUS = {"passed": 0, "failed": 1, "inconclusive": 3}
"""The exit status of ``run`` for the run's result (2 is a usage or configuration error)."""


def add_parser(commands: Any) -> None:
    run = commands.add_parser(
        "run",
        help="run a chaos scenario (or the whole suite) and write a report",
        description="Start the target behind an mcpchaos proxy, drive MCP load through it while faults, "
        "outages and storms come and go, judge the result (no exceptions, no hangs, graceful degradation, "
        "recovery, no leaks, metrics accurate, nothing lost) and write journal.json, report.html and "
        "findings.md. 'mcpchaos scenarios' lists the scenarios and their parameters.",
        epilog="examples:\n"
        "  mcpchaos run suite --quick          # everything, CI-sized, against the demo server\n"
        "  mcpchaos run gradual_degradation --target 'python -m my_server' --out report/\n"
        "  mcpchaos run sudden_failure --target http://127.0.0.1:8000/mcp --params chaos.yaml\n"
        "exit status: 0 all passed, 1 a verdict failed, 2 usage or configuration error, "
        "3 inconclusive (no failure, but a baseline too weak to judge)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "scenario", metavar="SCENARIO", help=f"a scenario name (see 'mcpchaos scenarios') or '{SUITE}'"
    )
    run.add_argument(
        "--target",
        metavar="CMD|URL",
        help="the MCP server under test: a stdio command (quoted), a Streamable HTTP URL, or 'demo' "
        "(default: the built-in demo server)",
    )
    run.add_argument(
        "--attach",
        metavar="MCP_URL,CONTROL_URL",
        help="drive a proxy that is already running (started with --control) instead of starting one",
    )
    run.add_argument("--control-token", metavar="TOKEN", help="with --attach: the control API's token")
    run.add_argument("--quick", action="store_true", help="CI-sized: short phases, few clients")
    run.add_argument("--seed", type=int, default=1, help="seed for faults and the request mix (default: 1)")
    run.add_argument(
        "--out", type=Path, default=Path("chaos-report"), metavar="DIR", help="where to write the reports"
    )
    run.add_argument(
        "--params",
        type=Path,
        metavar="FILE",
        help="YAML parameters: for one scenario its parameters; for the suite a mapping from scenario "
        "name to parameters ('defaults' applies to all)",
    )
    run.set_defaults(run_command=run_chaos)

    scenarios = commands.add_parser(
        "scenarios",
        help="list the chaos scenarios and their parameters",
        description="List the scenarios 'mcpchaos run' knows; with a name, print its parameters with their "
        "defaults as YAML (a starting point for --params).",
    )
    scenarios.add_argument("name", nargs="?", help="show this scenario's parameters")
    scenarios.add_argument("--quick", action="store_true", help="show the --quick values")
    scenarios.set_defaults(run_command=list_scenarios)


def list_scenarios(args: argparse.Namespace) -> int:
    from mcpchaos.harness.scenarios import SCENARIOS

    if args.name is None:
        width = max(len(name) for name in SCENARIOS)
        for name, cls in SCENARIOS.items():
            print(f"{name:<{width}}  {cls.description}")
        print(f"{SUITE:<{width}}  all of the above, in this order")
        return 0
    found = SCENARIOS.get(args.name)
    if found is None:
        raise ConfigError(f"unknown scenario {args.name!r}; known: {', '.join(SCENARIOS)}")
    params = found().params_from(None, args.quick)
    print(f"# {found.name}: {found.description}")
    print(yaml.safe_dump(params.model_dump(mode="json"), sort_keys=False), end="")
    return 0


def _read_params(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the parameters must be a mapping, got {type(data).__name__}")
    return data


def plan(
    scenario: str, raw: dict[str, Any], quick: bool, source: str
) -> list[tuple[Any, dict[str, Any] | None]]:
    """The scenarios to run with their raw parameters, each validated now (exit 2 before any run)."""
    from pydantic import ValidationError

    from mcpchaos.config.load import describe_validation_error
    from mcpchaos.harness.scenario import deep_merge
    from mcpchaos.harness.scenarios import SCENARIOS

    if scenario == SUITE:
        unknown = set(raw) - set(SCENARIOS) - {"defaults"}
        if unknown:
            raise ConfigError(
                f"{source}: unknown scenario(s) {', '.join(sorted(unknown))}; known: {', '.join(SCENARIOS)}"
            )
        defaults = raw.get("defaults") or {}
        chosen: list[tuple[Scenario, dict[str, Any] | None]] = [
            (cls(), deep_merge(defaults, raw.get(name) or {})) for name, cls in SCENARIOS.items()
        ]
    else:
        found = SCENARIOS.get(scenario)
        if found is None:
            raise ConfigError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}, {SUITE}")
        own = raw.get(scenario) if isinstance(raw.get(scenario), dict) else raw
        chosen = [(found(), own)]
    for instance, params in chosen:
        try:
            instance.params_from(params, quick)
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc, f"{source} ({instance.name})")) from None
    return chosen


def run_chaos(args: argparse.Namespace) -> int:
    from mcpchaos.harness.progress import TerminalProgress, summary_table, word
    from mcpchaos.harness.report import figures, write_reports
    from mcpchaos.harness.runner import run_all
    from mcpchaos.harness.scenario import RunSettings
    from mcpchaos.harness.stack import TargetSpec

    target = TargetSpec.parse(args.target, args.attach, args.control_token)
    chosen = plan(args.scenario, _read_params(args.params), args.quick, str(args.params or "parameters"))
    out: Path = args.out
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create --out {out}: {exc.strerror or exc}") from None
    progress = TerminalProgress()
    progress.message(
        f"mcpchaos run {args.scenario}{' --quick' if args.quick else ''}: "
        f"{len(chosen)} scenario(s) against {target.describe()}, seed {args.seed}"
    )
    settings = RunSettings(
        target=target, workdir=out / "work", seed=args.seed, quick=args.quick, progress=progress
    )
    try:
        journal = asyncio.run(
            run_all(chosen, settings, ["mcpchaos", *sys.argv[1:]], on_result=progress.scenario_done)
        )
    finally:
        progress.close()
    files = write_reports(journal, out)
    progress.console.print(summary_table(journal.scenarios))
    progress.console.print(f"journal: {files.journal}\nreport:  {files.html}\nfindings: {files.markdown}")
    statuses = [s.status for s in journal.scenarios]
    progress.console.print(f"{word(journal.status)}: {figures.tally(statuses)}")
    return EXIT_STATUS[journal.status]
