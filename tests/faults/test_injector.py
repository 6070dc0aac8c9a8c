"""The injector: probability, weights, targeting, reproducibility, run-time updates."""

from __future__ import annotations

import asyncio
import math
import random
from collections import Counter
from collections.abc import Sequence
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpchaos.config.faults import FaultConfig, FaultType
from mcpchaos.config.load import validate
from mcpchaos.faults.injector import FaultInjector, FaultRecord
from mcpchaos.intercept.chain import InterceptorChain
from mcpchaos.intercept.context import Session
from mcpchaos.intercept.effects import Forward, Hold, Release
from mcpchaos.protocol.messages import Direction, Kind, Message, notification, request, result_response

from ..proxy.memory import MemoryEndpoint
from .helpers import ctx

C2S = Direction.CLIENT_TO_SERVER
S2C = Direction.SERVER_TO_CLIENT


def injector(**data: Any) -> tuple[FaultInjector, list[FaultRecord]]:
    records: list[FaultRecord] = []
    chosen = FaultInjector(validate(FaultConfig, data))
    chosen.on_fault(records.append)
    return chosen, records


def call(i: int, tool: str = "echo", **arguments: Any) -> Message:
    return request(i, "tools/call", {"name": tool, "arguments": arguments})


def test_the_default_injector_passes_everything_untouched() -> None:
    plain, records = injector()
    session = Session("s", 1, "stdio")
    for i in range(100):
        assert plain.intercept(call(i), ctx(ordinal=i, session=session)) is None
    assert records == []


def test_the_injected_rate_is_within_four_sigma_of_the_probability() -> None:
    n, p = 10_000, 0.3
    chosen, records = injector(fault_probability=p, enabled_faults={"delay": True}, seed=11)
    session = Session("s", 1, "stdio")
    for i in range(n):
        chosen.intercept(call(i), ctx(ordinal=i, session=session))
    sigma = math.sqrt(n * p * (1 - p))
    assert abs(len(records) - n * p) < 4 * sigma


def test_each_fault_kind_gets_its_weighted_share() -> None:
    n = 10_000
    chosen, records = injector(
        fault_probability=1.0,
        seed=5,
        enabled_faults={
            "delay": True,
            "drop": True,
            "duplicate": True,
            "weights": {"delay": 2, "drop": 1, "duplicate": 1},
        },
    )
    session = Session("s", 1, "stdio")
    for i in range(n):
        chosen.intercept(call(i), ctx(ordinal=i, session=session))
    shares = Counter(record.fault for record in records)
    for kind, expected in (("delay", 0.5), ("drop", 0.25), ("duplicate", 0.25)):
        sigma = math.sqrt(n * expected * (1 - expected))
        assert abs(shares[kind] - n * expected) < 4 * sigma, shares


def within_four_sigma(hits: int, n: int, p: float) -> bool:
    return abs(hits - n * p) <= 4 * math.sqrt(n * p * (1 - p))


def handshake(session: Session) -> list[tuple[Message, Direction, str | None]]:
    """What a client and server exchange before the first call (both eras)."""
    return [
        (request(0, "server/discover"), C2S, None),
        (result_response(0, {}), S2C, "server/discover"),
        (request(1, "initialize", {"protocolVersion": "2025-11-25"}), C2S, None),
        (result_response(1, {}), S2C, "initialize"),
        (notification("notifications/initialized"), C2S, None),
    ]


def feed(
    chosen: FaultInjector, session: Session, traffic: Sequence[tuple[Message, Direction, str | None]]
) -> None:
    ordinals: Counter[Direction] = Counter()
    for message, direction, request_method in traffic:
        chosen.intercept(
            message,
            ctx(direction, ordinal=ordinals[direction], session=session, request_method=request_method),
        )
        ordinals[direction] += 1


