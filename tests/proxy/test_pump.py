import orjson
import pytest

from mcpchaos.intercept.chain import InterceptorChain
from mcpchaos.intercept.context import Context
from mcpchaos.intercept.effects import Disconnect, Drop, Effects, Emit, Forward, Hold, Release, Reply
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
from mcpchaos.protocol.ndjson import OversizedLine

from .memory import MemoryEndpoint, make_pump

C2S = Direction.CLIENT_TO_SERVER
S2C = Direction.SERVER_TO_CLIENT


class Scripted:
    """Returns the effects a test function computes."""

    name = "scripted"

    def __init__(self, decide: object) -> None:
        self.decide = decide

    def intercept(self, message: Message, ctx: Context) -> Effects | None:
        return self.decide(message, ctx)  # type: ignore[operator, no-any-return]


def error_code(message: Message) -> int:
    assert message.kind is Kind.ERROR
    code = message.payload["error"]["code"]
    assert isinstance(code, int)
    return code


async def test_messages_pass_both_ways_byte_for_byte() -> None:
    pump, client, server = make_pump()
    raw = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","_meta":{"k":"\\u00e9"}}}'
    message = parse(raw)
    assert isinstance(message, Message)
    pump.receive(C2S, message)
    assert server.sent[0].wire is raw
    pump.receive(S2C, result_response(1, {"content": []}))
    assert client.sent[0].id == 1
    assert pump.session.tracker.pending_count(C2S) == 0


async def test_the_context_has_ordinals_and_the_method_a_response_answers() -> None:
    seen: list[tuple[Direction, int, str | None]] = []

    def record(message: Message, ctx: Context) -> None:
        seen.append((ctx.direction, ctx.ordinal, ctx.request_method))

    pump, _, _ = make_pump(InterceptorChain([Scripted(record)]))
    pump.receive(C2S, request(1, "tools/list"))
    pump.receive(C2S, request(2, "prompts/list"))
    pump.receive(S2C, result_response(2, {}))
    pump.receive(S2C, result_response(1, {}))
    assert seen == [(C2S, 0, None), (C2S, 1, None), (S2C, 0, "prompts/list"), (S2C, 1, "tools/list")]


async def test_a_delayed_message_does_not_block_the_next_one() -> None:
    def delay_the_first(message: Message, ctx: Context) -> Effects | None:
        return [Forward(message, 0.2)] if message.id == 1 else None

    pump, _, server = make_pump(InterceptorChain([Scripted(delay_the_first)]))
    pump.receive(C2S, request(1, "slow"))
    pump.receive(C2S, request(2, "fast"))
    assert [m.id for m in server.sent] == [2]
    await server.wait_for(2)
    assert [m.id for m in server.sent] == [2, 1]


async def test_reply_answers_the_sender_and_nothing_reaches_the_other_side() -> None:
    def refuse(message: Message, ctx: Context) -> Effects | None:
        from mcpchaos.protocol.messages import error_response

        return [Reply(error_response(message.id, codes.INTERNAL_ERROR, "injected"))]

    pump, client, server = make_pump(InterceptorChain([Scripted(refuse)]))
    pump.receive(C2S, request(5, "tools/call"))
    assert server.sent == []
    assert client.sent[0].id == 5
    assert error_code(client.sent[0]) == codes.INTERNAL_ERROR
    assert pump.session.tracker.pending_count(C2S) == 0


async def test_a_delayed_reply_is_not_sent_for_a_request_the_client_cancelled_meanwhile() -> None:
    def late(message: Message, ctx: Context) -> Effects | None:
        from mcpchaos.protocol.messages import error_response

        if message.kind is Kind.REQUEST:
            return [Reply(error_response(message.id, codes.INJECTED_TIMEOUT, "late"), 0.05)]
        return None

    pump, client, _ = make_pump(InterceptorChain([Scripted(late)]))
    pump.receive(C2S, request(5, "tools/call"))
    pump.receive(C2S, notification("notifications/cancelled", {"requestId": 5}))
    pump.receive(C2S, request(6, "tools/call"))
    [answer] = await client.wait_for(1)
    assert answer.id == 6  # 5's reply was due first, and was not sent
    assert pump.stats.dropped == 1


