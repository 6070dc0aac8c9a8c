from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from mcpchaos.harness.control_client import ControlClient
from mcpchaos.harness.load import HttpTarget, LoadDriver, LoadSettings, Recorder, open_sessions
from tests.http.servers import demo_http_server, free_port

from .conftest import drive, ended, http_proxy, tool, until


@pytest.fixture(scope="module")
def json_url() -> Iterator[str]:
    """The demo server answering with JSON bodies instead of SSE streams."""
    with demo_http_server("--json-response") as url:
        yield url


@pytest.mark.parametrize("protocol", ["2025-11-25", "2026-07-28"])
async def test_closed_loop_clients_get_every_echo_answered_in_both_protocol_eras(
    stateful_url: str, protocol: str
) -> None:
    settings = LoadSettings(clients=4, protocol=protocol)
    recorder, driver = await drive(HttpTarget(stateful_url), settings, requests=40)
    counts, latency, accounting = recorder.totals()
    assert counts.ok == counts.total >= 40
    assert accounting.sent == accounting.answered == counts.ok
    assert (accounting.lost, accounting.hung, accounting.duplicated, accounting.unexpected) == (0, 0, 0, 0)
    assert latency.count == counts.total
    assert driver.sessions_opened == 4


async def test_json_responses_are_read_as_well_as_sse_streams(json_url: str) -> None:
    recorder, _ = await drive(HttpTarget(json_url), LoadSettings(clients=2), requests=20)
    assert recorder.totals()[0].ok >= 20


async def test_load_through_the_proxy_is_answered(stateful_url: str) -> None:
    with http_proxy(stateful_url) as url:
        recorder, _ = await drive(HttpTarget(url), LoadSettings(clients=4), requests=40)
    counts, _, accounting = recorder.totals()
    assert counts.ok == counts.total >= 40
    assert accounting.lost == 0


def faults_file(tmp_path: Path, config: dict[str, object]) -> str:
    path = tmp_path / "faults.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return str(path)


async def test_injected_errors_through_the_proxy_count_as_errors_and_as_injected(stateful_url: str) -> None:
    with http_proxy(stateful_url, "--fault-probability", "1", "--faults-enabled", "error") as url:
        # Every call gets an error fault (the handshake is left alone). Most error types answer
        # with a JSON-RPC error; "timeout" holds the request (deadline), "connection_refused" resets.
        recorder, _ = await drive(HttpTarget(url), LoadSettings(clients=2, deadline_s=0.5), requests=20)
    counts, _, accounting = recorder.totals()
    assert counts.ok == 0
    assert counts.error >= 10
    assert counts.injected == counts.error
    assert set(counts.transport_kinds) <= {"reset"}
    assert accounting.answered == counts.error
    assert (accounting.handshakes, accounting.handshakes_failed) == (2, 0)


async def test_a_tool_error_result_is_its_own_outcome_with_the_tools_text(stateful_url: str) -> None:
    settings = LoadSettings(clients=2, mix=[tool("echo", text="x"), tool("fail", message="no such thing")])
    recorder, _ = await drive(HttpTarget(stateful_url), settings, requests=30)
    counts, _, accounting = recorder.totals()
    assert counts.ok > 0
    assert counts.tool_error > 0
    assert counts.ok + counts.tool_error == counts.total
    assert accounting.answered == counts.total
    assert counts.success_rate is not None
    assert counts.success_rate < 1
    assert counts.first_errors == ["tool error: Error executing tool fail: no such thing"]


async def test_the_proxy_counts_exactly_the_calls_and_handshakes_the_clients_wrote(
    stateful_url: str, tmp_path: Path
) -> None:
    # Half the initialize requests are held past the client's start-up deadline: those
    # handshakes time out (the proxy saw them all the same), and the clients handshake again.
    faults = {
        "seed": 5,
        "rules": [
            {
                "match": {"methods": ["initialize"], "message_classes": ["client_request"]},
                "probability": 0.5,
                "enabled_faults": {"delay": True},
                "delay_ms": {"min_ms": 800, "max_ms": 800, "jitter": False},
            }
        ],
    }
    port = free_port()
    with http_proxy(stateful_url, "--faults", faults_file(tmp_path, faults), "--control", str(port)) as url:
        settings = LoadSettings(clients=4, deadline_s=0.4, startup_s=0.4, think_time_s=0.05)
        recorder, driver = await drive(HttpTarget(url), settings, requests=40, within=30)
        accounting = recorder.totals()[2]
        control = ControlClient(f"http://127.0.0.1:{port}")

        async def proxy_requests() -> int:
            metrics = await control.metrics()
            return sum(
                m["count"]
                for m in metrics["messages"]
                if m["direction"] == "client_to_server" and m["kind"] == "request"
            )

        expected = accounting.sent + accounting.handshakes
        async with asyncio.timeout(10):
            while (counted := await proxy_requests()) != expected:  # noqa: ASYNC110 - bounded poll
                await asyncio.sleep(0.05)
        await control.close()
    assert accounting.handshakes_failed >= 1
    assert accounting.handshakes == driver.sessions_opened + accounting.handshakes_failed
    # Counting the sessions opened instead of the handshakes written misses the timed-out ones.
    assert accounting.sent + driver.sessions_opened == counted - accounting.handshakes_failed


async def test_a_request_slower_than_its_deadline_ends_as_deadline_and_lost(stateful_url: str) -> None:
    settings = LoadSettings(clients=2, deadline_s=0.3, mix=[tool("slow", seconds=5, steps=1)])
    recorder, _ = await drive(HttpTarget(stateful_url), settings, requests=4)
    counts, latency, accounting = recorder.totals()
    assert counts.deadline == counts.total >= 4
    assert accounting.lost == counts.deadline
    assert latency.p50_ms is not None
    assert 290 <= latency.p50_ms < 1000


