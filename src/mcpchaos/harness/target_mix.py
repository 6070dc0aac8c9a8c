"""The default request mix of a run against a real server: built from the server's own tools.

Before load, the harness lists the target's tools with the official SDK client, builds
arguments for each from its ``inputSchema`` (:mod:`mcpchaos.harness.schema_args`), and keeps:

* tools that say they are read-only or idempotent (``annotations.readOnlyHint`` /
  ``idempotentHint``), weighted 3;
* tools that say nothing, weighted 1 (MCP's own default reads them as possibly destructive,
  but most servers annotate nothing; ``--allow-destructive`` is not needed for them);
* tools that say ``destructiveHint: true`` only with ``--allow-destructive``.

Each kept tool is then called once with its arguments; one that answers ``isError`` or a
JSON-RPC error is left out, with the reason, so a baseline measures the server and not
arguments it refuses; so is one slower than :data:`PROBE_S` (server-everything's
``trigger-long-running-operation`` takes 10 s by default: under a 2 s call deadline every call
of it would end as a deadline, and the baseline would measure the mix, not the server).
The ``--params`` mix (``load.mix``) still overrides all of this.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

from mcp import Client, StdioServerParameters
from mcp.client import Transport
from mcp.client.stdio import stdio_client

from mcpchaos.errors import ConfigError
from mcpchaos.harness.load.settings import Operation
from mcpchaos.harness.schema_args import example_arguments, unsatisfied_reason
from mcpchaos.harness.stack import TargetSpec

DISCOVERY_S = 30.0
"""Start-up, handshake, ``tools/list`` and one call per tool: generous (npx, uvx)."""
PROBE_S = 3.0
"""A tool whose one call takes longer than this is left out of the default mix (a first call is
often the slowest: imports, caches; a loaded CI machine takes over a second for a traceback)."""
_SAFE_WEIGHT = 3.0
_UNKNOWN_WEIGHT = 1.0


@dataclass
class TargetMix:
    """The mix a run will use, and why each tool is in it or not."""

    operations: list[Operation] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)
    """Tool name → why it is not in the mix."""

    def describe(self) -> str:
        lines = [
            f"  {op.name}  weight {op.weight:g}  arguments {op.params.get('arguments', {})}"
            for op in self.operations
        ]
        lines += [f"  {name}  left out: {why}" for name, why in self.left_out.items()]
        return "\n".join(lines)


def choose(tools: list[dict[str, Any]], allow_destructive: bool) -> TargetMix:
    """The operations for ``tools`` (``tools/list`` entries as JSON), before any call."""
    mix = TargetMix()
    for tool in tools:
        name = str(tool.get("name", ""))
        hints = tool.get("annotations") or {}
        if hints.get("destructiveHint") is True and not hints.get("readOnlyHint") and not allow_destructive:
            mix.left_out[name] = "destructive (annotations.destructiveHint); --allow-destructive includes it"
            continue
        schema = tool.get("inputSchema") or {}
        arguments = example_arguments(schema)
        if arguments is None:
            mix.left_out[name] = f"no arguments could be built: {unsatisfied_reason(schema)}"
            continue
        safe = hints.get("readOnlyHint") is True or hints.get("idempotentHint") is True
        weight = _SAFE_WEIGHT if safe else _UNKNOWN_WEIGHT
        mix.operations.append(
            Operation(name=name, weight=weight, params={"name": name, "arguments": arguments})
        )
    return mix


async def discover(target: TargetSpec, allow_destructive: bool, within_s: float = DISCOVERY_S) -> TargetMix:
    """List the target's tools, choose, and keep those whose one call with the arguments
    built succeeds. ConfigError (exit 2) when no tool is left."""
    with tempfile.TemporaryFile(mode="w+") as stderr:  # the server's log is not the run's
        server: Transport | str
        if target.kind == "command":
            command = StdioServerParameters(
                command=target.command[0], args=list(target.command[1:]), env=dict(os.environ)
            )
            server = stdio_client(command, errlog=stderr)
        else:
            server = target.url
        try:
            async with asyncio.timeout(within_s), Client(server, mode="legacy") as client:
                listed = await client.list_tools()
                tools = [tool.model_dump(by_alias=True, exclude_none=True) for tool in listed.tools]
                mix = choose(tools, allow_destructive)
                kept = []
                for op in mix.operations:
                    why = await _probe(client, op)
                    if why is None:
                        kept.append(op)
                    else:
                        mix.left_out[op.name] = why
                mix.operations = kept
        except TimeoutError:
            raise ConfigError(
                f"--target {target.describe()}: listing and trying its tools took over {within_s:g} s"
            ) from None
    if not mix.operations:
        found = mix.describe() or "  (it lists no tools)"
        raise ConfigError(
            f"--target {target.describe()}: no tool to build a request mix from:\n{found}\n"
            "give one in --params (load.mix), or --allow-destructive"
        )
    return mix


async def _probe(client: Client, op: Operation) -> str | None:
    """None if one call of ``op`` succeeded, else why not."""
    try:
        async with asyncio.timeout(PROBE_S):
            result = await client.call_tool(op.name, op.params.get("arguments", {}))
    except TimeoutError:
        return f"a call with the arguments built took over {PROBE_S:g} s (--params load.mix can keep it)"
    except Exception as error:  # an MCPError, or the session broke: either way, not in the mix
        return f"a call with the arguments built failed: {error}"
    if result.is_error:
        text = next((getattr(part, "text", "") for part in result.content), "")
        return f"a call with the arguments built answered isError: {text[:200]}"
    return None


def has_mix(params: dict[str, Any] | None) -> bool:
    """Did the user give a mix (``load.mix``) in these raw parameters?"""
    load = (params or {}).get("load")
    return isinstance(load, dict) and "mix" in load


def with_mix(params: dict[str, Any] | None, mix: TargetMix) -> dict[str, Any]:
    """``params`` with the target's mix as ``load.mix`` (a user's mix is kept)."""
    out = dict(params or {})
    if has_mix(out):
        return out
    load = dict(out.get("load") or {})
    load["mix"] = [op.model_dump() for op in mix.operations]
    out["load"] = load
    return out


__all__ = ["DISCOVERY_S", "TargetMix", "choose", "discover", "has_mix", "with_mix"]
