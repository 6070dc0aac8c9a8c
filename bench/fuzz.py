"""The long mode of the fuzz suite: the strategies and checks of ``tests/fuzz`` against one
long-lived real proxy per transport, for ≥ 100,000 messages each.

    python -m bench.fuzz --messages 100000 [--transport stdio|http|both] [--pool 2000] [--seed 1]

Per transport: start the proxy (stdio: ``mcpchaos proxy --max-message-bytes 4KiB -- python -m
bench.echo_stdio``; HTTP: ``mcpchaos proxy --listen ... --upstream ... --max-body-bytes 4KiB`` in
front of ``python -m bench.echo_http``), warm it up, sample its fds and RSS, then

1. draw ``--pool`` hypothesis examples (batches of lines / HTTP requests), sending each as it is
   drawn (hypothesis draws a few thousand bodies a minute on a loaded 2-core machine, too slow for
   every message to be a fresh draw);
2. until ``--messages`` are sent: batches recombined from the drawn shapes (1 to 30 picked at
   random, in a random order), each rendered anew, so ids stay unique and answers checkable.

Every batch is checked as in CI: each valid request answered exactly once with its id and text,
each invalid input the error (or HTTP status) owed, nothing answered that was owed nothing, no
traceback on the proxy's stderr. At the end the fds and RSS are sampled again (after a bounded
wait) and the proxy is stopped (its exit status must be 0). Prints one Markdown table; exits 1 if
anything went wrong. Not a figure of ``python -m bench``: it measures counts of failures, not a
cost, and runs for minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.fuzz.checks import Resources, Tally, resources, run_examples, settle
from tests.fuzz.http_peer import HttpPeer
from tests.fuzz.lines import LineShape, line_batches
from tests.fuzz.messages import ValidRequest
from tests.fuzz.requests import Post, request_batches
from tests.fuzz.stdio_peer import StdioPeer

LIMIT = 4096
RSS_SLACK = 32 * 2**20
"""How far above its warmed-up baseline the proxy's RSS may end."""
_PLAIN = ValidRequest(
    "int", "", "tools/call", "raw", "echo", "warm", "raw", False, (), None, (0, 1, 2, 3), False, b""
)


@dataclass
class Outcome:
    transport: str
    tally: Tally
    before: Resources
    after: Resources
    peak_rss: int
    exit_status: int | None
    seconds: float
    examples: int
    shapes: int
    stderr_lines: int
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.tally.failures == 0
            and self.exit_status == 0
            and self.after.fds <= self.before.fds + 2
            and self.after.rss <= self.before.rss + RSS_SLACK
        )


class _EnoughError(Exception):
    """Raised from inside hypothesis's loop to end phase 1 early (budget spent or the proxy gone)."""


