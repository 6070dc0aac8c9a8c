"""Fuzzed NDJSON lines through one long-lived stdio proxy (``mcpchaos proxy -- python -m
bench.echo_stdio``, ``--max-message-bytes 4KiB``): every valid request answered once with its
id and its text, every invalid line answered with the error owed, nothing else answered, no
traceback, and at the end the proxy's fds and RSS back near where they started."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings

from tests.fuzz.checks import Resources, Tally, settle
from tests.fuzz.lines import LineShape, line_batches
from tests.fuzz.messages import ValidRequest
from tests.fuzz.stdio_peer import StdioPeer

LIMIT = 4096
EXAMPLES = 120
RSS_SLACK = 24 * 2**20
"""How far above its warmed-up baseline the proxy's RSS may end (allocator high-water marks)."""


@dataclass
class Run:
    peer: StdioPeer
    tally: Tally
    baseline: Resources


def warm_up(peer: StdioPeer, tally: Tally) -> None:
    """Two hundred plain requests first, so the baseline is a warmed-up process's."""
    plain = ValidRequest(
        "int", "", "tools/call", "raw", "echo", "warm", "raw", False, (), None, (0, 1, 2, 3), False, b""
    )
    for _ in range(4):
        peer.check([LineShape(plain, False)] * 50, tally)


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    tally = Tally()
    peer = StdioPeer(LIMIT)
    try:
        peer.start(tally)
        warm_up(peer, tally)
        assert tally.failures == 0, tally.describe()
        yield Run(peer, Tally(), peer.resources())
    finally:
        peer.kill()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(batch=line_batches(LIMIT))
def test_every_fuzzed_line_gets_what_it_is_owed_and_the_proxy_keeps_serving(
    run: Run, batch: list[LineShape]
) -> None:
    example = Tally()
    run.peer.check(batch, example)
    run.tally.add(example)
    assert example.failures == 0, example.describe()


def test_after_the_fuzz_the_proxy_is_whole_and_back_near_its_baseline(run: Run) -> None:
    run.peer.finish(run.tally)
    print(run.tally.describe())
    assert run.tally.failures == 0, run.tally.describe()
    if run.tally.messages:  # the fuzz ran in this session: it reached every kind of answer
        assert run.tally.valid_checked
        assert run.tally.errors_checked
        assert run.tally.quiet_checked
    after = settle(run.peer.pid, run.baseline, fd_slack=0, within=5.0)
    assert after.fds <= run.baseline.fds, f"before {run.baseline}, after {after}"
    assert after.rss <= run.baseline.rss + RSS_SLACK, f"before {run.baseline}, after {after}"
    assert run.peer.close() == 0
    assert run.peer.tracebacks == 0, "\n".join(run.peer.stderr.traceback_lines)
