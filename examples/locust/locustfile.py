"""MCP load on Locust while the fault probability ramps up through the proxy's control API.

    mcpchaos proxy --listen 127.0.0.1:8080 --control 9900 --upstream http://127.0.0.1:8000/mcp &
    locust -f examples/locust/locustfile.py --host http://127.0.0.1:8080/mcp \\
        --mcpchaos-control http://127.0.0.1:9900 --headless

Distributed: the same command with --master --expect-workers N, and N times
``locust -f examples/locust/locustfile.py --worker --master-host HOST``.
"""

import os
from typing import Any, ClassVar

from locust import between, task

from mcpchaos.locust import FaultRampShape, McpUser


class ToolUser(McpUser):
    """One MCP session per user: mostly tool calls, now and then a listing."""

    wait_time = between(0.01, 0.05)

    @task(5)
    def echo(self) -> None:
        self.call_tool("echo", {"text": "hello"})

    @task(1)
    def tools(self) -> None:
        self.list_tools()


class Ramp(FaultRampShape):
    """Injected errors from 0% to 50% of tool requests in 5 steps, then the faults are reset."""

    users = int(os.environ.get("RAMP_USERS", "10"))
    spawn_rate = float(users)
    duration_s = float(os.environ.get("RAMP_SECONDS", "60"))
    end_probability = 0.5
    steps = 5
    # Tool requests only (the handshake stays clean); each injected error is answered at once.
    faults: ClassVar[dict[str, Any]] = {
        "enabled_faults": {"error": True},
        "error_config": {"types": ["internal_error"]},
        "match": {"message_classes": ["client_request"], "methods": ["tools/*"]},
    }
