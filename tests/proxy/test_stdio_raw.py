"""The stdio proxy driven by hand over real pipes: handshake, bad input, crashes, exit codes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from mcpchaos.protocol import codes
from tests.rawpeer import DEMO_SERVER, SCRIPTED_SERVER, RawProxy


@pytest.fixture
async def demo_proxy() -> AsyncIterator[RawProxy]:
    proxy = await RawProxy.start(DEMO_SERVER)
    try:
        yield proxy
    finally:
        await proxy.kill()


@pytest.fixture
async def scripted_proxy() -> AsyncIterator[RawProxy]:
    proxy = await RawProxy.start(SCRIPTED_SERVER, "--max-message-bytes", "1MiB")
    try:
        yield proxy
    finally:
        await proxy.kill()


async def test_the_2025_11_25_handshake_by_hand_through_the_proxy(demo_proxy: RawProxy) -> None:
    reply = await demo_proxy.initialize("2025-11-25")
    assert reply["result"]["protocolVersion"] == "2025-11-25"
    assert reply["result"]["serverInfo"]["name"] == "mcpchaos-demo"
    tools = await demo_proxy.request(1, "tools/list", {})
    assert "echo" in {tool["name"] for tool in tools["result"]["tools"]}
    echoed = await demo_proxy.request(2, "tools/call", {"name": "echo", "arguments": {"text": "hé ✓"}})
    assert echoed["result"]["content"][0]["text"] == "hé ✓"
    assert await demo_proxy.close() == 0


@pytest.mark.parametrize(
    ("line", "expected_id", "code"),
    [
        (b"{this is not json\n", None, codes.PARSE_ERROR),
        (b'[{"jsonrpc":"2.0","id":5,"method":"ping"}]\n', None, codes.INVALID_REQUEST),
        (b"12345\n", None, codes.INVALID_REQUEST),
        (b'{"id":77,"method":"tools/list"}\n', 77, codes.INVALID_REQUEST),
        (b'{"jsonrpc":"2.0","id":4.0,"method":"tools/list"}\n', 4.0, codes.INVALID_REQUEST),
        (
            b'{"jsonrpc":"2.0","id":78,"method":"tools/list","params":{"a":"\xff\xfe"}}\n',
            None,
            codes.PARSE_ERROR,
        ),
    ],
)
async def test_bad_input_from_the_client_is_answered_and_the_session_goes_on(
    demo_proxy: RawProxy, line: bytes, expected_id: object, code: int
) -> None:
    await demo_proxy.initialize()
    await demo_proxy.write(line)
    answer = await demo_proxy.read()
    assert answer["id"] == expected_id
    assert answer["error"]["code"] == code
    still = await demo_proxy.request(10, "tools/call", {"name": "echo", "arguments": {"text": "ok"}})
    assert still["result"]["content"][0]["text"] == "ok"
    assert await demo_proxy.close() == 0
    assert "invalid message client_to_server" in demo_proxy.stderr


async def test_a_client_line_over_the_limit_is_answered_with_its_id() -> None:
    proxy = await RawProxy.start(DEMO_SERVER, "--max-message-bytes", "64KiB")
    try:
        await proxy.initialize()
        huge = b'{"jsonrpc":"2.0","id":31,"method":"tools/call","params":{"name":"echo","arguments":{"text":"'
        await proxy.write(huge + b"x" * 200_000 + b'"}}}\n')
        answer = await proxy.read()
        assert answer["id"] == 31
        assert answer["error"]["code"] == codes.INVALID_REQUEST
        assert "exceeds the limit" in answer["error"]["message"]
        still = await proxy.request(32, "tools/call", {"name": "echo", "arguments": {"text": "y" * 1000}})
        assert still["result"]["content"][0]["text"] == "y" * 1000
        assert await proxy.close() == 0
    finally:
        await proxy.kill()


@pytest.mark.parametrize("method", ["bad/parse", "bad/array", "bad/utf8"])
async def test_garbage_from_the_server_is_logged_and_the_session_goes_on(
    scripted_proxy: RawProxy, method: str
) -> None:
    await scripted_proxy.initialize()
    reply = await scripted_proxy.request(1, method)
    assert "result" in reply
    assert (await scripted_proxy.request(2, "echo", {"x": 1}))["result"] == {"echo": {"x": 1}}
    assert await scripted_proxy.close() == 0
    assert "invalid message server_to_client" in scripted_proxy.stderr


@pytest.mark.parametrize("method", ["bad/nojsonrpc", "bad/truncated"])
async def test_a_malformed_response_from_the_server_becomes_an_error_for_its_request(
    scripted_proxy: RawProxy, method: str
) -> None:
    await scripted_proxy.initialize()
    reply = await scripted_proxy.request("req-1", method)
    assert reply["error"]["code"] == codes.UPSTREAM_INVALID_RESPONSE
    assert (await scripted_proxy.request(2, "echo"))["result"] == {"echo": None}


async def test_an_oversized_response_from_the_server_becomes_an_error(scripted_proxy: RawProxy) -> None:
    await scripted_proxy.initialize()
    reply = await scripted_proxy.request(5, "bad/oversized", {"size": 2_000_000})
    assert reply["error"]["code"] == codes.UPSTREAM_INVALID_RESPONSE
    assert "exceeds the limit" in reply["error"]["message"]
    small = await scripted_proxy.request(6, "bad/oversized", {"size": 10})
    assert small["result"]["blob"] == "x" * 10


async def test_an_invalid_request_from_the_server_is_answered_to_the_server(scripted_proxy: RawProxy) -> None:
    await scripted_proxy.initialize()
    await scripted_proxy.request(1, "bad/server-request")
    received = (await scripted_proxy.request(2, "script/received"))["result"]["received"]
    answers = [m for m in received if isinstance(m, dict) and m.get("id") == "s-1"]
    assert answers
    assert answers[0]["error"]["code"] == codes.INVALID_REQUEST


async def test_a_server_crash_answers_the_request_in_flight_within_a_second() -> None:
    proxy = await RawProxy.start(SCRIPTED_SERVER)
    try:
        await proxy.initialize()
        await proxy.send({"jsonrpc": "2.0", "id": "pending-a", "method": "crash", "params": {"status": 7}})
        started = time.monotonic()
        answer = await proxy.read(within=1.0)
        elapsed = time.monotonic() - started
        assert answer["id"] == "pending-a"
        assert answer["error"]["code"] == codes.UPSTREAM_UNAVAILABLE
        assert "exited" in answer["error"]["message"]
        assert elapsed < 1.0
        assert await proxy.close() == 7  # the server's status propagates
        assert "exited with status 7" in proxy.stderr
    finally:
        await proxy.kill()


async def test_the_demo_server_crashing_mid_tool_call_is_reported_to_the_sdk_style_client(
    demo_proxy: RawProxy,
) -> None:
    await demo_proxy.initialize()
    await demo_proxy.send(
        {
            "jsonrpc": "2.0",
            "id": 40,
            "method": "tools/call",
            "params": {"name": "slow", "arguments": {"seconds": 30}},
        }
    )
    await demo_proxy.send(
        {
            "jsonrpc": "2.0",
            "id": 41,
            "method": "tools/call",
            "params": {"name": "fail", "arguments": {"mode": "crash"}},
        }
    )
    answers: dict[int, dict[str, Any]] = {}
    async with asyncio.timeout(5):
        while len(answers) < 2:
            message = await demo_proxy.read()
            if "id" in message and "method" not in message:
                answers[message["id"]] = message
    assert answers[40]["error"]["code"] == codes.UPSTREAM_UNAVAILABLE
    assert answers[41]["error"]["code"] == codes.UPSTREAM_UNAVAILABLE
    assert await demo_proxy.close() == 3


async def test_a_server_command_that_does_not_exist_exits_127_with_a_clear_message() -> None:
    proxy = await RawProxy.start(["/nonexistent/mcp-server"])
    try:
        assert await proxy.close() == 127
        assert "not found" in proxy.stderr
    finally:
        await proxy.kill()


async def test_a_server_that_exits_cleanly_gives_status_0(scripted_proxy: RawProxy) -> None:
    await scripted_proxy.initialize()
    reply = await scripted_proxy.request(1, "exit-clean-on-request")
    assert reply["result"] == {}
    assert await scripted_proxy.close() == 0


async def test_stopping_the_server_also_stops_what_it_started(tmp_path: Any) -> None:
    import psutil

    marker = tmp_path / "grandchild.pid"
    script = f"sleep 30 & echo $! > {marker}; exec {' '.join(DEMO_SERVER)}"
    proxy = await RawProxy.start(["sh", "-c", script])
    try:
        await proxy.initialize()
        async with asyncio.timeout(5):
            while not marker.exists() or not marker.read_text().strip():  # noqa: ASYNC110 - bounded
                await asyncio.sleep(0.02)
        grandchild = int(marker.read_text())
        assert psutil.pid_exists(grandchild)
        assert await proxy.close() == 0
        async with asyncio.timeout(5):
            while alive(grandchild):  # noqa: ASYNC110 - bounded wait for the process to go
                await asyncio.sleep(0.02)
    finally:
        await proxy.kill()


def alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def test_a_request_still_pending_when_the_proxy_shuts_down_gets_an_error_not_silence() -> None:
    # A server that reads and never answers: the client writes its request and closes stdin.
    proxy = await RawProxy.start(["sh", "-c", "cat >/dev/null"], "--shutdown-grace", "0.3")
    try:
        await proxy.send({"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert proxy.process.stdin is not None
        proxy.process.stdin.close()
        reply = await proxy.read(within=20)
        assert reply["id"] == 1
        assert reply["error"]["code"] == codes.UPSTREAM_UNAVAILABLE
        assert "did not answer before the proxy shut down" in reply["error"]["message"]
        assert await proxy.close(within=20) == 0
    finally:
        await proxy.kill()


def test_a_client_that_does_not_read_its_error_answers_stops_being_read_not_buffered() -> None:
    import os
    import subprocess
    import sys
    import threading

    import psutil

    # A real pipe on the proxy's stdout that nobody reads (asyncio's subprocess pipes would read
    # it eagerly into memory); the proxy itself answers each malformed line it gets.
    proxy = subprocess.Popen(
        [sys.executable, "-m", "mcpchaos", "proxy", "--", "sh", "-c", "cat >/dev/null"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proxy.stdin is not None
    assert proxy.stdout is not None
    try:
        proxy.stdin.write(b"x\n")
        proxy.stdin.flush()
        assert b'"code":-32700' in proxy.stdout.readline()  # it is up
        process = psutil.Process(proxy.pid)
        baseline = process.memory_info().rss
        # 100,000 malformed lines (2 MB), each answered with ~100 bytes: far more than the
        # pipes and the write buffer on the way hold, so a proxy that read them all would queue MBs.
        junk = (b"x" * 19 + b"\n") * 10_000
        written = threading.Event()

        def flood() -> None:
            assert proxy.stdin is not None
            for _ in range(10):
                proxy.stdin.write(junk)
                proxy.stdin.flush()
            written.set()

        threading.Thread(target=flood, daemon=True).start()
        # Nobody reads the answers: the proxy must stop reading (our writes then block), which
        # shows as its CPU time standing still while our writes are not done.
        cpu, still_since, give_up = sum(process.cpu_times()[:2]), time.monotonic(), time.monotonic() + 90
        while not written.wait(0.2) and time.monotonic() - still_since < 1.5:
            assert time.monotonic() < give_up, "the proxy neither stopped reading nor read everything"
            now = sum(process.cpu_times()[:2])
            if now - cpu > 0.02:
                cpu, still_since = now, time.monotonic()
        assert not written.is_set(), "all 100,000 lines were read although no answer was"
        assert process.memory_info().rss - baseline < 30 * 1024 * 1024
        # Reading the answers lets the rest in; the session goes on.
        while not written.is_set():
            assert os.read(proxy.stdout.fileno(), 1 << 20), "the proxy closed its stdout"
        proxy.stdin.write(b'{"jsonrpc": "2.0", "id": "after", "method": 7}\n')
        proxy.stdin.flush()
        while b'"id":"after"' not in (line := proxy.stdout.readline()):
            assert line, "the proxy closed its stdout"
    finally:
        proxy.kill()
        proxy.wait(30)
