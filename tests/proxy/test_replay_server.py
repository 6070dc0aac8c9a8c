"""The stdio server that answers from a tape, in process: recorded timing, none, cancellation."""

from __future__ import annotations

import asyncio

import orjson

from mcpchaos.history.replay import Answers, Recorded
from mcpchaos.proxy.replay_server import ReplayServer

SLOW = Recorded("tools/call", {"name": "slow", "arguments": {}}, {"result": {"content": []}}, 0.3)


def request(request_id: int) -> bytes:
    return orjson.dumps(
        {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {"name": "slow"}}
    )


def server(timing: bool) -> tuple[ReplayServer, list[dict[str, object]], asyncio.Event]:
    replies: list[dict[str, object]] = []
    arrived = asyncio.Event()

    def write(data: bytes) -> None:
        replies.append(orjson.loads(data))
        arrived.set()

    return ReplayServer(Answers([SLOW]), timing, write), replies, arrived


async def elapsed_until_answered(timing: bool) -> tuple[list[dict[str, object]], float]:
    replay, replies, arrived = server(timing)
    loop = asyncio.get_running_loop()
    started = loop.time()
    replay.handle(request(1))
    async with asyncio.timeout(5):
        await arrived.wait()
    return replies, loop.time() - started


async def test_recorded_timing_answers_after_the_recorded_delay() -> None:
    replies, elapsed = await elapsed_until_answered(timing=True)
    assert replies == [{"jsonrpc": "2.0", "id": 1, "result": {"content": []}}]
    assert elapsed >= 0.29


async def test_no_timing_answers_at_once() -> None:
    _, elapsed = await elapsed_until_answered(timing=False)
    assert elapsed < 0.25


async def test_a_cancelled_request_is_never_answered() -> None:
    replay, replies, _ = server(timing=True)
    replay.handle(request(1))
    task = replay.pending[1]
    replay.handle(b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}')
    replay.handle(b'{"jsonrpc":"2.0","id":2,"method":"ping"}')
    async with asyncio.timeout(5):
        await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()
    assert not replay.pending
    assert [reply["id"] for reply in replies] == [2]  # the ping; the cancelled call stays silent