class _Peak:
    """The highest RSS seen, sampled at most every second."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.rss = 0
        self._last = 0.0

    def sample(self) -> None:
        now = time.monotonic()
        if now - self._last >= 1.0:
            self._last = now
            self.rss = max(self.rss, resources(self.pid).rss)


def _drive(
    label: str,
    check: Callable[[Sequence[Any], Tally], None],
    strategy: Any,
    pid: int,
    messages: int,
    pool: int,
    seed: int,
    deadline: float,
) -> tuple[Tally, int, int, int]:
    """Phase 1 (fresh hypothesis examples) then phase 2 (recombined); returns the tally, the
    examples drawn, the distinct shapes and the peak RSS."""
    tally = Tally()
    shapes: list[Any] = []
    drawn = [0]
    peak = _Peak(pid)
    last_report = [time.monotonic()]

    def progress() -> None:
        peak.sample()
        if time.monotonic() - last_report[0] >= 15.0:
            last_report[0] = time.monotonic()
            print(
                f"fuzz {label}: {tally.messages} messages, {tally.failures} failures",
                file=sys.stderr,
                flush=True,
            )

    def fresh(batch: list[Any]) -> None:
        if tally.messages >= messages or time.monotonic() > deadline or tally.crashes:
            raise _EnoughError  # also when hypothesis runs this example again to report it
        drawn[0] += 1
        shapes.extend(batch)
        check(batch, tally)
        progress()

    with contextlib.suppress(_EnoughError):
        run_examples(strategy, fresh, pool, seed)
    rng = random.Random(seed)
    while shapes and tally.messages < messages and time.monotonic() < deadline and not tally.crashes:
        check([rng.choice(shapes) for _ in range(rng.randint(1, 30))], tally)
        progress()
    return tally, drawn[0], len(shapes), peak.rss


def fuzz_stdio(messages: int, pool: int, seed: int, deadline: float) -> Outcome:
    started = time.monotonic()
    warm = Tally()
    peer = StdioPeer(LIMIT)
    try:
        peer.start(warm)
        for _ in range(10):
            peer.check([LineShape(_PLAIN, False)] * 50, warm)
        before = peer.resources()
        tally, drawn, shapes, peak = _drive(
            "stdio", peer.check, line_batches(LIMIT), peer.pid, messages, pool, seed, deadline
        )
        peer.finish(tally)
        tally.add(warm)
        after = settle(peer.pid, before, 0, 5.0)
        status = peer.close()
        tally.tracebacks = peer.tracebacks
        return Outcome(
            "stdio",
            tally,
            before,
            after,
            max(peak, after.rss),
            status,
            time.monotonic() - started,
            drawn,
            shapes,
            peer.stderr.lines,
        )
    finally:
        peer.kill()


def fuzz_http(messages: int, pool: int, seed: int, deadline: float) -> Outcome:
    started = time.monotonic()
    warm = Tally()
    peer = HttpPeer(LIMIT)
    try:
        peer.start()
        plain = Post(
            _PLAIN, 0, -1, 0, "none", 0, -99, "length", (), False, False, (), False, False, False, False, None
        )
        for _ in range(10):
            peer.check([(plain, False)] * 50, warm)
        peer.client.close()
        before = settle(peer.pid, peer.resources(), 0, 0.5)
        tally, drawn, shapes, peak = _drive(
            "http", peer.check, request_batches(LIMIT), peer.pid, messages, pool, seed, deadline
        )
        peer.finish(tally)
        tally.add(warm)
        after = settle(peer.pid, before, 2, 5.0)
        alive = peer.process.poll() is None
        status = peer.stop()
        tally.tracebacks = peer.tracebacks
        outcome = Outcome(
            "http",
            tally,
            before,
            after,
            max(peak, after.rss),
            status,
            time.monotonic() - started,
            drawn,
            shapes,
            peer.stderr.lines,
        )
        if not alive:
            outcome.notes.append("the proxy had exited before it was stopped")
        return outcome
    finally:
        peer.stop()


def table(outcomes: list[Outcome]) -> str:
    def mib(value: int) -> str:
        return f"{value / 2**20:.1f} MiB"

    rows: list[tuple[str, Callable[[Outcome], str]]] = [
        ("messages sent", lambda o: f"{o.tally.messages:,}"),
        ("hypothesis examples drawn (distinct shapes)", lambda o: f"{o.examples:,} ({o.shapes:,})"),
        ("valid requests checked (id + echoed text)", lambda o: f"{o.tally.valid_checked:,}"),
        ("invalid inputs answered with the error owed", lambda o: f"{o.tally.errors_checked:,}"),
        ("inputs owed nothing that got nothing", lambda o: f"{o.tally.quiet_checked:,}"),
        (
            "lost / duplicated / wrong / unexpected answers",
            lambda o: f"{o.tally.lost} / {o.tally.duplicated} / {o.tally.wrong} / {o.tally.unexpected}",
        ),
        (
            "hangs / crashes / tracebacks",
            lambda o: f"{o.tally.hangs} / {o.tally.crashes} / {o.tally.tracebacks}",
        ),
        ("fds before → after", lambda o: f"{o.before.fds} → {o.after.fds}"),
        (
            "RSS before → after (peak)",
            lambda o: f"{mib(o.before.rss)} → {mib(o.after.rss)} ({mib(o.peak_rss)})",
        ),
        ("proxy exit status", lambda o: str(o.exit_status)),
        ("wall time (messages/s)", lambda o: f"{o.seconds:.0f} s ({o.tally.messages / o.seconds:,.0f}/s)"),
        ("proxy stderr lines (warnings for refused input)", lambda o: f"{o.stderr_lines:,}"),
    ]
    lines = ["| | " + " | ".join(o.transport for o in outcomes) + " |", "|---" * (len(outcomes) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(cell(o) for o in outcomes) + " |" for name, cell in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fuzz", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--messages", type=int, default=100_000, help="messages per transport (default 100000)"
    )
    parser.add_argument("--transport", choices=["stdio", "http", "both"], default="both")
    parser.add_argument(
        "--pool", type=int, default=2000, help="hypothesis examples drawn first (default 2000)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=3600.0,
        help="stop a transport's run after this long (default 3600)",
    )
    args = parser.parse_args(argv)
    runs = {"stdio": [fuzz_stdio], "http": [fuzz_http], "both": [fuzz_stdio, fuzz_http]}[args.transport]
    outcomes = []
    for run in runs:
        outcome = run(args.messages, args.pool, args.seed, time.monotonic() + args.max_seconds)
        outcomes.append(outcome)
        if outcome.tally.problems or outcome.notes:
            print(
                f"{outcome.transport}: " + "\n  ".join(outcome.tally.problems + outcome.notes),
                file=sys.stderr,
            )
    print(table(outcomes))
    return 0 if all(outcome.ok for outcome in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
