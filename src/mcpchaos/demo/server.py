"""A demo MCP server with tools made for chaos runs, on the official MCP Python SDK.

Tools: ``echo``, ``slow`` (sleeps, reporting progress and logging), ``payload`` (a result of
a given size), ``fail`` (a tool error, an exception, or the whole process crashing),
``request_headers`` (the HTTP headers that reached the server), ``stats`` (``slow`` counters),
``ask_user`` (an elicitation: a server→client request), ``confirm`` (an elicitation the way
the client's era asks: a multi-round-trip ``input_required`` request on 2026-07-28),
``sample`` (a sampling request), ``list_client_roots`` (a roots request) and ``delete_item``
(annotated ``destructiveHint``, not idempotent: what ``mcpchaos judge`` watches clients
retry). ``echo`` and ``stats`` are annotated read-only and idempotent. Also a resource,
a resource template and a prompt.

For the 2026-07-28 features: ``confirm`` is the multi-round-trip tool; ``demo://counter`` is a
resource to subscribe to with ``subscriptions/listen`` and ``bump`` changes it (each bump is a
``notifications/resources/updated`` on every stream that listens to it); ``long_job`` is a
long-running tool that becomes a task (``demo/tasks.py``) when the client declares the tasks
extension, and a plain call otherwise.

For the cascading-failure scenario it can depend on another MCP server: ``--downstream URL``
adds ``relay`` (calls ``echo`` on that server; its failure is this call's JSON-RPC error),
and ``--workers N`` bounds how many ``echo``/``relay`` calls run at once, like a worker pool:
calls stuck on a slow dependency then starve the others.

``--fragile leak-fds`` makes it deliberately bad: every ``echo`` opens a file and never closes
it, so ``mcpchaos run`` can show its leak verdict catching a real leak. The 2026-07-28 feature
scenarios each have a mode of their own (``demo/fragile.py``): ``era-fallback`` (refuses the
``initialize`` handshake), ``accept-tampered-state`` (takes any ``requestState`` back),
``per-process-state`` (ignores ``--request-state-key``: a round begun elsewhere is refused),
``sticky-subscription`` (no update after a re-listen) and ``stuck-tasks`` (tasks never finish,
cancels are ignored). ``--request-state-ttl`` sets how long a ``requestState`` it hands out
stays valid (the SDK's 600 s by default), so an expired state can be tested in seconds;
``--request-state-key`` seals it with a key of one's own instead of one made per process, so
several demo processes (replicas) can each finish a round another one began.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import warnings
from typing import Annotated, Literal

from mcp.server.mcpserver import Context, Elicit, MCPServer, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.request_state import RequestStateSecurity
from mcp.shared.exceptions import MCPError
from mcp.types import SamplingMessage, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from mcpchaos.demo import FRAGILE_MODES
from mcpchaos.demo import fragile as bad
from mcpchaos.demo.tasks import DemoTasks
from mcpchaos.errors import ListenError

MAX_PAYLOAD_BYTES = 64 * 1024 * 1024
MAX_SLOW_SECONDS = 600.0
DEFAULT_REQUEST_STATE_TTL_S = 600.0
"""How long a ``requestState`` stays valid: the SDK's own default."""

READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, destructive_hint=False)
"""Annotations of the tools that change nothing (a client may retry them freely)."""
DESTRUCTIVE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False)
"""Annotations of ``delete_item``: a retry is not safe (``mcpchaos judge`` checks clients for it)."""

warnings.filterwarnings("ignore", message=".*deprecated as of 2026-07-28.*")


class Confirmation(BaseModel):
    """What ``ask_user`` asks the client for."""

    confirm: bool = Field(description="Go ahead?")


def ask_to_confirm(question: str) -> Elicit[Confirmation]:
    """The ``confirm`` tool's question (the SDK asks it in the client's protocol era)."""
    return Elicit(question, Confirmation)


