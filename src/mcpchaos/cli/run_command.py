"""``mcpchaos run SCENARIO`` and ``mcpchaos scenarios``: the chaos harness from the shell.

``run`` shows its progress on stderr and writes its result (the verdict table, the report
files, the overall line) on stdout, so it can be piped. Exit status of ``run``: 0 when every
scenario that applies passed, 1 when a verdict failed (or a scenario could not run, or a
``--baseline`` figure regressed), 3 when none failed but one was inconclusive (its baseline too
weak to judge against, or every scenario skipped), 2 for a usage or configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcpchaos.cli.arg_types import more_than_zero
from mcpchaos.cli.helpformat import HelpFormatter
from mcpchaos.errors import ConfigError

if TYPE_CHECKING:
    from mcpchaos.harness.load_flags import LoadFlags
    from mcpchaos.harness.scenario import Scenario
    from mcpchaos.harness.stack import TargetSpec

SUITE = "suite"
FEATURES = "features"
"""The 2026-07-28 feature scenarios (opt-in: not in the suite)."""

EXIT_STATUS = {"passed": 0, "failed": 1, "inconclusive": 3}
"""The exit status of ``run`` for the run's result (2 is a usage or configuration error)."""


def add_parser(commands: Any) -> None:
    run = commands.add_parser(
        "run",
        help="run a chaos scenario (or the whole suite) and write a report",
        usage="%(prog)s SCENARIO [--quick] [--clients N] [--duration S] [--rate R] [OPTIONS]",
        description="Start the target behind an mcpchaos proxy, drive MCP load through it while faults, "
        "outages and storms come and go, judge the result (no exceptions, no hangs, graceful degradation, "
        "recovery, no leaks, metrics accurate, nothing lost) and write journal.json, report.html and "
        "findings.md. Progress goes to stderr; the verdict table and the report files go to stdout. "
        "'mcpchaos scenarios' lists the scenarios and their parameters.",
        epilog="examples:\n"
        "  mcpchaos run suite --quick            # the suite, CI-sized, against the demo server\n"
        "  mcpchaos run features --quick         # the 2026-07-28 feature scenarios (not in the suite)\n"
        "  mcpchaos run era_fallback --target 'demo --fragile era-fallback'   # a verdict fails\n"
        "  mcpchaos run sudden_failure --clients 2 --duration 10 --rate 20\n"
        "  mcpchaos run gradual_degradation --target 'python -m my_server' --out report/\n"
        "  mcpchaos run sudden_failure --target http://127.0.0.1:8000/mcp --params chaos.yaml\n"
        "\n"
        "exit status: 0 all passed, 1 a verdict failed or a --baseline figure regressed,\n"
        "2 usage or configuration error, 3 inconclusive (no failure, but a baseline too weak to judge).\n"
        "See docs/harness.md.",
        formatter_class=HelpFormatter,
    )
    run.add_argument(
        "scenario",
        metavar="SCENARIO",
        help=f"a scenario name (see 'mcpchaos scenarios'), '{SUITE}' (the default set), '{FEATURES}' (the "
        "2026-07-28 feature scenarios), or names joined by commas (run in the listed order of "
        "'mcpchaos scenarios', their parameters given as for the suite)",
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
    gate = run.add_argument_group("CI gate")
    gate.add_argument(
        "--junit",
        type=Path,
        metavar="FILE",
        help="also write the verdicts as JUnit XML (a test case per verdict) for CI",
    )
    gate.add_argument(
        "--baseline",
        type=Path,
        metavar="JOURNAL",
        help="compare with an earlier run's journal.json (collapse point, recovery, success and p99 "
        "per phase); a regression past its threshold fails the run (exit 1; docs/harness.md)",
    )
    run.add_argument(
        "--allow-destructive",
        action="store_true",
        help="a --target's tools annotated destructiveHint may be in the request mix (default: left out)",
    )
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
    load = run.add_argument_group("load, Locust-style (over --params and --quick; each scenario of a suite)")
    load.add_argument(
        "--clients",
        type=_at_least_one,
        metavar="N",
        help="concurrent clients, each its own MCP session (load.clients; cascading_failure: "
        "relay_clients) (default: the scenario's own; 'mcpchaos scenarios NAME' shows it)",
    )
    load.add_argument(
        "--duration",
        type=more_than_zero,
        metavar="S",
        help="seconds of load: the scenario's timed phases are scaled to add up to S, keeping their "
        "proportions; a phase that lasts as long as its work takes (connection_storm's storm, "
        "memory_pressure's pressure) stays, with a warning (default: the scenario's)",
    )
    load.add_argument(
        "--rate",
        type=more_than_zero,
        metavar="R",
        help="open-loop load: R requests per second whatever the answers, sent on --clients sessions "
        "(load.mode: open, load.rate_per_s) (default: closed loop, each client waits for its answer)",
    )
    run.set_defaults(run_command=run_chaos)

    scenarios = commands.add_parser(
        "scenarios",
        help="list the chaos scenarios and their parameters",
        description="List the scenarios 'mcpchaos run' knows; with a name, print its parameters with their "
        "defaults as YAML (a starting point for --params).",
        epilog="examples:\n"
        "  mcpchaos scenarios\n"
        "  mcpchaos scenarios gradual_degradation --quick > chaos.yaml\n"
        "  mcpchaos scenarios --target 'npx -y @modelcontextprotocol/server-everything'",
        formatter_class=HelpFormatter,
    )
    scenarios.add_argument("name", nargs="?", help="show this scenario's parameters")
    scenarios.add_argument("--quick", action="store_true", help="show the --quick values")
    scenarios.add_argument(
        "--target",
        metavar="CMD|URL",
        help="print the request mix a run against this server would use (built from its tools)",
    )
    scenarios.add_argument(
        "--allow-destructive", action="store_true", help="with --target: destructive tools may be in it"
    )
    scenarios.set_defaults(run_command=list_scenarios)


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be 1 or more")
    return value


def list_scenarios(args: argparse.Namespace) -> int:
    import yaml

    from mcpchaos.harness.scenarios import ALL_SCENARIOS, FEATURE_SCENARIOS, SCENARIOS
    from mcpchaos.harness.stack import TargetSpec
    from mcpchaos.harness.target_mix import discover

    if args.target is not None:
        target = TargetSpec.parse(args.target, None, None)
        if target.kind not in ("command", "url"):
            raise ConfigError("--target: give a server command or URL (the demo's mix is its echo tool)")
        mix = asyncio.run(discover(target, args.allow_destructive))
        print(f"# the request mix for {target.describe()} (load.mix in --params overrides it)")
        print(
            yaml.safe_dump({"load": {"mix": [op.model_dump() for op in mix.operations]}}, sort_keys=False),
            end="",
        )
        for name, why in mix.left_out.items():
            print(f"# left out: {name}: {why}")
        return 0
    if args.name is None:
        width = max(len(name) for name in ALL_SCENARIOS)
        for name, cls in ALL_SCENARIOS.items():
            print(f"{name:<{width}}  {cls.description}")
        print(f"{SUITE:<{width}}  the default set, in this order: {', '.join(SCENARIOS)}")
        print(f"{FEATURES:<{width}}  the 2026-07-28 feature scenarios: {', '.join(FEATURE_SCENARIOS)}")
        return 0
    found = ALL_SCENARIOS.get(args.name)
    if found is None:
        raise ConfigError(f"unknown scenario {args.name!r}; known: {', '.join(ALL_SCENARIOS)}")
    params = found().params_from(None, args.quick)
    print(f"# {found.name}: {found.description}")
    print(yaml.safe_dump(params.model_dump(mode="json"), sort_keys=False), end="")
    return 0


def _read_params(path: Path | None) -> dict[str, Any]:
    from mcpchaos.config.load import read_yaml

    if path is None:
        return {}
    data = read_yaml(path)
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
    from mcpchaos.harness.scenarios import ALL_SCENARIOS, FEATURE_SCENARIOS, SCENARIOS

    names = [name.strip() for name in scenario.split(",") if name.strip()]
    groups: dict[str, dict[str, Any]] = {SUITE: SCENARIOS, FEATURES: FEATURE_SCENARIOS}
    known = f"{', '.join(ALL_SCENARIOS)}, {SUITE}, {FEATURES}"
    if scenario in groups or len(names) > 1:
        wanted = set(groups[scenario]) if scenario in groups else set(names)
        if wanted - set(ALL_SCENARIOS):
            strange = ", ".join(sorted(wanted - set(ALL_SCENARIOS)))
            raise ConfigError(f"unknown scenario(s) {strange}; known: {known}")
        unknown = set(raw) - set(ALL_SCENARIOS) - {"defaults"}
        if unknown:
            raise ConfigError(
                f"{source}: for the suite, the parameters map a scenario's name to its parameters "
                f"('defaults' applies to all); unknown scenario(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(ALL_SCENARIOS)}"
            )
        defaults = raw.get("defaults") or {}
        chosen: list[tuple[Scenario, dict[str, Any] | None]] = [
            (cls(), deep_merge(defaults, raw.get(name) or {}))
            for name, cls in ALL_SCENARIOS.items()
            if name in wanted
        ]
    else:
        found = ALL_SCENARIOS.get(scenario)
        if found is None:
            raise ConfigError(f"unknown scenario {scenario!r}; known: {known}")
        own = raw.get(scenario) if isinstance(raw.get(scenario), dict) else raw
        chosen = [(found(), own)]
    for instance, params in chosen:
        try:
            instance.params_from(params, quick)
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc, f"{source} ({instance.name})")) from None
    return chosen


