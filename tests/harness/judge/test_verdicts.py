"""The client verdicts on made-up histories (no sockets): the edges the live tests do not reach."""

from __future__ import annotations

from typing import Any

import orjson

from mcpchaos.harness.journal import Verdict
from mcpchaos.harness.judge.observed import ClientExit, Observed, observe
from mcpchaos.harness.judge.verdicts import (
    Bounds,
    NotExercised,
    backs_off,
    cancels_abandoned,
    honours_retry_after,
    idempotent,
    judge,
    no_blind_destructive_retry,
    reinitializes_after_404,
    relists_after_list_changed,
)
from mcpchaos.history import tape
from mcpchaos.history.record import Entry, SessionHistory
from mcpchaos.history.redact import Redactor
from mcpchaos.protocol.messages import Direction, Kind

C2S, S2C = Direction.CLIENT_TO_SERVER, Direction.SERVER_TO_CLIENT
EXITED = ClientExit(started=0.0, ended=10.0, returncode=0, killed=False)


def call(seq: int, time: float, request_id: int) -> Entry:
    body = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {"name": "echo"}}
    return Entry(seq, time, "client", False, C2S, Kind.REQUEST, request_id, "tools/call", orjson.dumps(body))


def request(seq: int, time: float, request_id: int, method: str) -> Entry:
    body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": {}}
    return Entry(seq, time, "client", False, C2S, Kind.REQUEST, request_id, method, orjson.dumps(body))


def error(seq: int, time: float, request_id: int, data: dict[str, Any] | None = None) -> Entry:
    body = {"jsonrpc": "2.0", "id": request_id, "error": {"code": -32603, "message": "no", "data": data}}
    return Entry(seq, time, "client", True, S2C, Kind.ERROR, request_id, None, orjson.dumps(body))


def observed(*entries: Entry, exit: ClientExit = EXITED) -> Observed:
    history = SessionHistory.of("s", list(entries), ordinal=1)
    raw = b"".join(tape.from_histories([history], "test", "0", "now", Redactor()))
    return observe(tape.parse(raw.splitlines()), exit)


def sessions(*sessions: list[Entry], exit: ClientExit = EXITED) -> Observed:
    histories = [SessionHistory.of(f"s{n}", entries, ordinal=n) for n, entries in enumerate(sessions, 1)]
    raw = b"".join(tape.from_histories(histories, "test", "0", "now", Redactor()))
    return observe(tape.parse(raw.splitlines()), exit)


