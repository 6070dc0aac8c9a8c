"""A locustfile for the stdio test: each user runs ``mcpchaos proxy`` (which injects errors
into half the tool calls, see stdio_faults.yaml) in front of the stdio demo server, and calls
``echo``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import ClassVar

from locust import constant, task

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
