"""header_mismatch: the decision, and what the official SDK server and client make of it through
the real HTTP proxy on 2026-07-28 (the server answers -32020; the client re-lists and resends once)."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from mcpchaos.faults.header_mismatch import HEADER_MISMATCH
from mcpchaos.intercept.effects import Forward
from mcpchaos.protocol import codes
from mcpchaos.protocol.messages import request
from tests.faults.helpers import ctx, rng, settings
from tests.faults.live import on_http, rule

META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
}
CALL = request(3, "tools/call", {"name": "echo", "arguments": {"text": "x"}, "_meta": META})


def test_the_body_is_untouched_and_one_mirrored_header_disagrees_with_it() -> None:
    chosen = set()
    for seed in range(20):
        effects, _ = HEADER_MISMATCH.decide(CALL, ctx(transport="http"), rng(seed), settings())
        [forward] = effects
        assert isinstance(forward, Forward)
        assert forward.message.payload == CALL.payload
        [(name, value)] = forward.message.header_overrides
        assert value == {"Mcp-Method": "tools/list", "Mcp-Name": "echo-mismatch"}[name]
        chosen.add(name)
    assert chosen == {"Mcp-Method", "Mcp-Name"}


def test_omit_leaves_the_header_out() -> None:
    config = settings(header_mismatch={"headers": ["mcp-method"], "omit": True})
    [forward], params = HEADER_MISMATCH.decide(CALL, ctx(transport="http"), rng(), config)
    assert isinstance(forward, Forward)
    assert forward.message.header_overrides == (("Mcp-Method", None),)
    assert params == {"header": "Mcp-Method", "value": None}


def test_it_fits_2026_requests_on_http_only() -> None:
    legacy = request(3, "tools/call", {"name": "echo", "arguments": {}})
    assert HEADER_MISMATCH.applies(CALL, ctx(transport="http"), settings())
    assert not HEADER_MISMATCH.applies(CALL, ctx(transport="stdio"), settings())
    assert not HEADER_MISMATCH.applies(legacy, ctx(transport="http"), settings())
    only_name = settings(header_mismatch={"headers": ["mcp-name"]})
    assert not HEADER_MISMATCH.applies(
        request(4, "tools/list", {"_meta": META}), ctx(transport="http"), only_name
    )


async def echo(client: Client) -> Any:
    try:
        result = await client.call_tool("echo", {"text": "routed"}, read_timeout_seconds=10)
    except MCPError as exc:
        return exc.error.code
    return getattr(result.content[0], "text", None)


@pytest.mark.parametrize(
    "mismatch",
    [{"headers": ["mcp-method"]}, {"headers": ["mcp-name"]}, {"headers": ["mcp-method"], "omit": True}],
    ids=["method", "name", "method-omitted"],
)
async def test_the_sdk_server_answers_32020_and_the_client_raises_after_one_resend(
    stateful_url: str, mismatch: dict[str, Any]
) -> None:
    outcome, records = await on_http(
        rule({"header_mismatch": True}, header_mismatch=mismatch), echo, stateful_url, mode="auto"
    )
    assert outcome == codes.HEADER_MISMATCH
    assert [r["fault"] for r in records] == ["header_mismatch"] * 2  # the call, and its one resend


async def test_a_version_header_naming_the_handshake_era_is_routed_as_a_legacy_request(
    stateful_url: str,
) -> None:
    # A finding: the SDK server picks the era from the header before it compares it with the body,
    # so the mismatch is answered as a sessionless legacy request (-32600), not -32020, and the
    # client does not resend.
    config = rule({"header_mismatch": True}, header_mismatch={"headers": ["mcp-protocol-version"]})
    outcome, records = await on_http(config, echo, stateful_url, mode="auto")
    assert outcome == codes.INVALID_REQUEST
    assert [r["params"] for r in records] == [{"header": "MCP-Protocol-Version", "value": "2025-11-25"}]


async def test_a_mismatch_on_one_attempt_is_recovered_by_the_sdk_client_s_relist_and_resend(
    stateful_url: str,
) -> None:
    # Each 2026-07-28 HTTP request is a session of its own, so first_n cannot single out the first
    # attempt: half the attempts mismatch (seed 1), and a call fails only when both of its do.
    async def six_calls(client: Client) -> list[Any]:
        return [await echo(client) for _ in range(6)]

    config = rule({"header_mismatch": True})
    config["rules"][0]["probability"] = 0.5
    outcomes, records = await on_http(config, six_calls, stateful_url, mode="auto")
    failed = outcomes.count(codes.HEADER_MISMATCH)
    assert outcomes.count("routed") == 6 - failed
    recovered = len(records) - 2 * failed  # faulted once, answered on the resend
    assert failed >= 1
    assert recovered >= 1
