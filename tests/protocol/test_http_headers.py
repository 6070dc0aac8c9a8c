import base64

from mcpchaos.protocol.http_headers import PROTOCOL_VERSION_META_KEY, header_value, routing_headers
from mcpchaos.protocol.messages import notification, request


def modern(method: str, **params: object) -> dict[str, object]:
    return {**params, "_meta": {PROTOCOL_VERSION_META_KEY: "2026-07-28"}}


def test_a_2026_tool_call_names_its_method_tool_and_version() -> None:
    message = request(1, "tools/call", modern("tools/call", name="echo", arguments={}))
    assert routing_headers(message, None) == {
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/call",
        "Mcp-Name": "echo",
    }


def test_a_resource_read_names_its_uri() -> None:
    message = request(1, "resources/read", modern("resources/read", uri="demo://info"))
    assert routing_headers(message, None)["Mcp-Name"] == "demo://info"


def test_a_2025_request_after_the_handshake_carries_only_the_negotiated_version() -> None:
    assert routing_headers(request(1, "tools/list", {}), "2025-11-25") == {
        "MCP-Protocol-Version": "2025-11-25"
    }
    assert routing_headers(notification("notifications/initialized"), None) == {}


def test_values_that_are_not_plain_ascii_are_base64_wrapped() -> None:
    assert header_value("echo") == "echo"
    wrapped = header_value("héllo")
    assert wrapped.startswith("=?base64?")
    assert base64.b64decode(wrapped[9:-2]).decode() == "héllo"
    assert header_value(" padded").startswith("=?base64?")
