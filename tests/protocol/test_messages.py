import json

import orjson
import pytest

from mcpchaos.protocol import codes
from mcpchaos.protocol.messages import (
    DELETE,
    Invalid,
    Kind,
    Message,
    error_response,
    notification,
    parse,
    request,
    result_response,
)


def parsed(data: bytes) -> Message:
    message = parse(data)
    assert isinstance(message, Message), message
    return message


def invalid(data: bytes) -> Invalid:
    result = parse(data)
    assert isinstance(result, Invalid), result
    return result


def test_requests_notifications_results_and_errors_are_told_apart() -> None:
    assert parsed(b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}').kind is Kind.REQUEST
    assert parsed(b'{"jsonrpc":"2.0","method":"notifications/initialized"}').kind is Kind.NOTIFICATION
    assert parsed(b'{"jsonrpc":"2.0","id":"a","result":{}}').kind is Kind.RESULT
    error = parsed(b'{"jsonrpc":"2.0","id":2,"error":{"code":-32601,"message":"nope"}}')
    assert error.kind is Kind.ERROR
    assert error.id == 2


def test_an_unchanged_message_keeps_its_exact_bytes() -> None:
    raw = (
        '{"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "echo", '
        '"arguments": {"text": "h\\u00e9llo ✓ 😀", "big": 12345678901234567890123, "f": 1.50}, '
        '"_meta": {"progressToken": "p"}}, "x-unknown": [1, {"nested": null}]}'
    ).encode()
    message = parsed(raw)
    assert message.wire is raw
    assert message.tool_name == "echo"
    assert message.method == "tools/call"


def test_a_large_payload_parses_and_keeps_its_bytes() -> None:
    body = "x" * 5_000_000
    raw = orjson.dumps({"jsonrpc": "2.0", "id": 1, "result": {"text": body}})
    message = parsed(raw)
    assert message.wire == raw
    assert message.payload["result"]["text"] == body


def test_replace_returns_a_changed_copy_and_leaves_the_original_alone() -> None:
    original = parsed(b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}')
    changed = original.replace(method="tools/list_corrupted", params=DELETE)
    assert original.method == "tools/list"
    assert original.params == {}
    assert changed.method == "tools/list_corrupted"
    assert "params" not in changed.payload
    assert orjson.loads(changed.wire) == {"jsonrpc": "2.0", "id": 1, "method": "tools/list_corrupted"}
    assert changed.kind is Kind.REQUEST


def test_wire_bytes_can_differ_from_the_payload_for_framing_faults() -> None:
    original = parsed(b'{"jsonrpc":"2.0","id":1,"method":"ping"}')
    truncated = original.with_wire_bytes(original.wire[:10])
    assert truncated.wire == b'{"jsonrpc"'
    assert truncated.method == "ping"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"{not json", codes.PARSE_ERROR),
        (b'{"jsonrpc":"2.0","id":1,"method":"x"', codes.PARSE_ERROR),
        (b'\xff\xfe{"jsonrpc":"2.0"}', codes.PARSE_ERROR),
        (b'{"jsonrpc":"2.0","id":1,"method":"\xc3\x28"}', codes.PARSE_ERROR),
        (b"[]", codes.INVALID_REQUEST),
        (b'[{"jsonrpc":"2.0","id":1,"method":"ping"}]', codes.INVALID_REQUEST),
        (b"42", codes.INVALID_REQUEST),
        (b'"a string"', codes.INVALID_REQUEST),
        (b"null", codes.INVALID_REQUEST),
        (b'{"id":1,"method":"ping"}', codes.INVALID_REQUEST),
        (b'{"jsonrpc":"1.0","id":1,"method":"ping"}', codes.INVALID_REQUEST),
        (b'{"jsonrpc":"2.0","id":1,"method":5}', codes.INVALID_REQUEST),
        (b'{"jsonrpc":"2.0","id":1,"method":"ping","params":"x"}', codes.INVALID_REQUEST),
        (b'{"jsonrpc":"2.0","id":1.5,"method":"ping"}', codes.INVALID_REQUEST),
        (b'{"jsonrpc":"2.0","id":true,"method":"ping"}', codes.INVALID_REQUEST),
        (b'{"jsonrpc":"2.0","id":1}', codes.INVALID_REQUEST),
        (b'{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"m"}}', codes.INVALID_REQUEST),
        (b'{"jsonrpc":"2.0","id":1,"error":"bad"}', codes.INVALID_REQUEST),
        (b'{"jsonrpc":"2.0","result":{}}', codes.INVALID_REQUEST),
    ],
)
def test_malformed_input_becomes_a_value_with_the_right_code(data: bytes, code: int) -> None:
    result = invalid(data)
    assert result.code == code
    assert result.raw == data
    assert result.reason


def test_a_request_without_jsonrpc_keeps_its_id_for_the_answer() -> None:
    result = invalid(b'{"id":"abc","method":"tools/list"}')
    assert result.id == "abc"
    assert result.is_request


@pytest.mark.parametrize(
    "raw_id",
    [
        b"0",
        b"-1",
        b"7",
        b"9223372036854775807",
        b"12345678901234567890123",
        b"18446744073709551616",
        b"-9223372036854775809",
        b'""',
        b'"abc"',
        b'"4.0"',
    ],
)
def test_strings_and_integers_of_any_size_are_accepted_ids(raw_id: bytes) -> None:
    message = parsed(b'{"jsonrpc":"2.0","id":' + raw_id + b',"method":"tools/list"}')
    assert message.id == json.loads(raw_id)
    assert type(message.id) is type(json.loads(raw_id))
    assert message.kind is Kind.REQUEST


