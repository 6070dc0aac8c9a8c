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


def test_valid_json_that_orjson_refuses_still_parses() -> None:
    # A lone surrogate escape is valid JSON text; orjson rejects it, the fallback does not.
    message = parsed(b'{"jsonrpc":"2.0","id":1,"method":"echo","params":{"t":"\\ud800"}}')
    assert message.params == {"t": "\ud800"}


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
