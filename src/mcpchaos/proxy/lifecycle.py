"""Serving until told to stop: the one place that waits for SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import signal

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