def build_server(
    downstream: str | None = None,
    workers: int = 0,
    fragile: frozenset[str] = frozenset(),
    request_state_ttl_s: float = DEFAULT_REQUEST_STATE_TTL_S,
    request_state_key: str | None = None,
) -> MCPServer:
    """The demo server, ready to run on any transport (see the module docstring for the
    options)."""
    unknown = fragile - set(FRAGILE_MODES)
    if unknown:
        raise ValueError(f"unknown fragile mode(s) {sorted(unknown)}; known: {', '.join(FRAGILE_MODES)}")
    if "accept-tampered-state" in fragile:
        state_security = RequestStateSecurity(codec=bad.TrustingCodec(), ttl=request_state_ttl_s)
    elif request_state_key is not None and "per-process-state" not in fragile:
        # Shared by every replica: a round may end on any of them.
        state_security = RequestStateSecurity(keys=[request_state_key], ttl=request_state_ttl_s)
    else:
        state_security = RequestStateSecurity.ephemeral(ttl=request_state_ttl_s)
    server = MCPServer(
        "mcpchaos-demo",
        instructions="A demo server for chaos testing: echo, slow, payload, fail and friends.",
        version="1.0",
        extensions=[DemoTasks(stuck="stuck-tasks" in fragile)],
        middleware=[bad.refuse_handshake] if "era-fallback" in fragile else None,
        subscriptions=bad.FirstListenerBus() if "sticky-subscription" in fragile else None,
        request_state_security=state_security,
    )

    counters = {"slow_started": 0, "slow_completed": 0, "slow_cancelled": 0}

    @server.tool(annotations=READ_ONLY)
    def stats() -> dict[str, int]:
        """Counters of ``slow`` calls: started, completed, cancelled (cancellation visible)."""
        return dict(counters)

    # Created on first use: it must belong to the server's event loop.
    pool: list[asyncio.Semaphore] = []

    def worker() -> asyncio.Semaphore | contextlib.nullcontext[None]:
        if workers <= 0:
            return contextlib.nullcontext()
        if not pool:
            pool.append(asyncio.Semaphore(workers))
        return pool[0]

    leaked: list[int] = []

    @server.tool(annotations=READ_ONLY)
    async def echo(text: str) -> str:
        """Return the text unchanged."""
        if "leak-fds" in fragile:
            leaked.append(os.open(os.devnull, os.O_RDONLY))  # the leak is the point
        async with worker():
            return text

    if downstream is not None:

        @server.tool()
        async def relay(text: str) -> str:
            """Call ``echo`` on the downstream server and return its answer (a dependency)."""
            async with worker():
                return await call_downstream(downstream, text)

    @server.tool()
    async def slow(seconds: float, ctx: Context, steps: int = 5) -> str:
        """Sleep for ``seconds`` (at most 600), reporting progress ``steps`` times and logging."""
        seconds = max(0.0, min(seconds, MAX_SLOW_SECONDS))
        steps = max(1, min(steps, 1000))
        counters["slow_started"] += 1
        await ctx.info(f"slow: sleeping {seconds}s in {steps} steps")
        try:
            for step in range(1, steps + 1):
                await asyncio.sleep(seconds / steps)
                await ctx.report_progress(step, steps, f"step {step}/{steps}")
        except BaseException:  # anyio cancellation (notifications/cancelled) lands here
            counters["slow_cancelled"] += 1
            raise
        counters["slow_completed"] += 1
        return f"slept {seconds}s"

    @server.tool()
    def payload(size_bytes: int) -> str:
        """Return a string of ``size_bytes`` characters (at most 64 MiB)."""
        size = max(0, min(size_bytes, MAX_PAYLOAD_BYTES))
        pattern = "mcpchaos-"
        return (pattern * (size // len(pattern) + 1))[:size]

    @server.tool()
    def fail(
        message: str = "failure requested",
        mode: Literal["tool_error", "exception", "crash"] = "tool_error",
    ) -> str:
        """Fail on demand: a tool error (isError result), an unexpected exception, or a crash
        of the whole server process (exit status 3, no answer)."""
        if mode == "crash":
            sys.stdout.flush()
            os._exit(3)
        if mode == "exception":
            raise RuntimeError(message)
        raise ToolError(message)

    @server.tool()
    def request_headers(ctx: Context) -> dict[str, str]:
        """The HTTP headers this request arrived with (empty on stdio): what reached the server."""
        headers = ctx.headers
        return {name.lower(): value for name, value in headers.items()} if headers else {}

    @server.tool()
    async def ask_user(question: str, ctx: Context) -> str:
        """Ask the client to confirm (an elicitation request to the client)."""
        result = await ctx.elicit(question, Confirmation)
        if result.action == "accept" and result.data is not None:
            return f"confirmed={result.data.confirm}"
        return f"action={result.action}"

    @server.tool()
    async def confirm(question: str, answer: Annotated[Confirmation, Resolve(ask_to_confirm)]) -> str:
        """Ask the client to confirm, in the way its protocol era asks: a multi-round-trip
        request on 2026-07-28 (an ``input_required`` result, then a retry with the answer), a
        server→client elicitation request on 2025-11-25."""
        return f"confirmed={answer.confirm}"

    @server.tool()
    async def sample(prompt: str, ctx: Context) -> str:
        """Ask the client's model for a completion (a sampling request to the client)."""
        result = await ctx.session.create_message(
            [SamplingMessage(role="user", content=TextContent(type="text", text=prompt))], max_tokens=50
        )
        content = result.content
        return content.text if isinstance(content, TextContent) else str(content)

    @server.tool()
    async def list_client_roots(ctx: Context) -> list[str]:
        """Ask the client for its roots (a roots/list request to the client)."""
        result = await ctx.session.list_roots()
        return [str(root.uri) for root in result.roots]

    @server.resource("demo://info", mime_type="text/plain")
    def info() -> str:
        """What this server is."""
        return "mcpchaos demo server"

    @server.resource("demo://item/{number}")
    def item(number: str) -> str:
        """One numbered item."""
        return f"item {number}"

    counter = {"value": 0}
    deleted: set[str] = set()

    @server.tool(annotations=DESTRUCTIVE)
    def delete_item(name: str) -> str:
        """Delete the item ``name`` (a destructive call, not idempotent: a second call with the
        same name finds nothing to delete, so a client must not retry it blindly)."""
        if name in deleted:
            raise ToolError(f"no item {name!r}: it was deleted already")
        deleted.add(name)
        return f"deleted {name}"

    @server.resource("demo://counter", mime_type="text/plain")
    def counter_value() -> str:
        """A number ``bump`` increments: subscribe to it with ``subscriptions/listen``."""
        return str(counter["value"])

    @server.tool()
    async def bump(ctx: Context, times: int = 1) -> int:
        """Increment ``demo://counter`` ``times`` times (at most 100), one update event each."""
        for _ in range(max(1, min(times, 100))):
            counter["value"] += 1
            await ctx.notify_resource_updated("demo://counter")
        return counter["value"]

    @server.tool()
    async def long_job(seconds: float = 1.0) -> str:
        """Work for ``seconds`` (at most 600): a task when the client declares the tasks
        extension (``tasks/get`` to follow it), a plain call otherwise."""
        seconds = max(0.0, min(seconds, MAX_SLOW_SECONDS))
        await asyncio.sleep(seconds)
        return f"done after {seconds}s"

    @server.prompt()
    def summarize(text: str) -> str:
        """Ask for a summary of the text."""
        return f"Summarize this in one sentence:\n\n{text}"

    return server


async def call_downstream(url: str, text: str, timeout_s: float = 30.0) -> str:
    """``echo`` on a sessionless (``--stateless``) Streamable HTTP server, as a plain POST."""
    import aiohttp
    import orjson

    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "echo", "arguments": {"text": text}},
    }
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as http,
            http.post(url, data=orjson.dumps(body), headers=headers) as response,
        ):
            raw = await response.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise MCPError(-32010, f"downstream unreachable: {exc!r}") from exc
    try:
        answer = orjson.loads(raw[raw.find(b"{") :]) if raw else {}
    except orjson.JSONDecodeError:
        answer = {}
    if not isinstance(answer, dict) or "result" not in answer:
        error = answer.get("error") if isinstance(answer, dict) else None
        if isinstance(error, dict) and isinstance(error.get("code"), int):
            raise MCPError(error["code"], f"downstream: {error.get('message', '')}")
        raise MCPError(-32011, f"downstream answered HTTP {response.status} without a result")
    content = answer["result"].get("content") or [{}]
    return str(content[0].get("text", ""))


