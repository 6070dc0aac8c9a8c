"""input_required: the decision, and what the official SDK client and server make of each
multi-round-trip fault through the real proxy (2026-07-28, stdio and HTTP)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client._input_required import InputRequiredRoundsExceededError
from mcp.client.context import ClientRequestContext
from mcp.shared.exceptions import MCPError
from mcp.types import ElicitRequestParams, ElicitResult, InputRequiredResult, TextContent

from mcpchaos.errors import ConfigError
from mcpchaos.faults.input_required import INPUT_REQUIRED
from mcpchaos.intercept.effects import Forward, Reply
from mcpchaos.protocol.messages import Message, Rerouted, request
from tests.faults.helpers import ctx, rng, settings
from tests.faults.live import on_http, on_stdio
from tests.http.servers import demo_http_server

CAPS = "io.modelcontextprotocol/clientCapabilities"


def call(**params: Any) -> Message:
    return request(7, "tools/call", {"name": "confirm", "arguments": {}, **params})


def decide(message: Message, mode: str, **config: Any) -> tuple[list[Any], dict[str, Any]]:
    chosen = settings(input_required={"modes": [mode], **config})
    assert INPUT_REQUIRED.applies(message, ctx(), chosen)
    effects, params = INPUT_REQUIRED.decide(message, ctx(), rng(), chosen)
    return list(effects), params


def test_extra_round_answers_a_first_call_with_an_input_request_the_server_never_sent() -> None:
    [reply], params = decide(call(), "extra_round")
    assert isinstance(reply, Reply)
    result = reply.message.payload["result"]
    assert result["resultType"] == "input_required"
    [(key, asked)] = result["inputRequests"].items()
    assert key.startswith("mcpchaos-")
    assert asked["method"] == "elicitation/create"
    assert "requestState" not in result
    assert params["kind"] == "elicitation"


def test_first_round_modes_leave_a_retry_alone_and_state_modes_need_a_state() -> None:
    retry = call(inputResponses={"k": {"action": "accept"}}, requestState="abc")
    for mode in ("extra_round", "undeclared_kind"):
        assert not INPUT_REQUIRED.applies(retry, ctx(), settings(input_required={"modes": [mode]}))
    for mode in ("tampered_state", "expired_state"):
        assert not INPUT_REQUIRED.applies(call(), ctx(), settings(input_required={"modes": [mode]}))
    declared_all = call(_meta={CAPS: {"elicitation": {}, "sampling": {}, "roots": {}}})
    assert not INPUT_REQUIRED.applies(
        declared_all, ctx(), settings(input_required={"modes": ["undeclared_kind"]})
    )


def test_undeclared_kind_asks_for_what_the_capabilities_do_not_declare() -> None:
    [reply], params = decide(call(_meta={CAPS: {"elicitation": {}, "roots": {}}}), "undeclared_kind")
    assert isinstance(reply, Reply)
    assert params["kind"] == "sampling"
    [asked] = reply.message.payload["result"]["inputRequests"].values()
    assert asked["method"] == "sampling/createMessage"


def test_the_endless_loop_counts_in_its_own_state_and_lets_the_call_through_at_the_bound() -> None:
    [reply], params = decide(call(), "endless_loop", max_rounds=2)
    assert reply.message.payload["result"]["requestState"] == "mcpchaos-loop:1"
    assert params["round"] == 1
    [reply], _ = decide(call(inputResponses={}, requestState="mcpchaos-loop:1"), "endless_loop", max_rounds=2)
    assert reply.message.payload["result"]["requestState"] == "mcpchaos-loop:2"
    [forward], params = decide(
        call(inputResponses={}, requestState="mcpchaos-loop:2"), "endless_loop", max_rounds=2
    )
    assert isinstance(forward, Forward)
    assert params["released"]
    assert "requestState" not in forward.message.params
    assert "inputResponses" not in forward.message.params
    # A server's own state is not the loop's: the loop does not take over a real round.
    server_round = call(inputResponses={}, requestState="sealed-by-server")
    assert not INPUT_REQUIRED.applies(
        server_round, ctx(), settings(input_required={"modes": ["endless_loop"]})
    )


def test_tampered_state_changes_one_character_and_expired_state_holds_the_retry() -> None:
    retry = call(inputResponses={}, requestState="abcdef")
    [forward], _ = decide(retry, "tampered_state")
    assert isinstance(forward, Forward)
    tampered = forward.message.params["requestState"]
    assert tampered != "abcdef"
    assert len(tampered) == 6
    [held], _params = decide(retry, "expired_state", expire_delay_ms=250)
    assert isinstance(held, Forward)
    assert held.delay == 0.25
    assert held.message is retry


# ---- through the real proxy, the SDK client and server on 2026-07-28 --------------------------
# One session per transport runs every case (a stdio proxy and its server take seconds to
# start on a loaded runner); each case is a rule targeted by tool and arguments, named after it.

CASES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    ("extra", "echo", {"text": "extra"}, {"modes": ["extra_round"]}),
    ("undeclared", "echo", {"text": "undeclared"}, {"modes": ["undeclared_kind"]}),
    ("loop", "echo", {"text": "loop"}, {"modes": ["endless_loop"]}),
    ("bounded", "echo", {"text": "bounded"}, {"modes": ["endless_loop"], "max_rounds": 3}),
    ("tamper", "confirm", {"question": "tamper"}, {"modes": ["tampered_state"]}),
    ("hold", "confirm", {"question": "hold"}, {"modes": ["expired_state"], "expire_delay_ms": 300}),
]
CONFIG = {
    "seed": 1,
    "rules": [
        {
            "name": name,
            "match": {"methods": ["tools/call"], "tools": [tool], "arguments": arguments},
            "enabled_faults": {"input_required": True},
            "input_required": settings,
        }
        for name, tool, arguments, settings in CASES
    ],
}


def text(result: Any) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


async def every_case(client: Client, asked: list[str]) -> dict[str, tuple[Any, list[str]]]:
    """Each case's outcome (a text, or the exception raised) and the elicitations it caused."""
    assert client.protocol_version == "2026-07-28"
    seen: dict[str, tuple[Any, list[str]]] = {}
    for name, tool, arguments, _ in CASES:
        del asked[:]
        try:
            outcome: Any = text(await client.call_tool(tool, arguments))
        except (MCPError, InputRequiredRoundsExceededError) as exc:
            outcome = exc
        seen[name] = (outcome, list(asked))
    return seen


