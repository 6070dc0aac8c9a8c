"""Chaos Toolkit probes: read a running mcpchaos, and ask the MCP server behind it."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any

from mcpchaos import __version__
from mcpchaos.chaostoolkit.client import Configuration, ControlCallError, Secrets, call

__all__ = [
    "error_count",
    "faults_injected",
    "health",
    "is_healthy",
    "mcp_answers",
    "metrics",
    "success_rate",
]

log = logging.getLogger("mcpchaos.chaostoolkit")

PROTOCOL_VERSION = "2025-06-18"


def health(
    control_url: str | None = None,
    token: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """``GET /health``: status, version, uptime, pid, tasks."""
    result: dict[str, Any] = call("GET", "/health", None, control_url, token, configuration, secrets)
    return result


def is_healthy(
    control_url: str | None = None,
    token: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> bool:
    """True when the proxy answers its health check (False, not an error, when it does not:
    a steady-state tolerance of ``true`` then reports the deviation)."""
    try:
        return health(control_url, token, configuration, secrets).get("status") == "ok"
    except ControlCallError as exc:
        log.warning("mcpchaos is not healthy: %s", exc)
        return False


def metrics(
    control_url: str | None = None,
    token: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """``GET /metrics.json``: every counter and latency summary."""
    result: dict[str, Any] = call("GET", "/metrics.json", None, control_url, token, configuration, secrets)
    return result


def faults_injected(
    control_url: str | None = None,
    token: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> int:
    """Faults injected so far."""
    return int(metrics(control_url, token, configuration, secrets).get("faults_total", 0))


def error_count(
    control_url: str | None = None,
    token: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> int:
    """JSON-RPC errors written to the client (injected, answered by the proxy, or relayed)."""
    data = metrics(control_url, token, configuration, secrets)
    return sum(
        int(row["count"])
        for row in data.get("jsonrpc_errors_sent", [])
        if row.get("direction") == "server_to_client"
    )


def success_rate(
    control_url: str | None = None,
    token: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> float:
    """The share of the client's requests that did not get an error back (1.0 before any)."""
    data = metrics(control_url, token, configuration, secrets)
    requests = sum(
        int(row["count"])
        for row in data.get("messages", [])
        if row.get("direction") == "client_to_server" and row.get("kind") == "request"
    )
    if not requests:
        return 1.0
    errors = sum(
        int(row["count"])
        for row in data.get("jsonrpc_errors_sent", [])
        if row.get("direction") == "server_to_client"
    )
    return max(0.0, 1.0 - errors / requests)


def mcp_answers(
    url: str,
    tool: str = "echo",
    arguments: dict[str, Any] | None = None,
    timeout_s: float = 10.0,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> bool:
    """True when the MCP server at ``url`` (Streamable HTTP, e.g. through the proxy) completes
    initialize and a call of ``tool`` without an error; False otherwise (the reason is logged)."""
    session = _McpSession(url, timeout_s)
    try:
        session.request(
            "initialize",
            {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "mcpchaos-chaostoolkit", "version": __version__},
            },
        )
        session.notify("notifications/initialized")
        result = session.request("tools/call", {"name": tool, "arguments": arguments or {"text": "steady"}})
        if result.get("isError"):
            log.warning("MCP tool %s answered an error: %s", tool, result)
            return False
        return True
    except (OSError, ValueError, urllib.error.URLError, _McpError) as exc:
        log.warning("MCP server %s did not answer: %s", url, exc)
        return False
    finally:
        session.close()


class _McpError(Exception):
    pass


class _McpSession:
    """Just enough of a Streamable HTTP client for a probe: JSON or SSE answers, a session id."""

    def __init__(self, url: str, timeout_s: float) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.session_id: str | None = None
        self.protocol: str | None = None
        self._next_id = 0

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if self.session_id:
            headers["Mcp-Session-Id"] = self.session_id
        if self.protocol:
            headers["Mcp-Protocol-Version"] = self.protocol
        return headers

    def _post(self, message: dict[str, Any]) -> tuple[str, bytes]:
        request = urllib.request.Request(
            self.url, json.dumps(message).encode(), self._headers(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            self.session_id = response.headers.get("Mcp-Session-Id") or self.session_id
            return response.headers.get("Content-Type", ""), response.read()

    def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        content_type, raw = self._post(
            {"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params}
        )
        messages = (
            [
                json.loads(line[5:])
                for line in raw.decode().splitlines()
                if line.startswith("data:") and line[5:].strip()
            ]
            if content_type.startswith("text/event-stream")
            else [json.loads(raw)]
        )
        for message in messages:
            if isinstance(message, dict) and message.get("id") == self._next_id:
                if "error" in message:
                    raise _McpError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result") or {}
                if method == "initialize":
                    self.protocol = str(result.get("protocolVersion", PROTOCOL_VERSION))
                return result
        raise _McpError(f"{method}: no answer in the response")

    def notify(self, method: str) -> None:
        self._post({"jsonrpc": "2.0", "method": method})

    def close(self) -> None:
        if self.session_id is None:
            return
        request = urllib.request.Request(self.url, headers=self._headers(), method="DELETE")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s):
                pass
        except (OSError, urllib.error.URLError):
            pass  # the session expires on its own
