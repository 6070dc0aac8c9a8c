"""The three real clients of examples/clients/ judged by ``mcpchaos judge``, run as a user runs it
(the CLI, in a subprocess, against its built-in demo server), each on the client scenarios it
can be judged on in seconds. Each test asserts every verdict the client earns, passes and
failures alike (docs/clients.md, "judged by mcpchaos judge"): a change in a client or in the
judge shows here.

Bounds keep each scenario to a few seconds: the SDK examples time a request out at 2 s
(``--timeout 2``), the judge's bound for a hung call is 5 s. The SDK examples run with
``--keep-going`` (after a failed call they make the next, as an agent does), so the verdicts show
what the SDK does next. The Inspector CLI's request timeout is a fixed 60 s, so it is judged only
on scenarios that do not wait for it (not ``hung_call``, ``cut_stream`` or ``bad_responses``).
``server_restart`` is left out for every client: whether its held call meets the new server's
404 or a 502 from a server not yet back depends on how fast the demo restarts (docs/clients.md).
Fewer scenarios than docs/clients.md's table, which has the commands for all of them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Final

import orjson
import pytest

from tests.realclients import drive

Verdicts = dict[str, dict[str, str]]
"""Scenario → verdict → status."""

BOUNDS = ("--call-timeout-bound", "5", "--client-timeout", "25")


def judge(tmp_path: Path, scenarios: str, client: list[str]) -> tuple[Verdicts, str]:
    """``mcpchaos judge --scenario SCENARIOS ... -- CLIENT {url}``: every verdict's status, and
    each verdict's detail in one text (for the assertion messages)."""
    out = tmp_path / "judge"
    # HOME in the run's directory: the Inspector keeps its catalog and storage there.
    env = {**os.environ, "HOME": str(tmp_path)}
    command = [sys.executable, "-m", "mcpchaos", "judge", "--scenario", scenarios, *BOUNDS]
    command += ["--out", str(out), "--", *client, "{url}"]
    result = subprocess.run(
        command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=200, env=env, check=False
    )
    assert result.returncode in (0, 1, 3), result.stdout + result.stderr  # verdicts, not a usage error
    journal = orjson.loads((out / "journal.json").read_bytes())
    verdicts = {s["scenario"]: {v["name"]: v["status"] for v in s["verdicts"]} for s in journal["scenarios"]}
    details = "\n".join(
        f"{s['scenario']}/{v['name']}: {v['status']}: {v['detail']}"
        for s in journal["scenarios"]
        for v in s["verdicts"]
    )
    return verdicts, details


PYTHON_SDK = [sys.executable, str(drive.EXAMPLES / "python_sdk_client.py"), "--timeout", "2", "--keep-going"]
INSPECTOR = ["bash", str(drive.EXAMPLES / "inspector_cli.sh")]


def ts_sdk() -> list[str]:
    return [str(drive.node()), str(drive.EXAMPLES / "ts_sdk_client.mjs"), "--timeout", "2", "--keep-going"]


EXITS: Final = {"exits_cleanly": "passed"}
"""Every client here ends by itself in every scenario judged (no hang at the bounds)."""


@pytest.mark.timeout(200)
def test_the_python_sdk_client_in_the_handshake_era(tmp_path: Path) -> None:
    scenarios = "hung_call,error_burst,rate_limited,session_expiry,list_changed,bad_responses"
    verdicts, details = judge(tmp_path, scenarios, [*PYTHON_SDK, "--era", "legacy"])
    assert verdicts == {
        # its read timeout ends the call at 2 s, and it sends notifications/cancelled
        "hung_call": {**EXITS, "times_out_hung_calls": "passed", "cancels_abandoned": "passed"},
        # no retries: the failed slow (unannotated: not idempotent) is not sent again
        "error_burst": {**EXITS, "backs_off": "passed", "no_blind_destructive_retry": "passed"},
        # Retry-After is not read: the next call goes out at once
        "rate_limited": {**EXITS, "honours_retry_after": "failed", "backs_off": "passed"},
        # it ends the session and refuses later calls without sending them: no new initialize
        "session_expiry": {**EXITS, "reinitializes_after_404": "failed"},
        # calls on with the old list
        "list_changed": {**EXITS, "relists_after_list_changed": "failed"},
        # a malformed answer fails that call at once; the session goes on
        "bad_responses": {**EXITS, "survives_bad_responses": "passed", "times_out_hung_calls": "passed"},
    }, details


