"""The pytest plugin judges clients in Python: ``mcpchaos.judge(client, scenarios)`` on the
``mcpchaos`` fixture's proxy, for a coroutine function on the official SDK (in-process) and for
a command, each caught or passed by its verdicts."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from mcp import Client
from mcp.shared.exceptions import MCPError

from mcpchaos.testing import ChaosProxy

JUDGED_CLIENT = str(Path(__file__).parents[2] / "clients" / "judged_client.py")


async def sdk_client_with_a_timeout(url: str) -> None:
    async with Client(url, mode="legacy", read_timeout_seconds=2.0) as client:
        await client.list_tools()
        for text in ("one", "two"):
            # The hung call times out (the SDK cancels it) and the client goes on.
            with contextlib.suppress(MCPError):
                await client.call_tool("echo", {"text": text})


async def sdk_client_without_a_timeout(url: str) -> None:
    async with Client(url, mode="legacy") as client:
        await client.call_tool("echo", {"text": "waits forever"})


def test_an_sdk_client_that_times_out_passes_the_hung_call(mcpchaos: ChaosProxy) -> None:
    result = mcpchaos.judge(sdk_client_with_a_timeout, ["hung_call"], call_timeout_bound=5.0)
    result.assert_passed()
    assert result.status("hung_call", "cancels_abandoned") == "passed"


def test_an_sdk_client_without_a_timeout_is_stopped_and_fails(mcpchaos: ChaosProxy) -> None:
    result = mcpchaos.judge(sdk_client_without_a_timeout, ["hung_call"], client_timeout=3.0)
    assert not result.passed
    assert result.status("hung_call", "exits_cleanly") == "failed"
    assert any("killed" in failure for failure in result.failures())


def test_a_command_client_is_judged_under_a_profile(mcpchaos: ChaosProxy) -> None:
    profile = {
        "rules": [
            {
                "match": {"methods": ["tools/call"], "first_n": 1, "count_per": "proxy"},
                "enabled_faults": {"session_expiry": True},
            }
        ]
    }
    fragile = mcpchaos.judge([sys.executable, JUDGED_CLIENT, "{url}", "--no-reinit"], faults=profile)
    assert fragile.status("profile", "reinitializes_after_404") == "failed"
    well = mcpchaos.judge([sys.executable, JUDGED_CLIENT, "{url}"], faults=profile)
    well.assert_passed()
