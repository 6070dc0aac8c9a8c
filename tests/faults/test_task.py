"""task: the decision, and what a careful tasks client (demo/tasks.py, on the official SDK's
extension seams) sees through the real proxy when the tasks extension lies (2026-07-28; every
mode on HTTP, one request-side and one result-side mode on stdio)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import TextContent

from mcpchaos.demo.tasks import TaskLostError, cancel_task, task_client
from mcpchaos.faults.task import TASK
from mcpchaos.intercept.effects import Forward, Reply
from mcpchaos.protocol.messages import Direction, Kind, Message, request, result_response
from tests.faults.helpers import ctx, rng, settings
from tests.faults.live import on_http, on_stdio

DONE = result_response(3, {"resultType": "complete", "taskId": "t-1", "status": "completed", "result": {}})


def decide(message: Message, mode: str, direction: Direction, method: str | None = None) -> tuple[Any, Any]:
    context = ctx(direction, request_method=method)
    chosen = settings(task={"modes": [mode]})
    assert TASK.applies(message, context, chosen)
    effects, params = TASK.decide(message, context, rng(), chosen)
    return list(effects), params


def test_result_modes_rewrite_the_tasks_get_answer() -> None:
    [stuck], params = decide(DONE, "stuck_working", Direction.SERVER_TO_CLIENT, "tasks/get")
    assert isinstance(stuck, Forward)
    assert stuck.message.payload["result"]["status"] == "working"
    assert "result" not in stuck.message.payload["result"]
    assert params == {"mode": "stuck_working", "task_id": "t-1", "was": "completed"}
    [other], params = decide(DONE, "unknown_task", Direction.SERVER_TO_CLIENT, "tasks/get")
    assert other.message.payload["result"]["taskId"] == params["unknown_id"] != "t-1"


def test_request_modes_answer_in_the_servers_place() -> None:
    get = request(4, "tasks/get", {"taskId": "t-1"})
    [expired], _ = decide(get, "expired", Direction.CLIENT_TO_SERVER)
    assert isinstance(expired, Reply)
    assert expired.message.kind is Kind.ERROR
    assert expired.message.payload["error"]["code"] == -32602
    [ack], params = decide(
        request(5, "tasks/cancel", {"taskId": "t-1"}), "cancel_ignored", Direction.CLIENT_TO_SERVER
    )
    assert isinstance(ack, Reply)
    assert ack.message.payload["result"]["status"] == "cancelled"
    assert params == {"mode": "cancel_ignored", "task_id": "t-1"}


def test_stuck_working_fits_only_a_finished_task() -> None:
    working = result_response(3, {"taskId": "t-1", "status": "working"})
    context = ctx(Direction.SERVER_TO_CLIENT, request_method="tasks/get")
    assert not TASK.applies(working, context, settings(task={"modes": ["stuck_working"]}))
    assert not TASK.applies(DONE, ctx(Direction.SERVER_TO_CLIENT, request_method="tools/call"), settings())


# ---- through the real proxy, the SDK client and server on 2026-07-28 --------------------------


def on_tasks(mode: str, method: str = "tasks/get", side: str = "server_response") -> dict[str, Any]:
    rule = {
        "match": {"methods": [method], "message_classes": [side]},
        "enabled_faults": {"task": True},
        "task": {"modes": [mode]},
    }
    return {"seed": 1, "rules": [rule]}


def text(result: Any) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


async def follow(client: Client, seconds: float = 0.1) -> str:
    """Call long_job as a task and follow it: its text, or how the careful client gave up."""
    try:
        return text(await client.call_tool("long_job", {"seconds": seconds}))
    except TaskLostError as lost:
        return f"lost: {lost}"


class Created(list[str]):
    """The task ids the client saw, with an event set at the first."""

    def __init__(self) -> None:
        super().__init__()
        self.first = anyio.Event()

    def append(self, task_id: str) -> None:
        super().append(task_id)
        self.first.set()


async def cancel_midway(client: Client, created: Created) -> str:
    """Start a 0.5 s task, cancel it once it exists, follow it to its end: "ack / outcome"."""
    outcome: list[str] = []
    async with anyio.create_task_group() as group:

        async def call() -> None:
            outcome.append(await follow(client, 0.5))

        group.start_soon(call)
        with anyio.fail_after(10):
            await created.first.wait()
        acknowledged = await cancel_task(client.session, created[0])
    return f"{acknowledged.status} / {outcome[0]}"


@pytest.fixture(params=["stdio", "http"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def run(
    transport: str, config: dict[str, Any], scenario: Any, tmp_path: Path, request: Any, **client: Any
) -> Any:
    if transport == "stdio":
        return await on_stdio(config, scenario, tmp_path, "auto", **client)
    return await on_http(config, scenario, request.getfixturevalue("stateful_url"), "auto", **client)


async def test_a_task_stuck_in_working_is_given_up_at_the_clients_deadline(
    transport: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    outcome, records = await run(
        transport,
        on_tasks("stuck_working"),
        follow,
        tmp_path,
        request,
        extensions=[task_client(deadline_s=1.0)],
    )
    assert outcome.startswith("lost: ")
    assert "still working after 1.0s" in outcome
    assert {r["params"]["was"] for r in records} == {"completed"}


async def test_an_ignored_cancel_is_acknowledged_and_the_task_runs_to_its_result(
    transport: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    created = Created()
    outcome, records = await run(
        transport,
        on_tasks("cancel_ignored", "tasks/cancel", "client_request"),
        lambda client: cancel_midway(client, created),
        tmp_path,
        request,
        extensions=[task_client(deadline_s=5.0, created=created)],
    )
    assert outcome == "cancelled / done after 0.5s"  # acknowledged, yet it completed
    assert [r["params"] for r in records] == [{"mode": "cancel_ignored", "task_id": created[0]}]


async def test_without_the_fault_a_cancelled_task_ends_cancelled(stateful_url: str) -> None:
    created = Created()
    outcome, _ = await on_http(
        {},
        lambda client: cancel_midway(client, created),
        stateful_url,
        "auto",
        extensions=[task_client(deadline_s=5.0, created=created)],
    )
    assert outcome == f"cancelled / lost: task {created[0]} ended cancelled"


async def test_an_expired_task_is_reported_lost_not_polled_forever(stateful_url: str) -> None:
    outcome, records = await on_http(
        on_tasks("expired", side="client_request"),
        follow,
        stateful_url,
        "auto",
        extensions=[task_client(deadline_s=5.0)],
    )
    assert outcome.startswith("lost: ")
    assert "Task not found (expired)" in outcome
    assert [r["params"]["mode"] for r in records] == ["expired"]


async def test_a_tasks_get_answer_for_another_task_is_caught_by_the_careful_client(stateful_url: str) -> None:
    outcome, records = await on_http(
        on_tasks("unknown_task"), follow, stateful_url, "auto", extensions=[task_client(deadline_s=5.0)]
    )
    params = records[0]["params"]
    assert outcome == f"lost: tasks/get for {params['task_id']} answered for {params['unknown_id']}"
