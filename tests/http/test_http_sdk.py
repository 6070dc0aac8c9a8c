"""The official MCP SDK client and server over Streamable HTTP, through the proxy."""

from __future__ import annotations

import aiohttp
import pytest

from mcpchaos.proxy.http import HttpProxy
from tests.http.mcp import HEADERS, INITIALIZE
from tests.sdk_sessions import MODES, progress_and_logs, scripted_session, server_to_client_requests

from .conftest import start_proxy, url_of


@pytest.mark.parametrize("mode", MODES)
async def test_results_through_the_proxy_equal_a_direct_connection(
    upstream_url: str, proxy_for: HttpProxy, mode: str
) -> None:
    through_proxy = await scripted_session(url_of(proxy_for), mode)
    direct = await scripted_session(upstream_url, mode)
    assert through_proxy == direct
    assert through_proxy["protocol"] == ("2025-11-25" if mode == "legacy" else "2026-07-28")
    assert through_proxy["echo"]["content"][0]["text"] == "héllo ✓ 😀"


@pytest.mark.parametrize("mode", MODES)
async def test_progress_and_logging_arrive_through_the_proxy_as_they_do_directly(
    upstream_url: str, proxy_for: HttpProxy, mode: str, request: pytest.FixtureRequest
) -> None:
    through_proxy = await progress_and_logs(url_of(proxy_for), mode)
    assert through_proxy == await progress_and_logs(upstream_url, mode)
    if request.node.callspec.params["upstream_url"] != "json":  # JSON bodies carry no notifications
        progress_values, logs = through_proxy
        assert progress_values == [1, 2, 3, 4]
        assert any("sleeping" in line for line in logs)


async def test_server_to_client_requests_pass_through_the_proxy(stateful_url: str) -> None:
    proxy = await start_proxy(stateful_url)
    try:
        texts = await server_to_client_requests(url_of(proxy))
    finally:
        await proxy.stop()
    assert texts[0] == "confirmed=True"
    assert texts[1] == "sampled!"
    assert "file:///tmp/project" in texts[2]


async def test_a_session_lives_until_deleted_then_404_and_a_new_initialize_works(stateful_url: str) -> None:
    proxy = await start_proxy(stateful_url)
    url = url_of(proxy)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(url, json=INITIALIZE, headers=HEADERS) as response:
                assert response.status == 200
                session_id = response.headers["Mcp-Session-Id"]
                await response.read()
            assert session_id in proxy.sessions
            session_headers = {**HEADERS, "Mcp-Session-Id": session_id, "MCP-Protocol-Version": "2025-11-25"}
            async with http.post(
                url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=session_headers
            ) as response:
                assert response.status == 202
            ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
            async with http.post(url, json=ping, headers=session_headers) as response:
                assert response.status == 200
                assert b'"result"' in await response.read()
            async with http.delete(url, headers=session_headers) as response:
                assert response.status in (200, 204)
            assert session_id not in proxy.sessions
            async with http.post(url, json=ping, headers=session_headers) as response:
                assert response.status == 404  # the upstream's answer for an unknown session, passed through
            async with http.post(url, json=INITIALIZE, headers=HEADERS) as response:
                assert response.status == 200
                assert response.headers["Mcp-Session-Id"] != session_id
    finally:
        await proxy.stop()


async def test_a_2026_07_28_server_answers_405_to_get_and_delete_through_the_proxy(stateful_url: str) -> None:
    proxy = await start_proxy(stateful_url)
    headers = {"Accept": "text/event-stream", "MCP-Protocol-Version": "2026-07-28"}
    try:
        async with aiohttp.ClientSession() as http:
            for method in ("GET", "DELETE"):
                async with http.request(method, url_of(proxy), headers=headers) as response:
                    assert response.status == 405
                    assert "POST" in response.headers.get("Allow", "")
    finally:
        await proxy.stop()
