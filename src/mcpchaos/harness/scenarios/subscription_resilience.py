"""Subscription resilience: ``subscriptions/listen`` on ``demo://counter`` under the
``subscription`` faults (and duplicated events), then a re-listen that must see updates again."""

from __future__ import annotations

from typing import Any, ClassVar

import anyio
from mcp.client.subscriptions import SubscriptionLost
from mcp.shared.subscriptions import SUBSCRIPTION_ID_META_KEY
from pydantic import Field

from mcpchaos.harness.feature_scenario import (
    FEATURE_COMMON,
    Case,
    FeatureParams,
    FeatureScenario,
    Probe,
    Step,
    steps_verdict,
)
from mcpchaos.harness.journal import Verdict
from mcpchaos.harness.scenario import ScenarioContext, ScenarioParams

URI = "demo://counter"
UPDATED = "notifications/resources/updated"
ACKNOWLEDGED = "notifications/subscriptions/acknowledged"
BUMP = "bump"
UNKNOWN_ID_PHASE = "unknown_id"


class Params(FeatureParams):
    resource: str = URI
    """The resource to listen to; ``update_tool`` must change it."""
    update_tool: str = BUMP
    """A tool (no arguments needed) whose call updates ``resource``."""
    event_within_s: float = Field(2.0, gt=0, le=600)
    """After the update, its event must reach the stream within this (else the stream is silent)."""
    ack_within_s: float = Field(2.0, gt=0, le=600)
    """The client's read timeout: a listen whose acknowledgement does not come within it fails."""


def on_stream(kind: str, mode: str | None = None, method: str = UPDATED) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "match": {"methods": [method], "message_classes": ["server_notification"]},
        "probability": 1.0,
        "enabled_faults": {kind: True},
    }
    if mode is not None:
        rule["subscription"] = {"modes": [mode]}
    return {"rules": [rule]}


class Tee:
    """Every resource-updated notification the client saw, with the subscription it names
    (the SDK hands stream frames to the message handler too)."""

    def __init__(self) -> None:
        self.named: list[str] = []

    async def __call__(self, message: Any) -> None:
        if getattr(message, "method", None) != UPDATED:
            return
        meta = getattr(getattr(message, "params", None), "meta", None) or {}
        self.named.append(str(meta.get(SUBSCRIPTION_ID_META_KEY)))


class SubscriptionResilience(FeatureScenario):
    name = "subscription_resilience"
    description = (
        "subscriptions/listen on a resource while the stream is cut, starved, retagged with an "
        "unknown subscriptionId, duplicated or loses its acknowledgement: each listen ends in a "
        "bounded outcome, a re-listen gets updates again, and no notification names a subscription "
        "the client never opened."
    )
    mitigation = (
        "A client re-listens and refetches whenever a listen stream ends or falls silent for too long "
        "(2026-07-28 has no resumption); a server hands every new listen its own subscription, tags "
        "each event with that stream's id, and drops a listener when its stream ends."
    )
    Params: ClassVar[type[ScenarioParams]] = Params
    quick: ClassVar[dict[str, Any]] = {**FeatureScenario.quick, "event_within_s": 1.5, "ack_within_s": 2.0}
    verdict_names = (*FEATURE_COMMON, "listen_bounded", "no_unknown_subscription", "relisten_updates")
    untimed_phases = ("cut_stream", "starve", UNKNOWN_ID_PHASE, "drop_ack", "duplicate")

    def __init__(self) -> None:
        super().__init__()
        self.opened: set[str] = set()
        self.named: list[tuple[str, str]] = []
        """(phase, subscription id) of every update the client saw."""

    def needed_tools(self, params: FeatureParams) -> tuple[str, ...]:
        assert isinstance(params, Params)
        return (params.update_tool,)

    def cases(self, params: FeatureParams) -> list[Case]:
        return [
            Case("cut_stream", on_stream("subscription", "cut_stream"), "the stream ends at its first event"),
            Case("starve", on_stream("subscription", "starve"), "events swallowed, the stream left open"),
            Case(UNKNOWN_ID_PHASE, on_stream("subscription", "unknown_id"), "events retagged, unknown id"),
            Case("drop_ack", on_stream("subscription", "drop_ack", ACKNOWLEDGED), "the ack swallowed"),
            Case("duplicate", on_stream("duplicate"), "every event sent twice"),
        ]

    async def probe(self, probe: Probe, case: Case | None) -> None:
        p = probe.ctx.params
        assert isinstance(p, Params)
        tee = Tee()
        async with probe.client(message_handler=tee, read_timeout_seconds=p.ack_within_s) as client:
            if client is None:
                return

            async def listen_once() -> str:
                try:
                    async with client.listen(resource_subscriptions=[p.resource]) as sub:
                        self.opened.add(str(sub.subscription_id))
                        await client.call_tool(p.update_tool, {}, read_timeout_seconds=p.within_s)
                        with anyio.move_on_after(p.event_within_s):
                            try:
                                await sub.__anext__()
                            except SubscriptionLost:
                                return "lost"
                            except StopAsyncIteration:
                                return "ended"
                            return "ok"
                        return "silent"
                except TimeoutError:  # the SDK's read timeout on the acknowledgement
                    return "no_ack"

            def judged(outcome: str) -> tuple[str, str]:
                words = {
                    "ok": "the update arrived",
                    "lost": "the stream was lost (SubscriptionLost)",
                    "ended": "the stream ended gracefully before the update",
                    "silent": f"no update within {p.event_within_s:g} s",
                    "no_ack": f"no acknowledgement within {p.ack_within_s:g} s (the read timeout)",
                }
                return outcome, words[outcome]

            await probe.step("listen", listen_once, judged)
            if case is not None:
                await probe.ctx.set_faults({})  # heal: the re-listen must work with the fault gone
            await probe.step("re-listen", listen_once, judged)
        self.named += [(probe.phase, named) for named in tee.named]

    def feature_verdicts(self, ctx: ScenarioContext, steps: list[Step]) -> list[Verdict]:
        return [
            check_listen_bounded(steps),
            check_no_unknown_subscription(self.named, self.opened),
            check_relisten_updates(steps),
        ]