def changed(seq: int, time: float) -> Entry:
    body = {"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}
    method = "notifications/tools/list_changed"
    return Entry(seq, time, "client", True, S2C, Kind.NOTIFICATION, None, method, orjson.dumps(body))


def judged(verdict: Verdict | NotExercised) -> Verdict:
    assert isinstance(verdict, Verdict), verdict
    return verdict


def test_a_request_sent_in_the_same_millisecond_as_the_429_is_too_soon() -> None:
    limited = {"mcpchaos": {"retry_after_s": 1}}
    obs = observed(call(0, 1.000, 1), error(1, 1.000, 1, limited), call(2, 1.000, 2), error(3, 1.001, 2))
    verdict = judged(honours_retry_after(obs, Bounds()))
    assert not verdict.passed
    assert "too soon" in verdict.detail


def test_a_steady_retry_passes_and_a_burst_past_the_rate_fails() -> None:
    steady = [e for i in range(5) for e in (call(2 * i, i * 0.5, i), error(2 * i + 1, i * 0.5, i))]
    burst = [e for i in range(12) for e in (call(2 * i, i * 0.01, i), error(2 * i + 1, i * 0.01, i))]
    assert judged(backs_off(observed(*steady), Bounds())).passed
    failed = judged(backs_off(observed(*burst), Bounds(max_request_rate=10)))
    assert not failed.passed
    assert failed.evidence["peak_per_s"] == 11  # the 11 after the first error (the first is what it answers)


def test_unannotated_tools_are_not_idempotent_as_the_spec_defaults_say() -> None:
    assert not idempotent(None)
    assert not idempotent({"destructiveHint": False})
    assert idempotent({"readOnlyHint": True})
    assert idempotent({"idempotentHint": True})


def test_a_verdict_the_run_did_not_exercise_is_inconclusive_for_a_scenario_and_left_out_for_a_profile() -> (
    None
):
    obs = observed(call(0, 1.0, 1), error(1, 1.1, 1))
    names = ("exits_cleanly", "reinitializes_after_404")
    required = judge(obs, Bounds(), names, required=True)
    assert [(v.name, v.status) for v in required] == [
        ("exits_cleanly", "passed"),
        ("reinitializes_after_404", "inconclusive"),
    ]
    assert [v.name for v in judge(obs, Bounds(), names, required=False)] == ["exits_cleanly"]


def test_the_placeholders_fill_a_whole_argument_with_words_and_a_part_with_the_quoted_line() -> None:
    from mcpchaos.harness.judge.runner import fill

    command = ["/usr/bin/python 3", "-m", "mcpchaos"]
    argv = fill(["client", "{url}", "--server={command}", "{command}"], "http://h/mcp", command)
    assert argv == [
        "client",
        "http://h/mcp",
        "--server='/usr/bin/python 3' -m mcpchaos",
        "/usr/bin/python 3",
        "-m",
        "mcpchaos",
    ]


def test_the_request_an_error_answers_is_not_counted_after_it_even_in_the_same_millisecond() -> None:
    obs = observed(request(0, 1.0, 1, "tools/list"), call(1, 2.000, 2), error(2, 2.000, 2))
    verdict = judged(backs_off(obs, Bounds()))
    assert verdict.evidence["peak_per_s"] == 0
    assert "then 0 request(s)" in verdict.detail


def test_a_client_that_sends_nothing_after_a_429_is_inconclusive_on_retry_after_not_passed() -> None:
    limited = {"mcpchaos": {"retry_after_s": 1}}
    gave_up = ClientExit(started=0.0, ended=1.2, returncode=1, killed=False)
    obs = observed(call(0, 1.0, 1), error(1, 1.0, 1, limited), exit=gave_up)
    verdict = judged(honours_retry_after(obs, Bounds()))
    assert verdict.status == "inconclusive"
    assert "no request after them" in verdict.detail
    assert "exited with status 1" in verdict.detail


def test_an_abandoned_sessionless_call_is_inconclusive_on_cancellation_with_the_reason() -> None:
    # 2026-07-28 over HTTP: no initialize, the client gives the call up by closing its stream.
    obs = observed(request(0, 1.0, 1, "server/discover"), call(1, 1.1, 2))
    verdict = judged(cancels_abandoned(obs, Bounds(call_timeout_s=5.0)))
    assert verdict.status == "inconclusive"
    assert "sessionless" in verdict.detail
    handshake = observed(request(0, 1.0, 1, "initialize"), call(1, 1.1, 2))
    assert judged(cancels_abandoned(handshake, Bounds(call_timeout_s=5.0))).status == "failed"


def test_a_sessionless_client_never_exercises_the_404_verdict_and_the_reason_says_so() -> None:
    obs = observed(request(0, 1.0, 1, "server/discover"), call(1, 1.1, 2), error(2, 1.2, 2))
    reason = reinitializes_after_404(obs, Bounds())
    assert isinstance(reason, NotExercised)
    assert "sessionless" in reason.reason
    (verdict,) = judge(obs, Bounds(), ("reinitializes_after_404",), required=True)
    assert verdict.status == "inconclusive"
    assert "sessionless" in verdict.detail


def test_a_retry_sent_in_the_same_millisecond_as_the_failure_is_still_a_retry() -> None:
    # echo unlisted here: unannotated, so not idempotent (the spec's defaults)
    obs = observed(call(0, 1.000, 1), error(1, 1.000, 1), call(2, 1.000, 2), error(3, 1.000, 2))
    verdict = judged(no_blind_destructive_retry(obs, Bounds()))
    assert not verdict.passed
    assert "sent again 1 time(s)" in verdict.detail


def test_list_changed_is_judged_by_the_next_request_in_any_session_the_client_opens() -> None:
    # A 2026-07-28 client's every request is a session; a CLI's next invocation is a new one.
    notified = [call(0, 1.0, 1), changed(1, 1.1)]
    relisted = sessions(notified, [request(0, 2.0, 2, "initialize"), request(1, 2.1, 3, "tools/list")])
    assert judged(relists_after_list_changed(relisted, Bounds())).status == "passed"
    stale = sessions(notified, [call(0, 2.0, 2)])
    assert judged(relists_after_list_changed(stale, Bounds())).status == "failed"
    ended = judged(relists_after_list_changed(sessions(notified), Bounds()))
    assert ended.status == "inconclusive"
    assert "never needed the list again" in ended.detail


def test_the_request_a_404_answers_is_not_a_later_request_on_the_expired_session() -> None:
    gone = error(2, 2.000, 2)
    gone.meta = {"status": 404}
    obs = observed(request(0, 1.0, 1, "initialize"), call(1, 2.000, 2), gone)
    verdict = judged(reinitializes_after_404(obs, Bounds()))
    assert verdict.status == "failed"
    assert "(0 later request(s))" in verdict.detail
