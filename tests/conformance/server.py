"""The server behind the official conformance suite's server scenarios, on the official SDK.

``npx @modelcontextprotocol/conformance server --url URL`` expects a server with a fixed set
of tools (``test_simple_text``, ``test_reconnection``, ...), resources (``test://...``) and
prompts; their names and results are specified in each scenario's description (see
``conformance list`` and the scenario sources of @modelcontextprotocol/conformance 0.1.16).
Neither the SDK's wheel nor ``@modelcontextprotocol/server-everything`` ships that server, so
this module is one, built on ``MCPServer`` like the demo server.

Run ``python tests/conformance/server.py --port N`` for Streamable HTTP on 127.0.0.1:N/mcp
(with an event store so SSE streams are resumable, as ``server-sse-polling`` needs, and DNS
rebinding protection as MCPServer sets it up on loopback), or ``--transport stdio`` for the
HTTP→stdio bridge. Two variants put the proxy to tests the plain server does not:
``--host-check-only`` and ``--resumable-any-version`` (see ``--help``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import warnings
from typing import Any

from mcp.server import ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.prompts.base import UserMessage
from mcp.server.streamable_http import EventCallback, EventMessage, EventStore
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import (
    AudioContent,
    Completion,
    CompletionArgument,
    CompletionContext,
    EmbeddedResource,
    EmptyResult,
    ImageContent,
    JSONRPCMessage,
    PromptReference,
    ResourceTemplateReference,
    SamplingMessage,
    SetLevelRequestParams,
    SubscribeRequestParams,
    TextContent,
    TextResourceContents,
    UnsubscribeRequestParams,
)
from pydantic import BaseModel, Field

warnings.filterwarnings("ignore", category=DeprecationWarning)

# A 1x1 PNG and a tiny WAV: the scenarios check the content type and MIME type, not pixels.
PNG_1X1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
WAV_TINY = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="

# The tool json-schema-2020-12 looks for, with the 2020-12 keywords it checks are preserved.
JSON_SCHEMA_2020_12: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
    "additionalProperties": False,
}


class MemoryEventStore(EventStore):
    """Every SSE event kept in memory, so a client that reconnects with Last-Event-ID gets
    what it missed (``server-sse-polling``: the stream is closed in the middle of a call)."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._events: list[tuple[str, int, JSONRPCMessage | None]] = []

    async def store_event(self, stream_id: str, message: JSONRPCMessage | None) -> str:
        event_id = next(self._ids)
        self._events.append((stream_id, event_id, message))
        return str(event_id)

    async def replay_events_after(self, last_event_id: str, send_callback: EventCallback) -> str | None:
        try:
            after = int(last_event_id)
        except ValueError:
            return None
        stream = next((sid for sid, eid, _ in self._events if eid == after), None)
        if stream is None:
            return None
        for sid, eid, message in self._events:
            if sid == stream and eid > after and message is not None:  # None: a priming event
                await send_callback(EventMessage(message, str(eid)))
        return stream


class UserAnswer(BaseModel):
    response: str = Field(description="The user's answer")


class Defaults(BaseModel):
    """SEP-1034: a default for every primitive type."""

    name: str = Field(default="John Doe", description="User name")
    age: int = Field(default=30, description="User age")
    score: float = Field(default=95.5, description="User score")
    status: str = Field(
        default="active",
        description="User status",
        json_schema_extra={"enum": ["active", "inactive", "pending"]},
    )
    verified: bool = Field(default=True, description="Verification status")


class Enums(BaseModel):
    """SEP-1330: the enum shapes (plain, titled, multi-select, legacy enumNames)."""

    untitledSingle: str = Field(  # noqa: N815 (the scenario's field names)
        description="Plain enum", json_schema_extra={"enum": ["active", "inactive", "pending"]}
    )
    titledSingle: str = Field(  # noqa: N815
        description="Titled enum",
        json_schema_extra={
            "oneOf": [
                {"const": "low", "title": "Low Priority"},
                {"const": "medium", "title": "Medium Priority"},
                {"const": "high", "title": "High Priority"},
            ]
        },
    )
    untitledMulti: list[str] = Field(  # noqa: N815
        description="Multi-select",
        json_schema_extra={"items": {"type": "string", "enum": ["read", "write", "execute"]}},
    )
    titledMulti: list[str] = Field(  # noqa: N815
        description="Titled multi-select",
        json_schema_extra={
            "items": {
                "anyOf": [
                    {"const": "feature", "title": "New Feature"},
                    {"const": "bug", "title": "Bug Fix"},
                    {"const": "docs", "title": "Documentation"},
                ]
            }
        },
    )
    legacyEnum: str = Field(  # noqa: N815
        description="Legacy enumNames",
        json_schema_extra={"enum": ["small", "medium", "large"], "enumNames": ["Small", "Medium", "Large"]},
    )


