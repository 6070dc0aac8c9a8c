"""A small MCP client for ``mcpchaos judge``'s tests and docs: raw JSON-RPC over Streamable HTTP.

Well-behaved by default; each flag makes it fragile in one way, so a test can show the verdict
that catches it. Raw JSON-RPC (the standard library's http.client, no SDK) because the misbehaviours must be
exact: an SDK would not retry a destructive tool three times on its own.

What it does (the work docs/judge.md expects of a judged client): probe ``server/discover``
(it speaks only the 2025-11-25 handshake, so it initializes whatever the answer), initialize,
list the tools, call ``echo`` twice, ``delete_item`` once (a fresh name), ``echo`` again, and
exit 0 (1 only if it could not open a session at all).

Well-behaved means: each call times out after ``--call-timeout`` seconds and is cancelled
(``notifications/cancelled``); an idempotent call (readOnlyHint/idempotentHint) is tried
again with exponential backoff (3 tries on JSON-RPC errors; for ``--patience`` seconds on lost
answers and HTTP 5xx); a
429 waits its Retry-After; a 404 opens a new session; a destructive call is never retried;
list_changed makes it list again before its next call; malformed or unknown-id messages are
skipped.

    python tests/clients/judged_client.py URL [--never-timeout] [--retry-destructive N]
        [--ignore-retry-after] [--no-cancel] [--no-reinit] [--retry-storm]
        [--crash-on-bad-response] [--no-relist]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import sys
import time
import urllib.parse
import uuid
from typing import Any

PROTOCOL = "2025-11-25"


class LostError(Exception):
    """The call got no answer (timed out, or its stream ended first)."""


class StatusError(Exception):
    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


class Client:
    def __init__(self, url: str, flags: argparse.Namespace) -> None:
        self.url = urllib.parse.urlsplit(url)
        self.flags = flags
        self.timeout = None if flags.never_timeout else flags.call_timeout
        self.session: str | None = None
        self.next_id = 0
        self.tools: dict[str, dict[str, Any]] = {}
        self.list_changed = False

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        if self.session is not None:
            headers["Mcp-Session-Id"] = self.session
            headers["MCP-Protocol-Version"] = PROTOCOL
        return headers

    def _post(self, body: dict[str, Any], timeout: float | None) -> tuple[http.client.HTTPConnection, Any]:
        connection = http.client.HTTPConnection(
            self.url.hostname or "127.0.0.1", self.url.port, timeout=timeout
        )
        connection.request("POST", self.url.path, json.dumps(body).encode(), self._headers())
        return connection, connection.getresponse()

    def notify(self, method: str, params: dict[str, Any]) -> None:
        connection, response = self._post({"jsonrpc": "2.0", "method": method, "params": params}, 5.0)
        response.read()
        connection.close()

    def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """One request, one answer (a dict with result or error); raises LostError or StatusError."""
        self.next_id += 1
        request_id = self.next_id
        body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        connection = None
        try:
            connection, response = self._post(body, self.timeout)
            if response.status >= 400:
                after = response.getheader("Retry-After")
                response.read()
                raise StatusError(response.status, float(after) if after else None)
            if method == "initialize":
                self.session = response.getheader("Mcp-Session-Id")
            found = None
            if (response.getheader("Content-Type") or "").startswith("application/json"):
                found = self._take(response.read().decode(), request_id)
            else:
                for raw in response:
                    line = raw.decode(errors="replace").strip()
                    if line.startswith("data:"):
                        found = self._take(line[5:].strip(), request_id)
                        if found is not None:
                            break
            if found is None:
                raise LostError(f"{method}: the stream ended without an answer")
            return found
        except TimeoutError:
            if not self.flags.no_cancel and self.session is not None:
                self.notify("notifications/cancelled", {"requestId": request_id, "reason": "timed out"})
            raise LostError(f"{method}: timed out") from None
        except (ConnectionError, http.client.HTTPException) as exc:
            raise LostError(f"{method}: {exc!r}") from None
        finally:
            if connection is not None:
                connection.close()

    def _take(self, text: str, request_id: int) -> dict[str, Any] | None:
        """The message if it answers ``request_id``; notifications noted; bad ones skipped."""
        try:
            message = json.loads(text)
        except ValueError:
            if self.flags.crash_on_bad_response:
                raise
            print(f"skipped a malformed message: {text[:60]!r}", file=sys.stderr)
            return None
        if message.get("method") == "notifications/tools/list_changed":
            self.list_changed = True
            return None
        if "id" in message and ("result" in message or "error" in message):
            if message["id"] == request_id:
                return dict(message)
            if self.flags.crash_on_bad_response:
                raise RuntimeError(f"a response to id {message['id']!r}, which I never sent")
            print(f"skipped a response to an unknown id {message['id']!r}", file=sys.stderr)
        return None

    def open_session(self) -> None:
        self.session = None
        info = {"name": "judged-client", "version": "1"}
        answer = self.request(
            "initialize", {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": info}
        )
        if "error" in answer:
            raise RuntimeError(f"initialize refused: {answer['error']}")
        self.notify("notifications/initialized", {})

    def list_tools(self) -> None:
        answer = self.request("tools/list", {})
        self.tools = {
            t["name"]: t.get("annotations") or {} for t in answer.get("result", {}).get("tools", [])
        }
        self.list_changed = False

    def idempotent(self, tool: str) -> bool:
        hints = self.tools.get(tool, {})
        return bool(hints.get("readOnlyHint") or hints.get("idempotentHint"))

    def call(self, tool: str, arguments: dict[str, Any]) -> str:
        """Call a tool the way the flags say; returns what happened, in words."""
        flags = self.flags
        safe = self.idempotent(tool)
        # An idempotent call: 3 tries on JSON-RPC errors; on lost answers and 5xx, tries for up
        # to --patience seconds (a server that restarts takes seconds, many on a loaded machine);
        # backoff 0.2 s doubling, at most 2 s.
        attempts = 50 if flags.retry_storm else (1000 if safe else 1 + flags.retry_destructive)
        errors_left = 50 if flags.retry_storm else 3
        give_up_at = time.monotonic() + flags.patience
        delay = 0.2
        outcome = "not called"
        for attempt in range(attempts):
            if attempt and safe and not flags.retry_storm and time.monotonic() > give_up_at:
                return outcome
            if self.list_changed and not flags.no_relist:
                self.list_tools()
            wait = 0.0 if flags.retry_storm or not safe else delay
            try:
                answer = self.request("tools/call", {"name": tool, "arguments": arguments})
            except LostError as exc:
                outcome = str(exc)
            except StatusError as exc:
                outcome = f"HTTP {exc.status}"
                if exc.status == 401:
                    return "unauthorized: reported, not retried"
                if exc.status == 404:
                    if flags.no_reinit:
                        return "HTTP 404: session gone, gave up"
                    self.open_session()
                    wait = 0.0
                if exc.status == 429 and exc.retry_after is not None and not flags.ignore_retry_after:
                    wait = max(wait, exc.retry_after)
            else:
                if "result" in answer:
                    return "ok"
                outcome = f"error {answer['error'].get('code')}"
                errors_left -= 1
                if safe and not errors_left:
                    return outcome
            if attempt + 1 < attempts:
                time.sleep(wait)
                delay = min(delay * 2, 2.0)
        return outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", default=os.environ.get("MCPCHAOS_SERVER_URL"))
    parser.add_argument("--call-timeout", type=float, default=2.0)
    parser.add_argument("--patience", type=float, default=5.0, help="seconds to retry a lost call")
    parser.add_argument("--never-timeout", action="store_true")
    parser.add_argument("--retry-destructive", type=int, default=0, metavar="N")
    parser.add_argument("--ignore-retry-after", action="store_true")
    parser.add_argument("--no-cancel", action="store_true")
    parser.add_argument("--no-reinit", action="store_true")
    parser.add_argument("--retry-storm", action="store_true")
    parser.add_argument("--crash-on-bad-response", action="store_true")
    parser.add_argument("--no-relist", action="store_true")
    flags = parser.parse_args()
    if not flags.url:
        parser.error("give the server URL (or set MCPCHAOS_SERVER_URL)")
    client = Client(flags.url, flags)
    # A 2025-era server (or a fault) refuses it: this client initializes either way.
    with contextlib.suppress(LostError, StatusError):
        client.request("server/discover", {})
    try:
        client.open_session()
        client.list_tools()
    except (LostError, StatusError, RuntimeError) as exc:
        print(f"could not open a session: {exc}", file=sys.stderr)
        return 1
    for tool, arguments in (
        ("echo", {"text": "one"}),
        ("echo", {"text": "two"}),
        ("delete_item", {"name": f"item-{uuid.uuid4().hex[:8]}"}),
        ("echo", {"text": "three"}),
    ):
        print(f"{tool}: {client.call(tool, arguments)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
