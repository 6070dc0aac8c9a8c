"""The stdio proxy run inside the test process: interceptors, failure policy, leaks."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import orjson
import psutil

from mcpchaos.intercept.chain import FailurePolicy, InterceptorChain
from mcpchaos.intercept.context import Context
from mcpchaos.intercept.effects import Effects
from mcpchaos.intercept.interceptor import Interceptor
from mcpchaos.protocol import codes
from mcpchaos.protocol.messages import Message
from mcpchaos.proxy.stdio import StdioProxy
from mcpchaos.transport.pipes import open_source

DEMO = [sys.executable, "-m", "mcpchaos", "demo-server"]


class NoOp:
    name = "noop"

    def intercept(self, message: Message, ctx: Context) -> Effects | None:
        return None


class Raises:
    name = "always-raises"

    def intercept(self, message: Message, ctx: Context) -> Effects | None:
        raise RuntimeError("interceptor bug")


class InProcessClient:
    """Talks newline-delimited JSON to a StdioProxy running in this process."""

    def __init__(self, write_fd: int, reader: Any) -> None:
        self.write_fd = write_fd
        self.reader = reader
        self._buffer = b""

    def send(self, message: dict[str, Any]) -> None:
        os.write(self.write_fd, orjson.dumps(message) + b"\n")

    async def read(self) -> dict[str, Any]:
        async with asyncio.timeout(10):
            while b"\n" not in self._buffer:
                chunk = await self.reader.read()
                assert chunk, "proxy closed its stdout"
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        result = orjson.loads(line)
        assert isinstance(result, dict)
        return result

    async def request(
        self, request_id: int, method: str, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        self.send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}})
        while True:
            reply = await self.read()
            if reply.get("id") == request_id and "method" not in reply:
                return reply

    async def handshake(self) -> None:
        reply = await self.request(
            0,
            "initialize",
            {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "0"},
            },
        )
        assert reply["result"]["protocolVersion"] == "2025-11-25"
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})


@asynccontextmanager
async def proxy_in_process(
    interceptors: Sequence[Interceptor] = (), policy: FailurePolicy = FailurePolicy.FAIL_OPEN
) -> AsyncIterator[tuple[StdioProxy, InProcessClient, asyncio.Task[int]]]:
    to_proxy_r, to_proxy_w = os.pipe()
    from_proxy_r, from_proxy_w = os.pipe()
    proxy = StdioProxy(
        DEMO, InterceptorChain(interceptors, policy), client_in_fd=to_proxy_r, client_out_fd=from_proxy_w
    )
    task = asyncio.create_task(proxy.run())
    source = await open_source(from_proxy_r)
    client = InProcessClient(to_proxy_w, source)
    try:
        yield proxy, client, task
    finally:
        os.close(to_proxy_w)  # the client closes stdin: the proxy shuts down
        async with asyncio.timeout(10):
            await task
        source.close()
        for fd in (to_proxy_r, from_proxy_r, from_proxy_w):
            os.close(fd)


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


async def test_a_chain_of_no_ops_changes_nothing() -> None:
    results = []
    for interceptors in ([], [NoOp(), NoOp(), NoOp()]):
        async with proxy_in_process(interceptors) as (_, client, _task):
            await client.handshake()
            reply = await client.request(
                1, "tools/call", {"name": "payload", "arguments": {"size_bytes": 5000}}
            )
            results.append(reply)
    assert results[0] == results[1]


async def test_an_interceptor_that_always_raises_leaves_the_session_working_and_is_counted() -> None:
    async with proxy_in_process([Raises()]) as (proxy, client, _task):
        await client.handshake()
        reply = await client.request(1, "tools/call", {"name": "echo", "arguments": {"text": "still here"}})
        assert reply["result"]["content"][0]["text"] == "still here"
        # initialize, its result, initialized, tools/call, its result: five messages, five failures
        assert proxy.chain.failures["always-raises"] == 5


async def test_fail_closed_answers_requests_with_internal_error() -> None:
    async with proxy_in_process([Raises()], FailurePolicy.FAIL_CLOSED) as (_, client, _task):
        reply = await client.request(1, "tools/list")
        assert reply["error"]["code"] == codes.INTERNAL_ERROR
        assert "always-raises" in reply["error"]["message"]


async def test_no_processes_tasks_threads_or_fds_leak_after_a_session() -> None:
    async with proxy_in_process() as (_, client, _task):  # warm-up: imports, executor, watcher threads
        await client.handshake()
    fds_before = open_fds()
    tasks_before = len(asyncio.all_tasks())
    threads_before = set(threading.enumerate())
    children_before = {p.pid for p in psutil.Process().children(recursive=True)}

    async with proxy_in_process() as (proxy, client, task):
        await client.handshake()
        await client.request(1, "tools/call", {"name": "slow", "arguments": {"seconds": 0.1, "steps": 2}})
        assert proxy.child is not None
        child_pid = proxy.child.pid
    assert task.result() == 0

    assert not psutil.pid_exists(child_pid)  # exited and reaped: not even a zombie
    assert {p.pid for p in psutil.Process().children(recursive=True)} == children_before
    assert len(asyncio.all_tasks()) == tasks_before
    # asyncio's child-watcher thread ends right after the reap: wait for it, bounded.
    for thread in set(threading.enumerate()) - threads_before:
        thread.join(5)  # the watcher thread does not need the event loop to finish
    assert set(threading.enumerate()) <= threads_before
    assert open_fds() == fds_before
