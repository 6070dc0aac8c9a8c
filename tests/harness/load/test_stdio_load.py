from __future__ import annotations

import time
from pathlib import Path

import pytest

from mcpchaos.harness.load import LoadSettings, StdioTarget

from .conftest import DEMO_STDIO, MCPCHAOS, drive, tool


@pytest.mark.parametrize("protocol", ["2025-11-25", "2026-07-28"])
async def test_stdio_clients_each_run_a_server_process_and_get_answers(protocol: str) -> None:
    # The default 5 s call deadline was missed by echo calls on a 2-core machine at load 15; this
    # test is about answers, not latency.
    settings = LoadSettings(clients=2, protocol=protocol, deadline_s=60)
    recorder, driver = await drive(StdioTarget(DEMO_STDIO), settings, requests=40)
    counts, _, accounting = recorder.totals()
    assert counts.ok == counts.total >= 40
    assert accounting.sent == accounting.answered
    assert driver.sessions_opened == 2


async def test_stdio_load_through_the_proxy_is_answered() -> None:
    command = [*MCPCHAOS, "proxy", "--", *DEMO_STDIO]
    recorder, _ = await drive(StdioTarget(command), LoadSettings(clients=1, deadline_s=60), requests=20)
    counts = recorder.totals()[0]
    assert counts.ok == counts.total >= 20


async def test_a_crashed_server_fails_its_requests_and_a_new_process_takes_over() -> None:
    settings = LoadSettings(
        clients=1, deadline_s=60, mix=[tool("echo", text="x"), tool("fail", mode="crash")]
    )
    recorder, driver = await drive(StdioTarget(DEMO_STDIO), settings, requests=5)
    counts, _, accounting = recorder.totals()
    exits = counts.transport_kinds.get("process_exited", 0)
    assert exits >= 1
    assert counts.ok > 0
    assert accounting.lost == counts.transport
    # One process per crash, and the first: the driver may stop between the last crash and the
    # start of the process that would have taken over.
    assert exits <= driver.sessions_opened <= 1 + exits


async def test_a_stdio_request_slower_than_its_deadline_ends_as_deadline() -> None:
    settings = LoadSettings(clients=1, deadline_s=0.3, mix=[tool("slow", seconds=5, steps=1)])
    recorder, _ = await drive(StdioTarget(DEMO_STDIO), settings, requests=2)
    counts = recorder.totals()[0]
    assert counts.deadline == counts.total >= 2


async def test_a_server_that_cannot_start_is_retried_with_backoff_not_in_a_storm(tmp_path: Path) -> None:
    starts = tmp_path / "starts"
    command = ["sh", "-c", f"echo start >> {starts}; exit 3"]  # exits before any answer
    settings = LoadSettings(clients=2, deadline_s=0.5, think_time_s=0.01)
    began = time.monotonic()
    recorder, _ = await drive(StdioTarget(command), settings, requests=60, within=60)
    counts = recorder.totals()[0]
    assert counts.ok == 0
    assert counts.transport >= 60  # every request ends, as a failed start
    assert counts.transport_kinds.get("start_failed", 0) > 0  # the clients stopped trying
    # At most 5 starts per client, 0.1 s apart and doubling (≥ 1.5 s for the five), where a
    # start per request would have made 60 processes.
    assert len(starts.read_text().splitlines()) <= 2 * 5
    assert time.monotonic() - began >= 1.5
