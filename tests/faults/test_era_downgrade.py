"""era_downgrade: the decision, and the official SDK client's answer to it through the real
proxy (stdio and HTTP): an auto client falls back to the handshake, a legacy client errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mcpchaos.faults.era_downgrade import ERA_DOWNGRADE
from mcpchaos.intercept.effects import HttpReply, Reply
from mcpchaos.protocol import codes
from mcpchaos.protocol.messages import request
from tests.faults.helpers import ctx, rng, settings
from tests.faults.live import connect_error, on_http, on_stdio, rule

META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
}
DISCOVER = request(1, "server/discover", {"_meta": META})
INITIALIZE = request(1, "initialize", {"protocolVersion": "2025-11-25", "capabilities": {}})


def test_a_2026_request_gets_32022_naming_the_handshake_versions() -> None:
    effects, params = ERA_DOWNGRADE.decide(DISCOVER, ctx(), rng(), settings())
    [reply] = effects
    assert isinstance(reply, Reply)
    error = reply.message.payload["error"]
    assert error["code"] == codes.UNSUPPORTED_PROTOCOL_VERSION
    assert error["data"]["requested"] == "2026-07-28"
    assert "2025-11-25" in error["data"]["supported"]
    assert params["answered_as"] == "legacy"


def test_initialize_gets_32022_naming_only_2026_as_a_2026_only_server_answers() -> None:
    effects, params = ERA_DOWNGRADE.decide(INITIALIZE, ctx(transport="http"), rng(), settings())
    [reply] = effects
    assert isinstance(reply, HttpReply)
    assert reply.status == 400
    assert reply.message is not None
    assert reply.message.payload["error"]["data"]["supported"] == ["2026-07-28"]
    assert reply.message.payload["error"]["data"]["requested"] == "2025-11-25"
    assert params["answered_as"] == "modern"


def test_the_legacy_body_on_http_is_the_sdk_1x_400_with_id_null() -> None:
    effects, _ = ERA_DOWNGRADE.decide(
        DISCOVER, ctx(transport="http"), rng(), settings(era_downgrade={"legacy_body": True})
    )
    [reply] = effects
    assert isinstance(reply, HttpReply)
    assert reply.status == 400
    assert reply.message is not None
    assert reply.message.payload["id"] is None
    assert reply.message.payload["error"]["code"] == -32000
    assert "Unsupported protocol version: 2026-07-28" in reply.message.payload["error"]["message"]


def test_a_request_with_no_era_marker_is_not_a_fit() -> None:
    legacy_call = request(2, "tools/call", {"name": "echo", "arguments": {}})
    assert not ERA_DOWNGRADE.applies(legacy_call, ctx(), settings())
    assert ERA_DOWNGRADE.applies(DISCOVER, ctx(), settings())


def discover_rule(**era: Any) -> dict[str, Any]:
    return rule({"era_downgrade": True}, tools=(), methods=("server/discover",), era_downgrade=era)


async def handshake_era_call(client: Client) -> tuple[str | None, str]:
    result = await client.call_tool("echo", {"text": "fell back"})
    block = result.content[0]
    return client.protocol_version, getattr(block, "text", "")


async def test_an_auto_client_answered_as_by_a_legacy_server_falls_back_to_the_handshake_on_stdio(
    tmp_path: Path,
) -> None:
    (version, answer), records = await on_stdio(discover_rule(), handshake_era_call, tmp_path, mode="auto")
    assert (version, answer) == ("2025-11-25", "fell back")
    assert [(r["fault"], r["method"]) for r in records] == [("era_downgrade", "server/discover")]


@pytest.mark.parametrize("legacy_body", [False, True], ids=["32022", "legacy-body"])
async def test_an_auto_client_answered_as_by_a_legacy_server_falls_back_to_the_handshake_on_http(
    stateful_url: str, legacy_body: bool
) -> None:
    (version, answer), records = await on_http(
        discover_rule(legacy_body=legacy_body), handshake_era_call, stateful_url, mode="auto"
    )
    assert (version, answer) == ("2025-11-25", "fell back")
    assert [(r["fault"], r["params"]["http_status"]) for r in records] == [("era_downgrade", 400)]


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_a_legacy_client_answered_as_by_a_2026_only_server_fails_to_connect_cleanly(
    tmp_path: Path, transport: str, request: pytest.FixtureRequest
) -> None:
    config = rule({"era_downgrade": True}, tools=(), methods=("initialize",))

    async def never(client: Client) -> None:
        raise AssertionError("connected")

    if transport == "stdio":
        error = await connect_error(on_stdio(config, never, tmp_path, mode="legacy"))
    else:
        error = await connect_error(
            on_http(config, never, request.getfixturevalue("stateful_url"), mode="legacy")
        )
    assert error.error.code == codes.UNSUPPORTED_PROTOCOL_VERSION
    assert error.error.data["supported"] == ["2026-07-28"]


async def test_a_server_that_contradicts_itself_is_given_up_on_after_two_rounds(stateful_url: str) -> None:
    # discover says "legacy only", initialize says "2026 only": the SDK re-probes once, then fails.
    config = rule({"era_downgrade": True}, tools=(), methods=("server/discover", "initialize"))
    log: list[dict[str, Any]] = []

    async def never(client: Client) -> None:
        raise AssertionError("connected")

    error = await connect_error(on_http(config, never, stateful_url, mode="auto", log=log))
    assert error.error.code == codes.UNSUPPORTED_PROTOCOL_VERSION
    assert [r["method"] for r in log] == ["server/discover", "initialize"] * 2
