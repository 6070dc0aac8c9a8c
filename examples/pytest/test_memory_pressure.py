"""Memory pressure: many more sessions than ``--max-sessions``, none of them closed.

The proxy evicts the least recently used sessions, so its memory stays bounded, and a new
client still gets a working session.
"""

import psutil
import pytest
from mcp import Client

from mcpchaos.harness.load import open_sessions

LIMIT = 20
SESSIONS = 200


@pytest.mark.asyncio
@pytest.mark.mcpchaos(proxy_args=["--max-sessions", str(LIMIT)])
async def test_sessions_beyond_the_limit_evict_the_oldest_and_memory_stays_bounded(mcpchaos):
    proxy = psutil.Process((await mcpchaos.ahealth())["pid"])
    rss_before = proxy.memory_info().rss

    # SESSIONS handshakes (initialize + initialized) with the fast load client, never closed.
    # Fewer at once than the limit, or a session could be evicted in the middle of its own
    # handshake (a legitimate 404, but not what this test is about).
    opened, failed = await open_sessions(mcpchaos.url, SESSIONS, concurrency=5)
    assert (opened, failed) == (SESSIONS, 0)

    sessions = (await mcpchaos.ametrics())["sessions"]
    assert sessions["active"] <= LIMIT
    assert sessions["evicted"] >= SESSIONS - LIMIT
    assert proxy.memory_info().rss - rss_before < 64 * 2**20

    async with Client(mcpchaos.url, mode="legacy") as client:
        assert not (await client.call_tool("echo", {"text": "still here"})).is_error
