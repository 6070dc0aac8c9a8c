"""missing_capability: the decision, and the official SDK client through the real proxy on
2026-07-28 (stdio and HTTP): a call whose ``_meta`` lacks the capability gets -32021, cleanly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp.shared.exceptions import MCPError
from mcp.types import ElicitRequestParams, ElicitResult

from mcpchaos.faults.missing_capability import MISSING_CAPABILITY, declared, required
from mcpchaos.intercept.effects import HttpReply, Reply
from mcpchaos.protocol import codes
from mcpchaos.protocol.messages import request
from tests.faults.helpers import ctx, rng, settings
from tests.faults.live import on_http, on_stdio, rule


def call(capabilities: dict[str, Any]) -> Any:
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": capabilities,
    }
    return request(3, "tools/call", {"name": "echo", "arguments": {}, "_meta": meta})


def test_capability_paths_reach_nested_and_extension_keys() -> None:
    message = call({"sampling": {"tools": {}}, "extensions": {"io.modelcontextprotocol/tasks": {}}})
    assert declared(message, "sampling")
    assert declared(message, "sampling.tools")
    assert declared(message, "extensions.io.modelcontextprotocol/tasks")
    assert not declared(message, "elicitation")
    assert required("sampling.tools") == {"sampling": {"tools": {}}}
    assert required("extensions.io.modelcontextprotocol/tasks") == {
        "extensions": {"io.modelcontextprotocol/tasks": {}}
    }


def test_a_declared_capability_is_left_alone_unless_when_is_always() -> None:
    message = call({"elicitation": {}})
    assert not MISSING_CAPABILITY.applies(message, ctx(), settings())
    assert MISSING_CAPABILITY.applies(message, ctx(), settings(missing_capability={"when": "always"}))
    assert MISSING_CAPABILITY.applies(call({}), ctx(), settings())
    legacy = request(3, "tools/call", {"name": "echo", "arguments": {}})
    assert not MISSING_CAPABILITY.applies(legacy, ctx(), settings())


def test_the_answer_is_32021_with_required_capabilities_a_400_on_http() -> None:
    [reply], params = MISSING_CAPABILITY.decide(call({}), ctx(), rng(), settings())
    assert isinstance(reply, Reply)
    error = reply.message.payload["error"]
    assert error["code"] == codes.MISSING_REQUIRED_CLIENT_CAPABILITY
    assert error["data"]["requiredCapabilities"] == {"elicitation": {}}
    assert params["declared"] is False
    [http], _ = MISSING_CAPABILITY.decide(call({}), ctx(transport="http"), rng(), settings())
    assert isinstance(http, HttpReply)
    assert http.status == 400


async def echo(client: Client) -> Any:
    try:
        result = await client.call_tool("echo", {"text": "capable"}, read_timeout_seconds=10)
    except MCPError as exc:
        return exc.error.code, exc.error.data
    return getattr(result.content[0], "text", None)


async def on_elicit(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
    return ElicitResult(action="decline")


REJECTED: tuple[int, dict[str, Any]] = (codes.MISSING_REQUIRED_CLIENT_CAPABILITY, {"elicitation": {}})


async def test_on_stdio_a_client_without_elicitation_gets_32021_cleanly(tmp_path: Path) -> None:
    outcome, records = await on_stdio(rule({"missing_capability": True}), echo, tmp_path, mode="auto")
    assert (outcome[0], outcome[1]["requiredCapabilities"]) == REJECTED
    assert [r["params"]["capability"] for r in records] == ["elicitation"]


async def test_on_http_only_the_client_that_lacks_the_capability_is_rejected(stateful_url: str) -> None:
    config = rule({"missing_capability": True})
    outcome, records = await on_http(config, echo, stateful_url, mode="auto")
    assert (outcome[0], outcome[1]["requiredCapabilities"]) == REJECTED
    assert records[0]["params"]["http_status"] == 400
    capable, records = await on_http(config, echo, stateful_url, mode="auto", elicitation_callback=on_elicit)
    assert capable == "capable"
    assert records == []