async def test_drop_and_emit() -> None:
    def drop_and_emit(message: Message, ctx: Context) -> Effects | None:
        return [Drop("test"), Emit(notification("notifications/extra"), S2C)]

    pump, client, server = make_pump(InterceptorChain([Scripted(drop_and_emit)]))
    pump.receive(C2S, request(1, "x"))
    assert server.sent == []
    assert [m.method for m in client.sent] == ["notifications/extra"]
    assert pump.stats.dropped == 1
    assert pump.stats.emitted == 1


async def test_a_held_message_is_released_after_the_next_one() -> None:
    def reorder(message: Message, ctx: Context) -> Effects | None:
        if message.id == 1:
            return [Hold(message, "reorder", max_hold=5.0)]
        return [Forward(message), Release("reorder")]

    pump, _, server = make_pump(InterceptorChain([Scripted(reorder)]))
    pump.receive(C2S, request(1, "a"))
    assert pump.held_count == 1
    pump.receive(C2S, request(2, "b"))
    assert [m.id for m in server.sent] == [2, 1]
    assert pump.held_count == 0


async def test_a_hold_never_lasts_longer_than_its_maximum() -> None:
    def hold(message: Message, ctx: Context) -> Effects | None:
        return [Hold(message, "k", max_hold=0.05)]

    pump, _, server = make_pump(InterceptorChain([Scripted(hold)]))
    pump.receive(C2S, request(1, "a"))
    assert server.sent == []
    await server.wait_for(1)
    assert pump.held_count == 0


async def test_disconnect_closes_both_sides() -> None:
    def disconnect(message: Message, ctx: Context) -> Effects | None:
        return [Disconnect("test")]

    pump, client, server = make_pump(InterceptorChain([Scripted(disconnect)]))
    pump.receive(C2S, request(1, "a"))
    assert client.closed
    assert server.closed
    assert pump.closed


@pytest.mark.parametrize(
    ("raw", "expected_id", "code"),
    [
        (b"{oops", None, codes.PARSE_ERROR),
        (b'{"jsonrpc":"2.0","id":3,"method":"x"', None, codes.PARSE_ERROR),
        (b"[1,2]", None, codes.INVALID_REQUEST),
        (b'"text"', None, codes.INVALID_REQUEST),
        (b'{"id":4,"method":"tools/list"}', 4, codes.INVALID_REQUEST),
        (b'{"jsonrpc":"2.0","id":4.0,"method":"tools/list"}', 4.0, codes.INVALID_REQUEST),
        (b'{"jsonrpc":"2.0","id":true,"method":"tools/list"}', None, codes.INVALID_REQUEST),
        (b'\xff{"a"}', None, codes.PARSE_ERROR),
    ],
)
async def test_invalid_input_from_the_client_is_answered(raw: bytes, expected_id: object, code: int) -> None:
    pump, client, server = make_pump()
    item = parse(raw)
    assert isinstance(item, Invalid)
    pump.receive(C2S, item)
    assert server.sent == []
    assert len(client.sent) == 1
    answer = orjson.loads(client.sent[0].wire)
    assert answer["id"] == expected_id
    assert answer["error"]["code"] == code
    pump.receive(C2S, request(1, "still/works"))
    assert server.sent[0].method == "still/works"


async def test_an_oversized_message_from_the_client_is_answered_with_its_id() -> None:
    pump, client, _ = make_pump()
    pump.receive(C2S, OversizedLine(size=20_000_000, limit=16_777_216, id=8, complete=True))
    assert client.sent[0].id == 8
    assert error_code(client.sent[0]) == codes.INVALID_REQUEST
    assert "exceeds the limit" in client.sent[0].payload["error"]["message"]