@pytest.mark.timeout(120)
def test_the_python_sdk_client_in_the_2026_era_is_sessionless_and_some_verdicts_cannot_be_seen(
    tmp_path: Path,
) -> None:
    verdicts, details = judge(tmp_path, "hung_call,session_expiry,era_fallback", PYTHON_SDK)
    assert verdicts == {
        # it cancels by closing the request's stream: nothing on the wire to judge
        "hung_call": {**EXITS, "times_out_hung_calls": "passed", "cancels_abandoned": "inconclusive"},
        # no session to expire
        "session_expiry": {**EXITS, "reinitializes_after_404": "inconclusive"},
        "era_fallback": {**EXITS, "falls_back_to_legacy": "passed"},
    }, details
    assert "sessionless" in details


@pytest.mark.timeout(200)
@pytest.mark.usefixtures("npm_clients")
def test_the_typescript_sdk_client(tmp_path: Path) -> None:
    scenarios = (
        "hung_call,error_burst,rate_limited,session_expiry,list_changed,cut_stream,bad_responses,era_fallback"
    )
    verdicts, details = judge(tmp_path, scenarios, ts_sdk())
    assert verdicts == {
        # with a call after the timeout, its un-awaited notifications/cancelled gets out
        "hung_call": {**EXITS, "times_out_hung_calls": "passed", "cancels_abandoned": "passed"},
        "error_burst": {**EXITS, "backs_off": "passed", "no_blind_destructive_retry": "passed"},
        "rate_limited": {**EXITS, "honours_retry_after": "failed", "backs_off": "passed"},
        "session_expiry": {**EXITS, "reinitializes_after_404": "failed"},
        "list_changed": {**EXITS, "relists_after_list_changed": "failed"},
        # it does not notice the closed stream: its own 2 s timeout ends the call
        "cut_stream": {**EXITS, "times_out_hung_calls": "passed"},
        "bad_responses": {**EXITS, "survives_bad_responses": "passed", "times_out_hung_calls": "passed"},
        # SDK 1.x never sends server/discover
        "era_fallback": {**EXITS, "falls_back_to_legacy": "inconclusive"},
    }, details


@pytest.mark.timeout(120)
@pytest.mark.usefixtures("npm_clients")
def test_the_typescript_sdk_client_that_closes_at_its_timeout_loses_its_cancellation(tmp_path: Path) -> None:
    # Without --keep-going the example closes the client right after the timeout error; with
    # it, the next call keeps the process up long enough and the cancellation gets out.
    client = [str(drive.node()), str(drive.EXAMPLES / "ts_sdk_client.mjs"), "--timeout", "2"]
    verdicts, details = judge(tmp_path, "hung_call", client)
    assert verdicts == {
        "hung_call": {**EXITS, "times_out_hung_calls": "passed", "cancels_abandoned": "failed"}
    }, details


@pytest.mark.timeout(120)
@pytest.mark.usefixtures("npm_clients")
def test_the_inspector_cli_stops_at_a_429_and_at_a_404_and_lists_in_every_invocation(tmp_path: Path) -> None:
    # Not the scenarios that wait for its fixed 60 s request timeout (hung_call, cut_stream,
    # bad_responses, server_restart). Each step is an invocation of its own; without
    # --keep-going one that fails ends the script, so what shows is the Inspector's own doing.
    verdicts, details = judge(tmp_path, "rate_limited,session_expiry,list_changed", INSPECTOR)
    assert verdicts == {
        # it reads Retry-After and says it, then exits: no later request to time
        "rate_limited": {**EXITS, "honours_retry_after": "inconclusive", "backs_off": "passed"},
        "session_expiry": {**EXITS, "reinitializes_after_404": "failed"},
        # the next invocation is a new session that lists first
        "list_changed": {**EXITS, "relists_after_list_changed": "passed"},
    }, details


@pytest.mark.timeout(120)
@pytest.mark.usefixtures("npm_clients")
def test_the_inspector_cli_in_auto_era_falls_back_to_initialize(tmp_path: Path) -> None:
    verdicts, details = judge(tmp_path, "era_fallback", [*INSPECTOR, "--era", "auto"])  # 3 sessions, 3 probes
    assert verdicts == {"era_fallback": {**EXITS, "falls_back_to_legacy": "passed"}}, details
