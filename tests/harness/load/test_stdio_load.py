from __future__ import annotations

import pytest

from mcpchaos.harness.load import LoadSettings, StdioTarget

from .conftest import DEMO_STDIO, MCPCHAOS, drive, tool


@pytest.mark.parametrize("protocol", ["2025-11-25", "2026-07-28"])
async def test_stdio_clients_each_run_a_server_process_and_get_answers(protocol: str) -> None:
    settings = LoadSettings(clients=2, protocol=protocol)
    recorder, driver = await drive(StdioTarget(DEMO_STDIO), settings, requests=40)
    counts, _, accounting = recorder.totals()
    assert counts.ok == counts.total >= 40
    assert accounting.sent == accounting.answered
    assert driver.sessions_opened == 2


async def test_stdio_load_through_the_proxy_is_answered() -> None:
    command = [*MCPCHAOS, "proxy", "--", *DEMO_STDIO]
    recorder, _ = await drive(StdioTarget(command), LoadSettings(clients=1), requests=20)
    counts = recorder.totals()[0]
    assert counts.ok == counts.total >= 20


async def test_a_crashed_server_fails_its_requests_and_a_new_process_takes_over() -> None:
    settings = LoadSettings(clients=1, mix=[tool("echo", text="x"), tool("fail", mode="crash")])
    recorder, driver = await drive(StdioTarget(DEMO_STDIO), settings, requests=5)
    counts, _, accounting = recorder.totals()
    assert counts.transport_kinds.get("process_exited", 0) >= 1
    assert counts.ok > 0
    assert accounting.lost == counts.transport
    assert driver.sessions_opened == 1 + counts.transport_kinds["process_exited"]


async def test_a_stdio_request_slower_than_its_deadline_ends_as_deadline() -> None:
    settings = LoadSettings(clients=1, deadline_s=0.3, mix=[tool("slow", seconds=5, steps=1)])
    recorder, _ = await drive(StdioTarget(DEMO_STDIO), settings, requests=2)
    counts = recorder.totals()[0]
    assert counts.deadline == counts.total >= 2