@pytest.fixture(scope="module", params=["stdio", "http"])
def seen(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    asked: list[str] = []

    async def on_elicit(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"confirm": True})

    async def scenario(client: Client) -> Any:
        return await every_case(client, asked)

    async def main() -> Any:
        if request.param == "stdio":
            tmp = tmp_path_factory.mktemp("input-required")
            return await on_stdio(CONFIG, scenario, tmp, "auto", elicitation_callback=on_elicit)
        upstream = request.getfixturevalue("stateful_url")
        return await on_http(CONFIG, scenario, upstream, "auto", elicitation_callback=on_elicit)

    outcomes, records = anyio.run(main)
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_rule.setdefault(record["rule"], []).append(record["params"])
    return {name: (*outcomes[name], by_rule.get(name, [])) for name, *_ in CASES}


def test_an_extra_round_costs_the_sdk_client_one_answer_and_the_call_still_succeeds(seen: Any) -> None:
    answer, asked, log = seen["extra"]
    assert answer == "extra"  # the server ignored the answer it never asked for
    assert asked == ["mcpchaos: an input the server did not ask for"]
    assert log == [{"mode": "extra_round", "kind": "elicitation"}]


def test_an_input_request_of_an_undeclared_kind_fails_the_sdk_call_cleanly(seen: Any) -> None:
    # The client declares elicitation only: the fault asks for sampling or roots.
    error, asked, [params] = seen["undeclared"]
    assert params["kind"] in ("sampling", "roots")
    assert asked == []
    assert isinstance(error, MCPError)
    assert "not supported" in error.error.message.lower()


def test_an_endless_input_loop_ends_at_the_sdk_clients_round_bound(seen: Any) -> None:
    error, asked, log = seen["loop"]
    assert isinstance(error, InputRequiredRoundsExceededError)
    assert len(asked) == 10  # the SDK's input_required_max_rounds: it answers ten, then gives up
    assert [params["round"] for params in log] == list(range(1, 12))


def test_the_proxys_loop_bound_lets_the_call_through_to_the_server(seen: Any) -> None:
    answer, asked, log = seen["bounded"]
    assert answer == "bounded"
    assert len(asked) == 3
    assert log[-1] == {"mode": "endless_loop", "round": 4, "released": True}


def test_a_tampered_request_state_is_refused_by_the_sdk_server(seen: Any) -> None:
    error, asked, log = seen["tamper"]
    assert asked == ["tamper"]  # the real round was answered; its retry carried the tampered state
    assert isinstance(error, MCPError)
    assert error.error.code == -32602
    assert "requestState" in error.error.message
    assert [params["mode"] for params in log] == ["tampered_state"]


def test_a_state_held_within_its_ttl_is_still_honoured(seen: Any) -> None:
    # The SDK's sealed state lives 600 s; a 300 ms hold is within it, so the round completes.
    answer, asked, log = seen["hold"]
    assert answer == "confirmed=True"
    assert asked == ["hold"]
    assert log == [{"mode": "expired_state", "delay_ms": 300}]