def test_a_response_with_an_integer_id_beyond_64_bits_keeps_it_exactly() -> None:
    message = parsed(b'{"jsonrpc":"2.0","id":-98765432109876543210,"result":{"n":1.5}}')
    assert message.kind is Kind.RESULT
    assert message.id == -98765432109876543210
    assert message.payload["result"] == {"n": 1.5}


@pytest.mark.parametrize(
    ("raw_id", "echoed"),
    [
        (b"4.0", 4.0),
        (b"1.5", 1.5),
        (b"-0.0", -0.0),
        (b"1e3", 1000.0),
        (b"1E-2", 0.01),
        (b"1e20", 1e20),
        (b"-1.0e19", -1e19),
    ],
)
def test_a_request_with_a_number_that_is_not_an_integer_is_invalid_and_its_id_is_echoed(
    raw_id: bytes, echoed: float
) -> None:
    result = invalid(b'{"jsonrpc":"2.0","id":' + raw_id + b',"method":"tools/call","params":{"name":"x"}}')
    assert result.code == codes.INVALID_REQUEST
    assert result.is_request
    assert result.id is None
    assert result.echo_id == echoed
    assert isinstance(result.echo_id, float)
    assert result.reason == (
        'Invalid Request: "id" must be a string or an integer, not a number with a fraction or an exponent'
    )
    answer = orjson.loads(error_response(result.echo_id, result.code, result.reason).wire)
    assert answer["id"] == echoed


@pytest.mark.parametrize(
    ("raw_id", "kind"),
    [
        (b"null", "null"),
        (b"true", "a boolean"),
        (b"false", "a boolean"),
        (b"{}", "an object"),
        (b"[1]", "an array"),
    ],
)
def test_an_id_that_cannot_be_echoed_is_answered_with_null(raw_id: bytes, kind: str) -> None:
    result = invalid(b'{"jsonrpc":"2.0","id":' + raw_id + b',"method":"ping"}')
    assert result.code == codes.INVALID_REQUEST
    assert result.is_request
    assert result.id is None
    assert result.echo_id is None
    assert result.reason.endswith(f"not {kind}")


def test_an_id_beyond_double_range_is_answered_with_null() -> None:
    result = invalid(b'{"jsonrpc":"2.0","id":1e400,"method":"ping"}')
    assert result.echo_id is None


def test_other_invalid_requests_echo_the_id_as_read_too() -> None:
    assert invalid(b'{"id":4.0,"method":"ping"}').echo_id == 4.0
    assert invalid(b'{"id":"a","method":"ping"}').echo_id == "a"
    assert invalid(b'{"jsonrpc":"2.0","id":2.5,"method":7}').echo_id == 2.5
    assert invalid(b'{"jsonrpc":"2.0","id":3,"method":"x","params":1}').echo_id == 3
    assert invalid(b"{oops").echo_id is None


def test_a_response_with_a_fractional_id_is_invalid_and_keeps_the_id_it_had() -> None:
    result = invalid(b'{"jsonrpc":"2.0","id":1.5,"result":{}}')
    assert result.id is None
    assert not result.is_request
    assert result.echo_id == 1.5


def test_an_accepted_id_is_echoed_as_it_is() -> None:
    result = invalid(b'{"jsonrpc":"1.0","id":9,"method":"ping"}')
    assert result.id == 9
    assert result.echo_id == 9


def test_valid_json_that_orjson_refuses_still_parses() -> None:
    # A lone surrogate escape is valid JSON text; orjson rejects it, the fallback does not.
    message = parsed(b'{"jsonrpc":"2.0","id":1,"method":"echo","params":{"t":"\\ud800"}}')
    assert message.params == {"t": "\ud800"}


def test_bytes_that_are_not_utf8_are_a_parse_error_even_where_the_fallback_would_pass_them() -> None:
    # An encoded lone surrogate (CESU-8) in a string id: the standard library's bytes decoding
    # would let it through, and a server reading it strictly would answer an id never sent.
    result = invalid(b'{"jsonrpc":"2.0","id":"\xed\xa0\x80","method":"ping"}')
    assert result.code == codes.PARSE_ERROR
    assert invalid(b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"t":"\xff"}}').code == codes.PARSE_ERROR


def test_an_integer_id_beyond_64_bits_is_kept_exactly() -> None:
    message = parsed(b'{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"ping"}')
    assert message.id == 123456789012345678901234567890


def test_nan_literals_are_not_json() -> None:
    assert invalid(b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":NaN}}').code == codes.PARSE_ERROR


def test_builders_make_valid_messages() -> None:
    for message in (
        request(1, "tools/list", {}),
        notification("notifications/initialized"),
        result_response("r", {"ok": True}),
        error_response(None, codes.PARSE_ERROR, "Parse error"),
        error_response(3, codes.INTERNAL_ERROR, "boom", {"mcpchaos": {}}),
    ):
        again = parse(message.wire)
        assert isinstance(again, Message)
        assert again == message
    assert orjson.loads(error_response(None, -32700, "x").wire)["id"] is None


def test_a_built_message_with_values_orjson_refuses_still_serialises() -> None:
    message = request(1, "x", {"big": 2**70, "surrogate": "\ud800"})
    decoded = parse(message.wire)
    assert isinstance(decoded, Message)
    assert decoded.params["big"] == 2**70
