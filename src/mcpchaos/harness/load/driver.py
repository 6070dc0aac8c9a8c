"""The load driver: closed-loop clients or an open-loop arrival schedule over MCP sessions.

Closed loop: ``clients`` tasks, each handshake → request → outcome → think time, again.
Open loop: one scheduler emits arrivals every ``1/rate_per_s`` seconds whatever the answers
(so queueing in the system under test shows as latency and failures, not as fewer
requests), each arrival runs on the next session round-robin as its own task, at most
``max_in_flight`` at once; arrivals over that end at once as transport ``client_overload``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import aiohttp

from mcpchaos.deadlines import Deadlines
from mcpchaos.harness.load.fast_http import FastHttpClient
from mcpchaos.harness.load.fast_stdio import StdioClient
from mcpchaos.harness.load.recorder import Recorder, Ticket
from mcpchaos.harness.load.sdk_client import SdkClient
from mcpchaos.harness.load.settings import LoadSettings, Operation
from mcpchaos.harness.load.wire import Chooser, PreparedOp, prepare
from mcpchaos.protocol.client_wire import SESSIONLESS_ERA

_FAILURE_PAUSE_S = 0.01
"""A closed-loop client whose request never left (refused connection, lost session) pauses
this long before the next one, so an outage does not turn into a CPU-burning spin."""


@dataclass(frozen=True)
class HttpTarget:
    """An MCP server (or the proxy) over Streamable HTTP."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    """Extra headers on every request (e.g. Authorization)."""


@dataclass(frozen=True)
class StdioTarget:
    """An MCP server command: each client spawns its own process and speaks NDJSON to it."""

    command: Sequence[str]
    env: Mapping[str, str] | None = None


class _Client(Protocol):
    async def open(self) -> None: ...
    async def call(self, op: PreparedOp, ticket: Ticket) -> None: ...
    def drop_session(self) -> None: ...
    async def close(self) -> None: ...


def _uses_sdk(index: int, share: float) -> bool:
    """Spread SDK clients evenly: client ``i`` is one when the running share crosses an integer."""
    return int((index + 1) * share + 1e-9) > int(index * share + 1e-9)


class LoadDriver:
    """Drives load at a target and records every request in a :class:`Recorder`."""

    def __init__(self, target: HttpTarget | StdioTarget, settings: LoadSettings, recorder: Recorder) -> None:
        self._target = target
        self._settings = settings
        self._recorder = recorder
        self._ops = [prepare(op, settings.protocol) for op in settings.mix]
        self._weights = [op.weight for op in settings.mix]
        self._http: aiohttp.ClientSession | None = None
        self._clients: list[_Client] = []
        self._choosers: list[Chooser] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._requests: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._sessions_opened = 0
        self.ready_after_s: float | None = None
        self._deadlines = Deadlines(settings.deadline_s) if settings.deadline_s is not None else None

    @property
    def settings(self) -> LoadSettings:
        return self._settings

    @property
    def sessions_opened(self) -> int:
        """Handshakes done, re-initializations included (sessionless clients: once each)."""
        return self._sessions_opened

    def _count_session(self) -> None:
        self._sessions_opened += 1

    def _make_client(self, index: int) -> _Client:
        s = self._settings
        target = self._target
        if isinstance(target, StdioTarget):
            return StdioClient(
                target.command, target.env, s.protocol, s.reinitialize, s.deadline_s, self._recorder,
                self._count_session, startup_s=s.startup_s,
            )  # fmt: skip
        if _uses_sdk(index, s.sdk_share):
            return SdkClient(
                target.url, s.protocol, s.reinitialize, s.deadline_s, self._recorder, self._count_session
            )
        assert self._http is not None
        return FastHttpClient(
            self._http, target.url, target.headers, s.protocol, s.reinitialize, s.deadline_s,
            self._recorder, self._count_session, self._deadlines, s.startup_s,
        )  # fmt: skip

    async def start(self) -> None:
        """Open every session (the era's handshake), then start the load; returns once it runs.
        A client whose handshake fails retries it on its first request (which records the failure)."""
        s = self._settings
        if isinstance(self._target, HttpTarget):
            # Open loop: one connection per request in flight, or the pool would queue them
            # inside the client and hide the overload from the system under test.
            limit = (s.clients if s.mode == "closed" else max(s.clients, s.max_in_flight)) + 4
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=limit), timeout=aiohttp.ClientTimeout(total=None)
            )
        self._clients = [self._make_client(i) for i in range(s.clients)]
        self._choosers = [Chooser(self._ops, self._weights, s.seed + i) for i in range(s.clients)]
        began = time.monotonic()
        await asyncio.gather(*(self._open_quietly(c) for c in self._clients))
        self.ready_after_s = time.monotonic() - began  # the sessions' start: servers and handshakes
        if s.mode == "closed":
            for index in range(s.clients):
                self._spawn(self._closed_loop(index))
        else:
            self._spawn(self._arrivals())

    def _spawn(self, coroutine: object) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coroutine)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _open_quietly(client: _Client) -> None:
        with contextlib.suppress(Exception):
            await client.open()

    async def _closed_loop(self, index: int) -> None:
        client = self._clients[index]
        chooser = self._choosers[index]
        recorder = self._recorder
        think = self._settings.think_time_s
        while not self._stopping:
            ticket = recorder.begin()
            await client.call(chooser.next(), ticket)
            if think:
                await asyncio.sleep(think)
            elif not ticket.sent:
                await asyncio.sleep(_FAILURE_PAUSE_S)

    async def _arrivals(self) -> None:
        s = self._settings
        loop = asyncio.get_running_loop()
        interval = 1.0 / s.rate_per_s
        recorder = self._recorder
        count = len(self._clients)
        arrival = 0
        next_at = loop.time()
        while not self._stopping:
            delay = next_at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -1.0:
                next_at = loop.time()  # the loop stalled for a second: do not fire a burst to catch up
            if self._stopping:
                break
            ticket = recorder.begin()
            if len(self._requests) >= s.max_in_flight:
                recorder.transport(ticket, "client_overload")
            else:
                index = arrival % count
                task = asyncio.create_task(self._clients[index].call(self._choosers[index].next(), ticket))
                self._requests.add(task)
                task.add_done_callback(self._requests.discard)
            arrival += 1
            next_at += interval

    async def stop(self, grace_s: float = 1.0) -> None:
        """Stop issuing; wait for requests in flight up to their deadline plus ``grace_s``
        (deadline None: ``grace_s`` only); then cancel what is left (it stays without an
        outcome: :meth:`Recorder.finish` counts it as hung) and close every session."""
        self._stopping = True
        deadline = self._settings.deadline_s
        wait_s = grace_s + (deadline or 0.0)
        pending = self._tasks | self._requests
        if pending:
            _, still = await asyncio.wait(pending, timeout=wait_s)
            for task in still:
                task.cancel()
            if still:
                await asyncio.wait(still, timeout=grace_s + 1.0)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace_s + 3.0):
                await asyncio.gather(*(c.close() for c in self._clients), return_exceptions=True)
        if self._http is not None:
            await self._http.close()
            self._http = None

    def reconnect_all(self) -> None:
        """Every client drops its session and re-initializes at once (a thundering herd)."""
        for client in self._clients:
            client.drop_session()
        for client in self._clients:
            self._spawn(self._open_quietly(client))


async def open_sessions(
    url: str, count: int, concurrency: int = 50, protocol: str = "2025-11-25", timeout_s: float = 5.0
) -> tuple[int, int]:
    """Memory-pressure helper: ``count`` handshakes left open (no DELETE); (succeeded, failed).

    2025-11-25: ``initialize`` + ``notifications/initialized``. 2026-07-28 has no handshake,
    so each "session" is one sessionless ``server/discover`` request. Never raises for a
    failed handshake.
    """
    recorder = Recorder()
    gate = asyncio.Semaphore(concurrency)
    discover = prepare(Operation(name="discover", method="server/discover"), protocol)
    results: list[bool] = []

    async def one(http: aiohttp.ClientSession) -> None:
        async with gate:
            client = FastHttpClient(
                http, url, {}, protocol, False, timeout_s, recorder, lambda: None, startup_s=timeout_s
            )
            if protocol == SESSIONLESS_ERA:
                ticket = recorder.begin()
                await client.call(discover, ticket)
                results.append(ticket.outcome == "ok")
                return
            try:
                await client.open()
            except Exception:
                results.append(False)
            else:
                results.append(True)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None)) as http:
        await asyncio.gather(*(one(http) for _ in range(count)))
    succeeded = sum(results)
    return succeeded, count - succeeded
