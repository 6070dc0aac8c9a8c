"""Task resilience: ``long_job`` as a task (the tasks extension) followed with ``tasks/get`` and
cancelled with ``tasks/cancel`` while the ``task`` faults lie about it."""

from __future__ import annotations

from typing import Any, ClassVar

import anyio
from mcp.types import TextContent
from pydantic import Field

from mcpchaos.demo.tasks import TaskLostError, cancel_task, task_client
from mcpchaos.harness.feature_scenario import (
    CLEAN_PHASES,
    FEATURE_COMMON,
    Case,
    FeatureParams,
    FeatureScenario,
    Probe,
    Step,
    in_phases,
    steps_verdict,
)
from mcpchaos.harness.journal import Verdict
from mcpchaos.harness.scenario import ScenarioContext, ScenarioParams

TOOL = "long_job"
FOLLOW = "follow a task"
CANCEL = "cancel a task"


class Params(FeatureParams):
    job_s: float = Field(0.2, ge=0, le=600)
    """How long the followed ``long_job`` works."""
    cancel_job_s: float = Field(60.0, gt=0, le=600)
    """How long the cancelled ``long_job`` would work (far longer than the probe waits)."""
    task_deadline_s: float = Field(3.0, gt=0, le=600)
    """The client follows a task this long at most, then reports it lost (``still working``)."""


def on_tasks(mode: str, method: str, side: str) -> dict[str, Any]:
    rule = {
        "match": {"methods": [method], "message_classes": [side]},
        "probability": 1.0,
        "enabled_faults": {"task": True},
        "task": {"modes": [mode]},
    }
    return {"rules": [rule]}


def lost_outcome(error: TaskLostError) -> str:
    """What the careful client's :class:`TaskLostError` says, in a word."""
    text = str(error)
    for marker, word in (
        ("ended cancelled", "cancelled"),
        ("still", "stuck"),
        ("not found", "expired"),
        ("answered for", "mislabelled"),
    ):
        if marker in text:
            return word
    return "lost"


class Created(list[str]):
    """The task ids the client saw (``task_client`` appends them), with a wait for the next one."""

    def __init__(self) -> None:
        super().__init__()
        self._arrived = anyio.Event()

    def append(self, task_id: str) -> None:
        super().append(task_id)
        self._arrived.set()

    async def next_after(self, count: int) -> str:
        while len(self) <= count:
            self._arrived = anyio.Event()
            await self._arrived.wait()
        return self[count]


