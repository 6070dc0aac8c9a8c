"""Multi-round-trip requests under faults: ``confirm`` (``input_required`` + ``requestState``)
with extra rounds, undeclared input kinds, an endless loop, a tampered and an expired state, and
a retry that hops to another process of the server (a replica the harness starts beside the demo)."""

from __future__ import annotations

import secrets
from typing import Any, ClassVar

from mcp import InputRequiredRoundsExceededError
from mcp.client.context import ClientRequestContext
from mcp.types import ElicitRequestParams, ElicitResult, TextContent
from pydantic import Field

from mcpchaos.harness.feature_scenario import (
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

TOOL = "confirm"
CONFIRMED = "confirmed=True"
GAVE_UP = "gave up"
STATE_PHASES = ("tampered_state", "expired_state")
HOP = "replica_hop"
ROUND_PHASES = ("extra_round", "undeclared_kind", "endless_loop")
DEMO_STATE_TTL_S = 2.0
"""The demo's requestState TTL in this scenario, unless ``state_ttl_s`` says otherwise."""


class Params(FeatureParams):
    state_ttl_s: float | None = Field(None, gt=0, le=3600)
    """How long the target's ``requestState`` stays valid; the expired case holds a retry this
    long and half a second more. The demo is started with it (``--request-state-ttl``; None: 2 s);
    for another target give the target's own (None: the expired case is not run)."""
    replica_url: str | None = None
    """Another process of the target (a replica behind the same load balancer) for the
    ``replica_hop`` case. On the demo the harness starts one, both sealing requestState with one
    key (``--request-state-key``); elsewhere None means the case is not run."""
    max_rounds: int = Field(10, ge=1, le=100)
    """The client's bound on input rounds per call (``input_required_max_rounds``; 10 is the SDK's)."""


def input_faults(mode: str, **settings: Any) -> dict[str, Any]:
    rule = {
        "match": {"methods": ["tools/call"], "tools": [TOOL], "message_classes": ["client_request"]},
        "probability": 1.0,
        "enabled_faults": {"input_required": True},
        "input_required": {"modes": [mode], **settings},
    }
    return {"rules": [rule]}


class MrtrUnderFaults(FeatureScenario):
    name = "mrtr_under_faults"
    description = (
        "The multi-round-trip tool (confirm: input_required, then a retry with the answer and the "
        "requestState) under input_required faults: a tampered or expired state is refused with a "
        "clear error, extra and endless rounds stay bounded, a round that hops to another process "
        "of the server completes there, clean calls succeed after."
    )
    mitigation = (
        "Treat requestState as attacker-controlled: seal it (integrity and expiry, as the official "
        "SDK's RequestStateSecurity does) and refuse what does not verify with -32602; give every "
        "replica the same sealing key (RequestStateSecurity(keys=...)); bound input rounds on the "
        "client (input_required_max_rounds)."
    )
    Params: ClassVar[type[ScenarioParams]] = Params
    quick: ClassVar[dict[str, Any]] = {**FeatureScenario.quick, "max_rounds": 4}
    verdict_names = (*FEATURE_COMMON, "rounds_bounded", "replica_hop", "state_integrity")
    untimed_phases = (*ROUND_PHASES, *STATE_PHASES, HOP)

    def __init__(self) -> None:
        super().__init__()
        self.replica_url: str | None = None

    async def prepare(self, ctx: ScenarioContext) -> None:
        p = ctx.params
        assert isinstance(p, Params)
        self.replica_url = p.replica_url
        if ctx.stack.target.kind != "demo":
            return
        ctx.stack.upstream_args += ["--request-state-ttl", f"{p.state_ttl_s or DEMO_STATE_TTL_S:g}"]
        if self.replica_url is None and (p.only is None or HOP in p.only):
            # Deployed as replicas are: one key for all, made for this run.
            ctx.stack.upstream_args += ["--request-state-key", secrets.token_hex(32)]
            self.replica_url = await ctx.stack.start_replica()

    def skip_case(self, ctx: ScenarioContext, case: Case) -> str | None:
        p = ctx.params
        assert isinstance(p, Params)
        if case.name == "expired_state" and p.state_ttl_s is None and ctx.stack.target.kind != "demo":
            return "give state_ttl_s, the target's requestState TTL: the case holds a retry past it"
        if case.name == HOP and self.replica_url is None:
            return "give replica_url, another process of the target, for a round to hop to"
        return None

    def needed_tools(self, params: FeatureParams) -> tuple[str, ...]:
        return (TOOL,)

    def cases(self, params: FeatureParams) -> list[Case]:
        assert isinstance(params, Params)
        ttl_s = params.state_ttl_s or DEMO_STATE_TTL_S
        hold_ms = (ttl_s + 0.5) * 1000
        return [
            Case("extra_round", input_faults("extra_round"), "an input request the server never sent"),
            Case("undeclared_kind", input_faults("undeclared_kind"), "an input of a kind the client lacks"),
            Case(
                "endless_loop",
                input_faults("endless_loop", max_rounds=params.max_rounds * 2),
                "every round answered with another input request",
            ),
            Case("tampered_state", input_faults("tampered_state"), "the retry's requestState altered"),
            Case(
                "expired_state",
                input_faults("expired_state", expire_delay_ms=hold_ms),
                f"the retry held {hold_ms / 1000:g} s, past the state's {ttl_s:g} s TTL",
            ),
            Case(
                HOP,
                input_faults(HOP, replica_url=self.replica_url or params.replica_url),
                "the retry sent to another process of the server",
            ),
        ]

    async def probe(self, probe: Probe, case: Case | None) -> None:
        p = probe.ctx.params
        assert isinstance(p, Params)
        asked: list[str] = []

        async def on_elicit(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
            asked.append(params.message)
            return ElicitResult(action="accept", content={"confirm": True})

        async with probe.client(
            elicitation_callback=on_elicit, input_required_max_rounds=p.max_rounds
        ) as client:
            if client is None:
                return

            async def call() -> str:
                try:
                    result = await client.call_tool(TOOL, {"question": f"go ahead ({probe.phase})?"})
                except InputRequiredRoundsExceededError:
                    return GAVE_UP
                block = result.content[0] if result.content else None
                return block.text if isinstance(block, TextContent) else ""

            def judged(text: str) -> tuple[str, str]:
                if text == GAVE_UP:
                    return "gave_up", f"the client stopped at its bound of {p.max_rounds} round(s)"
                return ("ok", text) if text == CONFIRMED else ("wrong", f"answered {text!r}")

            step = await probe.step(f"call {TOOL}", call, judged)
            step.extra["answered"] = len(asked)
            step.detail += f"; {len(asked)} input(s) answered"

    def feature_verdicts(self, ctx: ScenarioContext, steps: list[Step]) -> list[Verdict]:
        p = ctx.params
        assert isinstance(p, Params)
        calls = [s for s in steps if s.step == f"call {TOOL}" or s.outcome != "ok"]
        return [
            check_rounds_bounded(calls, p.max_rounds),
            check_replica_hop(calls),
            check_state_integrity(calls),
        ]


def check_rounds_bounded(steps: list[Step], max_rounds: int) -> Verdict:
    """Extra, undeclared and endless rounds: each call ends within the bound, answering at most
    ``max_rounds`` inputs; an extra round the server never asked for still ends in its result."""
    judged = in_phases(steps, ROUND_PHASES)
    problems: list[str] = []
    for s in judged:
        answered = int(s.extra.get("answered", 0))
        if s.outcome in ("hung", "refused", "wrong"):
            problems.append(s.describe())
        elif answered > max_rounds:
            problems.append(f"{s.phase}: {answered} inputs answered, past the bound of {max_rounds}")
        elif s.phase == "extra_round" and s.outcome != "ok":
            problems.append(f"{s.describe()}: an extra round must not cost the call its result")
    return steps_verdict(
        "rounds_bounded",
        f"an input round the server never asked for, one of a kind the client did not declare, and an "
        f"endless loop each end the call within the step bound, with at most {max_rounds} input(s) "
        "answered; after an extra round the call still gets its result",
        problems,
        judged,
        ", ".join(f"{s.phase}: {s.outcome} after {s.extra.get('answered', 0)} input(s)" for s in judged),
    )


def check_replica_hop(steps: list[Step]) -> Verdict:
    """A round that reaches another process of the server ends there with its result: the
    server is stateless across processes (its replicas can read each other's requestState)."""
    judged = in_phases(steps, (HOP,))
    problems: list[str] = []
    for s in judged:
        if s.outcome == "rejected":
            problems.append(
                f"{s.phase}: refused by the other process ({s.detail}): the requestState is bound to "
                "the process that sealed it"
            )
        elif s.outcome != "ok":
            problems.append(s.describe())
    return steps_verdict(
        HOP,
        "a retry that reaches another process of the server (a replica, or one restarted) completes the "
        "call there: the server keeps no state of a round that its requestState does not carry",
        problems,
        judged,
        "; ".join(f"{s.phase}: {s.detail}" for s in judged),
    )


def check_state_integrity(steps: list[Step]) -> Verdict:
    """A tampered or expired ``requestState`` is refused with a JSON-RPC error, not accepted and
    not left hanging."""
    judged = in_phases(steps, STATE_PHASES)
    problems: list[str] = []
    for s in judged:
        if s.outcome == "ok":
            problems.append(f"{s.phase}: the target accepted the altered requestState ({s.detail})")
        elif s.outcome != "rejected":
            problems.append(f"{s.describe()}: not a clear refusal")
    return steps_verdict(
        "state_integrity",
        "a retry whose requestState was tampered with, or has expired, is refused with a JSON-RPC error "
        "(the official SDK: -32602 Invalid or expired requestState) within the step bound: not accepted, "
        "not a hang",
        problems,
        judged,
        "; ".join(f"{s.phase}: {s.detail}" for s in judged),
    )
