"""The default request mix against a real server comes from its own tools: arguments built from
each input schema (and valid against it), destructive tools left out unless allowed, and a tool
whose one trial call fails left out with the reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from mcpchaos.errors import ConfigError
from mcpchaos.harness.schema_args import example_arguments
from mcpchaos.harness.stack import TargetSpec
from mcpchaos.harness.target_mix import choose, discover, has_mix, with_mix

SERVER = [sys.executable, str(Path(__file__).parents[1] / "fixtures" / "annotated_server.py")]

SCHEMAS: list[dict[str, Any]] = [
    {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    {
        "type": "object",
        "properties": {"n": {"type": "integer", "minimum": 5, "maximum": 9, "multipleOf": 3}},
        "required": ["n"],
    },
    {"type": "object", "properties": {"x": {"type": "number", "exclusiveMinimum": 2}}, "required": ["x"]},
    {
        "type": "object",
        "properties": {
            "when": {"type": "string", "format": "date-time"},
            "mail": {"type": "string", "format": "email"},
        },
        "required": ["when", "mail"],
    },
    {
        "type": "object",
        "properties": {"unit": {"enum": ["c", "f"]}, "flag": {"type": "boolean"}},
        "required": ["unit", "flag"],
    },
    {
        "type": "object",
        "properties": {"tags": {"type": "array", "items": {"type": "string", "minLength": 3}, "minItems": 2}},
        "required": ["tags"],
    },
    {
        "type": "object",
        "properties": {"where": {"$ref": "#/$defs/Point"}},
        "required": ["where"],
        "$defs": {
            "Point": {
                "type": "object",
                "properties": {"lat": {"type": "number", "minimum": -90, "maximum": 90}},
                "required": ["lat"],
            }
        },
    },
    {
        "type": "object",
        "properties": {"id": {"anyOf": [{"type": "null"}, {"type": "string", "pattern": "^[a-z]+$"}]}},
        "required": ["id"],
    },
    {
        "type": "object",
        "properties": {"code": {"type": "string", "minLength": 4, "maxLength": 4}},
        "required": ["code"],
    },
    {"type": "object", "properties": {"optional": {"type": "integer"}}},
]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_the_arguments_built_validate_against_their_schema(schema: dict[str, Any]) -> None:
    arguments = example_arguments(schema)
    assert arguments is not None
    jsonschema.validate(arguments, schema)


def test_a_value_the_description_names_is_used_for_a_string() -> None:
    # mcp-server-time's get_current_time: any string but a real IANA name is a tool error.
    schema = {
        "type": "object",
        "properties": {
            "timezone": {
                "type": "string",
                "description": "IANA timezone name (e.g., 'America/New_York', 'Europe/London').",
            }
        },
        "required": ["timezone"],
    }
    assert example_arguments(schema) == {"timezone": "America/New_York"}


def test_a_schema_nothing_here_satisfies_gives_none() -> None:
    schema = {
        "type": "object",
        "properties": {"sha": {"type": "string", "pattern": "^[0-9a-f]{40}$"}},
        "required": ["sha"],
    }
    assert example_arguments(schema) is None


def test_destructive_tools_are_left_out_unless_allowed_and_safe_ones_weigh_more() -> None:
    tools = [
        {"name": "read", "inputSchema": {"type": "object"}, "annotations": {"readOnlyHint": True}},
        {"name": "plain", "inputSchema": {"type": "object"}},
        {"name": "drop", "inputSchema": {"type": "object"}, "annotations": {"destructiveHint": True}},
    ]
    mix = choose(tools, allow_destructive=False)
    assert {op.name: op.weight for op in mix.operations} == {"read": 3.0, "plain": 1.0}
    assert "destructive" in mix.left_out["drop"]
    assert [op.name for op in choose(tools, allow_destructive=True).operations] == ["read", "plain", "drop"]


async def test_the_mix_of_a_real_server_keeps_the_tools_that_answer() -> None:
    mix = await discover(
        TargetSpec.parse(subprocess.list2cmdline(SERVER), None, None), allow_destructive=False
    )
    assert {op.name: op.params["arguments"] for op in mix.operations} == {
        "lookup": {"city": "Paris"},
        "stamp": {"zone": "Europe/London", "days": 3},
    }
    assert "destructive" in mix.left_out["wipe"]
    assert "isError" in mix.left_out["broken"]


def test_a_users_mix_is_kept() -> None:
    mine = {"load": {"mix": [{"name": "echo", "params": {"name": "echo", "arguments": {}}}]}}
    assert has_mix(mine)
    assert with_mix(mine, choose([], False)) == mine
    assert with_mix({"load": {"clients": 2}}, choose([{"name": "t", "inputSchema": {}}], False))["load"] == {
        "clients": 2,
        "mix": [
            {"name": "t", "weight": 1.0, "method": "tools/call", "params": {"name": "t", "arguments": {}}}
        ],
    }


async def test_a_target_without_a_usable_tool_is_a_usage_error(tmp_path: Path) -> None:
    server = tmp_path / "only_broken.py"
    server.write_text(
        "from mcp.server.mcpserver import MCPServer\n"
        "server = MCPServer('x')\n"
        "@server.tool()\n"
        "def broken() -> str:\n"
        "    raise ValueError('no')\n"
        "server.run('stdio')\n"
    )
    target = TargetSpec.parse(subprocess.list2cmdline([sys.executable, str(server)]), None, None)
    with pytest.raises(ConfigError, match="no tool to build a request mix from"):
        await discover(target, allow_destructive=False)