async def test_a_state_sealed_by_one_server_is_refused_by_another_replica() -> None:
    # The finding behind a "replica hop": each MCPServer seals requestState with its own
    # ephemeral key, so a round that reaches another process (a replica, a restart) is refused.
    from mcpchaos.demo.server import build_server

    async def on_elicit(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        return ElicitResult(action="accept", content={"confirm": True})

    with anyio.fail_after(20):
        async with (
            Client(build_server(), elicitation_callback=on_elicit) as first,
            Client(build_server(), elicitation_callback=on_elicit) as replica,
        ):
            ask = {"question": "q"}
            asked = await first.session.call_tool("confirm", ask, allow_input_required=True)
            assert isinstance(asked, InputRequiredResult)
            assert asked.input_requests is not None
            accept = ElicitResult(action="accept", content={"confirm": True})
            answers: dict[str, Any] = dict.fromkeys(asked.input_requests, accept)
            state = asked.request_state
            same = await first.session.call_tool(
                "confirm", ask, input_responses=answers, request_state=state, allow_input_required=True
            )
            assert text(same) == "confirmed=True"
            with pytest.raises(MCPError) as refused:
                await replica.session.call_tool(
                    "confirm",
                    ask,
                    input_responses=answers,
                    request_state=state,
                    allow_input_required=True,
                )
    assert refused.value.error.code == -32602
    assert refused.value.error.message == "Invalid or expired requestState"


# ---- replica hop: a retry sent to another process of the server (HTTP) -------------------------

REPLICA = "http://127.0.0.1:9/mcp"


def test_a_replica_hop_reroutes_a_retry_on_http_and_fits_nothing_else() -> None:
    retry = call(inputResponses={}, requestState="sealed-by-one-process")
    hop = settings(input_required={"modes": ["replica_hop"], "replica_url": REPLICA})
    assert INPUT_REQUIRED.applies(retry, ctx(transport="http"), hop)
    [forward], params = INPUT_REQUIRED.decide(retry, ctx(transport="http"), rng(), hop)
    assert isinstance(forward, Forward)
    assert isinstance(forward.message, Rerouted)
    assert forward.message.upstream_url == REPLICA
    assert forward.message.payload == retry.payload
    assert params == {"mode": "replica_hop", "replica": REPLICA}
    assert not INPUT_REQUIRED.applies(retry, ctx(transport="stdio"), hop)  # one process behind stdio
    assert not INPUT_REQUIRED.applies(call(), ctx(transport="http"), hop)  # a first call has no state
    no_replica = settings(input_required={"modes": ["replica_hop"]})
    assert not INPUT_REQUIRED.applies(retry, ctx(transport="http"), no_replica)


def test_a_replica_url_without_a_scheme_is_a_config_error_that_says_what_was_meant() -> None:
    with pytest.raises(ConfigError, match=r"replica_url 127.0.0.1:9/mcp has no scheme; did you mean http://"):
        settings(input_required={"modes": ["replica_hop"], "replica_url": "127.0.0.1:9/mcp"})


KEY = "k" * 40


@pytest.mark.parametrize(
    ("shared_key", "expected"),
    [(False, "refused -32602 Invalid or expired requestState"), (True, "confirmed=True")],
    ids=["a-key-per-process", "a-key-every-replica-shares"],
)
async def test_a_round_that_hops_to_another_replica_ends_where_its_state_can_be_read(
    shared_key: bool, expected: str
) -> None:
    # The SDK's default key is made per process: a round that reaches another process is refused
    # (-32602, as a tampered state is). With a key both share, the other process finishes it.
    flags = ("--request-state-key", KEY) if shared_key else ()
    asked: list[str] = []

    async def on_elicit(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"confirm": True})

    async def scenario(client: Client) -> str:
        try:
            return text(await client.call_tool("confirm", {"question": "hop"}))
        except MCPError as exc:
            return f"refused {exc.error.code} {exc.error.message}"

    with demo_http_server(*flags) as first, demo_http_server(*flags) as replica:
        config = {
            "seed": 1,
            "rules": [
                {
                    "match": {"methods": ["tools/call"], "tools": ["confirm"]},
                    "enabled_faults": {"input_required": True},
                    "input_required": {"modes": ["replica_hop"], "replica_url": replica},
                }
            ],
        }
        outcome, records = await on_http(config, scenario, first, "auto", elicitation_callback=on_elicit)
    assert outcome == expected
    assert asked == ["hop"]  # the first process asked; the answer went to the other one
    assert records == [
        {**records[0], "fault": "input_required", "params": {"mode": "replica_hop", "replica": replica}}
    ]
