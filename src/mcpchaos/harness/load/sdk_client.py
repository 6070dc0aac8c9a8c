"""A load client built on the official SDK client (``mcp.Client``), for realism.

It costs ~10x the CPU of the fast client per call, so a run uses it for a share of clients
only. The SDK client lives inside an ``async with`` whose cancel scopes must be left by the
task that entered them, so one owner task per client holds the session open and requests
from any task use it. Accounting is best-effort: the SDK hides the wire, so a request counts
as sent when it is issued and as answered when a result or a JSON-RPC error comes back; a
tool result with ``is_error`` is passed on as such (a ``tool_error``, not ``ok``), and each
2025-11-25 session the SDK opens is reported as a handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from mcp import Client, MCPError

from mcpchaos.harness.load.fast_http import RequestFailedError
from mcpchaos.harness.load.recorder import Recorder, Ticket
from mcpchaos.harness.load.wire import PreparedOp
from mcpchaos.protocol.client_wire import SESSIONLESS_ERA

_STARTUP_S = 30.0
"""The SDK session's handshake deadline (the fast clients take ``load.startup_s``)."""


class SdkClient:
    """One official SDK client session over Streamable HTTP."""

    def __init__(
        self,
        url: str,
        protocol: str,
        reinitialize: bool,
        deadline_s: float | None,
        recorder: Recorder,
        on_session: Callable[[], None],
    ) -> None:
        self._url = url
        # "legacy" does the 2025-11-25 initialize handshake; "auto" speaks 2026-07-28.
        self._mode = "auto" if protocol == SESSIONLESS_ERA else "legacy"
        self._reinitialize = reinitialize
        self._deadline_s = deadline_s
        self._recorder = recorder
        self._on_session = on_session
        self._client: Client | None = None
        self._owner: asyncio.Task[None] | None = None
        self._release = asyncio.Event()
        self._gave_up = False
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        async with asyncio.timeout(_STARTUP_S):  # start-up is not a call: its own deadline
            await self._ensure()

    async def _ensure(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is not None:
                return self._client
            if self._gave_up:
                raise RequestFailedError("session_lost")
            ready: asyncio.Future[Client] = asyncio.get_running_loop().create_future()
            self._release = asyncio.Event()
            self._owner = asyncio.create_task(self._hold(ready, self._release))
            try:
                client = await asyncio.shield(ready)
            except BaseException:
                self._release.set()
                self._handshake(opened=False)
                raise
            self._handshake(opened=True)
            self._client = client
            self._on_session()
            return client

    def _handshake(self, opened: bool) -> None:
        if self._mode == "legacy":  # the SDK wrote an initialize (best effort: it hides the wire)
            self._recorder.handshake(sent=True, opened=opened)

    async def _hold(self, ready: asyncio.Future[Client], release: asyncio.Event) -> None:
        """Owner task: enter the SDK client, hand it out, leave when released."""
        try:
            async with Client(self._url, mode=self._mode) as client:
                ready.set_result(client)
                await release.wait()
        except BaseException as error:  # the SDK raises exception groups on connection loss
            if not ready.done():
                ready.set_exception(error if isinstance(error, Exception) else RuntimeError(repr(error)))
            if isinstance(error, asyncio.CancelledError):
                raise

    def drop_session(self) -> None:
        self._client = None
        self._release.set()

    async def close(self) -> None:
        self.drop_session()
        if self._owner is not None:
            try:
                async with asyncio.timeout(2):
                    await self._owner
            except TimeoutError:
                self._owner.cancel()
                with contextlib.suppress(BaseException):
                    await self._owner

    async def call(self, op: PreparedOp, ticket: Ticket) -> None:
        recorder = self._recorder
        try:
            async with asyncio.timeout(self._deadline_s):
                client = await self._ensure()
                ticket.sent = True
                result = await _invoke(client, op)
            recorder.response(ticket, {"result": result})
        except TimeoutError:
            recorder.deadline(ticket)
        except MCPError as error:
            payload: dict[str, Any] = {"error": {"code": error.code, "data": error.data}}
            recorder.response(ticket, payload)
        except RequestFailedError as failure:
            recorder.transport(ticket, failure.kind)
        except Exception as error:  # the SDK's own transport errors: counted by class name
            recorder.transport(ticket, type(error).__name__)
            self._session_lost()

    def _session_lost(self) -> None:
        self.drop_session()
        if not self._reinitialize:
            self._gave_up = True


async def _invoke(client: Client, op: PreparedOp) -> dict[str, Any]:
    """Run ``op``; the result as the recorder reads it (a tool error keeps its ``isError`` and text)."""
    params = op.params
    if op.method == "tools/call":
        called = await client.call_tool(params["name"], params.get("arguments"))
        if called.is_error:
            return {"isError": True, "content": [c.model_dump(mode="json") for c in called.content]}
    elif op.method == "tools/list":
        await client.list_tools()
    elif op.method == "resources/list":
        await client.list_resources()
    elif op.method == "resources/read":
        await client.read_resource(params["uri"])
    elif op.method == "prompts/list":
        await client.list_prompts()
    elif op.method == "prompts/get":
        await client.get_prompt(params["name"], params.get("arguments"))
    elif op.method == "ping":
        await client.send_ping()
    else:
        raise RequestFailedError("unsupported_method")
    return {}
