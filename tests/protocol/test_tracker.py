from mcpchaos.protocol.messages import Direction, error_response, notification, request, result_response
from mcpchaos.protocol.tracker import Phase, SessionTracker

C2S = Direction.CLIENT_TO_SERVER
S2C = Direction.SERVER_TO_CLIENT


def test_a_response_is_matched_to_the_method_of_its_request() -> None:
    tracker = SessionTracker()
    tracker.request_received(C2S, request(1, "tools/call"), now=1.0)
    pending = tracker.request_for(S2C, 1)
    assert pending is not None
    assert pending.method == "tools/call"
    assert tracker.response_sent(S2C, result_response(1, {})) == pending
    assert tracker.request_for(S2C, 1) is None
    assert tracker.response_sent(S2C, result_response(1, {})) is None  # a duplicate answers nothing


def test_ids_are_tracked_per_direction() -> None:
    tracker = SessionTracker()
    tracker.request_received(C2S, request(0, "tools/call"), now=0)
    tracker.request_received(S2C, request(0, "sampling/createMessage"), now=0)
    client_request = tracker.request_for(S2C, 0)
    server_request = tracker.request_for(C2S, 0)
    assert client_request is not None
    assert server_request is not None
    assert client_request.method == "tools/call"
    assert server_request.method == "sampling/createMessage"


def test_the_handshake_moves_the_phase_and_records_the_version() -> None:
    tracker = SessionTracker()
    initialize = request(1, "initialize", {"protocolVersion": "2025-11-25"})
    tracker.note_message(C2S, initialize)
    tracker.request_received(C2S, initialize, now=0)
    assert tracker.phase.value == "initializing"
    tracker.response_sent(S2C, result_response(1, {"protocolVersion": "2025-11-25"}))
    assert tracker.protocol_version == "2025-11-25"
    tracker.note_message(C2S, notification("notifications/initialized"))
    assert tracker.phase is Phase.INITIALIZED


def test_a_first_request_that_is_not_initialize_means_sessionless() -> None:
    tracker = SessionTracker()
    tracker.note_message(C2S, request(1, "server/discover"))
    assert tracker.phase is Phase.INITIALIZED


def test_pending_requests_are_bounded_oldest_forgotten_first() -> None:
    tracker = SessionTracker(max_pending=3)
    for i in range(5):
        tracker.request_received(C2S, request(i, "ping"), now=i)
    assert [p.id for p in tracker.pending(C2S)] == [2, 3, 4]
    assert tracker.forgotten == 2


def test_take_pending_empties_the_direction() -> None:
    tracker = SessionTracker()
    tracker.request_received(C2S, request("a", "x"), now=0)
    tracker.response_sent(S2C, error_response("zzz", -1, "unrelated"))
    assert [p.id for p in tracker.take_pending(C2S)] == ["a"]
    assert tracker.pending_count(C2S) == 0


def test_a_cancelled_request_no_longer_waits_for_an_answer() -> None:
    tracker = SessionTracker()
    tracker.request_received(C2S, request(4, "tools/call"), now=0)
    tracker.note_message(C2S, notification("notifications/cancelled", {"requestId": 4, "reason": "timeout"}))
    assert tracker.pending_count(C2S) == 0
