"""``mcpchaos tape show|stats|redact|diff``: read tapes (docs/tapes.md)."""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

import orjson

from mcpchaos.cli.helpformat import HelpFormatter
from mcpchaos.errors import ConfigError

if TYPE_CHECKING:
    from mcpchaos.history import tape as tapes

EPILOG = """\
examples:
  mcpchaos proxy --record run.tape -- python -m my_server     record a tape
  mcpchaos tape show run.tape --wire client                   what the client saw, line by line
  mcpchaos tape stats run.tape --json                         counts, latencies, faults
  mcpchaos tape redact run.tape -o shared.tape --redact api_key
  mcpchaos tape diff before.tape after.tape                   exit 1 when something changed

See docs/tapes.md."""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "tape",
        help="show, count, redact or compare recorded tapes",
        description="Read tapes recorded with 'mcpchaos proxy --record FILE.tape'.",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    actions = parser.add_subparsers(dest="tape_action", metavar="ACTION")
    show = actions.add_parser(
        "show", help="one line per message", formatter_class=HelpFormatter, epilog=EPILOG
    )
    show.add_argument("tape")
    show.add_argument(
        "--wire", choices=["client", "server", "both"], default="both", help="which side (default: both)"
    )
    show.add_argument("--width", type=int, default=100, metavar="N", help="message text cut at N characters")
    stats = actions.add_parser(
        "stats", help="counts, latencies and faults", formatter_class=HelpFormatter, epilog=EPILOG
    )
    stats.add_argument("tape")
    stats.add_argument("--json", action="store_true", help="print JSON")
    redact = actions.add_parser(
        "redact", help="write a copy with secrets redacted", formatter_class=HelpFormatter, epilog=EPILOG
    )
    redact.add_argument("tape")
    redact.add_argument("-o", "--output", metavar="FILE", help="the redacted copy (required; may be TAPE)")
    redact.add_argument(
        "--redact", action="append", default=[], metavar="FIELD", help="also redact this field or header"
    )
    compare = actions.add_parser(
        "diff",
        help="what changed between two runs of the same client (exit 1 if anything)",
        formatter_class=HelpFormatter,
        epilog=EPILOG,
    )
    compare.add_argument("a", metavar="A")
    compare.add_argument("b", metavar="B")
    compare.add_argument(
        "--threshold-ms",
        type=float,
        default=None,
        metavar="MS",
        help="a latency change smaller than this (or than half the latency) is not reported (default: 100)",
    )
    compare.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run_command=run, tape_action=None)


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except BrokenPipeError:  # 'mcpchaos tape show T | head': the reader is done, so are we
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _run(args: argparse.Namespace) -> int:
    # Imported here, not above: every mcpchaos process builds this command's parser, and the
    # history package is a tenth of a proxy's start-up (docs/testing.md, start-up).
    from mcpchaos.history import tape as tapes
    from mcpchaos.history.tape_diff import DEFAULT_THRESHOLD_S, diff

    action = args.tape_action
    if action is None:
        raise ConfigError("tape needs an action: show, stats, redact or diff (mcpchaos tape --help)")
    if action == "show":
        return _show(tapes.read(args.tape), args.wire, max(args.width, 10))
    if action == "stats":
        summary = stats(tapes.read(args.tape))
        print(
            orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode() if args.json else _stats_text(summary)
        )
        return 0
    if action == "redact":
        return _redact(args)
    threshold_s = DEFAULT_THRESHOLD_S if args.threshold_ms is None else max(args.threshold_ms, 0) / 1000
    differences = diff(tapes.read(args.a), tapes.read(args.b), threshold_s)
    if args.json:
        print(orjson.dumps([d.as_dict() for d in differences], option=orjson.OPT_INDENT_2).decode())
    else:
        for d in differences:
            where = f" {d.path}:" if d.path else ""
            values = "" if d.change in ("added", "removed") else f" {_short(d.a)} → {_short(d.b)}"
            print(f"call {d.index} {d.label}: {d.change}{where}{values}")
        print(f"{len(differences)} difference(s)", file=sys.stderr)
    return 1 if differences else 0


