"""Fuzzed HTTP requests through one long-lived HTTP proxy in front of ``bench.echo_http``
(``--max-body-bytes 4KiB``): bodies of every kind, wrong and missing Content-Type,
Content-Encoding, Accept variants, made-up ``Mcp-Session-Id``, Host and Origin, odd methods and
paths, chunked bodies, pipelining, broken heads and framing. Every request gets the status and
JSON-RPC answer it is owed, no traceback, and the fds and RSS end back near where they started."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from tests.fuzz.checks import Resources, Tally, settle
from tests.fuzz.http_peer import HttpPeer
from tests.fuzz.requests import request_batches

LIMIT = 4096
EXAMPLES = 120
RSS_SLACK = 24 * 2**20
FD_SLACK = 2
"""Pooled upstream connections the proxy may keep (besides its listener and pipes)."""


@dataclass
class Run:
    peer: HttpPeer
    tally: Tally
    baseline: Resources


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    peer = HttpPeer(LIMIT)
    try:
        peer.start()
        tally = Tally()
        warm = [(shape, False) for shape in _warm_up_posts()]
        for _ in range(4):
            peer.check(warm, tally)
        assert tally.failures == 0, tally.describe()
        peer.client.close()
        yield Run(peer, Tally(), settle(peer.pid, peer.resources(), 0, 0.5))
    finally:
        peer.stop()


def _warm_up_posts() -> list[Any]:
    from tests.fuzz.messages import ValidRequest
    from tests.fuzz.requests import Post

    plain = ValidRequest(
        "int", "", "tools/call", "raw", "echo", "warm", "raw", False, (), None, (0, 1, 2, 3), False, b""
    )
    post = Post(
        plain, 0, -1, 0, "none", 0, -99, "length", (), False, False, (), False, False, False, False, None
    )
    return [post] * 25


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(batch=request_batches(LIMIT))
def test_every_fuzzed_request_gets_what_it_is_owed_and_the_proxy_keeps_serving(
    run: Run, batch: list[tuple[Any, bool]]
) -> None:
    example = Tally()
    run.peer.check(batch, example)
    run.tally.add(example)
    assert example.failures == 0, example.describe()


def test_after_the_fuzz_the_proxy_is_whole_and_back_near_its_baseline(run: Run) -> None:
    run.peer.finish(run.tally)
    print(run.tally.describe())
    assert run.tally.failures == 0, run.tally.describe()
    if run.tally.messages:
        assert run.tally.valid_checked
        assert run.tally.errors_checked
        assert run.tally.quiet_checked
    after = settle(run.peer.pid, run.baseline, FD_SLACK, within=5.0)
    assert after.fds <= run.baseline.fds + FD_SLACK, f"before {run.baseline}, after {after}"
    assert after.rss <= run.baseline.rss + RSS_SLACK, f"before {run.baseline}, after {after}"
    assert run.peer.process.poll() is None, "the proxy exited"
    assert run.peer.stop() == 0
    assert run.peer.tracebacks == 0, "\n".join(run.peer.stderr.traceback_lines)