class TaskResilience(FeatureScenario):
    name = "task_resilience"
    description = (
        "long_job as a task, followed with tasks/get and cancelled with tasks/cancel, while tasks/get "
        "says working for a finished task, answers for an unknown task or as if the task expired, and "
        "tasks/cancel is ignored: every task ends or is reported lost within a bound, and a cancel "
        "is honoured."
    )
    mitigation = (
        "A task client bounds how long it follows a task, checks that each tasks/get answers for the "
        "task it asked about, and treats 'not found' as expired; a server ends every task (completed, "
        "failed, cancelled) and stops a task when tasks/cancel says so."
    )
    Params: ClassVar[type[ScenarioParams]] = Params
    quick: ClassVar[dict[str, Any]] = {**FeatureScenario.quick, "task_deadline_s": 2.0}
    verdict_names = (*FEATURE_COMMON, "tasks_bounded", "cancel_honoured")
    untimed_phases = ("stuck_working", "expired", "unknown_task", "cancel_ignored")

    def needed_tools(self, params: FeatureParams) -> tuple[str, ...]:
        return (TOOL,)

    def cases(self, params: FeatureParams) -> list[Case]:
        return [
            Case(
                "stuck_working",
                on_tasks("stuck_working", "tasks/get", "server_response"),
                "finished → working",
            ),
            Case("expired", on_tasks("expired", "tasks/get", "client_request"), "tasks/get: task not found"),
            Case("unknown_task", on_tasks("unknown_task", "tasks/get", "server_response"), "another taskId"),
            Case(
                "cancel_ignored",
                on_tasks("cancel_ignored", "tasks/cancel", "client_request"),
                "cancel not sent",
            ),
        ]

    async def probe(self, probe: Probe, case: Case | None) -> None:
        p = probe.ctx.params
        assert isinstance(p, Params)
        created = Created()
        extension = task_client(deadline_s=p.task_deadline_s, created=created)
        async with probe.client(extensions=[extension]) as client:
            if client is None:
                return

            async def follow(seconds: float) -> str:
                try:
                    result = await client.call_tool(TOOL, {"seconds": seconds})
                except TaskLostError as lost:
                    return f"{lost_outcome(lost)}: {lost}"
                block = result.content[0] if result.content else None
                return "ok: " + (block.text if isinstance(block, TextContent) else "")

            def judged(text: str) -> tuple[str, str]:
                outcome, _, detail = text.partition(": ")
                return outcome, detail

            await probe.step(FOLLOW, lambda: follow(p.job_s), judged)

            async def cancel_midway() -> str:
                seen = len(created)
                outcome: list[str] = []
                async with anyio.create_task_group() as group:

                    async def run() -> None:
                        outcome.append(await follow(p.cancel_job_s))

                    group.start_soon(run)
                    task_id = await created.next_after(seen)
                    acknowledged = await cancel_task(client.session, task_id)
                ended = outcome[0]
                if ended.startswith("cancelled"):
                    return f"ok: acknowledged {acknowledged.status}, ended cancelled"
                return f"ran_on: acknowledged {acknowledged.status}, then {ended}"

            # Where tasks/get lies the cancelled status is hidden too: cancel only where it can tell.
            if case is None or case.name == "cancel_ignored":
                await probe.step(CANCEL, cancel_midway, judged)

    def feature_verdicts(self, ctx: ScenarioContext, steps: list[Step]) -> list[Verdict]:
        p = ctx.params
        assert isinstance(p, Params)
        return [check_tasks_bounded(steps, p.task_deadline_s), check_cancel_honoured(steps)]


def check_tasks_bounded(steps: list[Step], deadline_s: float) -> Verdict:
    """Every task the client followed ended (completed, cancelled) or was reported lost (stuck,
    expired, mislabelled) within the bound: none was polled forever."""
    judged = [s for s in steps if s.step in (FOLLOW, CANCEL) or s.outcome in ("hung", "refused")]
    problems = [s.describe() for s in judged if s.outcome in ("hung", "refused", "error", "rejected")]
    return steps_verdict(
        "tasks_bounded",
        f"every task the client follows reaches a terminal state or is reported lost (still working "
        f"after {deadline_s:g} s, expired, answered for another task) within the step bound: no task "
        "is polled forever",
        problems,
        judged,
        ", ".join(f"{s.phase}: {s.outcome}" for s in judged if s.step == FOLLOW),
    )


def check_cancel_honoured(steps: list[Step]) -> Verdict:
    """With tasks/get and tasks/cancel untouched, a cancelled task ends cancelled; under the
    ``cancel_ignored`` fault the task ran on (what the fault does: shown, not failed)."""
    cancels = [s for s in steps if s.step == CANCEL]
    judged = in_phases(cancels, CLEAN_PHASES)
    problems = [f"{s.describe()}: the cancel was not honoured" for s in judged if s.outcome != "ok"]
    ignored = [s for s in cancels if s.phase == "cancel_ignored"]
    passed = f"{len(judged)} cancel(s) with no fault in place, each ended cancelled" + (
        f"; under cancel_ignored: {ignored[0].detail}" if ignored else ""
    )
    return steps_verdict(
        "cancel_honoured",
        "with tasks/get and tasks/cancel untouched (baseline, recovery) a cancelled task ends cancelled, "
        "never completed and never left working",
        problems,
        judged,
        passed,
    )
