"""The tasks extension (``io.modelcontextprotocol/tasks``, 2026-07-28) for the demo, both halves.

The official SDK 2.3.0 has the extension seams (server ``Extension``: new methods and a
``tools/call`` interceptor; client ``ClientExtension``: a ``ResultClaim`` on a new
``resultType``) but not the tasks extension itself, so this module is a small one:

- server: :class:`DemoTasks` makes ``long_job`` a task when the client declares the extension
  in its ``_meta`` capabilities (``resultType: "task"``, polled with ``tasks/get``, stopped
  with ``tasks/cancel``; expired after ``ttlMs``). A client that does not declare it gets the
  plain result, after the wait, like any tool. ``stuck=True`` (``demo-server --fragile
  stuck-tasks``) makes it bad: a job never finishes and ``tasks/cancel`` is acknowledged
  without stopping it.
- client: :func:`task_client` polls ``tasks/get`` until a terminal status, bounded by a
  deadline, and checks the answer names the task it asked about: a correct, careful client,
  for the tests and the harness.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.extension import Extension, MethodBinding
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolRequestParams, CallToolResult, Request, RequestParams, Result
from pydantic import ConfigDict, Field

TASKS = "io.modelcontextprotocol/tasks"
CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
TASK_TOOL = "long_job"
TERMINAL = frozenset({"completed", "failed", "cancelled"})
TASK_NOT_FOUND = -32602
MAX_SECONDS = 600.0


@dataclass
class _Task:
    task_id: str
    ttl_ms: int
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    status: str = "working"
    result: dict[str, Any] | None = None
    runner: asyncio.Task[None] | None = None

    def wire(self) -> dict[str, Any]:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.created))
        task: dict[str, Any] = {
            "taskId": self.task_id,
            "status": self.status,
            "createdAt": stamp,
            "lastUpdatedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.updated)),
            "ttlMs": self.ttl_ms,
            "pollIntervalMs": 50,
        }
        if self.result is not None:
            task["result"] = self.result
        return task


class TaskParams(RequestParams):
    """``tasks/get`` and ``tasks/cancel`` params."""

    task_id: str = Field(alias="taskId")


def _declares_tasks(ctx: ServerRequestContext[Any, Any]) -> bool:
    meta = (ctx.params or {}).get("_meta")
    capabilities = meta.get(CLIENT_CAPABILITIES) if isinstance(meta, dict) else None
    extensions = capabilities.get("extensions") if isinstance(capabilities, dict) else None
    return isinstance(extensions, dict) and TASKS in extensions


class DemoTasks(Extension):
    """The server half: ``long_job`` as a task, ``tasks/get``, ``tasks/cancel``."""

    identifier = TASKS

    def __init__(self, ttl_ms: int = 60_000, stuck: bool = False) -> None:
        self.ttl_ms = ttl_ms
        self.stuck = stuck
        self.tasks: dict[str, _Task] = {}

    def methods(self) -> Sequence[MethodBinding]:
        return (
            MethodBinding("tasks/get", TaskParams, self._get),
            MethodBinding("tasks/cancel", TaskParams, self._cancel),
        )

    async def intercept_tool_call(
        self, params: CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        if params.name != TASK_TOOL or not _declares_tasks(ctx):
            return await call_next(ctx)
        seconds = float((params.arguments or {}).get("seconds", 1.0))
        task = _Task(f"task-{uuid.uuid4().hex[:12]}", self.ttl_ms)
        self.tasks[task.task_id] = task
        # Detached from the request: the call is answered now, the job runs on.
        task.runner = asyncio.get_running_loop().create_task(self._run(task, min(seconds, MAX_SECONDS)))
        return {"resultType": "task", **task.wire()}

    async def _run(self, task: _Task, seconds: float) -> None:
        try:
            await asyncio.sleep(MAX_SECONDS if self.stuck else seconds)
        except asyncio.CancelledError:
            return
        task.status, task.updated = "completed", time.time()
        text = f"done after {seconds}s"  # what the plain call returns, with its output schema's shape
        task.result = {"content": [{"type": "text", "text": text}], "structuredContent": {"result": text}}

    def _find(self, task_id: str) -> _Task:
        task = self.tasks.get(task_id)
        if task is not None and (time.time() - task.created) * 1000 > task.ttl_ms:
            del self.tasks[task_id]  # its TTL passed: gone, whatever its status
            task = None
        if task is None:
            raise MCPError(TASK_NOT_FOUND, f"Task not found: {task_id}")
        return task

    async def _get(self, ctx: ServerRequestContext[Any, Any], params: TaskParams) -> HandlerResult:
        return {"resultType": "complete", **self._find(params.task_id).wire()}

    async def _cancel(self, ctx: ServerRequestContext[Any, Any], params: TaskParams) -> HandlerResult:
        task = self._find(params.task_id)
        if self.stuck:  # acknowledged, and nothing changes
            return {"resultType": "complete", **task.wire(), "status": "cancelled"}
        if task.status not in TERMINAL:
            if task.runner is not None:
                task.runner.cancel()
            task.status, task.updated = "cancelled", time.time()
        return {"resultType": "complete", **task.wire()}


# ---- the client half ------------------------------------------------------------------------


class TaskResult(Result):
    """A task: the ``resultType: "task"`` answer to a call, and the ``tasks/get`` answer."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    result_type: Literal["task"] = Field("task", alias="resultType")
    task_id: str = Field(alias="taskId")
    status: str
    result: dict[str, Any] | None = None