async def test_a_client_without_deadline_leaves_hung_requests_that_finish_counts(stateful_url: str) -> None:
    recorder = Recorder()
    settings = LoadSettings(clients=3, deadline_s=None, mix=[tool("slow", seconds=30, steps=1)])
    driver = LoadDriver(HttpTarget(stateful_url), settings, recorder)
    await driver.start()
    await until(lambda: recorder.in_flight() == 3)
    async with asyncio.timeout(5):  # stop never hangs: with no deadline it waits the grace only
        await driver.stop(grace_s=0.2)
    recorder.finish()
    counts, _, accounting = recorder.totals()
    assert counts.total == 0
    assert accounting.hung == accounting.sent == 3


async def test_clients_reinitialize_after_their_session_is_evicted(stateful_url: str) -> None:
    # The proxy expires a session idle for 0.1 s; the clients think 0.25 s between requests,
    # so every request after the first finds its session gone (HTTP 404) and re-initializes.
    with http_proxy(stateful_url, "--session-idle-timeout", "0.1") as url:
        settings = LoadSettings(clients=2, think_time_s=0.25)
        recorder, driver = await drive(HttpTarget(url), settings, requests=8)
    counts = recorder.totals()[0]
    assert counts.transport_kinds.get("http_404", 0) >= 2
    assert counts.ok >= 2
    assert driver.sessions_opened >= 4


async def test_a_fragile_client_gives_up_after_losing_its_session(stateful_url: str) -> None:
    with http_proxy(stateful_url, "--session-idle-timeout", "0.1") as url:
        settings = LoadSettings(clients=2, think_time_s=0.25, reinitialize=False)
        recorder, driver = await drive(HttpTarget(url), settings, requests=8)
    kinds = recorder.totals()[0].transport_kinds
    assert kinds.get("http_404", 0) == 2  # one per client, then it stops trying
    assert kinds.get("session_lost", 0) >= 4
    assert driver.sessions_opened == 2


async def test_reconnect_all_makes_every_client_handshake_again(stateful_url: str) -> None:
    recorder = Recorder()
    driver = LoadDriver(HttpTarget(stateful_url), LoadSettings(clients=4), recorder)
    await driver.start()
    try:
        assert driver.sessions_opened == 4
        driver.reconnect_all()
        await until(lambda: driver.sessions_opened == 8)
        before = ended(recorder)
        await until(lambda: ended(recorder) > before + 10)
    finally:
        await driver.stop()
    recorder.finish()
    assert recorder.totals()[0].ok == recorder.totals()[0].total


async def test_nothing_listening_ends_requests_as_refused_and_never_sent() -> None:
    target = HttpTarget(f"http://127.0.0.1:{free_port()}/mcp")
    recorder, _ = await drive(target, LoadSettings(clients=2), requests=6)
    counts, _, accounting = recorder.totals()
    assert counts.transport_kinds.get("refused") == counts.total >= 6
    assert accounting.sent == 0


async def test_the_open_loop_issues_about_rate_times_duration_requests(stateful_url: str) -> None:
    recorder = Recorder()
    driver = LoadDriver(
        HttpTarget(stateful_url), LoadSettings(mode="open", rate_per_s=100, clients=4), recorder
    )
    await driver.start()
    await asyncio.sleep(1.0)  # the duration under test, not a wait for an event
    await driver.stop()
    recorder.finish()
    counts = recorder.totals()[0]
    assert 70 <= counts.total <= 130
    assert counts.ok == counts.total


async def test_open_loop_arrivals_over_max_in_flight_are_client_overload(stateful_url: str) -> None:
    settings = LoadSettings(
        mode="open",
        rate_per_s=100,
        clients=2,
        max_in_flight=3,
        deadline_s=1.0,
        mix=[tool("slow", seconds=0.5)],
    )
    recorder, _ = await drive(HttpTarget(stateful_url), settings, requests=20)
    kinds = recorder.totals()[0].transport_kinds
    assert kinds.get("client_overload", 0) >= 10


async def test_sdk_clients_take_their_share_of_the_load(stateful_url: str) -> None:
    settings = LoadSettings(clients=2, sdk_share=1.0, mix=[tool("echo", text="x"), tool("fail", weight=0.5)])
    recorder, driver = await drive(HttpTarget(stateful_url), settings, requests=20)
    counts, _, accounting = recorder.totals()
    assert counts.ok + counts.tool_error == counts.total >= 20  # a tool error is not a success
    assert counts.tool_error > 0
    assert counts.first_errors == ["tool error: Error executing tool fail: failure requested"]
    assert driver.sessions_opened == 2
    assert accounting.handshakes == 2


async def test_a_server_to_client_request_is_refused_so_the_tool_call_still_ends(stateful_url: str) -> None:
    recorder, _ = await drive(
        HttpTarget(stateful_url), LoadSettings(clients=1, mix=[tool("ask_user", question="q")]), 3
    )
    counts = recorder.totals()[0]
    assert counts.total >= 3
    assert counts.deadline == 0


@pytest.mark.parametrize("protocol", ["2025-11-25", "2026-07-28"])
async def test_open_sessions_reports_the_handshakes_that_succeeded(stateful_url: str, protocol: str) -> None:
    assert await open_sessions(stateful_url, 30, concurrency=10, protocol=protocol) == (30, 0)


async def test_open_sessions_counts_failed_handshakes_without_raising() -> None:
    assert await open_sessions(f"http://127.0.0.1:{free_port()}/mcp", 5, timeout_s=1) == (0, 5)