def calls_with_answers(n: int) -> list[tuple[Message, Direction, str | None]]:
    """n calls, each answered, with a progress notification and a log message between."""
    traffic: list[tuple[Message, Direction, str | None]] = []
    for i in range(10, 10 + n):
        traffic.append((call(i), C2S, None))
        traffic.append((notification("notifications/progress"), S2C, None))
        traffic.append((result_response(i, {"content": []}), S2C, "tools/call"))
        traffic.append((notification("notifications/message"), C2S, None))
    return traffic


def test_the_probability_is_per_call_so_each_call_gets_at_most_one_fault() -> None:
    n, p = 4000, 0.3
    chosen, records = injector(fault_probability=p, enabled_faults={"delay": True, "error": True}, seed=7)
    session = Session("s", 1, "stdio")
    feed(chosen, session, handshake(session) + calls_with_answers(n))
    assert {(r.direction, r.method) for r in records} == {("client_to_server", "tools/call")}
    faulted = Counter(r.message_id for r in records)
    assert max(faulted.values()) == 1
    assert within_four_sigma(len(records), n, p), len(records)


def test_the_handshake_is_left_alone_even_when_every_message_is_targeted() -> None:
    chosen, records = injector(
        fault_probability=1.0,
        enabled_faults={"error": True, "delay": True},
        match={"message_classes": ["all"]},
    )
    session = Session("s", 1, "stdio")
    feed(chosen, session, handshake(session))
    assert records == []
    globbed, globbed_records = injector(
        fault_probability=1.0,
        enabled_faults={"drop": True},
        match={"message_classes": ["all"], "methods": ["*"]},
    )
    feed(globbed, Session("s", 1, "stdio"), handshake(session))
    assert globbed_records == []  # a glob does not name the handshake


def test_a_rule_that_names_a_handshake_method_reaches_it() -> None:
    chosen, records = injector(
        seed=1,
        rules=[
            {
                "name": "slow-start",
                "match": {
                    "methods": ["initialize"],
                    "message_classes": ["client_request", "server_response"],
                },
                "enabled_faults": {"delay": True},
            }
        ],
    )
    session = Session("s", 1, "stdio")
    feed(chosen, session, handshake(session))
    assert [(r.direction, r.method) for r in records] == [
        ("client_to_server", "initialize"),
        ("server_to_client", "initialize"),
    ]


def test_responses_notifications_and_server_requests_are_reached_through_message_classes() -> None:
    traffic = [
        (call(10), C2S, None),
        (request(90, "sampling/createMessage"), S2C, None),
        (result_response(90, {}), C2S, "sampling/createMessage"),
        (notification("notifications/progress"), S2C, None),
        (result_response(10, {}), S2C, "tools/call"),
        (notification("notifications/cancelled"), C2S, None),
    ]

    def reached(classes: list[str]) -> list[tuple[str, Any]]:
        chosen, records = injector(
            fault_probability=1.0, enabled_faults={"duplicate": True}, match={"message_classes": classes}
        )
        feed(chosen, Session("s", 1, "stdio"), traffic)
        return [(r.direction[0], r.method) for r in records]

    assert reached(["client_request"]) == [("c", "tools/call")]
    assert reached(["server_response"]) == [("s", "tools/call")]
    assert reached(["notifications"]) == [("s", "notifications/progress"), ("c", "notifications/cancelled")]
    assert reached(["server_request", "client_response"]) == [
        ("s", "sampling/createMessage"),
        ("c", "sampling/createMessage"),
    ]
    assert len(reached(["all"])) == len(traffic)


