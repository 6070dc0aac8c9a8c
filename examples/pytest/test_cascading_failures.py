"""Cascading failure: client → proxy → server A → (its relay tool) → proxy → server B.

B hangs. With a circuit breaker in the proxy in front of B, calls to B fail fast once the
breaker opens, so they stop holding A's two workers and A's own tools keep answering.
"""

import asyncio

import anyio
import pytest
from mcp import Client, MCPError

# B's proxy: give up on B after 0.5 s; open the breaker after 3 failures within 1 s, for 1 s.
BREAKER = ["--upstream-timeout", "0.5", "--breaker", "--breaker-min", "3", "--breaker-window", "1"]
BREAKER += ["--breaker-open", "1"]


async def relay(client: Client, text: str) -> bool:
    """True when the relay through B worked (A reports B's failure as a JSON-RPC error)."""
    try:
        return not (await client.call_tool("relay", {"text": text})).is_error
    except MCPError:
        return False


@pytest.mark.asyncio
async def test_a_hung_dependency_behind_a_breaker_does_not_starve_the_servers_own_tools(mcpchaos_factory):
    b = mcpchaos_factory("demo --stateless --json-response", BREAKER, name="b")
    a = mcpchaos_factory(f"demo --downstream {b.url} --workers 2", name="a")

    async with Client(a.url, mode="legacy") as client:
        assert await relay(client, "via B")

        async with b.upstream_paused():  # B hangs (SIGSTOP) inside this block
            # More relay calls than A has workers: the first ones wait out the 0.5 s timeout
            # and open the breaker, the rest fail fast.
            assert not any(await asyncio.gather(*(relay(client, "x") for _ in range(6))))
            # A's own tool, which never touches B, still answers promptly.
            with anyio.fail_after(1.0):
                for _ in range(5):
                    assert not (await client.call_tool("echo", {"text": "local"})).is_error

        # B is back: the breaker lets a trial call through after 1 s and closes again.
        for _ in range(50):
            if await relay(client, "again"):
                break
            await asyncio.sleep(0.2)
        else:
            pytest.fail("the relay through B did not work again within 10 s")

    transitions = (await b.ametrics())["breaker"]["transitions"]
    assert transitions, "the breaker in front of B never opened"