class TaskState(Result):
    """A ``tasks/get`` or ``tasks/cancel`` answer."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    task_id: str = Field(alias="taskId")
    status: str
    result: dict[str, Any] | None = None


class GetTask(Request[TaskParams, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    params: TaskParams
    name_param: ClassVar[str | None] = "taskId"


class CancelTask(Request[TaskParams, Literal["tasks/cancel"]]):
    method: Literal["tasks/cancel"] = "tasks/cancel"
    params: TaskParams
    name_param: ClassVar[str | None] = "taskId"


class TaskLostError(RuntimeError):
    """The task cannot be followed to its end: gone, mislabelled, or past the deadline."""


async def get_task(ctx: ClaimContext | Any, task_id: str) -> TaskState:
    """One ``tasks/get``, checked: the answer must name the task asked about."""
    session = ctx.session if isinstance(ctx, ClaimContext) else ctx
    state = await session.send_request(GetTask(params=TaskParams(taskId=task_id)), TaskState)
    if state.task_id != task_id:
        raise TaskLostError(f"tasks/get for {task_id} answered for {state.task_id}")
    return state


async def cancel_task(session: Any, task_id: str) -> TaskState:
    """One ``tasks/cancel``."""
    state: TaskState = await session.send_request(CancelTask(params=TaskParams(taskId=task_id)), TaskState)
    return state


def task_client(deadline_s: float = 10.0, created: list[str] | None = None) -> ClientExtension:
    """A client extension that follows a task to its result, polling ``tasks/get`` for at most
    ``deadline_s`` (then :class:`TaskLostError`). ``created`` collects the ids of tasks it sees."""

    async def resolve(task: TaskResult, ctx: ClaimContext) -> CallToolResult:
        if created is not None:
            created.append(task.task_id)
        give_up = time.monotonic() + deadline_s
        while True:
            try:
                state = await get_task(ctx, task.task_id)
            except MCPError as exc:
                raise TaskLostError(f"task {task.task_id}: {exc.error.message}") from exc
            if state.status == "completed" and state.result is not None:
                return CallToolResult.model_validate(state.result)
            if state.status in TERMINAL:
                raise TaskLostError(f"task {task.task_id} ended {state.status}")
            if time.monotonic() > give_up:
                raise TaskLostError(f"task {task.task_id} still {state.status} after {deadline_s}s")
            await asyncio.sleep(0.05)

    class _Client(ClientExtension):
        identifier = TASKS

        def claims(self) -> Sequence[ResultClaim[Any]]:
            return (ResultClaim(result_type="task", model=TaskResult, resolve=resolve),)

    return _Client()