def with_load_flags(
    chosen: list[tuple[Any, dict[str, Any] | None]], flags: LoadFlags, quick: bool
) -> list[tuple[Any, dict[str, Any] | None]]:
    """The planned scenarios with ``--clients/--duration/--rate`` merged over their parameters
    (validated again; warnings on stderr)."""
    from pydantic import ValidationError

    from mcpchaos.config.load import describe_validation_error
    from mcpchaos.harness.load_flags import overrides
    from mcpchaos.harness.scenario import deep_merge

    out: list[tuple[Any, dict[str, Any] | None]] = []
    for instance, params in chosen:
        changes, warnings = overrides(instance, instance.params_from(params, quick), flags)
        for warning in warnings:
            print(f"mcpchaos: warning: {warning}", file=sys.stderr)
        merged = deep_merge(params or {}, changes)
        try:
            instance.params_from(merged, quick)
        except ValidationError as exc:
            raise ConfigError(
                describe_validation_error(exc, f"--clients/--duration/--rate ({instance.name})")
            ) from None
        out.append((instance, merged))
    return out


def run_chaos(args: argparse.Namespace) -> int:
    from rich.console import Console

    from mcpchaos.harness.baseline import compare
    from mcpchaos.harness.load_flags import LoadFlags
    from mcpchaos.harness.progress import TerminalProgress, summary_table, word
    from mcpchaos.harness.report import figures, write_reports
    from mcpchaos.harness.report.files import load_journal
    from mcpchaos.harness.report.junit import write_junit
    from mcpchaos.harness.runner import run_all
    from mcpchaos.harness.scenario import RunSettings
    from mcpchaos.harness.stack import TargetSpec

    target = TargetSpec.parse(args.target, args.attach, args.control_token)
    baseline = load_journal(args.baseline) if args.baseline is not None else None
    chosen = plan(args.scenario, _read_params(args.params), args.quick, str(args.params or "parameters"))
    flags = LoadFlags(args.clients, args.duration, args.rate)
    if flags.given():
        chosen = with_load_flags(chosen, flags, args.quick)
    # A target that is not there fails now, in seconds, not after every scenario (exit 2).
    protocols = sorted(
        {instance.params_from(params, args.quick).load.protocol for instance, params in chosen}
    )
    asyncio.run(_check_target(target, protocols))
    chosen = _with_target_mix(chosen, target, args.allow_destructive)
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
            run_all(
                chosen,
                settings,
                ["mcpchaos", *_redacted(sys.argv[1:], [args.control_token])],
                on_result=progress.scenario_done,
            )
        )
    finally:
        progress.close()
    files = write_reports(journal, out)
    comparisons = compare(baseline, journal) if baseline is not None else []
    regressions = [c for c in comparisons if c.regressed]
    if args.junit is not None:
        write_junit(args.junit, journal, comparisons if baseline is not None else None)
    # The result goes to stdout (progress went to stderr), so `mcpchaos run ... | cat` has it all.
    result = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    result.print(summary_table(journal.scenarios))
    result.print(f"journal: {files.journal}\nreport:  {files.html}\nfindings: {files.markdown}")
    if args.junit is not None:
        result.print(f"junit:   {args.junit}")
    if baseline is not None:
        result.print(
            f"against {args.baseline}: {len(comparisons)} figures compared, {len(regressions)} regressed"
        )
        for comparison in regressions:
            result.print(f"[red]regressed[/red] {comparison.detail}: {comparison.rule}")
    statuses = [s.status for s in journal.scenarios]
    result.print(f"{word(journal.status)}: {figures.tally(statuses)}")
    if regressions:
        return EXIT_STATUS["failed"]
    return EXIT_STATUS[journal.status]


