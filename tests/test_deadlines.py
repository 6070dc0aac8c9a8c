"""One timer for many request deadlines: overdue requests are cancelled, finished ones never."""

from __future__ import annotations

import asyncio

import pytest

from mcpchaos.deadlines import Deadlines


async def _request(deadlines: Deadlines, seconds: float) -> str:
    deadline = deadlines.enter()
    try:
        await asyncio.sleep(seconds)
        return "answered"
    except asyncio.CancelledError:
        if not deadline.cancelled_it():
            raise
        return "deadline"
    finally:
        deadlines.leave(deadline)


async def test_a_request_past_its_deadline_is_cancelled_and_told_so() -> None:
    deadlines = Deadlines(0.05)
    outcomes = await asyncio.gather(_request(deadlines, 5), _request(deadlines, 0.0), _request(deadlines, 5))
    assert list(outcomes) == ["deadline", "answered", "deadline"]
    assert len(deadlines) == 0


async def test_requests_that_end_in_time_keep_going_and_the_timer_re_arms_for_later_ones() -> None:
    deadlines = Deadlines(0.1)
    assert await _request(deadlines, 0.0) == "answered"
    await asyncio.sleep(0.15)  # the first timer fires with nothing left to cancel
    started = asyncio.get_running_loop().time()
    assert await _request(deadlines, 5) == "deadline"
    assert asyncio.get_running_loop().time() - started == pytest.approx(0.1, abs=0.08)


async def test_a_cancellation_from_elsewhere_is_not_taken_for_a_deadline() -> None:
    deadlines = Deadlines(5)
    task = asyncio.create_task(_request(deadlines, 5))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(deadlines) == 0


async def test_one_long_request_does_not_keep_every_later_deadline_in_memory() -> None:
    deadlines = Deadlines(300.0)
    head = deadlines.enter()  # e.g. a dropped message, held until the request timeout
    for _ in range(10_000):
        deadlines.leave(deadlines.enter())
    assert len(deadlines) < 2_100
    deadlines.leave(head)
    assert len(deadlines) == 0


async def test_callback_deadlines_call_the_overdue_and_never_the_ones_that_left() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(0.05)
    fired: list[str] = []
    all_done = asyncio.Event()

    def again() -> None:
        fired.append("again")
        all_done.set()

    def on(name: str) -> None:
        fired.append(name)
        if name == "late":
            # A callback may enter a new deadline (the queue is read anew after it).
            deadlines.call_later(loop, again)

    deadlines.call_later(loop, lambda: on("late"))
    left = deadlines.call_later(loop, lambda: on("left"))
    deadlines.leave(left)
    async with asyncio.timeout(5):
        await all_done.wait()
    assert fired == ["late", "again"]
    assert len(deadlines) == 0
