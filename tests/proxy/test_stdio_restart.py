"""``mcpchaos proxy --restart on-failure``: a crashed stdio server is started again and the
client's session goes on. Real crashing servers, real pipes."""

from __future__ import annotations

import itertools
import sys
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from mcpchaos.protocol import codes
from mcpchaos.proxy.restart import RestartPolicy
from tests.rawpeer import DEMO_SERVER, SCRIPTED_SERVER, RawProxy

FAST = ("--restart", "on-failure", "--restart-backoff", "0.05")


def test_the_backoff_doubles_up_to_its_maximum() -> None:
    policy = RestartPolicy(mode="on-failure", backoff=0.5, max_backoff=3.0)
    assert [policy.delay(attempt) for attempt in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 3.0]


def test_only_failures_under_the_limit_restart_and_never_means_never() -> None:
    policy = RestartPolicy(mode="on-failure", max_restarts=2)
    assert policy.should_restart(3, 0)
    assert policy.should_restart(137, 1)
    assert not policy.should_restart(3, 2)
    assert not policy.should_restart(0, 0)
    assert not RestartPolicy().should_restart(3, 0)


@pytest.fixture
async def scripted() -> AsyncIterator[list[RawProxy]]:
    started: list[RawProxy] = []
    yield started
    for proxy in started:
        await proxy.kill()


async def start(started: list[RawProxy], *args: str, server: list[str] = SCRIPTED_SERVER) -> RawProxy:
    proxy = await RawProxy.start(server, *args)
    started.append(proxy)
    return proxy


async def crash(proxy: RawProxy, request_id: int, status: int = 7) -> dict[str, Any]:
    return await proxy.request(request_id, "crash", {"status": status})


async def test_the_sdk_client_keeps_working_after_the_server_crashes() -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "mcpchaos", "proxy", *FAST, "--", *DEMO_SERVER]
    )
    with anyio.fail_after(30):
        async with Client(params, mode="legacy") as client:
            await client.call_tool("slow", {"seconds": 0, "steps": 1})
            before = (await client.call_tool("stats", {})).structured_content or {}
            assert before.get("slow_started") == 1
            with pytest.raises(MCPError) as crashed:
                await client.call_tool("fail", {"mode": "crash"})
            assert crashed.value.code == codes.UPSTREAM_UNAVAILABLE
            after = await client.call_tool("echo", {"text": "after"})
            assert after.content[0].text == "after"  # type: ignore[union-attr]
            stats = (await client.call_tool("stats", {})).structured_content or {}
            assert stats.get("slow_started") == 0  # a fresh server process answers


async def test_the_in_flight_request_fails_and_a_request_during_the_restart_waits_for_the_new_server(
    scripted: list[RawProxy],
) -> None:
    proxy = await start(scripted, "--restart", "on-failure", "--restart-backoff", "0.3")
    await proxy.initialize()
    crashed = await crash(proxy, 1)
    assert crashed["error"]["code"] == codes.UPSTREAM_UNAVAILABLE
    await proxy.send({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"n": 1}})
    queued = await proxy.request(2, "tools/list", {"queued": True})
    assert queued["result"] == {"echo": {"queued": True}}
    seen = await proxy.request(3, "script/received")
    methods = [(message.get("id"), message.get("method")) for message in seen["result"]["received"]]
    # The new server got the replayed handshake first, then what waited, in order.
    assert methods == [
        ("mcpchaos-replay-initialize", "initialize"),
        (None, "notifications/initialized"),
        (None, "notifications/progress"),
        (2, "tools/list"),
    ]
    assert seen["result"]["received"][0]["params"]["clientInfo"]["name"] == "raw-test"
    assert await proxy.close() == 0
    assert "restarting the upstream server in 0.30s (restart 1 of 5; it exited with status 7)" in proxy.stderr


async def test_the_client_never_sees_the_answer_to_the_replayed_initialize(scripted: list[RawProxy]) -> None:
    proxy = await start(scripted, *FAST)
    await proxy.initialize()
    await crash(proxy, 1)
    await proxy.send({"jsonrpc": "2.0", "id": 2, "method": "ping"})
    # The next line the client reads is the answer to its own request, nothing in between.
    assert (await proxy.read())["id"] == 2
    assert await proxy.close() == 0


async def test_with_fail_a_request_during_the_restart_is_answered_at_once(scripted: list[RawProxy]) -> None:
    proxy = await start(
        scripted, "--restart", "on-failure", "--restart-backoff", "2", "--during-restart", "fail"
    )
    await proxy.initialize()
    await crash(proxy, 1)
    with anyio.fail_after(1.5):  # well before the new server could answer
        refused = await proxy.request(2, "tools/list")
    assert refused["error"]["code"] == codes.UPSTREAM_UNAVAILABLE
    assert "restarting" in refused["error"]["message"]
    with anyio.fail_after(15):  # the client retries until the new server is there
        for request_id in itertools.count(3):
            later = await proxy.request(request_id, "tools/list", {"later": True})
            if "result" in later:
                break
            assert later["error"]["code"] == codes.UPSTREAM_UNAVAILABLE
            await anyio.sleep(0.05)
    assert later["result"] == {"echo": {"later": True}}
    assert await proxy.close() == 0


async def test_over_the_restart_queue_bound_requests_fail_and_notifications_are_dropped(
    scripted: list[RawProxy],
) -> None:
    proxy = await start(scripted, "--restart", "on-failure", "--restart-backoff", "2", "--restart-queue", "1")
    await proxy.initialize()
    await crash(proxy, 1)
    await proxy.send({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {"n": 2}})
    await proxy.send({"jsonrpc": "2.0", "method": "notifications/progress"})
    with anyio.fail_after(1.5):
        refused = await proxy.request(3, "tools/list")
    assert refused["error"]["code"] == codes.UPSTREAM_UNAVAILABLE
    queued = await proxy.read(within=15)
    assert queued == {"jsonrpc": "2.0", "id": 2, "result": {"echo": {"n": 2}}}
    assert await proxy.close() == 0
    assert "dropped a client notification during a server restart" in proxy.stderr


async def test_after_the_last_restart_the_proxy_exits_with_the_server_status(
    scripted: list[RawProxy],
) -> None:
    proxy = await start(scripted, *FAST, "--max-restarts", "1")
    await proxy.initialize()
    assert (await crash(proxy, 1, status=9))["error"]["code"] == codes.UPSTREAM_UNAVAILABLE
    assert (await crash(proxy, 2, status=5))["error"]["code"] == codes.UPSTREAM_UNAVAILABLE
    with anyio.fail_after(10):
        assert await proxy.process.wait() == 5
    assert "giving up after 1 restart(s)" in proxy.stderr


async def test_a_clean_exit_of_the_server_ends_the_proxy_without_a_restart(scripted: list[RawProxy]) -> None:
    proxy = await start(scripted, *FAST)
    await proxy.initialize()
    await proxy.request(1, "exit-clean-on-request")
    with anyio.fail_after(10):
        assert await proxy.process.wait() == 0
    assert "restarting" not in proxy.stderr


async def test_a_sessionless_client_gets_no_replayed_initialize(scripted: list[RawProxy]) -> None:
    proxy = await start(scripted, *FAST)
    assert (await proxy.request(1, "tools/list"))["result"] == {"echo": None}
    await crash(proxy, 2)
    seen = await proxy.request(3, "script/received")
    assert seen["result"]["received"] == []
    assert await proxy.close() == 0
