"""An injected ``timeout`` answers in the server's place, so it must behave as a server does: a
request the client cancelled (``notifications/cancelled``) gets nothing. (The TypeScript SDK
client reported "Received a response for an unknown message ID" for each one it did get.)
Through the real proxy over pipes and over HTTP, with the demo server behind it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from mcpchaos.config.faults import FaultConfig
from mcpchaos.config.load import validate
from mcpchaos.faults.injector import FaultInjector
from mcpchaos.history import check
from mcpchaos.intercept.chain import InterceptorChain
from mcpchaos.intercept.context import Context
from mcpchaos.observe.history import HistoryRecorder
from mcpchaos.protocol import codes
from mcpchaos.protocol.messages import Message
from mcpchaos.proxy.http import HttpProxy
from tests.http.mcp import HEADERS, INITIALIZE
from tests.rawpeer import DEMO_SERVER, RawProxy

TIMEOUT_MS = 300
CONFIG: dict[str, Any] = {
    "seed": 1,
    "rules": [
        {
            "name": "timeouts",
            "match": {"methods": ["tools/call"]},
            "enabled_faults": {"error": True},
            "error_config": {"types": ["timeout"], "timeout_ms": TIMEOUT_MS},
        },
        {
            # A marker that leaves after the timeout would have fired: its answer comes later.
            "name": "marker",
            "match": {"methods": ["ping"]},
            "enabled_faults": {"delay": True},
            "delay_ms": {"min_ms": 2 * TIMEOUT_MS, "max_ms": 2 * TIMEOUT_MS, "jitter": False},
        },
    ],
}


def call(request_id: int) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": "echo", "arguments": {}},
    }


def cancel(request_id: int) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": request_id}}


async def test_on_stdio_a_cancelled_request_gets_no_injected_timeout_and_others_still_do(
    tmp_path: Path,
) -> None:
    profile = tmp_path / "faults.yaml"
    profile.write_text(yaml.safe_dump(CONFIG))
    proxy = await RawProxy.start(DEMO_SERVER, "--faults", str(profile))
    try:
        await proxy.initialize()
        await proxy.send(call(2))
        await proxy.send(cancel(2))
        await proxy.send({"jsonrpc": "2.0", "id": 3, "method": "ping"})  # answered after 2's timeout was due
        seen = []
        while (message := await proxy.read(within=10)).get("id") != 3:
            seen.append(message)
        await proxy.send(call(4))
        while (message := await proxy.read(within=10)).get("id") != 4:
            seen.append(message)
        assert message["error"]["code"] == codes.INJECTED_TIMEOUT  # not cancelled: answered
        assert all(m.get("id") != 2 for m in seen)
    finally:
        await proxy.close()
    assert "Traceback" not in proxy.stderr


async def test_on_http_a_cancelled_request_s_stream_ends_empty_instead_of_carrying_the_timeout(
    stateful_url: str,
) -> None:
    seen = asyncio.Event()

    class SeeCall:
        name = "see-call"

        def intercept(self, message: Message, ctx: Context) -> None:
            if message.id == 2 and message.method == "tools/call":
                seen.set()

    chain = InterceptorChain([SeeCall(), FaultInjector(validate(FaultConfig, CONFIG))])
    recorder = chain.recorder = HistoryRecorder()  # the history checker judges the wire too
    proxy = HttpProxy(stateful_url, chain)
    await proxy.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{proxy.port}/mcp"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            async with http.post(url, json=INITIALIZE, headers=HEADERS) as response:
                session = {**HEADERS, "Mcp-Session-Id": response.headers["Mcp-Session-Id"]}
                await response.read()

            async def post(body: dict[str, Any]) -> tuple[int, bytes]:
                async with http.post(url, json=body, headers=session) as answer:
                    return answer.status, await answer.read()

            cancelled = asyncio.create_task(post(call(2)))
            await asyncio.wait_for(seen.wait(), 5)  # the cancellation must follow the call in
            assert (await post(cancel(2)))[0] == 202
            status, body = await asyncio.wait_for(cancelled, 5)
            assert status == 200
            assert b'"id":2' not in body  # the stream ended with nothing for the cancelled id
            status, body = await post(call(3))
            assert b"Request timed out" in body  # not cancelled: the injected timeout answers it
    finally:
        await proxy.stop()
    # Before the fix the checker named rule nothing_after_cancel for request 2.
    assert check(recorder.histories()).violations == []