def test_a_rules_own_probability_wins_over_the_top_level() -> None:
    n = 2000
    chosen, records = injector(
        fault_probability=0.3,
        enabled_faults={"delay": True},
        seed=3,
        rules=[
            {
                "name": "writes",
                "match": {"tools": ["write_*"]},
                "probability": 0.9,
                "enabled_faults": {"error": True},
            },
            {
                "name": "shield",
                "match": {"tools": ["health"]},
                "probability": 0.0,
                "enabled_faults": {"error": True},
            },
        ],
    )
    session = Session("s", 1, "stdio")
    traffic = [(call(i, ("write_file", "read_file", "health")[i % 3]), C2S, None) for i in range(3 * n)]
    feed(chosen, session, traffic)
    by_rule = Counter(r.rule for r in records)
    assert within_four_sigma(by_rule["writes"], n, 0.9), by_rule
    assert within_four_sigma(by_rule["default"], n, 0.3), by_rule
    assert set(by_rule) == {"writes", "default"}  # probability 0 shields the health calls


def run_sessions(seed: int, interleaving_seed: int) -> list[tuple[Any, ...]]:
    """10 sessions x 50 messages each, fed in an order shuffled by ``interleaving_seed``."""
    chosen, records = injector(
        fault_probability=0.4,
        seed=seed,
        enabled_faults={"delay": True, "error": True, "corruption": True, "drop": True, "duplicate": True},
    )
    sessions = [Session(f"s-{i}", i, "stdio") for i in range(1, 11)]
    plan = [(session, ordinal) for session in sessions for ordinal in range(50)]
    random.Random(interleaving_seed).shuffle(plan)
    plan.sort(key=lambda item: item[1])  # keep each session's own order, interleave sessions
    random.Random(interleaving_seed + 1).shuffle(plan)
    per_session_next: dict[str, int] = Counter()
    for session, _ in plan:
        ordinal = per_session_next[session.id]
        per_session_next[session.id] += 1
        chosen.intercept(call(ordinal), ctx(ordinal=ordinal, session=session))
    return sorted(
        (r.session, r.direction, r.ordinal, r.fault, tuple(sorted((k, str(v)) for k, v in r.params.items())))
        for r in records
    )


def test_the_same_seed_gives_the_same_faults_whatever_the_interleaving() -> None:
    first = run_sessions(seed=99, interleaving_seed=1)
    assert first
    assert run_sessions(seed=99, interleaving_seed=2) == first
    assert run_sessions(seed=100, interleaving_seed=1) != first


def test_rules_are_tried_in_order_and_the_first_match_decides() -> None:
    chosen, records = injector(
        fault_probability=1.0,
        enabled_faults={"delay": True},
        seed=1,
        rules=[
            {"name": "drop-deploys", "match": {"tools": ["deploy"]}, "enabled_faults": {"drop": True}},
            {
                "name": "never",
                "match": {"methods": ["tools/*"]},
                "probability": 0.0,
                "enabled_faults": {"duplicate": True},
            },
        ],
    )
    session = Session("s", 1, "stdio")
    chosen.intercept(call(1, "deploy"), ctx(ordinal=0, session=session))
    chosen.intercept(call(2, "echo"), ctx(ordinal=1, session=session))  # matches "never": no fault
    chosen.intercept(request(3, "prompts/list"), ctx(ordinal=2, session=session))  # falls to the default
    assert [(r.rule, r.fault) for r in records] == [("drop-deploys", "drop"), ("default", "delay")]


def test_first_n_counted_per_proxy_takes_one_call_in_all_however_many_sessions() -> None:
    rules = [{"name": "once", "match": {"first_n": 1}, "enabled_faults": {"drop": True}}]
    per_session, session_records = injector(seed=1, rules=rules)
    per_proxy, proxy_records = injector(
        seed=1, rules=[{**rules[0], "match": {"first_n": 1, "count_per": "proxy"}}]
    )
    for chosen in (per_session, per_proxy):
        for ordinal in (1, 2, 3):  # a client that opens a new session after each fault
            owner = Session(f"s-{ordinal}", ordinal, "http")
            chosen.intercept(call(ordinal, "echo"), ctx(ordinal=0, session=owner))
    assert [r.message_id for r in session_records] == [1, 2, 3]
    assert [r.message_id for r in proxy_records] == [1]


