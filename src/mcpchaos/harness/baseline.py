"""``mcpchaos run --baseline OLD_JOURNAL``: this run against an earlier one, as a CI gate.

Scenarios are matched by name and phases by name; what one run has and the other lacks is
not compared. A comparison *regresses* past its threshold (the defaults below, documented in
docs/harness.md):

* collapse point (gradual degradation): lower by more than 0.1 in fault probability;
* time to recover: longer by more than 50 % and 1 s;
* per phase, success (``ok`` share): lower by more than 10 points;
* per phase, p99 latency: more than twice and 50 ms longer.
"""

from __future__ import annotations

from dataclasses import dataclass

from mcpchaos.harness.journal import Journal, PhaseRecord, ScenarioResult

COLLAPSE_DROP = 0.1
RECOVERY_FACTOR, RECOVERY_SLACK_S = 1.5, 1.0
SUCCESS_DROP = 0.10
P99_FACTOR, P99_SLACK_MS = 2.0, 50.0


@dataclass(frozen=True)
class Comparison:
    """One figure, old against new."""

    name: str
    """``scenario/phase: figure``."""
    old: float
    new: float
    regressed: bool
    rule: str

    @property
    def detail(self) -> str:
        verdict = "REGRESSED" if self.regressed else "ok"
        return f"{self.name}: {self.old:g} → {self.new:g} ({verdict})"


def compare(old: Journal, new: Journal) -> list[Comparison]:
    """Every figure the two runs share, compared."""
    before = {result.scenario: result for result in old.scenarios}
    out: list[Comparison] = []
    for result in new.scenarios:
        earlier = before.get(result.scenario)
        if earlier is not None and earlier.error is None and result.error is None:
            out += _scenario(earlier, result)
    return out


def _scenario(old: ScenarioResult, new: ScenarioResult) -> list[Comparison]:
    name = new.scenario
    out: list[Comparison] = []
    if old.collapse_point is not None and new.collapse_point is not None:
        out.append(
            Comparison(
                f"{name}: collapse point",
                old.collapse_point,
                new.collapse_point,
                new.collapse_point < old.collapse_point - COLLAPSE_DROP - 1e-9,
                f"the collapse point may fall by {COLLAPSE_DROP:g} at most",
            )
        )
    old_recovery = old.measurements.get("time_to_recover_s")
    new_recovery = new.measurements.get("time_to_recover_s")
    if old_recovery is not None and new_recovery is not None:
        limit = max(old_recovery * RECOVERY_FACTOR, old_recovery + RECOVERY_SLACK_S)
        out.append(
            Comparison(
                f"{name}: time to recover (s)",
                round(old_recovery, 3),
                round(new_recovery, 3),
                new_recovery > limit,
                f"recovery may take {RECOVERY_FACTOR:g}× and {RECOVERY_SLACK_S:g} s longer at most",
            )
        )
    phases = {phase.name: phase for phase in old.phases}
    for phase in new.phases:
        earlier = phases.get(phase.name)
        if earlier is not None:
            out += _phase(f"{name}/{phase.name}", earlier, phase)
    return out


def _phase(name: str, old: PhaseRecord, new: PhaseRecord) -> list[Comparison]:
    out: list[Comparison] = []
    old_rate, new_rate = old.outcomes.success_rate, new.outcomes.success_rate
    if old_rate is not None and new_rate is not None:
        out.append(
            Comparison(
                f"{name}: success",
                round(old_rate, 4),
                round(new_rate, 4),
                new_rate < old_rate - SUCCESS_DROP - 1e-9,
                f"success may fall by {SUCCESS_DROP * 100:g} points at most",
            )
        )
    old_p99, new_p99 = old.latency.p99_ms, new.latency.p99_ms
    if old_p99 is not None and new_p99 is not None:
        out.append(
            Comparison(
                f"{name}: p99 (ms)",
                round(old_p99, 2),
                round(new_p99, 2),
                new_p99 > max(old_p99 * P99_FACTOR, old_p99 + P99_SLACK_MS),
                f"p99 may grow {P99_FACTOR:g}× and {P99_SLACK_MS:g} ms at most",
            )
        )
    return out


__all__ = ["Comparison", "compare"]
