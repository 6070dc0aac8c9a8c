"""The built-in client scenarios: a fault profile each (data only), and the verdicts it asks.

Each is an ordinary :class:`~mcpchaos.config.faults.FaultConfig` for the judge's proxy (the
existing fault kinds and protocol faults), sized so a client doing the work docs/judge.md
describes meets it within seconds. Counting is per proxy (``count_per: proxy``) where a fault
must happen once however many sessions the client opens again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

Action = Literal["restart_server"]


@dataclass(frozen=True, slots=True)
class ClientScenario:
    name: str
    description: str
    faults: dict[str, Any]
    verdicts: tuple[str, ...]
    """Judged besides ``exits_cleanly`` (every scenario has it)."""
    action: Action | None = None
    """Something the judge does to the target while the client runs."""
    needs: tuple[str, ...] = field(default=())
    """Target kinds it needs (empty: any): a restart needs a server the judge owns."""


def _rule(name: str, match: dict[str, Any], enabled: str, **settings: Any) -> dict[str, Any]:
    return {"name": name, "match": match, "probability": 1.0, "enabled_faults": {enabled: True}, **settings}


_CALLS: Final = {"methods": ["tools/call"]}
_RESPONSES: Final = {"message_classes": ["server_response"], "methods": ["tools/call"]}

SCENARIOS: Final[dict[str, ClientScenario]] = {
    s.name: s
    for s in (
        ClientScenario(
            "slow_server",
            "every tool call answers 0.2-0.5 s late: the client waits for the answers",
            {"rules": [_rule("slow", _CALLS, "delay", delay_ms={"min_ms": 200, "max_ms": 500})]},
            ("waits_for_slow_answers",),
        ),
        ClientScenario(
            "hung_call",
            "the first tool call is never answered: the client times it out and cancels it",
            {
                "rules": [
                    _rule(
                        "hang",
                        {**_CALLS, "first_n": 1, "count_per": "proxy"},
                        "error",
                        error_config={"types": ["timeout"], "timeout_answers": False},
                    )
                ]
            },
            ("times_out_hung_calls", "cancels_abandoned"),
        ),
        ClientScenario(
            "error_burst",
            "every tool call fails (-32603): the client backs off and does not retry a destructive tool",
            {
                "rules": [
                    _rule(
                        "burst",
                        _CALLS,
                        "error",
                        error_config={"types": ["internal_error"]},
                    )
                ]
            },
            ("backs_off", "no_blind_destructive_retry"),
        ),
        ClientScenario(
            "rate_limited",
            "the first tool call gets HTTP 429 with Retry-After: 1: the client waits before its next request",
            {
                "rules": [
                    _rule(
                        "429",
                        {**_CALLS, "first_n": 1, "count_per": "proxy"},
                        "error",
                        error_config={"types": ["rate_limited"], "retry_after_s": 1},
                    )
                ]
            },
            ("honours_retry_after", "backs_off"),
        ),
        ClientScenario(
            "unauthorized",
            "the second tool call gets HTTP 401 (mid-session): the client reports it, no retry storm",
            {
                "rules": [
                    _rule(
                        "401",
                        {**_CALLS, "every_nth": 2, "first_n": 2, "count_per": "proxy"},
                        "error",
                        error_config={"types": ["unauthorized"]},
                    )
                ]
            },
            ("backs_off",),
        ),
        ClientScenario(
            "session_expiry",
            "the session expires under the first tool call (HTTP 404): the client initializes again",
            {"rules": [_rule("404", {**_CALLS, "first_n": 1, "count_per": "proxy"}, "session_expiry")]},
            ("reinitializes_after_404",),
        ),
        ClientScenario(
            "server_restart",
            "the server is killed after the first answered tool call and started again: its "
            "sessions are gone (404), the client initializes again",
            # The second call waits a second in the proxy, so the kill lands before it (the judge
            # hears of the first answer by polling the proxy's metrics).
            {
                "rules": [
                    _rule(
                        "hold",
                        {**_CALLS, "every_nth": 2, "first_n": 2, "count_per": "proxy"},
                        "delay",
                        delay_ms={"min_ms": 1000, "max_ms": 1000},
                    )
                ]
            },
            ("reinitializes_after_404", "backs_off"),
            action="restart_server",
            needs=("demo",),
        ),
        ClientScenario(
            "list_changed",
            "the first tool result comes after notifications/tools/list_changed: the client lists "
            "the tools again before its next call",
            {"rules": [_rule("changed", {**_RESPONSES, "first_n": 1, "count_per": "proxy"}, "list_changed")]},
            ("relists_after_list_changed",),
        ),
        ClientScenario(
            "cut_stream",
            "the first tool call's SSE stream is closed before its result: the client does not wait forever",
            {
                "rules": [
                    _rule(
                        "cut",
                        {**_RESPONSES, "first_n": 1, "count_per": "proxy"},
                        "result_shape",
                        result_shape={"modes": ["late_result"]},
                    )
                ]
            },
            ("times_out_hung_calls",),
        ),
        ClientScenario(
            "bad_responses",
            "a truncated (malformed) tool result, then a response with an id nobody sent: the client goes on",
            {
                # Two rules, one answer each: the first takes the first result, the second
                # (whose count starts when the first stops matching) the next one.
                "rules": [
                    _rule(
                        f"bad-{mode}",
                        {**_RESPONSES, "first_n": 1, "count_per": "proxy"},
                        "corruption",
                        corruption_config={"modes": [mode]},
                    )
                    for mode in ("truncated_json", "unknown_response_id")
                ]
            },
            ("survives_bad_responses", "times_out_hung_calls"),
        ),
        ClientScenario(
            "era_fallback",
            "server/discover (2026-07-28) is refused as a 2025-era server refuses it: the client "
            "falls back to initialize",
            {
                "rules": [
                    _rule(
                        "legacy",
                        {"methods": ["server/discover"]},
                        "era_downgrade",
                    )
                ]
            },
            ("falls_back_to_legacy",),
        ),
    )
}
"""The built-in client scenarios, in the order ``mcpchaos judge`` runs them."""
