"""Each invariant caught on a made-up history, and a clean history passing every rule."""

from __future__ import annotations

from mcpchaos.history import RULES, check
from mcpchaos.history.check import CheckResult
from tests.history.builder import C2S, S2C, V2026, Builder


def _rules(result: CheckResult) -> set[str]:
    return {violation.rule for violation in result.violations}


def clean_session() -> Builder:
    b = Builder()
    b.request(0, "initialize", {"protocolVersion": "2025-11-25"})
    b.result(0, {"protocolVersion": "2025-11-25"})
    b.notify(C2S, "notifications/initialized", {})
    b.request(1, "tools/call", {"name": "slow", "_meta": {"progressToken": "t1"}})
    b.notify(S2C, "notifications/progress", {"progressToken": "t1", "progress": 1})
    b.notify(S2C, "notifications/progress", {"progressToken": "t1", "progress": 2})
    b.result(1)
    b.request(1, "tools/list")  # an id used again once its request finished: allowed
    b.result(1)
    b.notify(S2C, "notifications/tools/list_changed", {})
    b.request(2, "tools/list")
    b.result(2)
    b.request(3, "tools/call", {"name": "echo"})
    b.notify(C2S, "notifications/cancelled", {"requestId": 3})
    b.request(4, "subscriptions/listen", {"_meta": V2026})
    b.notify(
        S2C,
        "notifications/subscriptions/acknowledged",
        {"_meta": {"io.modelcontextprotocol/subscriptionId": 4}},
    )
    b.request(
        5,
        "tools/call",
        {"name": "echo", "_meta": V2026},
    )
    b.result(5, {"resultType": "complete", "content": []})
    b.request(6, "tools/call", {"name": "hang"})  # still waiting when the history ends
    return b


def test_a_clean_history_passes_every_rule_and_lists_what_is_unanswered_apart() -> None:
    result = check([clean_session().history])
    assert result.violations == []
    assert result.clean
    assert result.rules == tuple(RULES)
    assert [(u.wire, u.id, u.method) for u in result.unanswered] == [
        ("client", 4, "subscriptions/listen"),
        ("client", 6, "tools/call"),
        ("server", 4, "subscriptions/listen"),
        ("server", 6, "tools/call"),
    ]


def test_a_second_response_and_an_unsolicited_one_break_one_response() -> None:
    b = Builder()
    b.request(1, "tools/call", {"name": "echo"})
    first = b.result(1)
    second = b.result(1)
    stray = b.result(99)
    result = check([b.history])
    found = [v for v in result.violations if v.rule == "one_response"]
    assert len(found) == 4  # each on both wires
    duplicate = next(v for v in found if v.wire == "server" and len(v.seqs) == 3)
    assert duplicate.session == "s-1"
    assert duplicate.ids == (1,)
    assert first.seq in duplicate.seqs
    assert second.seq in duplicate.seqs
    assert any(v.seqs == (stray.seq,) and v.ids == (99,) for v in found)
    assert not result.clean


def test_a_response_after_the_cancellation_breaks_nothing_after_cancel() -> None:
    b = Builder()
    request = b.request(7, "tools/call", {"name": "slow", "_meta": {"progressToken": 70}})
    cancel = b.notify(C2S, "notifications/cancelled", {"requestId": 7})
    b.now += 1.0  # well past the grace
    progress = b.notify(S2C, "notifications/progress", {"progressToken": 70, "progress": 1})
    late = b.result(7)
    found = [
        v for v in check([b.history]).violations if v.rule == "nothing_after_cancel" and v.wire == "server"
    ]
    assert {v.seqs[-1] for v in found} == {progress.seq, late.seq}  # what the server sent
    assert all(v.seqs[:2] == (request.seq + 1, cancel.seq + 1) for v in found)  # what it was given


def test_an_answer_racing_the_cancellation_within_the_grace_is_allowed() -> None:
    b = Builder()
    b.request(7, "tools/call", {"name": "slow"})
    b.notify(C2S, "notifications/cancelled", {"requestId": 7})
    b.result(7)  # 10 ms later
    assert check([b.history], grace_s=0.1).violations == []
    assert _rules(check([b.history], grace_s=0.0)) == {"nothing_after_cancel"}


def test_progress_that_goes_down_or_comes_after_the_response_breaks_progress_monotonic() -> None:
    b = Builder()
    b.request(1, "tools/call", {"name": "slow", "_meta": {"progressToken": "p"}})
    b.notify(S2C, "notifications/progress", {"progressToken": "p", "progress": 2})
    down = b.notify(S2C, "notifications/progress", {"progressToken": "p", "progress": 1})
    b.result(1)
    after = b.notify(S2C, "notifications/progress", {"progressToken": "p", "progress": 3})
    found = [v for v in check([b.history]).violations if v.wire == "server"]
    assert {v.rule for v in found} == {"progress_monotonic"}
    assert {v.seqs[-1] for v in found} == {down.seq, after.seq}
    assert all(v.ids == ("p",) for v in found)


