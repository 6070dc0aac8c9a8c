"""Each fault kind's decision, called directly: no sockets, no clock."""

from __future__ import annotations

import orjson
import pytest

from mcpchaos.config.faults import CorruptionMode, ErrorType
from mcpchaos.faults import corruption, delay, drop, duplicate, error, exhaust, list_changed, reorder
from mcpchaos.intercept.effects import Disconnect, Drop, Emit, Exhaust, Forward, Hold, HttpReply, Reply
from mcpchaos.protocol import codes
from mcpchaos.protocol.messages import (
    Direction,
    Invalid,
    Kind,
    Message,
    notification,
    parse,
    request,
    result_response,
)

from .helpers import ctx, rng, settings

CALL = request(7, "tools/call", {"name": "echo", "arguments": {"text": "x"}})
RESULT = result_response(7, {"content": []})
NOTE = notification("notifications/progress", {"progress": 1})


def test_delay_draws_within_the_range_and_is_fixed_without_jitter() -> None:
    for seed in range(50):
        effects, params = delay.decide(
            CALL, ctx(), rng(seed), settings(delay_ms={"min_ms": 10, "max_ms": 20})
        )
        [forward] = effects
        assert isinstance(forward, Forward)
        assert 0.010 <= forward.delay <= 0.020
        assert forward.message is CALL
        assert params["delay_ms"] == pytest.approx(forward.delay * 1000, abs=0.01)
    effects, _ = delay.decide(
        CALL, ctx(), rng(), settings(delay_ms={"min_ms": 10, "max_ms": 20, "jitter": False})
    )
    assert isinstance(effects[0], Forward)
    assert effects[0].delay == 0.020


def test_drop_and_duplicate() -> None:
    assert drop.decide(CALL, ctx(), rng(), settings())[0] == [Drop("drop fault")]
    effects, _ = duplicate.decide(CALL, ctx(), rng(), settings())
    assert effects == [Forward(CALL), Forward(CALL)]


def test_reorder_holds_under_a_key_unique_to_the_message() -> None:
    effects, params = reorder.decide(CALL, ctx(ordinal=4), rng(), settings(reorder={"max_hold_ms": 250}))
    assert effects == [Hold(CALL, "reorder:client_to_server:4", 0.25)]
    assert params == {"max_hold_ms": 250}


@pytest.mark.parametrize(
    ("error_type", "code"),
    [
        (ErrorType.TIMEOUT, codes.INJECTED_TIMEOUT),
        (ErrorType.CONNECTION_REFUSED, codes.INJECTED_CONNECTION_REFUSED),
        (ErrorType.INVALID_DATA, codes.INVALID_PARAMS),
        (ErrorType.INTERNAL_ERROR, codes.INTERNAL_ERROR),
        (ErrorType.RATE_LIMITED, codes.INJECTED_RATE_LIMITED),
        (ErrorType.UNAUTHORIZED, codes.INJECTED_UNAUTHORIZED),
    ],
)
def test_an_error_on_stdio_answers_the_request_with_a_marked_error(error_type: ErrorType, code: int) -> None:
    config = settings(error_config={"types": [error_type], "timeout_ms": 50})
    effects, params = error.decide(CALL, ctx(), rng(), config)
    [reply] = effects
    assert isinstance(reply, Reply)
    assert reply.message.id == 7
    assert reply.message.payload["error"]["code"] == code
    assert reply.message.payload["error"]["data"]["mcpchaos"]["injected"] is True
    assert params["error_type"] == error_type.value
    assert reply.delay == (0.05 if error_type is ErrorType.TIMEOUT else 0.0)


def test_on_http_errors_take_their_transport_form() -> None:
    def decide(error_type: ErrorType) -> object:
        config = settings(error_config={"types": [error_type], "retry_after_s": 9})
        return error.decide(CALL, ctx(transport="http"), rng(), config)[0][0]

    limited = decide(ErrorType.RATE_LIMITED)
    assert isinstance(limited, HttpReply)
    assert (limited.status, limited.headers) == (429, (("Retry-After", "9"),))
    unauthorized = decide(ErrorType.UNAUTHORIZED)
    assert isinstance(unauthorized, HttpReply)
    assert unauthorized.status == 401
    assert unauthorized.headers[0][0] == "WWW-Authenticate"
    assert isinstance(decide(ErrorType.CONNECTION_REFUSED), Disconnect)
    assert isinstance(decide(ErrorType.INTERNAL_ERROR), Reply)


def test_a_timeout_that_never_answers_is_a_drop() -> None:
    config = settings(error_config={"types": ["timeout"], "timeout_answers": False})
    assert isinstance(error.decide(CALL, ctx(), rng(), config)[0][0], Drop)


