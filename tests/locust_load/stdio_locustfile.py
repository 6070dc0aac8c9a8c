"""A locustfile for the stdio test: each user runs ``mcpchaos proxy`` (which injects errors
into half the tool calls, see stdio_faults.yaml) in front of the stdio demo server, and calls
``echo``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import ClassVar

from locust import LoadTestShape, constant, task

from mcpchaos.locust import McpStdioUser

FAULTS = str(Path(__file__).with_name("stdio_faults.yaml"))


class StdioToolUser(McpStdioUser):
    wait_time = constant(0.01)
    command: ClassVar[list[str]] = [
        sys.executable, "-m", "mcpchaos", "proxy", "--faults", FAULTS,
        "--", sys.executable, "-m", "mcpchaos", "demo-server",
    ]  # fmt: skip

    @task
    def echo(self) -> None:
        self.call_tool("echo", {"text": "over stdio"})


class OneUserForFourSeconds(LoadTestShape):
    """Instead of --run-time, whose timer can fire early (gevent's clock goes stale while Locust
    starts up): the shape measures its own run time."""

    def tick(self) -> tuple[int, float] | None:
        return (1, 1.0) if self.get_run_time() < 4 else None