def build_server() -> MCPServer:
    server = MCPServer("mcpchaos-conformance-server", version="1.0")
    subscribed: set[str] = set()

    @server.tool()
    def test_simple_text() -> str:
        """A text result."""
        return "This is a simple text response for testing."

    @server.tool()
    def test_image_content() -> list[ImageContent]:
        """An image result."""
        return [ImageContent(type="image", data=PNG_1X1, mime_type="image/png")]

    @server.tool()
    def test_audio_content() -> list[AudioContent]:
        """An audio result."""
        return [AudioContent(type="audio", data=WAV_TINY, mime_type="audio/wav")]

    @server.tool()
    def test_embedded_resource() -> list[EmbeddedResource]:
        """An embedded resource result."""
        text = TextResourceContents(
            uri="test://embedded-resource",
            mime_type="text/plain",
            text="This is an embedded resource content.",
        )
        return [EmbeddedResource(type="resource", resource=text)]

    @server.tool()
    def test_multiple_content_types() -> list[TextContent | ImageContent | EmbeddedResource]:
        """Text, an image and a resource in one result."""
        resource = TextResourceContents(
            uri="test://mixed-content-resource",
            mime_type="application/json",
            text='{"test": "data", "value": 123}',
        )
        return [
            TextContent(type="text", text="Multiple content types test:"),
            ImageContent(type="image", data=PNG_1X1, mime_type="image/png"),
            EmbeddedResource(type="resource", resource=resource),
        ]

    @server.tool()
    async def test_tool_with_logging(ctx: Context) -> str:
        """Three log notifications during the call."""
        for message in ("Tool execution started", "Tool processing data", "Tool execution completed"):
            await ctx.info(message)
            await asyncio.sleep(0.05)
        return "Tool with logging executed successfully"

    @server.tool()
    async def test_tool_with_progress(ctx: Context) -> str:
        """Three progress notifications during the call."""
        for done in (0, 50, 100):
            await ctx.report_progress(progress=done, total=100, message=f"Completed step {done} of 100")
            await asyncio.sleep(0.05)
        meta = ctx.request_context.meta if ctx.request_context else None
        return str(meta.get("progress_token", 0) if meta else 0)

    @server.tool()
    async def test_sampling(prompt: str, ctx: Context) -> str:
        """Ask the client's model (sampling/createMessage)."""
        result = await ctx.session.create_message(
            messages=[SamplingMessage(role="user", content=TextContent(type="text", text=prompt))],
            max_tokens=100,
            related_request_id=ctx.request_id,
        )
        content = result.content
        return f"LLM response: {content.text if isinstance(content, TextContent) else 'No response'}"

    async def elicit(ctx: Context, message: str, schema: type[BaseModel], label: str) -> str:
        result = await ctx.elicit(message=message, schema=schema)
        data = result.data.model_dump_json() if result.action == "accept" and result.data else "{}"
        return f"{label}: action={result.action}, content={data}"

    @server.tool()
    async def test_elicitation(message: str, ctx: Context) -> str:
        """Ask the user (elicitation/create)."""
        return await elicit(ctx, message, UserAnswer, "User response")

    @server.tool()
    async def test_elicitation_sep1034_defaults(ctx: Context) -> str:
        """An elicitation whose schema has defaults (SEP-1034)."""
        return await elicit(ctx, "Please provide user information", Defaults, "Elicitation result")

    @server.tool()
    async def test_elicitation_sep1330_enums(ctx: Context) -> str:
        """An elicitation with every enum shape (SEP-1330)."""
        return await elicit(ctx, "Please select values", Enums, "Elicitation completed")

    @server.tool()
    def test_error_handling() -> str:
        """Always fails (an isError result)."""
        raise RuntimeError("This tool intentionally returns an error for testing")

    @server.tool()
    async def test_reconnection(ctx: Context) -> str:
        """Close the SSE stream in the middle of the call; the client reconnects (SEP-1699)."""
        await ctx.info("Before disconnect")
        await ctx.close_sse_stream()
        await asyncio.sleep(0.2)
        await ctx.info("After reconnect")
        return "Reconnection test completed"

    # MCPServer derives the input schema from the signature; this tool's is given verbatim.
    @server.tool(name="json_schema_2020_12_tool", description="Tool with JSON Schema 2020-12 features")
    def json_schema_2020_12_tool(name: str = "", address: dict[str, Any] | None = None) -> str:
        return f"name={name} address={json.dumps(address)}"

    tool = server._tool_manager.get_tool("json_schema_2020_12_tool")
    assert tool is not None
    tool.parameters = JSON_SCHEMA_2020_12

    @server.resource("test://static-text", mime_type="text/plain")
    def static_text() -> str:
        return "This is the content of the static text resource."

    @server.resource("test://static-binary", mime_type="image/png")
    def static_binary() -> bytes:
        return base64.b64decode(PNG_1X1)

    @server.resource("test://template/{id}/data", mime_type="application/json")
    def template(id: str) -> str:
        return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})

    @server.resource("test://watched-resource", mime_type="text/plain")
    def watched() -> str:
        return "Watched resource content"

    @server.prompt()
    def test_simple_prompt() -> list[UserMessage]:
        """No arguments."""
        return [UserMessage(content=TextContent(type="text", text="This is a simple prompt for testing."))]

    @server.prompt()
    def test_prompt_with_arguments(arg1: str, arg2: str) -> list[UserMessage]:
        """Two required arguments."""
        text = f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"
        return [UserMessage(content=TextContent(type="text", text=text))]

    @server.prompt()
    def test_prompt_with_embedded_resource(resourceUri: str) -> list[UserMessage]:  # noqa: N803
        """An embedded resource in the messages."""
        resource = TextResourceContents(
            uri=resourceUri, mime_type="text/plain", text="Embedded resource content for testing."
        )
        return [
            UserMessage(content=EmbeddedResource(type="resource", resource=resource)),
            UserMessage(content=TextContent(type="text", text="Please process the embedded resource above.")),
        ]

    @server.prompt()
    def test_prompt_with_image() -> list[UserMessage]:
        """An image in the messages."""
        return [
            UserMessage(content=ImageContent(type="image", data=PNG_1X1, mime_type="image/png")),
            UserMessage(content=TextContent(type="text", text="Please analyze the image above.")),
        ]

    @server.completion()  # type: ignore[no-untyped-call]  # (the SDK leaves it unannotated)
    async def complete(
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion:
        return Completion(values=[], total=0, has_more=False)

    # The 2025-era methods MCPServer has no decorator for: registered on the low-level server.
    async def set_level(ctx: ServerRequestContext[Any], params: SetLevelRequestParams) -> EmptyResult:
        return EmptyResult()

    async def subscribe(ctx: ServerRequestContext[Any], params: SubscribeRequestParams) -> EmptyResult:
        subscribed.add(str(params.uri))
        return EmptyResult()

    async def unsubscribe(ctx: ServerRequestContext[Any], params: UnsubscribeRequestParams) -> EmptyResult:
        subscribed.discard(str(params.uri))
        return EmptyResult()

    lowlevel = server._lowlevel_server
    lowlevel.add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)
    lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)
    return server


