"""Real peers for the load driver tests: the demo server and the mcpchaos proxy as processes."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator

from mcpchaos.harness.load import LoadDriver, LoadSettings, Operation, Recorder
from mcpchaos.harness.load.driver import HttpTarget, StdioTarget
from tests.forkserver import DEMO_SERVER
from tests.http.servers import free_port, wait_for_port

MCPCHAOS = [sys.executable, "-m", "mcpchaos"]
DEMO_STDIO = [*DEMO_SERVER, "--transport", "stdio"]


def tool(name: str, weight: float = 1.0, **arguments: object) -> Operation:
    return Operation(name=name, weight=weight, params={"name": name, "arguments": arguments})


@contextlib.contextmanager
def http_proxy(upstream: str, *flags: str) -> Iterator[str]:
    """``mcpchaos proxy --listen`` in front of ``upstream``; yields the proxy's MCP URL."""
    port = free_port()
    process = subprocess.Popen(
        [*MCPCHAOS, "proxy", "--listen", f"127.0.0.1:{port}", "--upstream", upstream, *flags],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# Bounds on waits for a condition, not durations: generous, because a stdio target's server
# processes start first, which takes seconds on a loaded 2-core machine; a passing test ends
# as soon as its condition holds.
WITHIN_S = 30.0


async def until(condition: Callable[[], bool], within: float = WITHIN_S) -> None:
    """Bounded wait for a condition the load makes true."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - a bounded poll of the recorder
            await asyncio.sleep(0.02)


def ended(recorder: Recorder) -> int:
    return recorder.totals()[0].total


async def drive(
    target: HttpTarget | StdioTarget,
    settings: LoadSettings,
    requests: int = 30,
    within: float = WITHIN_S,
) -> tuple[Recorder, LoadDriver]:
    """Run the driver until ``requests`` requests ended (bounded), stop it, finish the recorder."""
    recorder = Recorder(bucket_s=0.25)
    driver = LoadDriver(target, settings, recorder)
    await driver.start()
    try:
        await until(lambda: ended(recorder) >= requests, within)
    finally:
        await driver.stop(grace_s=0.5)
        recorder.finish()
    return recorder, driver
