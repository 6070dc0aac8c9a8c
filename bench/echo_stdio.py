"""A minimal stdio MCP echo server (newline-delimited JSON-RPC on stdin/stdout): the stdio
counterpart of ``bench.echo_http``, so a benchmark against it shows the cost of what stands
in front of it. ``python -m bench.echo_stdio``.

``initialize`` gets a result; ``tools/list`` the echo tool; any other request
``{"result": {"content": [{"type": "text", "text": <its arguments' text>}]}}``; notifications
and responses get nothing. A blocking read loop, orjson, one flush per answer; no validation,
yet nothing the proxy forwards stops it (the fuzz suite, ``tests/fuzz``, sends it all): params
of another shape echo ``""``; what orjson refuses (a lone surrogate escape, ``1e400``) or reads
inexactly (an integer id beyond 64 bits) the standard library reads; a line neither can read
gets nothing.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import orjson


def answer(message: dict[str, Any]) -> dict[str, Any]:
    method = message["method"]
    params = message.get("params")
    if not isinstance(params, dict):
        params = {}
    if method == "initialize":
        result: dict[str, Any] = {
            "protocolVersion": params.get("protocolVersion", "2025-11-25"),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "bench-echo-stdio", "version": "0"},
        }
    elif method == "tools/list":
        schema = {"type": "object", "properties": {"text": {"type": "string"}}}
        result = {"tools": [{"name": "echo", "inputSchema": schema}]}
    else:
        result = {"content": [{"type": "text", "text": echoed_text(params)}], "isError": False}
    return {"jsonrpc": "2.0", "id": message["id"], "result": result}


def echoed_text(params: dict[str, Any]) -> Any:
    """``params.arguments.text``; ``""`` when there is none."""
    arguments = params.get("arguments")
    return arguments.get("text", "") if isinstance(arguments, dict) else ""


def decode(line: bytes) -> Any:
    """The JSON value of ``line``, None if it is not JSON: orjson, else the standard library
    (also for a float id, which may be an integer literal beyond 64 bits)."""
    try:
        message = orjson.loads(line)
        if not (isinstance(message, dict) and isinstance(message.get("id"), float)):
            return message
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        return None


def encode(message: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(message)
    except TypeError:  # an integer beyond 64 bits, a lone surrogate
        return json.dumps(message, separators=(",", ":")).encode()


def main() -> None:
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        message = decode(line)
        if not isinstance(message, dict) or "method" not in message or message.get("id") is None:
            continue
        out.write(encode(answer(message)) + b"\n")
        out.flush()


if __name__ == "__main__":
    main()
