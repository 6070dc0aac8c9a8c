"""Era fallback: a 2026-07-28 request answered as a handshake-era server answers it."""

from __future__ import annotations

from typing import Any

from mcp.types import TextContent

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
from mcpchaos.harness.scenario import ScenarioContext

MODERN = "2026-07-28"
HANDSHAKE_ERA = ("2025-11-25", "2025-06-18", "2025-03-26")
TEXT = "era fallback"
RULE = (
    "told the server speaks only the handshake era (-32022 or the legacy 400 body on server/discover), "
    f"the client falls back to initialize ({HANDSHAKE_ERA[0]}) and its calls succeed; with no fault it "
    f"speaks {MODERN}"
)


def downgrade(legacy_body: bool) -> dict[str, Any]:
    """``era_downgrade`` on ``server/discover`` only: the probe's connection is answered as by a
    legacy server; the light load (sessionless calls, no discovery) is left alone."""
    rule = {
        "match": {"methods": ["server/discover"], "message_classes": ["client_request"]},
        "probability": 1.0,
        "enabled_faults": {"era_downgrade": True},
        "era_downgrade": {"legacy_body": legacy_body},
    }
    return {"rules": [rule]}


class EraFallback(FeatureScenario):
    name = "era_fallback"
    description = (
        "A 2026-07-28 client is told the server speaks only the handshake era (-32022, or the "
        "legacy 400 body): it must fall back to initialize and its calls keep succeeding; with the "
        "fault gone it speaks 2026-07-28 again."
    )
    mitigation = (
        "Keep serving the handshake era (initialize, 2025-11-25) beside 2026-07-28 while clients "
        "and gateways of both eras are about: a server that refuses initialize is unreachable to a "
        "client sent back to it."
    )
    verdict_names = (*FEATURE_COMMON, "era_fallback")
    untimed_phases = ("discover_refused", "legacy_body")

    def needed_tools(self, params: FeatureParams) -> tuple[str, ...]:
        return ("echo",)

    def cases(self, params: FeatureParams) -> list[Case]:
        return [
            Case(
                "discover_refused", downgrade(False), "server/discover answered -32022 (handshake versions)"
            ),
            Case("legacy_body", downgrade(True), "server/discover answered with the legacy 400 body"),
        ]

    async def probe(self, probe: Probe, case: Case | None) -> None:
        async with probe.client() as client:
            if client is None:
                return

            async def call() -> str:
                result = await client.call_tool("echo", {"text": TEXT})
                block = result.content[0] if result.content else None
                return block.text if isinstance(block, TextContent) else ""

            def judged(text: str) -> tuple[str, str]:
                return ("ok", "answered") if text == TEXT else ("wrong", f"answered {text!r}")

            await probe.step("call echo", call, judged)

    def feature_verdicts(self, ctx: ScenarioContext, steps: list[Step]) -> list[Verdict]:
        return [check_era_fallback(steps)]


def check_era_fallback(steps: list[Step]) -> Verdict:
    """Under a downgrade, the client connects in the handshake era and its calls succeed; with no
    fault, it connects in 2026-07-28."""
    problems: list[str] = []
    judged = [s for s in steps if s.step in ("connect", "call echo")]
    spoken = {s.extra.get("version") for s in judged if s.phase == "baseline" and s.step == "connect"}
    if spoken and spoken <= set(HANDSHAKE_ERA):
        return Verdict(
            name="era_fallback",
            passed=False,
            inconclusive=True,
            rule=RULE,
            detail=f"the target speaks only {', '.join(sorted(map(str, spoken)))}: there is no {MODERN} "
            "to fall back from",
            evidence={},
        )
    for s in judged:
        if s.outcome != "ok":
            where = "the fallback era" if s.phase not in ("baseline", "recovery") else MODERN
            problems.append(f"{s.describe()}: the target cannot be reached in {where}")
            continue
        version = s.extra.get("version")
        if s.step == "connect" and s.phase in ("baseline", "recovery") and version != MODERN:
            problems.append(f"{s.phase}: connected in {version}, not {MODERN}, with no fault in place")
        elif s.step == "connect" and s.phase not in ("baseline", "recovery") and version not in HANDSHAKE_ERA:
            problems.append(f"{s.phase}: connected in {version} though told only the handshake era is spoken")
    fallbacks = [s for s in judged if s.phase not in ("baseline", "recovery")]
    if not fallbacks:
        problems.append("no downgrade phase was probed")
    return steps_verdict(
        "era_fallback",
        RULE,
        problems,
        judged,
        f"fell back in {len({s.phase for s in fallbacks})} downgrade phase(s), calls answered; {MODERN} "
        "with no fault",
    )
