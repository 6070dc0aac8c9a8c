import logging

import pytest

from mcpchaos.intercept.chain import FailurePolicy, InterceptorChain
from mcpchaos.intercept.context import Context
from mcpchaos.intercept.effects import Drop, Effects, Forward, Reply
from mcpchaos.protocol import codes
from mcpchaos.protocol.messages import Direction, Kind, Message, notification, request
from tests.proxy.memory import context


class NoOp:
    name = "noop"

    def intercept(self, message: Message, ctx: Context) -> Effects | None:
        return None


class Raises:
    name = "raises"

    def intercept(self, message: Message, ctx: Context) -> Effects | None:
        raise RuntimeError("boom")


class ReturnsGarbage:
    name = "garbage"

    def intercept(self, message: Message, ctx: Context) -> Effects | None:
        return ["not an effect"]  # type: ignore[list-item]


class Delays:
    def __init__(self, seconds: float) -> None:
        self.name = f"delay-{seconds}"
        self.seconds = seconds

    def intercept(self, message: Message, ctx: Context) -> Effects | None:
        return [Forward(message, self.seconds)]


class Renames:
    name = "renames"

    def intercept(self, message: Message, ctx: Context) -> Effects | None:
        return [Forward(message.replace(method=f"{message.method}_renamed"))]


def test_an_empty_chain_and_a_chain_of_no_ops_forward_unchanged() -> None:
    message = request(1, "tools/list")
    assert InterceptorChain().run(message, context()) is None
    assert InterceptorChain([NoOp(), NoOp(), NoOp()]).run(message, context()) is None


def test_delays_add_up_and_later_interceptors_see_the_changed_copy() -> None:
    message = request(1, "tools/list")
    effects = InterceptorChain([Delays(0.1), Renames(), Delays(0.2)]).run(message, context())
    assert effects is not None
    assert len(effects) == 1
    forward = effects[0]
    assert isinstance(forward, Forward)
    assert forward.delay == pytest.approx(0.3)
    assert forward.message.method == "tools/list_renamed"
    assert message.method == "tools/list"


def test_a_final_effect_skips_later_interceptors() -> None:
    class Refuses:
        name = "refuses"

        def intercept(self, message: Message, ctx: Context) -> Effects | None:
            return [Drop("no")]

    effects = InterceptorChain([Refuses(), Raises()]).run(request(1, "x"), context())
    assert effects == [Drop("no")]


def test_a_raising_interceptor_fails_open_and_is_counted(caplog: pytest.LogCaptureFixture) -> None:
    chain = InterceptorChain([Raises(), Renames()])
    seen: list[str] = []
    chain.on_failure(lambda name, message, ctx, exc: seen.append(f"{name}:{exc}"))
    with caplog.at_level(logging.ERROR):
        effects = chain.run(request(1, "tools/list"), context())
    assert effects is not None
    forward = effects[0]
    assert isinstance(forward, Forward)
    assert forward.message.method == "tools/list_renamed"  # the next interceptor still ran
    assert chain.failures["raises"] == 1
    assert seen == ["raises:boom"]
    assert "interceptor 'raises' failed" in caplog.text


def test_fail_closed_answers_requests_with_internal_error_and_drops_the_rest() -> None:
    chain = InterceptorChain([Raises()], FailurePolicy.FAIL_CLOSED)
    effects = chain.run(request(9, "tools/call"), context())
    assert effects is not None
    reply = effects[0]
    assert isinstance(reply, Reply)
    assert reply.message.kind is Kind.ERROR
    assert reply.message.id == 9
    assert reply.message.payload["error"]["code"] == codes.INTERNAL_ERROR
    dropped = chain.run(notification("notifications/progress"), context(Direction.SERVER_TO_CLIENT))
    assert dropped is not None
    assert isinstance(dropped[0], Drop)
    assert chain.failures["raises"] == 2


def test_a_return_value_that_is_not_effects_counts_as_a_failure() -> None:
    chain = InterceptorChain([ReturnsGarbage()])
    assert chain.run(request(1, "x"), context()) is None
    assert chain.failures["garbage"] == 1


def test_a_broken_failure_listener_does_not_break_the_guard() -> None:
    chain = InterceptorChain([Raises()])

    def bad_listener(*args: object) -> None:
        raise ValueError("listener bug")

    chain.on_failure(bad_listener)
    assert chain.run(request(1, "x"), context()) is None
