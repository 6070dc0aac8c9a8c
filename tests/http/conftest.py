from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from mcpchaos.proxy.http import HttpOptions, HttpProxy

from .recording_upstream import RecordingUpstream
from .servers import demo_http_server

SERVER_MODES = {"sse": (), "stateless": ("--stateless",), "json": ("--json-response",)}


@pytest.fixture(scope="session", params=sorted(SERVER_MODES))
def upstream_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The demo server in each Streamable HTTP mode (stateful SSE, stateless, JSON responses)."""
    with demo_http_server(*SERVER_MODES[request.param]) as url:
        yield url


async def start_proxy(upstream: str, options: HttpOptions | None = None, chain: object = None) -> HttpProxy:
    proxy = HttpProxy(upstream, chain, options)  # type: ignore[arg-type]
    await proxy.start("127.0.0.1", 0)
    return proxy


@pytest.fixture
async def proxy_for(upstream_url: str) -> AsyncIterator[HttpProxy]:
    proxy = await start_proxy(upstream_url)
    try:
        yield proxy
    finally:
        await proxy.stop()


def url_of(proxy: HttpProxy) -> str:
    return f"http://127.0.0.1:{proxy.port}{proxy.mcp_path}"


@pytest.fixture
async def upstream() -> AsyncIterator[RecordingUpstream]:
    """The scripted upstream that records what reaches it (tests/http/recording_upstream.py)."""
    server = RecordingUpstream()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
