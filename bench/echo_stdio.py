"""A minimal stdio MCP echo server (newline-delimited JSON-RPC on stdin/stdout): the stdio
counterpart of ``bench.echo_http``, so a benchmark against it shows the cost of what stands
in front of it. ``python -m bench.echo_stdio``.

``initialize`` gets a result; ``tools/list`` the echo tool; any other request
``{"result": {"content": [{"type": "text", "text": <its arguments' text>}]}}``; notifications
and responses get nothing. A blocking read loop, orjson, one flush per answer; no validation.
"""

from __future__ import annotations

import sys
from typing import Any

import orjson


def answer(message: dict[str, Any]) -> dict[str, Any]:
    method = message["method"]
    params = message.get("params") or {}
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
        text = (params.get("arguments") or {}).get("text", "")
        result = {"content": [{"type": "text", "text": text}], "isError": False}
    return {"jsonrpc": "2.0", "id": message["id"], "result": result}


def main() -> None:
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        message = orjson.loads(line)
        if not isinstance(message, dict) or "method" not in message or message.get("id") is None:
            continue
        out.write(orjson.dumps(answer(message)) + b"\n")
        out.flush()


if __name__ == "__main__":
    main()