async def test_a_broken_server_response_with_a_pending_id_becomes_an_error_for_the_client() -> None:
    pump, client, _ = make_pump()
    pump.receive(C2S, request(11, "tools/call"))
    item = parse(b'{"jsonrpc":"2.0","id":11,"result":{"content":[')  # truncated
    assert isinstance(item, Invalid)
    pump.receive(S2C, item)
    assert client.sent[0].id == 11
    assert error_code(client.sent[0]) == codes.UPSTREAM_INVALID_RESPONSE


async def test_a_server_request_with_a_fractional_id_is_answered_with_that_id() -> None:
    pump, client, server = make_pump()
    item = parse(b'{"jsonrpc":"2.0","id":2.5,"method":"sampling/createMessage","params":{}}')
    assert isinstance(item, Invalid)
    pump.receive(S2C, item)
    assert client.sent == []
    answer = orjson.loads(server.sent[0].wire)
    assert answer["id"] == 2.5
    assert isinstance(answer["id"], float)
    assert answer["error"]["code"] == codes.INVALID_REQUEST


async def test_unanswerable_garbage_from_the_server_is_only_logged() -> None:
    pump, client, server = make_pump()
    item = parse(b"not json at all")
    assert isinstance(item, Invalid)
    pump.receive(S2C, item)
    assert client.sent == []
    assert server.sent == []
    assert pump.stats.invalid == 1


async def test_a_request_to_a_dead_server_is_answered_at_once() -> None:
    pump, client, server = make_pump()
    server.closed = True
    pump.receive(C2S, request(1, "tools/call"))
    assert error_code(client.sent[0]) == codes.UPSTREAM_UNAVAILABLE


async def test_fail_pending_answers_every_waiting_request_and_cancels_timers() -> None:
    def delay(message: Message, ctx: Context) -> Effects | None:
        return [Forward(message, 0.05)] if message.id == 3 else None

    pump, client, server = make_pump(InterceptorChain([Scripted(delay)]))
    for i in (1, 2, 3):
        pump.receive(C2S, request(i, "tools/call"))
    assert pump.fail_pending(C2S, codes.UPSTREAM_UNAVAILABLE, "gone") == 3
    assert sorted(m.id for m in client.sent) == [1, 2, 3]  # type: ignore[type-var]
    assert pump.scheduled == 0  # the delayed forward of 3 was cancelled, not left to fire
    assert [m.id for m in server.sent] == [1, 2]


class OneMessageClient(MemoryEndpoint):
    """A client side that takes batches and only one message of each, like a JSON-only HTTP
    response."""

    unavailable_reason = "holds one message"

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []
        """How many messages each batch took."""
        self._taken: int | None = None

    def begin_batch(self) -> None:
        self._taken = 0

    def end_batch(self) -> None:
        assert self._taken is not None
        self.batches.append(self._taken)
        self._taken = None

    def send(self, message: Message) -> bool:
        if self._taken is not None:
            if self._taken:
                return False
            self._taken += 1
        return super().send(message)


async def test_messages_for_the_client_at_once_are_one_batch_and_what_it_refuses_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def effects(message: Message, ctx: Context) -> Effects | None:
        extra = notification("notifications/extra")
        if message.id == 1:  # one message to the client now, one later, one to the server
            return [Forward(message), Emit(extra, S2C, delay=0.01), Emit(extra, C2S)]
        if message.id == 2:
            return [Hold(message, "k", max_hold=5.0)]
        return [Emit(extra, S2C), Forward(message), Release("k")]  # three now: a batch

    client = OneMessageClient()
    pump, _, server = make_pump(InterceptorChain([Scripted(effects)]), client)
    pump.receive(S2C, result_response(1, {}))
    assert client.batches == []
    pump.receive(S2C, result_response(2, {}))
    with caplog.at_level("WARNING", "mcpchaos.pump"):
        pump.receive(S2C, result_response(3, {}))
    assert client.batches == [1]
    assert [m.id for m in client.sent] == [1, None]  # the first of the batch: the notification
    await client.wait_for(3)  # the delayed one is no batch's
    assert [m.method for m in server.sent] == ["notifications/extra"]
    assert "2 of 3 messages meant for the client together were not delivered" in caplog.text
    assert "holds one message" in caplog.text