class PretendResumable:
    """ASGI middleware: a request that says ``MCP-Protocol-Version`` older than 2025-11-25 is
    passed on as 2025-11-25. ``server-sse-polling`` (0.1.16) sends its tools/call with
    2025-03-26, and the SDK only primes, and closes, the SSE streams of 2025-11-25 clients: so
    unaided, the scenario never sees a stream closed mid-call nor a Last-Event-ID resumption.
    With ``--resumable-any-version`` it does, which is what puts a proxy's SSE relay to the test.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = [
                (name, b"2025-11-25")
                if name == b"mcp-protocol-version" and value < b"2025-11-25"
                else (name, value)
                for name, value in scope["headers"]
            ]
            scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=["http", "stdio"], default="http")
    parser.add_argument("--port", type=int, default=3001)
    parser.add_argument(
        "--host-check-only",
        action="store_true",
        help="DNS rebinding protection by the Host header alone, any Origin accepted (as a TypeScript "
        "SDK server given only allowedHosts); default: Host and Origin, as MCPServer does on loopback",
    )
    parser.add_argument("--resumable-any-version", action="store_true", help=PretendResumable.__doc__)
    args = parser.parse_args(argv)
    server = build_server()
    if args.transport == "stdio":
        server.run("stdio")
        return
    import uvicorn

    loopback = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    origins = ["http:*", "https:*"] if args.host_check_only else [f"http://{host}" for host in loopback]
    app: Any = server.streamable_http_app(
        event_store=MemoryEventStore(),
        retry_interval=100,  # the priming event's retry field, so reconnecting is quick
        transport_security=TransportSecuritySettings(allowed_hosts=loopback, allowed_origins=origins),
    )
    if args.resumable_any_version:
        app = PretendResumable(app)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
