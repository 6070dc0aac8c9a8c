"""Every verdict can fail: a deliberately fragile target is caught by the verdict meant for it."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from mcpchaos.harness.journal import Verdict
from mcpchaos.harness.load.driver import open_sessions
from mcpchaos.harness.stack import Stack, TargetSpec
from mcpchaos.harness.verdicts import check_no_exceptions
from tests.harness.scenario_runs import run_quick

FRAGILE_SERVER = str(Path(__file__).parents[1] / "fixtures" / "fragile_server.py")

# Corrupted method names on tools/call: a robust server answers -32601 with the request's id.
CORRUPT_METHODS = {
    "enabled_faults": {"corruption": True},
    "corruption_config": {"modes": ["method_suffix"]},
    "match": {"message_classes": ["client_request"], "methods": ["tools/call"]},
}


def verdict(verdicts: list[Verdict], name: str) -> Verdict:
    return next(v for v in verdicts if v.name == name)


@pytest.mark.timeout(90)
async def test_no_hangs_catches_a_client_without_timeouts(tmp_path: Path) -> None:
    result = await run_quick(
        "intermittent_failures",
        tmp_path,
        {"faults_enabled": ["drop"], "load": {"deadline_s": None}, "cycles": 1},
    )
    caught = verdict(result.verdicts, "no_hangs")
    assert not caught.passed, caught.detail
    assert caught.evidence["hung"] > 0


@pytest.mark.timeout(90)
async def test_nothing_lost_catches_a_server_that_never_answers_what_it_cannot_parse(tmp_path: Path) -> None:
    target = TargetSpec.parse(f"{sys.executable} {FRAGILE_SERVER}")
    result = await run_quick("intermittent_failures", tmp_path, {"fault_config": CORRUPT_METHODS}, target)
    assert result.error is None, result.error
    caught = verdict(result.verdicts, "nothing_lost")
    assert not caught.passed, caught.detail
    assert caught.evidence["unexplained_lost"] > 0


@pytest.mark.timeout(90)
async def test_nothing_lost_passes_a_server_that_answers_corrupted_requests(tmp_path: Path) -> None:
    result = await run_quick("intermittent_failures", tmp_path, {"fault_config": CORRUPT_METHODS})
    assert verdict(result.verdicts, "nothing_lost").passed, verdict(result.verdicts, "nothing_lost").detail


@pytest.mark.timeout(120)
async def test_graceful_degradation_catches_a_server_that_dies_on_bad_input(tmp_path: Path) -> None:
    # Sessionless clients share one server process behind the bridge: one bad request kills
    # everyone's calls in flight, so success falls far faster than the fault rate.
    target = TargetSpec.parse(f"{sys.executable} {FRAGILE_SERVER} --crash")
    params = {"fault_config": CORRUPT_METHODS, "steps": 6, "load": {"protocol": "2026-07-28"}}
    result = await run_quick("gradual_degradation", tmp_path, params, target)
    assert result.error is None, result.error
    caught = verdict(result.verdicts, "graceful_degradation")
    assert not caught.passed, caught.detail
    assert caught.evidence["cliffs"]


@pytest.mark.timeout(90)
async def test_recovery_catches_a_client_that_does_not_reinitialize_a_lost_session(tmp_path: Path) -> None:
    result = await run_quick("upstream_failure", tmp_path, {"load": {"reinitialize": False}})
    caught = verdict(result.verdicts, "recovery")
    assert not caught.passed, caught.detail


@pytest.mark.timeout(90)
async def test_no_leaks_catches_a_server_that_leaks_file_descriptors(tmp_path: Path) -> None:
    result = await run_quick("sudden_failure", tmp_path, target=TargetSpec.parse("demo --fragile leak-fds"))
    caught = verdict(result.verdicts, "no_leaks")
    assert not caught.passed, caught.detail
    assert any("upstream fds" in problem for problem in caught.evidence["problems"])


@pytest.mark.timeout(90)
async def test_metrics_accurate_catches_traffic_the_harness_did_not_send(tmp_path: Path) -> None:
    # A proxy someone else runs, shared with another client: the counts cannot reconcile.
    stack = Stack(TargetSpec(), tmp_path / "shared", name="shared")
    await stack.start()
    try:
        assert stack.control is not None
        target = TargetSpec(kind="attach", url=stack.proxy_url, control_url=stack.control.base_url)

        async def intruder() -> None:
            await asyncio.sleep(0.5)
            await open_sessions(stack.proxy_url, 20)

        task = asyncio.create_task(intruder())
        result = await run_quick("sudden_failure", tmp_path / "run", target=target)
        await task
    finally:
        await stack.stop()
    caught = verdict(result.verdicts, "metrics_accurate")
    assert not caught.passed, caught.detail
    assert caught.evidence["proxy_requests"] > caught.evidence["client_sent"]


def test_no_exceptions_fails_on_a_traceback_an_error_line_or_a_dead_proxy() -> None:
    assert check_no_exceptions("mcpchaos: listening\n", {}, proxy_alive=True).passed
    traceback = "mcpchaos: ERROR boom\nTraceback (most recent call last):\n  File 'x'\nValueError\n"
    assert not check_no_exceptions(traceback, {}, proxy_alive=True).passed
    assert not check_no_exceptions("", {"interceptor_failures": {"faults": 1}}, proxy_alive=True).passed
    assert not check_no_exceptions("", {}, proxy_alive=False).passed