def _show(tape: tapes.Tape, wire: str, width: int) -> int:
    h = tape.header
    print(f"# tape v{h['version']} mcpchaos {h.get('mcpchaos')} shape {h.get('shape')} era {h.get('era')}")
    arrows = {"client_to_server": "→", "server_to_client": "←"}
    for item in tape.lines:
        if wire != "both" and item["wire"] != wire:
            continue
        text = orjson.dumps(item["message"]).decode() if "message" in item else repr(item.get("raw"))
        faults = f" [{', '.join(item['faults'])}]" if item.get("faults") else ""
        print(
            f"{item['time']:9.3f} s{item['session']} {item['wire']:6} {item['io']:3} "
            f"{arrows.get(item['direction'], '?')} {item['kind']:12} {item.get('method') or '':24} "
            f"id={item.get('id')!s:6}{faults} {text[:width]}"
        )
    return 0


def stats(tape: tapes.Tape) -> dict[str, Any]:
    """What the tape holds, counted (``tape stats``)."""
    import statistics

    by_wire: Counter[str] = Counter()
    faults: Counter[str] = Counter()
    requests: dict[str, list[float]] = defaultdict(list)
    sent: dict[tuple[int, int], tuple[float, str]] = {}
    for item in tape.lines:
        by_wire[f"{item['wire']}/{item['io']}"] += 1
        for fault in item.get("faults") or []:
            faults[fault] += 1
        if item["wire"] != "client":
            continue
        if item["kind"] == "request" and item["io"] == "in":
            method = item.get("method") or "?"
            sent[(item["session"], item["seq"])] = (item["time"], method)
            requests.setdefault(method, [])
        elif item["kind"] in ("result", "error") and item.get("reply_to") is not None and item["io"] == "out":
            request = sent.pop((item["session"], item["reply_to"]), None)
            if request is not None:  # the first answer the client was given
                requests[request[1]].append(item["time"] - request[0])
    times = [item["time"] for item in tape.lines]
    return {
        "era": tape.header.get("era"),
        "shape": tape.header.get("shape"),
        "sessions": len(tape.sessions()),
        "messages": len(tape.lines),
        "by_wire": dict(sorted(by_wire.items())),
        "duration_s": round(max(times) - min(times), 3) if times else 0.0,
        "requests": {
            method: {
                "answered": len(latencies),
                "median_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
                "max_ms": round(max(latencies) * 1000, 1) if latencies else None,
            }
            for method, latencies in sorted(requests.items())
        },
        "faults": dict(sorted(faults.items())),
        "dropped": (tape.end or {}).get("dropped"),
        "complete": tape.end is not None,
    }


def _stats_text(summary: dict[str, Any]) -> str:
    lines = [
        f"era {summary['era']}, shape {summary['shape']}, {summary['sessions']} session(s), "
        f"{summary['messages']} messages over {summary['duration_s']} s"
        + ("" if summary["complete"] else " (no end line: the recording was cut short)"),
        "messages: " + ", ".join(f"{k} {v}" for k, v in summary["by_wire"].items()),
    ]
    for method, row in summary["requests"].items():
        lines.append(
            f"  {method:28} answered {row['answered']:4}  "
            f"median {row['median_ms']} ms  max {row['max_ms']} ms"
        )
    if summary["faults"]:
        lines.append("faults: " + ", ".join(f"{k} {v}" for k, v in summary["faults"].items()))
    return "\n".join(lines)


def _redact(args: argparse.Namespace) -> int:
    from mcpchaos.history import tape as tapes
    from mcpchaos.history.redact import Redactor

    if not args.output:
        raise ConfigError("tape redact writes a copy: give -o FILE (it may be the tape itself)")
    tape = tapes.read(args.tape)
    before = tape.header.get("redaction")
    fields = list(args.redact) + (list(before.get("fields", [])) if isinstance(before, dict) else [])
    redactor = Redactor(fields)
    out = [tapes.dumps({**tape.header, "redaction": redactor.describe()})]
    for item in tape.lines:
        item = dict(item)
        if "meta" in item:
            item["meta"] = redactor.meta(item["meta"])
        if "message" in item:
            item["message"] = redactor.message(item["message"])
        out.append(tapes.dumps(item))
    if tape.end is not None:
        out.append(tapes.dumps(tape.end))
    temporary = f"{args.output}.partial"
    try:
        with open(temporary, "wb") as file:
            file.write(b"".join(out))
        os.replace(temporary, args.output)
    except OSError as exc:
        raise ConfigError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    return 0


def _short(value: Any, width: int = 60) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= width else text[: width - 1] + "…"