def run(
    transport: Literal["stdio", "http"] = "stdio",
    host: str = "127.0.0.1",
    port: int = 8000,
    stateless: bool = False,
    json_response: bool = False,
    downstream: str | None = None,
    workers: int = 0,
    fragile: frozenset[str] = frozenset(),
    request_state_ttl_s: float = DEFAULT_REQUEST_STATE_TTL_S,
    request_state_key: str | None = None,
) -> None:
    """Run the demo server until it is stopped. An HTTP address it cannot listen on is a
    :class:`~mcpchaos.errors.ListenError` before anything starts (not uvicorn's log and exit 3)."""
    server = build_server(downstream, workers, fragile, request_state_ttl_s, request_state_key)
    if transport == "stdio":
        server.run("stdio")
    else:
        _check_can_listen(host, port)
        server.run(
            "streamable-http", host=host, port=port, stateless_http=stateless, json_response=json_response
        )


def _check_can_listen(host: str, port: int) -> None:
    """Bind ``host:port`` the way uvicorn will (SO_REUSEADDR), then let it go."""
    import socket

    try:
        for family, kind, proto, _, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
            with socket.socket(family, kind, proto) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(address)
            return
    except OSError as exc:
        raise ListenError(host, port, exc) from None


if __name__ == "__main__":  # pragma: no cover
    run()
