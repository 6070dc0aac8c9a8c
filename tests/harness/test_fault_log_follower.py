"""An attached proxy's fault log, read as it grows: nothing lost while the harness keeps up, and
a loss said (not hidden) when records aged out of the proxy's memory before they were read."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mcpchaos.faults.injector import FaultRecord
from mcpchaos.harness.control_client import ControlClient, FaultLogFollower
from mcpchaos.observe.control import ControlServer, ControlTargets, FaultTail
from mcpchaos.observe.metrics import Metrics


def fault(ordinal: int) -> FaultRecord:
    return FaultRecord(0.0, "s-1", 1, "client_to_server", ordinal, ordinal, "tools/call", "echo", "error", "")


@pytest.fixture
async def tail_and_client() -> AsyncIterator[tuple[FaultTail, ControlClient]]:
    tail = FaultTail(size=5)
    server = ControlServer(ControlTargets(Metrics(), fault_tail=tail))
    port = await server.start()
    client = ControlClient(f"http://127.0.0.1:{port}")
    try:
        yield tail, client
    finally:
        await client.close()
        await server.stop()


async def test_a_follower_reads_only_what_comes_after_it_started(
    tail_and_client: tuple[FaultTail, ControlClient],
) -> None:
    tail, client = tail_and_client
    for ordinal in range(4):
        tail(fault(ordinal))
    follower = FaultLogFollower(client, await client.fault_sequence())
    assert follower.after == 4
    for ordinal in range(4, 7):
        tail(fault(ordinal))
    await follower.catch_up()
    assert [r["ordinal"] for r in follower.records] == [4, 5, 6]
    assert not follower.lost


async def test_a_follower_that_keeps_up_gets_more_than_the_proxy_remembers(
    tail_and_client: tuple[FaultTail, ControlClient],
) -> None:
    tail, client = tail_and_client
    follower = FaultLogFollower(client, await client.fault_sequence())
    for ordinal in range(20):  # four times what the tail keeps, read between bursts
        tail(fault(ordinal))
        if ordinal % 4 == 3:
            await follower.catch_up()
    assert [r["ordinal"] for r in follower.records] == list(range(20))
    assert not follower.lost


async def test_records_aged_out_before_they_were_read_are_said_lost(
    tail_and_client: tuple[FaultTail, ControlClient],
) -> None:
    tail, client = tail_and_client
    follower = FaultLogFollower(client, await client.fault_sequence())
    for ordinal in range(8):
        tail(fault(ordinal))
    await follower.catch_up()
    assert follower.lost
    assert [r["ordinal"] for r in follower.records] == [3, 4, 5, 6, 7]
    page, lost = await client.fault_log(0)
    assert lost
    assert len(page) == 5
