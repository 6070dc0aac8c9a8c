"""task: faults on the tasks extension (``io.modelcontextprotocol/tasks``, 2026-07-28).

A server may answer a call with ``resultType: "task"`` and a task (``taskId``, ``status``,
``ttlMs``, ``pollIntervalMs``...); the client polls ``tasks/get`` until a terminal status
(``completed`` with its ``result``, ``failed``, ``cancelled``) and may ask ``tasks/cancel``.
Modes (``task.modes``, one drawn among those that fit the message):

- ``stuck_working`` (a ``tasks/get`` result, server → client): a finished task is reported
  ``working``, its result removed. A correct client bounds its polling and gives up cleanly.
- ``expired`` (a ``tasks/get`` request): the proxy answers -32602 "task not found", as a
  server whose TTL for the task passed before it completed (the request never goes on).
  A correct client reports the task lost, it does not poll on.
- ``unknown_task`` (a ``tasks/get`` result): the result names a task nobody created (its
  ``taskId`` replaced). A correct client checks the id it asked for.
- ``cancel_ignored`` (a ``tasks/cancel`` request): the proxy acknowledges it (status
  ``cancelled``) and the server never hears of it: the task runs on. A correct client does not
  take the acknowledgement as proof, it sees the next ``tasks/get``.

Results are drawn for only when ``match.message_classes`` names ``server_response``.
"""

from __future__ import annotations

import random
from typing import Any, Final

from mcpchaos.config.faults import FaultSettings, FaultType
from mcpchaos.config.feature_faults import TaskMode
from mcpchaos.faults.base import Decision, Fault, register
from mcpchaos.intercept.context import Context
from mcpchaos.intercept.effects import Effect, Forward, Reply
from mcpchaos.protocol import codes
from mcpchaos.protocol.messages import Direction, Kind, Message, error_response, result_response

TERMINAL: Final = frozenset({"completed", "failed", "cancelled"})


def _task_id(message: Message) -> Any:
    params = message.params
    return params.get("taskId") if isinstance(params, dict) else None


def _result(message: Message) -> dict[str, Any]:
    result = message.payload.get("result")
    return result if isinstance(result, dict) else {}


def _fits(mode: TaskMode, message: Message, ctx: Context) -> bool:
    if ctx.direction is Direction.CLIENT_TO_SERVER:
        if message.kind is not Kind.REQUEST:
            return False
        if mode is TaskMode.EXPIRED:
            return message.method == "tasks/get"
        return mode is TaskMode.CANCEL_IGNORED and message.method == "tasks/cancel"
    if message.kind is not Kind.RESULT or ctx.request_method != "tasks/get":
        return False
    if mode is TaskMode.STUCK_WORKING:
        return _result(message).get("status") in TERMINAL
    return mode is TaskMode.UNKNOWN_TASK and "taskId" in _result(message)


def _fitting(message: Message, ctx: Context, settings: FaultSettings) -> list[TaskMode]:
    return [mode for mode in settings.task.modes if _fits(mode, message, ctx)]


def applies(message: Message, ctx: Context, settings: FaultSettings) -> bool:
    return bool(_fitting(message, ctx, settings))


def decide(message: Message, ctx: Context, rng: random.Random, settings: FaultSettings) -> Decision:
    mode = rng.choice(_fitting(message, ctx, settings))
    params: dict[str, Any] = {"mode": mode.value}
    effects: list[Effect]
    if mode is TaskMode.EXPIRED:
        task_id = params["task_id"] = _task_id(message)
        data = {"mcpchaos": {"fault": "task", "mode": mode.value, "injected": True}, "taskId": task_id}
        effects = [Reply(error_response(message.id, codes.INVALID_PARAMS, "Task not found (expired)", data))]
    elif mode is TaskMode.CANCEL_IGNORED:
        task_id = params["task_id"] = _task_id(message)
        ack = {"resultType": "complete", "taskId": task_id, "status": "cancelled"}
        assert message.id is not None  # applies: a request
        effects = [Reply(result_response(message.id, ack))]
    else:
        result = dict(_result(message))
        params["task_id"] = result.get("taskId")
        if mode is TaskMode.STUCK_WORKING:
            params["was"] = result.get("status")
            result["status"] = "working"
            result.pop("result", None)
            result.pop("error", None)
        else:
            result["taskId"] = params["unknown_id"] = f"mcpchaos-unknown-{rng.getrandbits(32):08x}"
        effects = [Forward(message.replace(result=result))]
    return effects, params


TASK = register(Fault(FaultType.TASK, applies, decide))