def test_targeting_by_class_argument_session_first_n_and_every_nth() -> None:
    chosen, records = injector(
        seed=1,
        rules=[
            {
                "name": "prod",
                "match": {"tools": ["deploy"], "arguments": {"env": "prod*", "force": True}},
                "enabled_faults": {"drop": True},
            },
            {
                "name": "notes",
                "match": {"message_classes": ["server_notification"], "every_nth": 3},
                "enabled_faults": {"duplicate": True},
            },
            {
                "name": "first-two",
                "match": {"methods": ["ping"], "first_n": 2, "sessions": ["s-*"]},
                "enabled_faults": {"drop": True},
            },
        ],
    )
    session = Session("s-1", 1, "stdio")
    other = Session("x-1", 2, "stdio")
    messages = [
        (call(1, "deploy", env="prod-eu", force=True), C2S, session),
        (call(2, "deploy", env="staging", force=True), C2S, session),
        (call(3, "deploy", env="prod-eu"), C2S, session),
        *[(notification("notifications/progress"), S2C, session) for _ in range(6)],
        *[(request(10 + i, "ping"), C2S, session) for i in range(4)],
        (request(20, "ping"), C2S, other),
    ]
    ordinals: Counter[tuple[str, Direction]] = Counter()
    for message, direction, owner in messages:
        ordinal = ordinals[(owner.id, direction)]
        ordinals[(owner.id, direction)] += 1
        chosen.intercept(message, ctx(direction, ordinal=ordinal, session=owner))
    assert [(r.rule, r.message_id) for r in records] == [
        ("prod", 1),
        ("notes", None),
        ("notes", None),
        ("first-two", 10),
        ("first-two", 11),
    ]


def test_a_response_matches_by_the_method_of_its_request() -> None:
    chosen, records = injector(
        seed=1,
        rules=[
            {
                "match": {"methods": ["tools/call"], "message_classes": ["server_response"]},
                "enabled_faults": {"drop": True},
            },
        ],
    )
    chosen.intercept(result_response(1, {}), ctx(S2C, request_method="tools/call"))
    chosen.intercept(result_response(2, {}), ctx(S2C, request_method="tools/list"))
    assert [r.message_id for r in records] == [1]


def test_update_config_applies_to_the_next_message() -> None:
    chosen, records = injector()
    session = Session("s", 1, "stdio")
    assert chosen.intercept(call(1), ctx(ordinal=0, session=session)) is None
    chosen.update_config(validate(FaultConfig, {"fault_probability": 1.0, "enabled_faults": {"drop": True}}))
    assert chosen.intercept(call(2), ctx(ordinal=1, session=session)) is not None
    chosen.update_config(FaultConfig())
    assert chosen.intercept(call(3), ctx(ordinal=2, session=session)) is None
    assert len(records) == 1


def test_a_reordered_message_is_released_after_the_next_one_in_its_direction() -> None:
    chosen, _ = injector(seed=1, rules=[{"match": {"first_n": 1}, "enabled_faults": {"reorder": True}}])
    session = Session("s", 1, "stdio")
    first = chosen.intercept(call(1), ctx(ordinal=0, session=session))
    assert first is not None
    assert isinstance(first[0], Hold)
    # A message the other way does not release it...
    assert chosen.intercept(result_response(9, {}), ctx(S2C, ordinal=0, session=session)) is None
    second = chosen.intercept(call(2), ctx(ordinal=1, session=session))
    assert second == [Forward(call(2)), Release(first[0].key)]


async def test_reorder_through_a_pump_swaps_two_requests() -> None:
    from mcpchaos.proxy.pump import Pump

    chosen, _ = injector(seed=1, rules=[{"match": {"first_n": 1}, "enabled_faults": {"reorder": True}}])
    client, server = MemoryEndpoint(), MemoryEndpoint()
    pump = Pump(Session("s", 1, "stdio"), InterceptorChain([chosen]), client, server)
    pump.receive(C2S, call(1))
    pump.receive(C2S, call(2))
    assert [m.id for m in server.sent] == [2, 1]


