"""The harness's side of the control API: change faults and the network, read metrics."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiohttp
import orjson

from mcpchaos.errors import McpChaosError


class ControlApiError(McpChaosError):
    """The control API answered an error or could not be reached."""


class ControlClient:
    """Async client of one proxy's control API (``mcpchaos proxy --control``)."""

    def __init__(self, base_url: str, token: str | None = None, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(self, method: str, path: str, body: Any = None, raw: bool = False) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers=self._headers)
        data = None if body is None else orjson.dumps(body)
        headers = {"Content-Type": "application/json"} if data is not None else {}
        try:
            async with self._session.request(
                method, self.base_url + path, data=data, headers=headers
            ) as response:
                body_bytes = await response.read()
                if response.status >= 400:
                    shown = body_bytes[:500].decode(errors="replace")
                    raise ControlApiError(f"{method} {path} → HTTP {response.status}: {shown}")
                if raw:
                    return body_bytes
                return orjson.loads(body_bytes) if body_bytes else None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ControlApiError(f"control API {self.base_url} unreachable: {exc!r}") from exc

    async def health(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", "/health")
        return result

    async def metrics(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", "/metrics.json")
        return result

    async def faults(self) -> dict[str, Any]:
        """``{"config": FaultConfig, "seed": ..., "injected": ...}``."""
        result: dict[str, Any] = await self._call("GET", "/faults")
        return result

    async def set_faults(self, config: dict[str, Any]) -> None:
        await self._call("PUT", "/faults", config)

    async def patch_faults(self, config: dict[str, Any]) -> None:
        await self._call("PATCH", "/faults", config)

    async def reset_faults(self) -> None:
        await self._call("POST", "/faults/reset", {})

    async def fault_log(self, after: int = 0) -> tuple[list[dict[str, Any]], bool]:
        """The fault records numbered after ``after`` that the proxy still keeps (the last
        10,000), oldest first, and whether some of them were already forgotten."""
        records: list[dict[str, Any]] = []
        since = after
        lost = False
        while True:
            page = await self._call("GET", f"/faults/log?since={since}&limit=1000")
            if since == after:
                lost = int(page.get("oldest", after + 1)) > after + 1
            batch = page.get("records", [])
            records.extend(batch)
            next_since = int(page.get("next", since))
            if not batch or next_since == since:
                return records, lost
            since = next_since

    async def fault_sequence(self) -> int:
        """The number of the newest fault record: read the log after it to see only what comes next."""
        page = await self._call("GET", "/faults/log?since=0&limit=1")
        return int(page.get("latest", 0))

    async def network(self) -> dict[str, Any]:
        """``{"config": NetworkConfig, "partitioned": bool}``."""
        result: dict[str, Any] = await self._call("GET", "/network")
        return result

    async def set_network(self, config: dict[str, Any]) -> None:
        await self._call("PUT", "/network", config)

    async def patch_network(self, config: dict[str, Any]) -> None:
        await self._call("PATCH", "/network", config)

    async def partition(self, duration_ms: float | None = None) -> None:
        await self._call(
            "POST", "/network/partition", {} if duration_ms is None else {"duration_ms": duration_ms}
        )

    async def heal(self) -> None:
        await self._call("POST", "/network/heal", {})

    async def breaker(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", "/breaker")
        return result

    async def history_check(self, grace_ms: float | None = None) -> dict[str, Any]:
        """The history checker's report on the proxy's live history (``proxy --history``)."""
        query = f"?grace_ms={grace_ms}" if grace_ms is not None else ""
        result: dict[str, Any] = await self._call("GET", "/history/check" + query)
        return result

    async def history_tape(self) -> bytes:
        """The proxy's whole history as a tape, JSON lines (``GET /history?format=tape``)."""
        result: bytes = await self._call("GET", "/history?format=tape", raw=True)
        return result


class FaultLogFollower:
    """Reads a proxy's fault log as it grows, from a sequence number on.

    The control API keeps only the last 10,000 records in memory, and a fast load on an
    attached proxy injects more than that in a second: read once at the end and the
    accounting would miss most of them (``metrics_accurate`` failed on a correct proxy)."""

    def __init__(self, control: ControlClient, after: int) -> None:
        self.control = control
        self.after = after
        self.records: list[dict[str, Any]] = []
        self.lost = False
        """Records aged out of the proxy's memory before they were read: the log is incomplete."""

    async def catch_up(self) -> None:
        batch, lost = await self.control.fault_log(self.after)
        self.lost = self.lost or lost
        if batch:
            self.records.extend(batch)
            self.after = int(batch[-1]["seq"])

    async def follow(self, every_s: float = 0.2) -> None:
        """Catch up until cancelled (a failed read is tried again at the next turn)."""
        while True:
            with contextlib.suppress(ControlApiError):
                await self.catch_up()
            await asyncio.sleep(every_s)
