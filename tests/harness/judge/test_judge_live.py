"""Each client verdict catches the fragile client written for it, and the well-behaved client
passes: a real proxy in front of the demo server (one for the module, as ``mcpchaos judge``
shares one between scenarios) and tests/clients/judged_client.py as the judged client."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from mcpchaos.harness.journal import ScenarioResult
from mcpchaos.harness.judge.runner import JudgeSettings, judge_scenario
from mcpchaos.harness.judge.scenarios import SCENARIOS
from mcpchaos.harness.judge.verdicts import Bounds
from mcpchaos.harness.stack import Stack, TargetSpec

pytestmark = pytest.mark.asyncio(loop_scope="module")

CLIENT = str(Path(__file__).parents[2] / "clients" / "judged_client.py")
SDK_CLIENT = str(Path(__file__).parents[2] / "clients" / "sdk_client.py")
BOUNDS = Bounds(call_timeout_s=5.0, max_request_rate=10.0)
CLIENT_TIMEOUT_S = 40.0
PATIENCE = ("--patience", "20")
"""A restarted demo server took many seconds on a loaded 2-core machine: the client waits for it."""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    workdir = tmp_path_factory.mktemp("judge")
    stack = Stack(TargetSpec(), workdir, name="judge")
    await stack.start(["--request-timeout", str(CLIENT_TIMEOUT_S + 30)])
    try:
        yield stack
    finally:
        await stack.stop()


async def judged(stack: Stack, scenario: str, *flags: str) -> ScenarioResult:
    settings = JudgeSettings(
        client=(sys.executable, CLIENT, "{url}", *flags),
        target=stack.target,
        scenarios=[SCENARIOS[scenario]],
        workdir=stack.workdir,
        bounds=BOUNDS,
        client_timeout_s=CLIENT_TIMEOUT_S,
    )
    log_lines = sum(1 for _ in stack.fault_log_path.open()) if stack.fault_log_path.exists() else 0
    result, _ = await judge_scenario(stack, SCENARIOS[scenario], settings, log_lines)
    return result


def status(result: ScenarioResult, verdict: str) -> str:
    found = {v.name: v for v in result.verdicts}
    return found[verdict].status


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_the_well_behaved_client_passes_every_scenario(stack: Stack, scenario: str) -> None:
    result = await judged(stack, scenario, *PATIENCE)
    assert result.status == "passed", [(v.name, v.status, v.detail) for v in result.verdicts]


async def test_a_client_that_never_times_out_is_killed_and_fails(stack: Stack) -> None:
    settings_timeout = 4.0  # the hung call holds it: no need to wait the module's bound
    result = await judge_scenario(
        stack,
        SCENARIOS["hung_call"],
        JudgeSettings(
            client=(sys.executable, CLIENT, "{url}", "--never-timeout"),
            target=stack.target,
            scenarios=[SCENARIOS["hung_call"]],
            workdir=stack.workdir,
            bounds=Bounds(call_timeout_s=2.0),
            client_timeout_s=settings_timeout,
        ),
        0,
    )
    scenario = result[0]
    assert status(scenario, "exits_cleanly") == "failed"
    assert status(scenario, "times_out_hung_calls") == "failed"
    assert "killed" in next(v.detail for v in scenario.verdicts if v.name == "exits_cleanly")


async def test_a_client_that_retries_a_destructive_tool_three_times_fails(stack: Stack) -> None:
    result = await judged(stack, "error_burst", "--retry-destructive", "3")
    assert status(result, "no_blind_destructive_retry") == "failed"
    detail = next(v.detail for v in result.verdicts if v.name == "no_blind_destructive_retry")
    assert "delete_item" in detail
    assert "3 time(s)" in detail


async def test_a_client_that_ignores_retry_after_fails(stack: Stack) -> None:
    result = await judged(stack, "rate_limited", "--ignore-retry-after")
    assert status(result, "honours_retry_after") == "failed"


async def test_a_client_that_sends_no_cancellation_fails(stack: Stack) -> None:
    result = await judged(stack, "hung_call", "--no-cancel")
    assert status(result, "cancels_abandoned") == "failed"
    assert status(result, "times_out_hung_calls") == "passed"


async def test_a_client_that_does_not_initialize_again_fails(stack: Stack) -> None:
    result = await judged(stack, "session_expiry", "--no-reinit")
    assert status(result, "reinitializes_after_404") == "failed"


async def test_a_retry_storm_fails_backs_off(stack: Stack) -> None:
    result = await judged(stack, "error_burst", "--retry-storm")
    assert status(result, "backs_off") == "failed"


async def test_a_client_that_crashes_on_a_malformed_response_fails(stack: Stack) -> None:
    result = await judged(stack, "bad_responses", "--crash-on-bad-response")
    assert status(result, "survives_bad_responses") == "failed"
    assert status(result, "exits_cleanly") == "passed"  # a traceback is an exit, not a hang


async def test_a_client_that_does_not_list_again_after_list_changed_fails(stack: Stack) -> None:
    result = await judged(stack, "list_changed", "--no-relist")
    assert status(result, "relists_after_list_changed") == "failed"


async def test_an_sdk_client_over_stdio_reaches_the_proxy_through_the_command_placeholder(
    stack: Stack,
) -> None:
    """``{command}`` as a whole argument becomes the relay's words (python -m mcpchaos proxy
    --upstream URL): the official SDK client's stdio session goes through the judged proxy."""
    settings = JudgeSettings(
        client=(sys.executable, SDK_CLIENT, "--stdio", "{command}"),
        target=stack.target,
        scenarios=[SCENARIOS["slow_server"]],
        workdir=stack.workdir,
        bounds=BOUNDS,
        client_timeout_s=CLIENT_TIMEOUT_S,
    )
    result, _ = await judge_scenario(stack, SCENARIOS["slow_server"], settings, 0)
    assert result.status == "passed", [(v.name, v.detail) for v in result.verdicts]
    assert (result.measurements["client_requests"] or 0) >= 4  # initialize, tools/list, three calls
