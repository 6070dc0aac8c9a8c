from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mcpchaos.harness.load.recorder import _BUCKET_DIGITS, Recorder, _histogram, _summary
from mcpchaos.harness.load.settings import LoadSettings, Operation
from mcpchaos.harness.load.wire import Chooser, prepare


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


OK = {"jsonrpc": "2.0", "id": 1, "result": {}}
INJECTED = {"jsonrpc": "2.0", "id": 1, "error": {"code": -32010, "data": {"mcpchaos": {"injected": True}}}}


@given(
    st.sampled_from([_BUCKET_DIGITS, 3]),
    st.lists(st.integers(min_value=1, max_value=60_000_000), min_size=1, max_size=300),
)
def test_the_latency_summary_has_the_values_hdrh_itself_computes(digits: int, values: list[int]) -> None:
    histogram = _histogram(digits)
    for value in values:
        histogram.record_value(value)
    summary = _summary(histogram)
    assert summary.count == len(values)
    assert summary.p50_ms == histogram.get_value_at_percentile(50) / 1000
    assert summary.p90_ms == histogram.get_value_at_percentile(90) / 1000
    assert summary.p99_ms == histogram.get_value_at_percentile(99) / 1000
    assert summary.max_ms == histogram.get_max_value() / 1000
    assert summary.mean_ms == histogram.get_mean_value() / 1000


def test_accounting_counts_duplicates_unexpected_lost_and_hung_requests() -> None:
    recorder = Recorder(clock=FakeClock())
    answered, timed_out, reset, hanging, refused = (recorder.begin() for _ in range(5))
    for ticket in (answered, timed_out, reset, hanging):
        ticket.sent = True
    recorder.response(answered, OK)
    recorder.response(answered, OK)  # the same answer again
    recorder.unexpected()
    recorder.deadline(timed_out)
    recorder.response(timed_out, OK)  # late: the request already ended lost, nothing more counts
    recorder.transport(reset, "reset")
    recorder.transport(refused, "refused")  # never sent: a transport outcome, not a lost request
    assert recorder.in_flight() == 1
    recorder.finish()
    counts, latency, accounting = recorder.totals()
    assert (counts.ok, counts.deadline, counts.transport) == (1, 1, 2)
    assert counts.transport_kinds == {"reset": 1, "refused": 1}
    assert accounting.model_dump() == {
        "sent": 4,
        "answered": 1,
        "lost": 2,
        "silent": 1,
        "not_sent": 1,
        "duplicated": 1,
        "unexpected": 1,
        "hung": 1,
        "handshakes": 0,
        "handshakes_failed": 0,
        "handshakes_injected": 0,
    }
    assert latency.count == 4
    assert recorder.in_flight() == 0


TOOL_ERROR = {
    "jsonrpc": "2.0",
    "id": 1,
    "result": {"isError": True, "content": [{"type": "text", "text": "Input validation error: 'message'"}]},
}


def test_a_tool_result_with_is_error_is_a_tool_error_answered_but_never_a_success() -> None:
    recorder = Recorder(clock=FakeClock())
    for payload in (TOOL_ERROR, TOOL_ERROR, OK):
        ticket = recorder.begin()
        ticket.sent = True
        recorder.response(ticket, payload)
    counts, _, accounting = recorder.totals()
    assert (counts.ok, counts.tool_error, counts.total) == (1, 2, 3)
    assert counts.success_rate == 1 / 3
    assert accounting.answered == 3
    assert counts.first_errors == ["tool error: Input validation error: 'message'"]
    assert recorder.timeline()[0].outcomes.tool_error == 2
    assert recorder.timeline()[0].outcomes.first_errors == []  # texts are kept per phase only


def test_the_first_three_distinct_failure_texts_are_kept_in_order() -> None:
    recorder = Recorder(clock=FakeClock())
    failures = [
        lambda t: recorder.response(t, TOOL_ERROR),
        lambda t: recorder.response(t, {"id": 1, "error": {"code": -32602, "message": "bad\nparams"}}),
        lambda t: recorder.response(t, TOOL_ERROR),
        lambda t: recorder.transport(t, "reset"),
        recorder.deadline,
    ]
    for fail in failures:
        fail(recorder.begin())
    assert recorder.totals()[0].first_errors == [
        "tool error: Input validation error: 'message'",
        "error -32602: bad params",
        "transport reset",
    ]


def test_handshakes_are_counted_apart_from_requests_in_the_current_phase() -> None:
    recorder = Recorder(clock=FakeClock())
    recorder.handshake(sent=True, opened=True)
    recorder.handshake(sent=True, opened=False)  # timed out: the proxy saw it all the same
    recorder.handshake(sent=False, opened=False)  # refused: nothing went out
    recorder.begin_phase("baseline")
    recorder.handshake(sent=True, opened=True)
    assert recorder.phase_names() == ["default", "baseline"]
    first = recorder.phase_summary("default")[2]
    assert (first.handshakes, first.handshakes_failed, first.sent) == (2, 1, 0)
    assert recorder.totals()[2].handshakes == 3


