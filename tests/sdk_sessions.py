"""Sessions the official MCP SDK client drives against any target (a URL or stdio launch
parameters), shared by the stdio, HTTP and bridge tests: each returns what the client saw."""

from __future__ import annotations

from typing import Any

import anyio
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp.types import (
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequestParams,
    ElicitResult,
    ListRootsResult,
    LoggingMessageNotificationParams,
    Root,
    TextContent,
)

MODES = ["legacy", "auto"]
"""The 2025-11-25 handshake, and the 2026-07-28 sessionless protocol."""


async def scripted_session(target: Any, mode: str) -> dict[str, Any]:
    """A session touching every feature; returns everything the client saw, as plain data."""
    seen: dict[str, Any] = {}
    with anyio.fail_after(30):
        async with Client(target, mode=mode) as client:
            seen["protocol"] = client.protocol_version
            seen["tools"] = (await client.list_tools()).model_dump()
            seen["echo"] = (await client.call_tool("echo", {"text": "héllo ✓ 😀"})).model_dump()
            seen["payload"] = (await client.call_tool("payload", {"size_bytes": 300_000})).model_dump()
            seen["fail"] = (await client.call_tool("fail", {"message": "nope"})).model_dump()
            seen["resources"] = (await client.list_resources()).model_dump()
            seen["templates"] = (await client.list_resource_templates()).model_dump()
            seen["info"] = (await client.read_resource("demo://info")).model_dump()
            seen["item"] = (await client.read_resource("demo://item/7")).model_dump()
            seen["prompts"] = (await client.list_prompts()).model_dump()
            seen["prompt"] = (await client.get_prompt("summarize", {"text": "chaos"})).model_dump()
    return seen


async def progress_and_logs(target: Any, mode: str) -> tuple[list[float], list[str]]:
    """Call the slow tool (4 progress steps, a log line); the progress values and logs seen."""
    progress_values: list[float] = []
    logs: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        progress_values.append(progress)

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        logs.append(str(params.data))

    with anyio.fail_after(30):
        async with Client(target, mode=mode, logging_callback=on_log, log_level="debug") as client:
            result = await client.call_tool(
                "slow", {"seconds": 0.2, "steps": 4}, progress_callback=on_progress
            )
    assert isinstance(result.content[0], TextContent)
    assert result.content[0].text == "slept 0.2s"
    return progress_values, logs


async def server_to_client_requests(target: Any) -> list[str]:
    """Tools that make the server ask the client (elicitation, sampling, roots); their answers."""

    async def on_elicit(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        return ElicitResult(action="accept", content={"confirm": True})

    async def on_sample(
        context: ClientRequestContext, params: CreateMessageRequestParams
    ) -> CreateMessageResult:
        return CreateMessageResult(
            role="assistant", content=TextContent(type="text", text="sampled!"), model="m"
        )

    async def on_roots(context: ClientRequestContext) -> ListRootsResult:
        return ListRootsResult(roots=[Root(uri="file:///tmp/project")])

    with anyio.fail_after(30):
        async with Client(
            target,
            mode="legacy",
            elicitation_callback=on_elicit,
            sampling_callback=on_sample,
            list_roots_callback=on_roots,
        ) as client:
            results = [
                await client.call_tool("ask_user", {"question": "Proceed?"}),
                await client.call_tool("sample", {"prompt": "say something"}),
                await client.call_tool("list_client_roots", {}),
            ]
    return [r.content[0].text if isinstance(r.content[0], TextContent) else "" for r in results]
