"""Drive ``mcpchaos proxy`` by hand over real pipes: write lines, read lines, bounded waits."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import orjson

from tests import forkserver

FIXTURES = Path(__file__).parent / "fixtures"
DEMO_SERVER = forkserver.DEMO_SERVER
SCRIPTED_SERVER = [sys.executable, str(FIXTURES / "scripted_server.py")]


class RawProxy:
    """``mcpchaos proxy [args] -- server`` as a child process with pipes on all three fds."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.stderr_lines: list[str] = []
        self._stderr_task = asyncio.create_task(self._collect_stderr())

    @classmethod
    async def start(cls, server: list[str], *proxy_args: str) -> RawProxy:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "mcpchaos",
            "--log-level",
            "info",
            "proxy",
            *proxy_args,
            "--",
            *server,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            limit=64 * 1024 * 1024,
        )
        return cls(process)

    async def _collect_stderr(self) -> None:
        assert self.process.stderr is not None
        async for line in self.process.stderr:
            self.stderr_lines.append(line.decode(errors="replace").rstrip())

    @property
    def stderr(self) -> str:
        return "\n".join(self.stderr_lines)

    async def write(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        await self.process.stdin.drain()

    async def send(self, message: dict[str, Any]) -> None:
        await self.write(orjson.dumps(message) + b"\n")

    async def read(self, within: float = 10.0) -> dict[str, Any]:
        assert self.process.stdout is not None
        async with asyncio.timeout(within):
            line = await self.process.stdout.readline()
        if not line:
            raise EOFError("the proxy closed its stdout")
        parsed = orjson.loads(line)
        assert isinstance(parsed, dict), parsed
        return parsed

    async def request(
        self, request_id: int | str, method: str, params: dict[str, Any] | None = None, within: float = 10.0
    ) -> dict[str, Any]:
        """Send a request and return its response, skipping notifications in between."""
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        await self.send(message)
        while True:
            reply = await self.read(within)
            if reply.get("id") == request_id and "method" not in reply:
                return reply

    async def initialize(self, version: str = "2025-11-25") -> dict[str, Any]:
        reply = await self.request(
            0,
            "initialize",
            {
                "protocolVersion": version,
                "capabilities": {},
                "clientInfo": {"name": "raw-test", "version": "0"},
            },
        )
        await self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return reply

    async def close(self, within: float = 10.0) -> int:
        """Close the proxy's stdin and wait (bounded) for it to exit; returns its status."""
        assert self.process.stdin is not None
        if not self.process.stdin.is_closing():
            self.process.stdin.close()
        async with asyncio.timeout(within):
            code = await self.process.wait()
            await self._stderr_task
        return code

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        self._stderr_task.cancel()
