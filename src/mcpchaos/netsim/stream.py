"""The stream wrapper: runs a schedule over a byte sink.

:class:`ShapedSink` is a :class:`~mcpchaos.transport.pipes.ByteSink`: writes are planned by
the schedule (with the impairments in force at that moment) and a single writer task per
sink sends each piece at its time, in order, holding everything while the network is
partitioned. A reset or close the schedule asks for is handed to the connection's
``on_reset`` / ``on_close`` callbacks.

Two impairments run on the clock rather than on the bytes (``reset_after_ms`` and
``timeout_ms``): their timers start when the impairment reaches the connection (at its start,
or at the change of configuration that brings it) and keep running across changes that leave
them as they are, as Toxiproxy's reset_peer and timeout toxics do.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Callable

from mcpchaos.netsim.controller import NetworkController
from mcpchaos.netsim.schedule import Action, Schedule
from mcpchaos.protocol.messages import Direction
from mcpchaos.transport.pipes import ByteSink

log = logging.getLogger("mcpchaos.netsim")

HIGH_WATER = 4 * 1024 * 1024
"""Bytes queued before writers are made to wait (backpressure toward the reader)."""

_EOF = object()
"""Queued by close(): the writer ends its direction (half-close) once the queue is out."""


class ShapedSink:
    """A ByteSink that delivers bytes through a network schedule."""

    def __init__(
        self,
        sink: ByteSink,
        controller: NetworkController,
        connection: int,
        direction: Direction,
        on_reset: Callable[[], None],
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self._sink = sink
        self._controller = controller
        self._upstream = direction is Direction.CLIENT_TO_SERVER
        self._connection = connection
        self._schedule: Schedule = controller.schedule(connection, direction)
        self._on_reset = on_reset
        self._on_close = on_close
        self._queue: collections.deque[tuple[bytes, float] | Action | object] = collections.deque()
        self._queued_bytes = 0
        self._wakeup = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._closing = False
        self._in_flight = False
        self._loop = asyncio.get_running_loop()
        self._timers: dict[str, tuple[float, asyncio.TimerHandle]] = {}
        self._task = asyncio.create_task(self._run(), name="shaped-sink")
        controller.watch(self._arm)
        self._arm()

    def write(self, data: bytes) -> None:
        if self._closing:
            return
        controller = self._controller
        idle = not self._queue and not self._in_flight and not controller.partitioned
        if idle and controller.clear[self._upstream]:
            self._sink.write(data)  # the fast path: nothing to simulate
            return
        impairments = controller.impairments(self._upstream, self._connection)
        now = self._loop.time()
        plan = self._schedule.plan(data, now, impairments, controller.aggregate(self._upstream))
        if idle and plan.action is Action.NONE and len(plan.pieces) == 1 and plan.pieces[0][1] <= now:
            self._sink.write(plan.pieces[0][0])  # nothing to wait for: no hop through the writer task
            return
        for piece in plan.pieces:
            self._queue.append(piece)
            self._queued_bytes += len(piece[0])
        if plan.action is not Action.NONE:
            self._queue.append(plan.action)
        if self._queued_bytes > HIGH_WATER:
            self._room.clear()
        self._wakeup.set()

    async def drain(self) -> None:
        await self._room.wait()
        await self._sink.drain()

    def close(self) -> None:
        """Close once everything queued has been delivered."""
        if not self._closing:
            self._closing = True
            self._queue.append(_EOF)
            self._wakeup.set()

    def abort(self) -> None:
        self._closing = True
        self._queue.clear()
        self._room.set()  # nobody may wait in drain() on a sink that is gone
        self._task.cancel()
        self._sink.abort()

    def stop(self) -> None:
        """Stop the writer task (the connection is gone): queued bytes are dropped."""
        self._closing = True
        self._queue.clear()
        self._room.set()
        self._task.cancel()

    @property
    def closing(self) -> bool:
        return self._closing or self._sink.closing

    async def _run(self) -> None:
        try:
            while True:
                while not self._queue:
                    self._wakeup.clear()
                    await self._wakeup.wait()
                # The item stays "in flight" until written, so write() never overtakes it.
                item = self._queue.popleft()
                self._in_flight = True
                if item is _EOF or isinstance(item, Action):
                    if self._controller.partitioned and item is not Action.RESET:
                        await self._controller.wait_healed()  # not even a FIN crosses a partition
                    self._finish(item)
                    return
                assert isinstance(item, tuple)
                piece, send_at = item
                delay = send_at - self._loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                if self._controller.partitioned:
                    await self._controller.wait_healed()
                self._sink.write(piece)
                self._in_flight = False
                self._queued_bytes -= len(piece)
                if self._queued_bytes <= HIGH_WATER // 2:
                    self._room.set()
                await self._sink.drain()
        except asyncio.CancelledError:
            pass
        except (ConnectionError, OSError) as exc:
            log.debug("shaped sink write failed: %s", exc)
            self._room.set()
            self._sink.abort()
        finally:
            self._controller.unwatch(self._arm)
            for _, timer in self._timers.values():
                timer.cancel()
            self._timers.clear()

    def _arm(self) -> None:
        """(Re)start or stop the timers of the clock-driven impairments in force."""
        if self._closing:
            return
        impairments = self._controller.impairments(self._upstream, self._connection)
        self._arm_one("reset", impairments.reset_after_ms, self._timed_reset)
        timeout = impairments.timeout_ms or None  # 0: drop the bytes, never close
        self._arm_one("timeout", timeout, self._timed_close)

    def _arm_one(self, key: str, after_ms: float | None, action: Callable[[], None]) -> None:
        current = self._timers.get(key)
        if current is not None and current[0] == after_ms:
            return  # unchanged: the timer keeps running from when the impairment arrived
        if current is not None:
            current[1].cancel()
            del self._timers[key]
        if after_ms is not None:
            self._timers[key] = (after_ms, self._loop.call_later(after_ms / 1000, action))

    def _timed_reset(self) -> None:
        if not self._closing:
            self._queue.clear()
            self._task.cancel()
            self._finish(Action.RESET)

    def _timed_close(self) -> None:
        if not self._closing:
            log.info("simulated timeout: closing the connection")
            self._queue.clear()
            self._task.cancel()
            self._finish(Action.CLOSE)

    @property
    def backlogged(self) -> bool:
        """True while writers should pause (too much queued here)."""
        return not self._room.is_set()

    def _finish(self, action: object) -> None:
        self._closing = True
        self._room.set()
        if action is Action.RESET:
            log.info("simulated loss: resetting the connection")
            self._on_reset()
            return
        whole = action is Action.CLOSE  # limit_data: the whole connection closes
        slow = self._controller.slow_close_ms(self._connection)
        if slow > 0:
            self._loop.call_later(slow / 1000, self._close_now, whole)
        else:
            self._close_now(whole)

    def _close_now(self, whole: bool) -> None:
        self._sink.close()
        if whole and self._on_close is not None:
            self._on_close()

    async def wait_closed(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
