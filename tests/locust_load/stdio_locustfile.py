"""A locustfile for the stdio test: each user runs ``mcpchaos proxy`` (which injects errors
into half the tool calls, see stdio_faults.yaml) in front of the stdio demo server, and calls
``echo``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import ClassVar

from locust import LoadTestShape, constant, task

from mcpchaos.locust import McpStdioUser

FAULTS = str(Path(__file__).with_name("stdio_faults.yaml"))
CALLS = int(os.environ.get("STDIO_CALLS", "20"))
LIMIT_S = 45.0


class StdioToolUser(McpStdioUser):
    wait_time = constant(0.01)
    command: ClassVar[list[str]] = [
        sys.executable, "-m", "mcpchaos", "proxy", "--faults", FAULTS,
        "--", sys.executable, "-m", "mcpchaos", "demo-server",
    ]  # fmt: skip

    @task
    def echo(self) -> None:
        self.call_tool("echo", {"text": "over stdio"})


class OneUserUntilEnoughCalls(LoadTestShape):
    """One user until it has made ``CALLS`` echo calls (``$STDIO_CALLS``): a condition, not a
    time window, because the user's start-up (a proxy and a demo server, two Python processes)
    alone can take seconds on a loaded machine. ``LIMIT_S`` only ends a run that never gets
    there (the test then fails on the count, not on a timeout)."""

    def tick(self) -> tuple[int, float] | None:
        assert self.runner is not None
        echo = self.runner.stats.entries.get(("tools/call echo", "MCP-stdio"))
        if (echo is not None and echo.num_requests >= CALLS) or self.get_run_time() > LIMIT_S:
            return None
        return (1, 1.0)
