"""The pre-flight check of a run's target: real servers pass, the rest fail with why."""

from __future__ import annotations

import sys
import time

import pytest
from aiohttp import web

from mcpchaos.harness.preflight import TargetCheckError, check_target
from mcpchaos.harness.stack import TargetSpec
from mcpchaos.protocol.client_wire import SESSION_ERA, SESSIONLESS_ERA
from tests.http.servers import demo_http_server

DEMO_STDIO = [sys.executable, "-m", "mcpchaos", "demo-server", "--transport", "stdio"]


@pytest.mark.parametrize("protocol", [SESSION_ERA, SESSIONLESS_ERA])
async def test_the_demo_server_over_stdio_passes_in_either_era(protocol: str) -> None:
    await check_target(TargetSpec(kind="command", command=tuple(DEMO_STDIO)), protocol)


async def test_the_demo_server_over_http_passes() -> None:
    with demo_http_server() as url:
        await check_target(TargetSpec.parse(url), SESSION_ERA)


async def test_a_server_that_never_answers_fails_at_the_start_up_bound() -> None:
    command = (
        sys.executable,
        "-c",
        "import sys, time; print('thinking', file=sys.stderr, flush=True); time.sleep(60)",
    )
    started = time.monotonic()
    with pytest.raises(TargetCheckError) as raised:
        await check_target(TargetSpec(kind="command", command=command), SESSION_ERA, within_s=1.0)
    assert time.monotonic() - started < 10  # the server was stopped, not waited for
    message = str(raised.value)
    assert "no answer to initialize within 1 s" in message
    assert message.endswith("its stderr ends with:\n  thinking")
    assert raised.value.exit_code == 2


async def test_a_web_server_that_is_not_mcp_is_told_apart() -> None:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<html>hello</html>", content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        with pytest.raises(
            TargetCheckError, match="the answer to initialize is not JSON-RPC: is it an MCP server"
        ):
            await check_target(TargetSpec.parse(f"http://127.0.0.1:{port}/mcp"), SESSION_ERA)
    finally:
        await runner.cleanup()