def test_injected_errors_count_as_errors_by_code_and_as_injected() -> None:
    recorder = Recorder(clock=FakeClock())
    ticket = recorder.begin()
    recorder.response(ticket, INJECTED)
    counts = recorder.totals()[0]
    assert (counts.error, counts.injected, counts.error_codes) == (1, 1, {"-32010": 1})


def test_requests_count_in_the_phase_and_bucket_where_they_started() -> None:
    clock = FakeClock()
    recorder = Recorder(bucket_s=1.0, clock=clock)
    early = recorder.begin()
    clock.now += 1.5
    recorder.begin_phase("outage")
    late = recorder.begin()
    clock.now += 3.0  # both end in the outage's time, the first still counts where it began
    recorder.response(early, OK)
    recorder.transport(late, "http_503")
    assert recorder.phase == "outage"
    assert recorder.phase_summary("default")[0].ok == 1
    outage, latency, _ = recorder.phase_summary("outage")
    assert outage.transport_kinds == {"http_503": 1}
    assert latency.max_ms is not None
    assert 2990 <= latency.max_ms <= 3010
    assert recorder.window(0.0, 1.0).ok == 1
    assert recorder.window(1.0, 2.0).transport == 1
    assert recorder.window(0.0, 5.0).total == 2
    timeline = recorder.timeline()
    assert [(b.t_s, b.phase, b.outcomes.total) for b in timeline] == [
        (0.0, "default", 1),
        (1.0, "default", 1),
    ]
    assert recorder.now_s() == 4.5


def test_a_phase_without_requests_summarises_as_empty() -> None:
    counts, latency, accounting = Recorder().phase_summary("never")
    assert counts.total == 0
    assert latency.count == 0
    assert accounting.sent == 0


# Every request ends in exactly one outcome, whatever the clients report and in which order.
_ACTIONS = st.lists(
    st.tuples(
        st.integers(0, 7),
        st.sampled_from(["ok", "tool_error", "error", "reset", "deadline", "dup", "sent", "unexpected"]),
    ),
    max_size=60,
)


@given(requests=st.integers(0, 8), actions=_ACTIONS)
def test_every_request_ends_in_exactly_one_outcome(requests: int, actions: list[tuple[int, str]]) -> None:
    recorder = Recorder(clock=FakeClock())
    tickets = [recorder.begin() for _ in range(requests)]
    for index, action in actions:
        if not tickets:
            break
        ticket = tickets[index % len(tickets)]
        if action == "ok":
            recorder.response(ticket, OK)
        elif action == "tool_error":
            recorder.response(ticket, TOOL_ERROR)
        elif action == "error":
            recorder.response(ticket, INJECTED)
        elif action == "reset":
            recorder.transport(ticket, "reset")
        elif action == "deadline":
            recorder.deadline(ticket)
        elif action == "dup":
            recorder.duplicated(ticket)
        elif action == "sent" and not ticket.done:
            ticket.sent = True
        elif action == "unexpected":
            recorder.unexpected()
    recorder.finish()
    counts, latency, accounting = recorder.totals()
    assert counts.total + accounting.hung == requests
    assert latency.count == counts.total
    sent = sum(t.sent for t in tickets)
    assert accounting.sent == sent
    assert accounting.answered + accounting.lost + sum(t.sent and not t.outcome for t in tickets) == sent
    assert accounting.answered == counts.ok + counts.tool_error + counts.error
    assert accounting.sent + accounting.not_sent == counts.total + accounting.hung
    assert accounting.silent == sum(t.sent and not t.answered and t.outcome == "deadline" for t in tickets)
    assert len(counts.first_errors) <= 3


def test_the_operation_choice_is_seeded_and_weighted() -> None:
    settings = LoadSettings(
        mix=[Operation(name="a", weight=3), Operation(name="b", weight=1, method="tools/list")]
    )
    ops = [prepare(op, settings.protocol) for op in settings.mix]

    def picks(seed: int) -> list[str]:
        chooser = Chooser(ops, [op.weight for op in settings.mix], seed)
        return [chooser.next().name for _ in range(400)]

    assert picks(1) == picks(1)
    assert picks(1) != picks(2)
    assert 250 < picks(1).count("a") < 350


def test_sessionless_operations_carry_the_envelope_and_routing_headers() -> None:
    op = prepare(Operation(name="echo", params={"name": "echo", "arguments": {}}), "2026-07-28")
    assert op.params["_meta"]["io.modelcontextprotocol/protocolVersion"] == "2026-07-28"
    assert op.headers == {
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/call",
        "Mcp-Name": "echo",
    }


def test_in_flight_from_counts_only_the_open_calls_that_started_in_that_phase() -> None:
    recorder = Recorder(clock=FakeClock())
    recorder.begin_phase("recovery")
    ended, open_one = recorder.begin(), recorder.begin()
    recorder.begin_phase("switch")
    recorder.begin()
    recorder.response(ended, OK)
    assert (recorder.in_flight_from("recovery"), recorder.in_flight_from("switch")) == (1, 1)
    recorder.response(open_one, OK)
    assert recorder.in_flight_from("recovery") == 0
    assert recorder.in_flight_from("never-begun") == 0