def test_an_error_on_a_response_replaces_it_and_custom_messages_apply() -> None:
    config = settings(
        error_config={"types": ["internal_error"], "custom_messages": {"internal_error": "boom"}}
    )
    [forward], _ = error.decide(RESULT, ctx(Direction.SERVER_TO_CLIENT), rng(), config)
    assert isinstance(forward, Forward)
    assert forward.message.kind is Kind.ERROR
    assert forward.message.id == 7
    assert forward.message.payload["error"]["message"] == "boom"


def test_an_error_does_not_apply_to_notifications() -> None:
    assert not error.applies(NOTE, ctx(), settings())
    assert error.applies(CALL, ctx(), settings())


def corrupt(message: Message, mode: CorruptionMode) -> list[object]:
    config = settings(corruption_config={"modes": [mode]})
    assert corruption.applies(message, ctx(), config)
    return list(corruption.decide(message, ctx(), rng(), config)[0])


def forwarded(effects: list[object]) -> Message:
    assert isinstance(effects[0], Forward)
    return effects[0].message


def test_the_four_specification_corruptions() -> None:
    assert forwarded(corrupt(CALL, CorruptionMode.METHOD_SUFFIX)).method == "tools/call_corrupted"
    assert forwarded(corrupt(CALL, CorruptionMode.JSONRPC_VERSION)).payload["jsonrpc"] == "1.0"
    assert forwarded(corrupt(CALL, CorruptionMode.NULL_PARAMS)).payload["params"] is None
    replaced = forwarded(corrupt(CALL, CorruptionMode.REPLACE_ID))
    assert replaced.id != 7
    assert str(replaced.id).startswith("mcpchaos-corrupted-")
    assert CALL.method == "tools/call"  # the original is untouched


def test_framing_corruptions_change_the_bytes_on_the_wire() -> None:
    truncated = forwarded(corrupt(CALL, CorruptionMode.TRUNCATED_JSON)).wire
    assert isinstance(parse(truncated), Invalid)
    assert CALL.wire.startswith(truncated)
    invalid_utf8 = forwarded(corrupt(CALL, CorruptionMode.INVALID_UTF8)).wire
    assert b"\xff\xfe" in invalid_utf8
    assert isinstance(parse(invalid_utf8), Invalid)
    split = forwarded(corrupt(CALL, CorruptionMode.SPLIT_LINE)).wire
    assert split.count(b"\n") == 1
    assert split.replace(b"\n", b"") == CALL.wire


def test_wrong_types_and_a_stray_response_just_before_the_message() -> None:
    wrong = forwarded(corrupt(CALL, CorruptionMode.WRONG_TYPES))
    assert wrong.payload["method"] == 12345
    config = settings(corruption_config={"modes": [CorruptionMode.UNKNOWN_RESPONSE_ID]})
    effects, params = corruption.decide(RESULT, ctx(), rng(), config)
    stray, forward = effects
    assert isinstance(forward, Forward)
    assert forward.message is RESULT
    assert isinstance(stray, Emit)
    assert str(stray.message.id).startswith("mcpchaos-unknown-")
    assert orjson.loads(stray.message.wire)["result"] == {}
    assert params == {"mode": "unknown_response_id", "unknown_id": stray.message.id}


def test_method_corruptions_do_not_apply_to_responses() -> None:
    config = settings(corruption_config={"modes": ["method_suffix", "null_params"]})
    assert not corruption.applies(RESULT, ctx(), config)


def test_exhaustion_spikes_memory_or_cpu_and_lets_the_message_through() -> None:
    config = settings(resource_exhaustion={"memory_spike": True, "cpu_spike": False, "memory_spike_mb": 8})
    effects, params = exhaust.decide(CALL, ctx(), rng(), config)
    assert effects == [Exhaust("memory", 8, 1.0), Forward(CALL)]
    assert params["spike"] == "memory"
    config = settings(resource_exhaustion={"memory_spike": False, "cpu_spike_ms": 5, "cpu_mode": "thread"})
    effects, _ = exhaust.decide(CALL, ctx(), rng(), config)
    assert effects[0] == Exhaust("cpu", 5, in_thread=True)


def test_list_changed_tells_the_client_before_the_message_goes_on() -> None:
    assert not list_changed.applies(CALL, ctx(), settings())
    effects, params = list_changed.decide(RESULT, ctx(Direction.SERVER_TO_CLIENT), rng(), settings())
    notice, forward = effects
    assert isinstance(notice, Emit)
    assert notice.toward is Direction.SERVER_TO_CLIENT
    assert notice.message.method == "notifications/tools/list_changed"
    assert forward == Forward(RESULT)
    assert params == {"method": "notifications/tools/list_changed"}