def test_a_notification_naming_no_open_subscription_breaks_known_subscription() -> None:
    b = Builder()
    key = "io.modelcontextprotocol/subscriptionId"
    b.request(4, "subscriptions/listen", {"_meta": V2026})
    b.notify(S2C, "notifications/resources/updated", {"uri": "a", "_meta": {key: 4}})
    unknown = b.notify(S2C, "notifications/resources/updated", {"uri": "a", "_meta": {key: 5}})
    b.result(4, {"resultType": "complete"})
    closed = b.notify(S2C, "notifications/resources/updated", {"uri": "a", "_meta": {key: 4}})
    found = [v for v in check([b.history]).violations if v.wire == "client"]
    assert [(v.rule, v.seqs, v.ids) for v in found] == [
        ("known_subscription", (unknown.seq + 1,), (5,)),
        ("known_subscription", (closed.seq + 1,), (4,)),
    ]
    assert "unknown" in found[0].detail
    assert "closed" in found[1].detail


def test_headers_that_disagree_with_the_body_break_mirrored_headers() -> None:
    b = Builder()
    params = {"name": "echo", "_meta": V2026}
    good = {"headers": {"mcp-method": "tools/call", "mcp-name": "echo", "mcp-protocol-version": "2026-07-28"}}
    bad = {"headers": {"mcp-method": "tools/list", "mcp-name": "echo", "mcp-protocol-version": "2026-07-28"}}
    b.passes(C2S, {"id": 1, "method": "tools/call", "params": params}, good)
    b.result(1, {"resultType": "complete"})
    wrong = b.passes(C2S, {"id": 2, "method": "tools/call", "params": params}, bad)
    b.result(2, {"resultType": "complete"})
    found = check([b.history]).violations
    assert [(v.rule, v.seqs, v.wire) for v in found] == [("mirrored_headers", (wrong.seq,), "client")]
    assert "mcp-method 'tools/list'" in found[0].detail


def test_a_call_after_list_changed_without_a_relist_breaks_relist_after_list_changed() -> None:
    b = Builder()
    notice = b.notify(S2C, "notifications/tools/list_changed", {})
    b.now += 1.0
    call = b.request(1, "tools/call", {"name": "echo"})
    b.result(1)
    b.request(2, "tools/call", {"name": "echo"})  # one violation per notification
    b.result(2)
    found = [v for v in check([b.history]).violations if v.wire == "client"]
    assert [(v.rule, v.seqs) for v in found] == [("relist_after_list_changed", (notice.seq + 1, call.seq))]


def test_a_2026_result_without_result_type_breaks_result_type_but_a_2025_one_does_not() -> None:
    b = Builder()
    b.request(1, "tools/call", {"name": "echo", "_meta": V2026})
    missing = b.result(1, {"content": []})
    b.request(2, "tools/call", {"name": "echo"})
    b.result(2, {"content": []})
    found = [v for v in check([b.history]).violations if v.wire == "server"]
    assert [(v.rule, v.seqs[-1], v.ids) for v in found] == [("result_type", missing.seq, (1,))]


def test_an_id_reused_while_in_flight_breaks_no_id_reuse() -> None:
    b = Builder()
    first = b.request(1, "tools/call", {"name": "slow"})
    again = b.request(1, "tools/call", {"name": "echo"})
    found = [v for v in check([b.history]).violations if v.wire == "client"]
    assert [(v.rule, v.seqs) for v in found] == [("no_id_reuse", (first.seq, again.seq))]


def test_a_violation_on_a_message_a_fault_changed_is_marked_induced_and_does_not_fail() -> None:
    b = Builder()
    request = b.request(1, "tools/call", {"name": "echo"})
    response = b.read_only(S2C, {"id": 1, "result": {}})
    response.faults = ["duplicate"]
    b.written_only(S2C, {"id": 1, "result": {}})
    b.written_only(S2C, {"id": 1, "result": {}})
    result = check([b.history])
    assert [(v.rule, v.wire, v.induced) for v in result.violations] == [("one_response", "client", True)]
    assert result.clean
    assert result.counts(True) == {"one_response": 1}
    assert request.faults is None


def test_an_update_a_fault_retagged_with_an_unknown_subscription_is_marked_induced() -> None:
    # The fault is marked on the read side, which names the real subscription (4); the client
    # gets the retagged one, which no read message names.
    b = Builder()
    key = "io.modelcontextprotocol/subscriptionId"
    b.request(4, "subscriptions/listen", {"_meta": V2026})
    event = b.read_only(
        S2C, {"method": "notifications/resources/updated", "params": {"uri": "a", "_meta": {key: 4}}}
    )
    event.faults = ["subscription:unknown_id"]
    b.written_only(
        S2C, {"method": "notifications/resources/updated", "params": {"uri": "a", "_meta": {key: "x"}}}
    )
    result = check([b.history])
    assert [(v.rule, v.wire, v.induced) for v in result.violations] == [
        ("known_subscription", "client", True)
    ]
    assert result.clean
