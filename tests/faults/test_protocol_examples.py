"""Every YAML example of docs/faults.md's "Protocol faults" section, run as written through the
HTTP proxy with the official SDK client (``# era: legacy`` in a block: a handshake-era client):
each is a valid profile and every fault kind it enables is injected."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from mcp import Client
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from tests.faults.live import mcp_error_in, on_http

DOCS = Path(__file__).parents[2] / "docs" / "faults.md"


def examples() -> list[str]:
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("## Protocol faults") : text.index("### Findings")]
    return re.findall(r"```yaml\n(.*?)```", section, flags=re.DOTALL)


def test_the_section_has_an_example_for_every_protocol_fault() -> None:
    kinds = {
        kind
        for block in examples()
        for rule in yaml.safe_load(block)["rules"]
        for kind in rule["enabled_faults"]
    }
    assert kinds == {
        "era_downgrade",
        "header_mismatch",
        "missing_capability",
        "result_shape",
        "session_expiry",
    }


async def some_traffic(client: Client) -> None:
    """Two listings and ten calls; a faulted one may fail any way the SDK fails."""
    for _ in range(2):
        await client.list_tools()
    for index in range(10):
        with contextlib.suppress(MCPError, ValidationError):
            await client.call_tool("echo", {"text": f"e{index}"}, read_timeout_seconds=10)


@pytest.mark.parametrize("block", examples(), ids=lambda block: block.splitlines()[0][2:40])
async def test_each_example_runs_and_injects_what_it_enables(stateful_url: str, block: str) -> None:
    config: dict[str, Any] = yaml.safe_load(block)
    mode = "legacy" if "# era: legacy" in block else "auto"
    records: list[dict[str, Any]] = []
    try:
        await on_http(config, some_traffic, stateful_url, mode=mode, log=records)
    except BaseException as exc:  # a fault on the handshake may stop the client connecting
        if mcp_error_in(exc) is None:
            raise
    enabled = {kind for rule in config["rules"] for kind in rule["enabled_faults"]}
    assert {record["fault"] for record in records} == enabled
