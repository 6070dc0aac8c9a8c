"""``history_consistent``: the history checker's report as a verdict (docs/history.md).

The proxy the harness starts records every session's history (``proxy --history``); at the end
of a scenario the runner fetches the checker's report (``GET /history/check``) and this verdict
judges it: it passes when no violation is left that the injected faults do not explain.
Violations the faults explain, requests unanswered at the end and truncated sessions are
reported in the detail and the evidence, not failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcpchaos.harness.journal import Verdict

if TYPE_CHECKING:
    from mcpchaos.harness.scenario import ScenarioContext

RULE = (
    "every session's history keeps the MCP invariants (one response per request, nothing after a "
    "cancellation, rising progress, known subscriptions, mirrored headers, re-list after "
    "list-changed, resultType on 2026-07-28 results, no id reused in flight); violations an "
    "injected fault explains are counted apart"
)


def history_consistent(ctx: ScenarioContext) -> Verdict:
    return check_history_consistent(ctx.history_check)


def check_history_consistent(report: dict[str, Any] | None) -> Verdict:
    if report is None or not report.get("sessions"):
        why = "no history recorded" if report is None else "the history holds no session"
        return Verdict(
            name="history_consistent",
            passed=False,
            inconclusive=True,
            rule=RULE,
            detail=f"{why} (an attached proxy needs --history)",
            evidence={},
        )
    unexplained: dict[str, int] = report.get("unexplained_by_rule", {})
    induced: dict[str, int] = report.get("induced_by_rule", {})
    violations = [v for v in report.get("violations", []) if not v.get("induced_by_fault")]
    detail = (
        f"{report['sessions']} session(s), {report['messages']} message(s): "
        f"{sum(unexplained.values())} unexplained violation(s)"
        + (f" ({', '.join(f'{rule} {n}' for rule, n in sorted(unexplained.items()))})" if unexplained else "")
        + f", {sum(induced.values())} induced by faults, "
        f"{report.get('unanswered_total', 0)} request(s) unanswered at the end"
        + _by_wire(report.get("unanswered_by_wire") or {})
    )
    if report.get("truncated_sessions"):
        detail += f", {report['truncated_sessions']} session(s) truncated at the cap"
    if violations:
        first = violations[0]
        where = f"session {first['session']} ({first['wire']} side)"
        detail += f"; first: {first['rule']} in {where}: {first['detail']}"
    return Verdict(
        name="history_consistent",
        passed=bool(report.get("clean")),
        rule=RULE,
        detail=detail,
        evidence={
            "unexplained_by_rule": unexplained,
            "induced_by_rule": induced,
            "unanswered": report.get("unanswered_total", 0),
            "truncated_sessions": report.get("truncated_sessions", 0),
            "violations": violations[:5],
        },
    )


def _by_wire(counts: dict[str, int]) -> str:
    """ " (N to the client, M by the server)": the client's share is what a user lost."""
    if not counts:
        return ""
    return f" ({counts.get('client', 0)} to the client, {counts.get('server', 0)} by the server)"
