"""Run a scenario with the official SDK client through the real proxy, faults configured, on
stdio (``mcpchaos proxy`` as a child process, the demo server behind it) or on Streamable HTTP
(an in-process HttpProxy in front of a demo HTTP server): what the client saw, and the fault log."""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import yaml
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from mcpchaos.config.faults import FaultConfig
from mcpchaos.config.load import validate
from mcpchaos.faults.injector import FaultInjector, FaultRecord
from mcpchaos.intercept.chain import InterceptorChain
from mcpchaos.observe.faultlog import read_fault_log
from mcpchaos.proxy.http import HttpProxy
from tests.forkserver import DEMO_SERVER

DEMO = DEMO_SERVER
SDK_ENV = {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else None
"""The SDK starts a server with a minimal environment: keep the source tree under test."""
Scenario = Callable[[Client], Awaitable[Any]]


def rule(
    faults: dict[str, Any],
    tools: tuple[str, ...] = ("echo",),
    classes: tuple[str, ...] = ("client_request",),
    methods: tuple[str, ...] = ("tools/call",),
    **settings: Any,
) -> dict[str, Any]:
    """A config with one rule at probability 1 (seed 1); ``tools=()`` matches every tool."""
    match: dict[str, Any] = {"methods": list(methods), "message_classes": list(classes)}
    if tools:
        match["tools"] = list(tools)
    return {
        "seed": 1,
        "rules": [{"match": match, "probability": 1.0, "enabled_faults": faults, **settings}],
    }


async def on_stdio(
    config: dict[str, Any], scenario: Scenario, tmp_path: Path, mode: str = "legacy", **client: Any
) -> tuple[Any, list[dict[str, Any]]]:
    profile = tmp_path / "faults.yaml"
    profile.write_text(yaml.safe_dump(config))
    log = tmp_path / "faults.jsonl"
    proxy = ["-m", "mcpchaos", "proxy", "--faults", str(profile), "--fault-log", str(log), "--", *DEMO]
    params = StdioServerParameters(command=sys.executable, args=proxy, env=SDK_ENV)
    with anyio.fail_after(30):
        async with Client(params, mode=mode, **client) as session:
            outcome = await scenario(session)
    return outcome, read_fault_log(log) if log.exists() else []


async def on_http(
    config: dict[str, Any],
    scenario: Scenario,
    upstream: str,
    mode: str = "legacy",
    log: list[dict[str, Any]] | None = None,
    **client: Any,
) -> tuple[Any, list[dict[str, Any]]]:
    """``log``, if given, gets the fault records as they happen (also when the client fails)."""
    injector = FaultInjector(validate(FaultConfig, config))
    records: list[FaultRecord] = []
    injector.on_fault(records.append)
    if log is not None:
        injector.on_fault(lambda record: log.append(record.as_dict()))
    proxy = HttpProxy(upstream, InterceptorChain([injector]))
    await proxy.start("127.0.0.1", 0)
    try:
        with anyio.fail_after(30):
            async with Client(f"http://127.0.0.1:{proxy.port}/mcp", mode=mode, **client) as session:
                outcome = await scenario(session)
    finally:
        await proxy.stop()
    return outcome, [record.as_dict() for record in records]


def mcp_error_in(exc: BaseException) -> MCPError | None:
    """The MCPError ``exc`` is or wraps (the SDK raises a connect failure inside task groups)."""
    if isinstance(exc, MCPError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = mcp_error_in(inner)
            if found is not None:
                return found
    return None


async def connect_error(run: Awaitable[Any]) -> MCPError:
    """Await ``run``, which must fail with an MCPError (possibly in a group); return it."""
    try:
        await run
    except BaseException as exc:  # a group is searched; anything else is re-raised
        found = mcp_error_in(exc)
        if found is None:
            raise
        return found
    raise AssertionError("the client connected")