def check_listen_bounded(steps: list[Step]) -> Verdict:
    """Every listen ends in an outcome within the bound; a cut stream is told to the client as lost."""
    judged = [s for s in steps if s.step in ("listen", "re-listen", "probe", "connect")]
    problems = [s.describe() for s in judged if s.outcome in ("hung", "error", "rejected", "refused")]
    problems += [
        f"{s.describe()}: a cut stream must be told as lost"
        for s in judged
        # silent: no event came for the fault to cut (relisten_updates and feature_clean say why)
        if s.phase == "cut_stream" and s.step == "listen" and s.outcome in ("ok", "ended")
    ]
    return steps_verdict(
        "listen_bounded",
        "every listen under a fault ends in a bounded outcome (an update, a lost stream, silence for the "
        "event bound, no acknowledgement within the read timeout), never a hang; a cut stream is told "
        "to the client as lost, not as a graceful end",
        problems,
        judged,
        ", ".join(f"{s.phase}: {s.outcome}" for s in judged if s.step == "listen"),
    )


def check_no_unknown_subscription(named: list[tuple[str, str]], opened: set[str]) -> Verdict:
    """Outside the phase that injects it, no update reaching the client names a subscription the
    client never opened."""
    judged = [(phase, sid) for phase, sid in named if phase != UNKNOWN_ID_PHASE]
    strangers = [f"{phase}: an update names subscription {sid}" for phase, sid in judged if sid not in opened]
    rule = (
        f"outside the {UNKNOWN_ID_PHASE} phase (which injects them), no update that reaches the client "
        "names a subscription the client did not open"
    )
    if not judged:
        return Verdict(
            name="no_unknown_subscription",
            passed=False,
            inconclusive=True,
            rule=rule,
            detail="no update reached the client",
            evidence={},
        )
    return Verdict(
        name="no_unknown_subscription",
        passed=not strangers,
        rule=rule,
        detail="; ".join(strangers[:3])
        or f"{len(judged)} update(s), each naming a subscription the client opened",
        evidence={"strangers": strangers[:10], "opened": sorted(opened)[:20]},
    )


def check_relisten_updates(steps: list[Step]) -> Verdict:
    """In every phase, the re-listen (the fault cleared) gets the next update within the bound."""
    judged = [
        s for s in steps if s.step == "re-listen" or (s.step in ("connect", "probe") and s.outcome != "ok")
    ]
    problems = [f"{s.describe()}: updates stopped after a re-listen" for s in judged if s.outcome != "ok"]
    return steps_verdict(
        "relisten_updates",
        "after every listen (cut, starved, retagged, duplicated, unacknowledged, or clean) a new listen "
        "gets the next update within the event bound: the server serves every new stream",
        problems,
        judged,
        f"{len(judged)} re-listen(s), each got the next update",
    )
