"""Connection storm: far more connections than ``--max-connections`` allows, held open.

The proxy keeps at most the limit open, answers the rest with a clean HTTP 503 at once, and
serves new clients again when the storm is over.
"""

import asyncio
from urllib.parse import urlsplit

import anyio
import pytest
from mcp import Client

LIMIT = 20
STORM = 100


@pytest.mark.asyncio
@pytest.mark.mcpchaos(proxy_args=["--max-connections", str(LIMIT)])
async def test_a_connection_storm_gets_clean_503s_and_the_proxy_serves_again_after_it(mcpchaos):
    url = urlsplit(mcpchaos.url)
    held: list[asyncio.StreamWriter] = []

    async def connect() -> bytes:
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        held.append(writer)
        try:
            return await asyncio.wait_for(reader.read(12), 0.5)  # a rejection comes at once
        except TimeoutError:
            return b""  # accepted, idle: it holds one of the proxy's connection slots

    answers = await asyncio.gather(*(connect() for _ in range(STORM)))
    rejected = sum(answer.startswith(b"HTTP/1.1 503") for answer in answers)
    accepted = answers.count(b"")
    assert accepted <= LIMIT
    assert rejected + accepted == STORM, "every connection over the limit gets a clean 503"
    assert (await mcpchaos.ametrics())["connections"]["active"] <= LIMIT

    for writer in held:
        writer.close()

    # The proxy notices the closed connections within moments; then new clients get in.
    with anyio.fail_after(5):
        while True:
            try:
                async with Client(mcpchaos.url, mode="legacy") as client:
                    assert not (await client.call_tool("echo", {"text": "after"})).is_error
                    break
            except Exception:
                await asyncio.sleep(0.1)
