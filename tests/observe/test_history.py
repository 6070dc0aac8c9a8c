"""The history recorder: bounded per session and in all, faults marked on their message."""

from __future__ import annotations

import orjson

from mcpchaos.faults.injector import FaultRecord
from mcpchaos.harness.history_verdict import check_history_consistent
from mcpchaos.history import check
from mcpchaos.intercept.context import Session
from mcpchaos.observe.history import HistoryRecorder
from mcpchaos.protocol.messages import Direction, Message, parse

C2S = Direction.CLIENT_TO_SERVER
S2C = Direction.SERVER_TO_CLIENT


def _message(payload: dict[str, object]) -> Message:
    message = parse(orjson.dumps({"jsonrpc": "2.0", **payload}))
    assert isinstance(message, Message)
    return message


def test_a_session_past_its_cap_keeps_its_prefix_and_counts_the_rest() -> None:
    recorder = HistoryRecorder(limit=100, per_session=3)
    session = Session("s", 1, "stdio")
    for i in range(5):
        recorder.read(session, C2S, _message({"id": i, "method": "ping"}), float(i), i)
    (history,) = recorder.histories()
    assert [entry.id for entry in history.view()] == [0, 1, 2]
    assert history.truncated == 2
    assert recorder.stats()["truncated_entries"] == 2
    result = check(recorder.histories())
    assert result.truncated_sessions == 1
    assert all(u.truncated for u in result.unanswered)


def test_past_the_total_cap_the_oldest_sessions_are_evicted_and_counted() -> None:
    recorder = HistoryRecorder(limit=4, per_session=2)
    for n in range(1, 4):
        session = Session(f"s{n}", n, "http")
        recorder.read(session, C2S, _message({"id": 1, "method": "ping"}), 0.0, 0)
        recorder.written(session, C2S, _message({"id": 1, "method": "ping"}), 0.0)
    assert [h.key for h in recorder.histories()] == ["s2", "s3"]
    assert recorder.total == 4
    assert recorder.evicted_sessions == 1
    assert recorder.evicted_entries == 2


def test_a_fault_is_marked_on_the_message_it_was_injected_on() -> None:
    recorder = HistoryRecorder()
    session = Session("s", 7, "stdio")
    recorder.read(session, C2S, _message({"id": 1, "method": "tools/call"}), 0.0, 0)
    recorder.read(session, S2C, _message({"id": 1, "result": {}}), 0.1, 0)
    record = FaultRecord(0.0, "s", 7, "server_to_client", 0, 1, None, None, "duplicate", "default")
    recorder.fault(record)
    entries = next(recorder.histories()).view()
    assert [entry.faults for entry in entries] == [None, ["duplicate"]]


def test_history_consistent_fails_on_unexplained_violations_only_and_is_inconclusive_without_history() -> (
    None
):
    clean = {
        "sessions": 2,
        "messages": 10,
        "clean": True,
        "unexplained_by_rule": {},
        "induced_by_rule": {"one_response": 1},
    }
    verdict = check_history_consistent({**clean, "violations": [], "unanswered_total": 1})
    assert verdict.status == "passed"
    assert "1 induced by faults, 1 request(s) unanswered" in verdict.detail
    violation = {
        "rule": "no_id_reuse",
        "session": "s",
        "wire": "client",
        "detail": "reuses id 1",
        "induced_by_fault": False,
    }
    broken = {**clean, "clean": False, "unexplained_by_rule": {"no_id_reuse": 1}, "violations": [violation]}
    failed = check_history_consistent(broken)
    assert failed.status == "failed"
    assert "first: no_id_reuse in session s (client side): reuses id 1" in failed.detail
    assert check_history_consistent(None).status == "inconclusive"


def test_a_message_written_on_unchanged_is_one_cheap_entry_that_reads_back_whole() -> None:
    recorder = HistoryRecorder()
    session = Session("s", 1, "stdio")
    request = _message({"id": 5, "method": "tools/call", "params": {"name": "echo"}})
    recorder.read(session, C2S, request, 1.0, 0)
    recorder.written(session, C2S, request, 1.5)
    changed = _message({"id": 5, "method": "tools/call", "params": {"name": "other"}})
    recorder.written(session, C2S, changed, 2.0)  # a fault's copy: a whole entry
    history = next(recorder.histories())
    assert [type(item).__name__ for item in history.raw] == ["tuple", "float", "tuple"]
    entries = history.view()
    assert [(e.wire, e.written, e.id, e.time) for e in entries] == [
        ("client", False, 5, 1.0),
        ("server", True, 5, 1.5),
        ("server", True, 5, 2.0),
    ]
    assert entries[1].raw is request.wire
    assert entries[2].params["name"] == "other"


def test_a_listener_is_told_each_new_entry_as_it_is_recorded() -> None:
    recorder = HistoryRecorder()
    told: list[tuple[str, bool, object]] = []
    recorder.listeners.append(lambda history, entry: told.append((history.key, entry.written, entry.id)))
    session = Session("s", 1, "stdio")
    request = _message({"id": 9, "method": "ping"})
    recorder.read(session, C2S, request, 1.0, 0)
    recorder.written(session, C2S, request, 1.1)
    assert told == [("s", False, 9), ("s", True, 9)]