async def test_a_memory_spike_allocates_and_frees() -> None:
    from mcpchaos.proxy import pump as pump_module

    chosen, _ = injector(
        seed=1,
        fault_probability=1.0,
        enabled_faults={"resource_exhaustion": True},
        resource_exhaustion={"cpu_spike": False, "memory_spike_mb": 16, "memory_hold_ms": 20},
    )
    client, server = MemoryEndpoint(), MemoryEndpoint()
    pump = pump_module.Pump(Session("s", 1, "stdio"), InterceptorChain([chosen]), client, server)
    before = pump_module._outstanding_memory_mb
    pump.receive(C2S, call(1))
    assert pump_module._outstanding_memory_mb == before + 16
    assert [m.id for m in server.sent] == [1]
    async with asyncio.timeout(2):
        while pump_module._outstanding_memory_mb != before:  # noqa: ASYNC110 - bounded poll of a counter
            await asyncio.sleep(0.01)


messages = st.one_of(
    st.builds(
        lambda i, m, p: request(i, m, p),
        st.integers(0, 1000) | st.text(max_size=5),
        st.text(max_size=20),
        st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=3),
    ),
    st.builds(lambda m: notification(m), st.text(max_size=20)),
    st.builds(lambda i: result_response(i, {}), st.integers(0, 1000)),
    st.builds(
        lambda i, t, a: call(i, t, **a),
        st.integers(0, 10),
        st.text(max_size=8),
        st.dictionaries(st.sampled_from(["env", "x"]), st.text(max_size=5) | st.booleans(), max_size=2),
    ),
)
configs = st.fixed_dictionaries(
    {
        "fault_probability": st.floats(0, 1),
        "enabled_faults": st.fixed_dictionaries({kind.value: st.just(True) for kind in FaultType}),
        "seed": st.integers(0, 2**32),
        "rules": st.lists(
            st.fixed_dictionaries(
                {
                    "probability": st.floats(0, 1),
                    "enabled_faults": st.fixed_dictionaries(
                        {"error": st.just(True), "corruption": st.booleans()}
                    ),
                    "match": st.fixed_dictionaries(
                        {
                            "methods": st.lists(st.sampled_from(["tools/*", "ping", "[", "*"]), max_size=2),
                            "first_n": st.none() | st.integers(1, 3),
                            "every_nth": st.none() | st.integers(1, 3),
                        }
                    ),
                    "corruption_config": st.fixed_dictionaries(
                        {
                            "modes": st.lists(
                                st.sampled_from(
                                    [
                                        "method_suffix",
                                        "truncated_json",
                                        "unknown_response_id",
                                        "wrong_types",
                                        "split_line",
                                    ]
                                ),
                                min_size=1,
                                max_size=3,
                            )
                        }
                    ),
                }
            ),
            max_size=3,
        ),
        "resource_exhaustion": st.just({"memory_spike": False, "cpu_spike_ms": 0}),
    }
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    config=configs,
    batch=st.lists(
        st.tuples(messages, st.sampled_from(list(Direction)), st.sampled_from(["stdio", "http"])), max_size=20
    ),
)
def test_no_exception_escapes_the_injector(
    config: dict[str, Any], batch: list[tuple[Message, Direction, str]]
) -> None:
    chosen = FaultInjector(validate(FaultConfig, config))
    sessions = {"stdio": Session("a", 1, "stdio"), "http": Session("b", 2, "http")}
    for ordinal, (message, direction, transport) in enumerate(batch):
        effects = chosen.intercept(
            message, ctx(direction, ordinal=ordinal, session=sessions[transport], request_method="tools/call")
        )
        if effects is not None:
            for effect in effects:
                if hasattr(effect, "message") and effect.message is not None:
                    assert effect.message.kind in Kind
                    effect.message.wire  # serialisable  # noqa: B018
