"""Serving until told to stop: the one place that waits for SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger("mcpchaos")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def wait_for_stop_signal() -> int:
    """Return the number of the first SIGINT or SIGTERM received (handlers removed after)."""
    loop = asyncio.get_running_loop()
    stop: asyncio.Future[int] = loop.create_future()

    def on_signal(signum: int) -> None:
        if not stop.done():
            stop.set_result(signum)

    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        return await stop
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)


async def serve_until_stopped(banner: str, stop: Callable[[], Awaitable[None]]) -> int:
    """Print ``banner`` on stderr, wait for SIGINT/SIGTERM, then ``stop()``; exit status 0.
    A failure while stopping is logged, not raised: the process is ending anyway."""
    print(banner, file=sys.stderr, flush=True)
    try:
        await wait_for_stop_signal()
        return 0
    finally:
        try:
            await stop()
        except Exception:
            log.exception("stopping failed")


async def sweep(expire: Callable[[float], object], *timeouts: float | None) -> None:
    """Call ``expire(now)`` (monotonic) a few times per the shortest of ``timeouts``, at
    most every 5 s: the idle and age sweeps of session tables. Runs until cancelled."""
    shortest = min(t for t in timeouts if t)
    every = min(max(shortest / 4, 0.05), 5.0)
    while True:
        await asyncio.sleep(every)
        expire(time.monotonic())