def _with_target_mix(
    chosen: list[tuple[Any, dict[str, Any] | None]], target: TargetSpec, allow_destructive: bool
) -> list[tuple[Any, dict[str, Any] | None]]:
    """A real server's runs call its own tools (docs/harness.md): unless ``load.mix`` is given,
    the mix is built from its tools, once, and said on stderr."""
    from mcpchaos.harness.target_mix import discover, has_mix, with_mix

    if target.kind not in ("command", "url") or all(has_mix(params) for _, params in chosen):
        return chosen
    mix = asyncio.run(discover(target, allow_destructive))
    print(f"mcpchaos: the request mix, from the target's tools:\n{mix.describe()}", file=sys.stderr)
    return [(instance, with_mix(params, mix)) for instance, params in chosen]


def _redacted(argv: list[str], secrets: list[str | None]) -> list[str]:
    """``argv`` with every secret in it shown as ``***``, however its option was spelled
    (``--control-token X``, ``--control-token=X``, an abbreviation): the command is written to
    the journal and the reports."""
    for secret in filter(None, secrets):
        argv = [arg.replace(secret, "***") for arg in argv]
    return argv


async def _check_target(target: TargetSpec, protocols: list[str]) -> None:
    from mcpchaos.harness.preflight import check_target

    for protocol in protocols:
        await check_target(target, protocol)
