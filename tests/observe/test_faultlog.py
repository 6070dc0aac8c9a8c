"""What the fault log writes to disk: one record per injected fault, naming the message (id,
method, tool, session) and the fault, never the message's content."""

from __future__ import annotations

import contextlib
from pathlib import Path

import anyio
from mcp import Client
from mcp.shared.exceptions import MCPError

from mcpchaos.config.faults import FaultConfig
from mcpchaos.config.load import validate
from mcpchaos.faults.injector import FaultInjector
from mcpchaos.intercept.chain import InterceptorChain
from mcpchaos.observe.faultlog import FaultLog, read_fault_log
from mcpchaos.proxy.http import HttpProxy

SECRET = "tool-argument-that-must-stay-off-disk"
RECORD_KEYS = {
    "time", "session", "session_ordinal", "direction", "ordinal", "id", "method", "tool", "fault",
    "rule", "params",
}  # fmt: skip


async def test_the_fault_log_names_messages_and_faults_but_holds_no_message_content(
    stateful_url: str, tmp_path: Path
) -> None:
    on_calls = {"methods": ["tools/call"], "message_classes": ["client_request"]}
    config = {
        "seed": 5,
        "rules": [
            {"name": "slow", "match": {**on_calls, "every_nth": 2}, "enabled_faults": {"delay": True},
             "delay_ms": {"min_ms": 1, "max_ms": 5}},
            {"name": "failing", "match": on_calls, "enabled_faults": {"error": True},
             "error_config": {"types": ["internal_error"]}},
        ],
    }  # fmt: skip
    injector = FaultInjector(validate(FaultConfig, config))
    path = tmp_path / "faults.jsonl"
    injector.on_fault(FaultLog(path))
    proxy = HttpProxy(stateful_url, InterceptorChain([injector]))
    await proxy.start("127.0.0.1", 0)
    try:
        with anyio.fail_after(60):
            async with Client(f"http://127.0.0.1:{proxy.port}/mcp", mode="legacy") as client:
                for i in range(20):
                    with contextlib.suppress(MCPError):
                        await client.call_tool("echo", {"text": f"{SECRET}-{i}"})
    finally:
        await proxy.stop()
    records = read_fault_log(path)
    assert {record["fault"] for record in records} >= {"delay", "error"}
    assert all(set(record) == RECORD_KEYS for record in records)
    assert all(record["tool"] == "echo" and record["method"] == "tools/call" for record in records)
    assert SECRET not in path.read_text()
