"""result_shape: the decision, and what the official SDK client makes of each lie through the
real proxy (2026-07-28 on stdio and HTTP; the closed stream on HTTP in both eras)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from mcpchaos.faults.result_shape import RESULT_SHAPE
from mcpchaos.intercept.effects import EndStream, Forward
from mcpchaos.protocol.messages import Direction, result_response
from tests.faults.helpers import ctx, rng, settings
from tests.faults.live import on_http, on_stdio, rule

LISTED = result_response(2, {"tools": [], "resultType": "complete", "ttlMs": 0, "cacheScope": "private"})


def shaped(
    mode: str, method: str = "tools/list", transport: str = "stdio"
) -> tuple[list[Any], dict[str, Any]]:
    context = ctx(Direction.SERVER_TO_CLIENT, transport, request_method=method)
    effects, params = RESULT_SHAPE.decide(LISTED, context, rng(), settings(result_shape={"modes": [mode]}))
    return list(effects), params


def result_of(effects: list[Any]) -> dict[str, Any]:
    [forward] = effects
    assert isinstance(forward, Forward)
    result: dict[str, Any] = forward.message.payload["result"]
    return result


def test_each_mode_changes_only_what_it_names() -> None:
    assert "resultType" not in result_of(shaped("missing_result_type")[0])
    assert result_of(shaped("wrong_result_type")[0])["resultType"] == "mcpchaos/unknown"
    effects, params = shaped("long_ttl")
    assert result_of(effects)["ttlMs"] == 86_400_000
    assert params == {"mode": "long_ttl", "was": 0, "ttl_ms": 86_400_000}
    assert result_of(shaped("public_scope")[0])["cacheScope"] == "public"
    assert result_of(shaped("public_scope")[0])["tools"] == []


def test_late_result_closes_the_stream_and_the_result_goes_nowhere() -> None:
    effects, _ = shaped("late_result", transport="http")
    assert [type(effect) for effect in effects] == [EndStream]


def test_modes_fit_only_the_results_they_can_lie_about() -> None:
    def fits(mode: str, method: str, transport: str = "stdio") -> bool:
        context = ctx(Direction.SERVER_TO_CLIENT, transport, request_method=method)
        return RESULT_SHAPE.applies(LISTED, context, settings(result_shape={"modes": [mode]}))

    assert fits("long_ttl", "resources/read")
    assert not fits("long_ttl", "tools/call")  # not a cacheable result
    assert not fits("late_result", "tools/call")  # stdio has no stream to close
    assert fits("late_result", "tools/call", "http")
    legacy = result_response(2, {"tools": []})
    context = ctx(Direction.SERVER_TO_CLIENT, request_method="tools/list")
    assert not RESULT_SHAPE.applies(
        legacy, context, settings(result_shape={"modes": ["missing_result_type"]})
    )


def shape_rule(mode: str, methods: tuple[str, ...], tools: tuple[str, ...] = ()) -> dict[str, Any]:
    config = rule(
        {"result_shape": True},
        tools=tools,
        methods=methods,
        classes=("server_response",),
        result_shape={"modes": [mode]},
    )
    config["rules"][0]["name"] = mode
    return config


async def list_twice_then_call(client: Client) -> tuple[int, str]:
    await client.list_tools()
    await client.list_tools()  # served from the SDK's cache when the first answer said ttlMs: 24 h
    try:
        await client.call_tool("echo", {"text": "shaped"}, read_timeout_seconds=10)
    except ValidationError as exc:
        return 2, type(exc).__name__
    return 2, "accepted"


async def test_on_stdio_a_long_ttl_is_trusted_and_a_missing_result_type_fails_the_call(
    tmp_path: Path,
) -> None:
    config = shape_rule("long_ttl", ("tools/list",))
    config["rules"] += shape_rule("missing_result_type", ("tools/call",), ("echo",))["rules"]
    (_, call), records = await on_stdio(config, list_twice_then_call, tmp_path, mode="auto")
    # Two list_tools, one tools/list answer: the second came from the cache the lie filled.
    assert [(r["rule"], r["method"]) for r in records] == [
        ("long_ttl", "tools/list"),
        ("missing_result_type", "tools/call"),
    ]
    assert call == "ValidationError"  # not an MCPError: the 2026-07-28 result model requires resultType


@pytest.mark.parametrize(("mode", "answers"), [("long_ttl", 1), ("public_scope", 2)])
async def test_on_http_the_sdk_cache_trusts_ttl_ms_and_ignores_cache_scope(
    stateful_url: str, mode: str, answers: int
) -> None:
    async def list_twice(client: Client) -> None:
        await client.list_tools()
        await client.list_tools()

    _, records = await on_http(shape_rule(mode, ("tools/list",)), list_twice, stateful_url, mode="auto")
    assert len(records) == answers


async def echo(client: Client) -> Any:
    try:
        result = await client.call_tool("echo", {"text": "shaped"}, read_timeout_seconds=10)
    except ValidationError:
        return "ValidationError"
    except MCPError as exc:
        return exc.error.message
    return result.result_type, getattr(result.content[0], "text", None)


async def test_on_http_an_unknown_result_type_is_accepted_as_if_complete(stateful_url: str) -> None:
    # A finding: the SDK client neither rejects nor flags an unknown resultType.
    outcome, records = await on_http(
        shape_rule("wrong_result_type", ("tools/call",)), echo, stateful_url, mode="auto"
    )
    assert outcome == ("mcpchaos/unknown", "shaped")
    assert records[0]["params"]["result_type"] == "mcpchaos/unknown"


@pytest.mark.parametrize("era", ["auto", "legacy"])
async def test_on_http_a_stream_closed_before_its_result_fails_the_call_at_once_and_the_client_goes_on(
    stateful_url: str, era: str
) -> None:
    async def twice(client: Client) -> list[Any]:
        return [await echo(client), await echo(client)]

    config = shape_rule("late_result", ("tools/call",), ("echo",))
    config["rules"][0]["match"]["first_n"] = 1  # legacy: one session; 2026: each request is its own
    outcomes, records = await on_http(config, twice, stateful_url, mode=era)
    assert outcomes[0] == "SSE stream ended without a response"
    if era == "legacy":
        assert outcomes[1] == ("complete", "shaped")
        assert len(records) == 1
    else:
        assert outcomes[1] == outcomes[0]
