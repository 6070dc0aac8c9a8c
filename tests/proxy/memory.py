"""In-memory endpoints and helpers for pump and chain tests."""

from __future__ import annotations

import asyncio

from mcpchaos.intercept.chain import InterceptorChain
from mcpchaos.intercept.context import Context, Session
from mcpchaos.protocol.messages import Direction, Message
from mcpchaos.proxy.pump import Pump


class MemoryEndpoint:
    """Records what the pump sends; can be closed to simulate a dead side."""

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.closed = False
        self._arrived = asyncio.Event()

    def send(self, message: Message) -> bool:
        if self.closed:
            return False
        self.sent.append(message)
        self._arrived.set()
        return True

    def close(self) -> None:
        self.closed = True

    async def wait_for(self, count: int, within: float = 2.0) -> list[Message]:
        """Wait (bounded) until at least ``count`` messages were sent here."""
        async with asyncio.timeout(within):
            while len(self.sent) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.sent


def make_pump(
    chain: InterceptorChain | None = None, client: MemoryEndpoint | None = None
) -> tuple[Pump, MemoryEndpoint, MemoryEndpoint]:
    client, server = client if client is not None else MemoryEndpoint(), MemoryEndpoint()
    session = Session(id="test-1", ordinal=1, transport="memory")
    pump = Pump(session, chain if chain is not None else InterceptorChain(), client, server)
    return pump, client, server


def context(direction: Direction = Direction.CLIENT_TO_SERVER) -> Context:
    return Context(Session("ctx", 1, "memory"), direction, 0, 0.0)
