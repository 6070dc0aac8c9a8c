"""Locust users that speak MCP: over Streamable HTTP (:class:`McpUser`) and stdio
(:class:`McpStdioUser`).

Every MCP request fires one Locust request event: ``request_type`` ``MCP`` (``MCP-stdio``),
``name`` the method (``tools/call echo`` for a tool), the response time in ms, the response
length in bytes and, for a failure, an exception: :class:`McpRpcError` for a JSON-RPC error
answer, :class:`McpTransportError` when no answer came (HTTP status, lost session, closed
pipe, timeout). Tasks call :meth:`call_tool`, :meth:`list_tools`, :meth:`call`...

Runs under gevent (Locust's process): HTTP goes through Locust's ``FastHttpSession``
(geventhttpclient), stdio through the monkey-patched ``subprocess``; no asyncio here.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Sequence
from typing import Any, ClassVar

import gevent
from locust import User
from locust.contrib.fasthttp import FastHttpUser

from mcpchaos.protocol.client_wire import (
    INITIALIZED,
    POST_HEADERS,
    SESSION_ERA,
    SESSIONLESS_ERA,
    initialize_params,
    is_response,
    loads,
    method_not_found,
    request_bytes,
    sessionless,
)
from mcpchaos.protocol.sse import NEED_DATA, SseEvent, SseParser

CLIENT_INFO = {"name": "mcpchaos-locust", "version": "1"}
_INITIALIZED: Any = INITIALIZED  # bytes; typed Any for FastHttpSession's data (see _post)


class McpRpcError(Exception):
    """The server (or the proxy's fault injector) answered with a JSON-RPC error."""

    def __init__(self, error: Any) -> None:
        error = error if isinstance(error, dict) else {}
        self.code = error.get("code")
        self.message = str(error.get("message", ""))
        # Locust groups failures by the exception's text: code and message, no request data.
        super().__init__(f"{self.code} {self.message}")


class McpTransportError(Exception):
    """No JSON-RPC answer: an HTTP status, a lost session, a closed pipe, a timeout."""


def stat_name(method: str, params: dict[str, Any]) -> str:
    """One Locust stats row per method, and per tool for ``tools/call``."""
    return f"{method} {params['name']}" if method == "tools/call" and "name" in params else method


def answer_in(body: bytes, content_type: str, request_id: int) -> dict[str, Any] | None:
    """The JSON-RPC response to ``request_id`` in an HTTP body (JSON or an SSE stream)."""
    if not content_type.startswith("text/event-stream"):
        message = loads(body) if body else None
        return message if message is not None and is_response(message) else None
    parser = SseParser()
    parser.feed(body)
    parser.close()
    while (event := parser.next_event()) is not NEED_DATA:
        if isinstance(event, SseEvent) and event.is_message and event.data is not None:
            message = loads(event.data)
            if message is not None and is_response(message) and message.get("id") == request_id:
                return message
    return None


class McpCalls:
    """The MCP calls a task makes; each user class sends them its own way."""

    def call(
        self, method: str, params: dict[str, Any] | None = None, name: str | None = None
    ) -> dict[str, Any] | None:
        """Send one request; its ``result``, or None when it failed (the failure is in the stats)."""
        raise NotImplementedError

    def call_tool(self, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any] | None:
        return self.call("tools/call", {"name": name, "arguments": arguments or {}})

    def list_tools(self) -> dict[str, Any] | None:
        return self.call("tools/list")

    def read_resource(self, uri: str) -> dict[str, Any] | None:
        return self.call("resources/read", {"uri": uri})

    def ping(self) -> dict[str, Any] | None:
        return self.call("ping")


class McpUser(McpCalls, FastHttpUser):
    """A Locust user holding one MCP session over Streamable HTTP; ``host`` is the MCP
    endpoint (``--host http://127.0.0.1:8080/mcp``, e.g. an ``mcpchaos proxy``).

    ``protocol``: ``2025-11-25`` (``initialize`` on start, ``Mcp-Session-Id`` on every
    request, a lost session re-initialized) or ``2026-07-28`` (sessionless)."""

    abstract = True
    protocol: ClassVar[str] = SESSION_ERA

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._next_id = 0
        self._session_headers: dict[str, str] | None = None
        self._seen_session_id: str | None = None

    def on_start(self) -> None:
        if self.protocol == SESSION_ERA:
            self._initialize()

    def on_stop(self) -> None:
        headers = self._session_headers
        self._session_headers = None
        if headers is not None and "Mcp-Session-Id" in headers:
            # End the session the way a polite client does; whatever the answer, it is not load.
            with self.client.request(
                "DELETE", "", headers=headers, name="DELETE session", catch_response=True
            ) as response:
                response.request_meta["request_type"] = "MCP"
                response.success()

    def call(
        self, method: str, params: dict[str, Any] | None = None, name: str | None = None
    ) -> dict[str, Any] | None:
        """Send one request; its ``result``, or None when it failed (the failure is in the
        stats). A lost session (HTTP 404) counts as a failure and is re-initialized."""
        params = params or {}
        if self.protocol == SESSIONLESS_ERA:
            params, routing = sessionless(method, params)
            headers = {**POST_HEADERS, **routing}
        else:
            if self._session_headers is None:
                self._initialize()
                if self._session_headers is None:
                    return None
            headers = self._session_headers
        return self._post(method, params, headers, name or stat_name(method, params))

    # -- the wire ------------------------------------------------------------------------

    def _post(
        self, method: str, params: dict[str, Any], headers: dict[str, str], name: str
    ) -> dict[str, Any] | None:
        self._next_id += 1
        request_id = self._next_id
        result: dict[str, Any] | None = None
        # geventhttpclient sends bytes as they are; Locust's annotation names only str and dict.
        body: Any = request_bytes(request_id, method, params)
        with self.client.request(
            "POST", "", data=body, headers=headers, name=name, catch_response=True,
        ) as response:  # fmt: skip
            response.request_meta["request_type"] = "MCP"
            status = response.status_code
            self._seen_session_id = response.headers.get("Mcp-Session-Id") if response.headers else None
            if status == 404 and self._session_headers is not None:
                self._session_headers = None  # the server forgot the session: start a new one
                response.failure(McpTransportError("http_404 session lost"))
                return None
            answer = None
            if status == 200:
                content_type = response.headers.get("Content-Type", "") if response.headers else ""
                answer = answer_in(response.content or b"", content_type, request_id)
            elif response.content:  # an error status may carry a JSON-RPC error (429, 503...)
                answer = answer_in(response.content, "application/json", request_id)
            if answer is None:
                # Status 0: no HTTP answer at all (refused, reset); Locust keeps the cause in .error.
                reason = f"http_{status}" if status else repr(getattr(response, "error", None))
                response.failure(McpTransportError(reason))
            elif "error" in answer:
                response.failure(McpRpcError(answer["error"]))
            else:
                response.success()
                result = answer.get("result")
        return result

    def _initialize(self) -> None:
        result = self._post("initialize", initialize_params(CLIENT_INFO), dict(POST_HEADERS), "initialize")
        if result is None:
            return
        headers = {**POST_HEADERS, "MCP-Protocol-Version": SESSION_ERA}
        session_id = self._seen_session_id
        if session_id:
            headers["Mcp-Session-Id"] = session_id
        with self.client.request(
            "POST", "", data=_INITIALIZED, headers=headers, name="notifications/initialized",
            catch_response=True,
        ) as response:  # fmt: skip
            response.request_meta["request_type"] = "MCP"
            if response.status_code >= 400 or response.status_code == 0:
                response.failure(McpTransportError(f"http_{response.status_code}"))
                return
            response.success()
        self._session_headers = headers


class McpStdioUser(McpCalls, User):
    """A Locust user that runs its own MCP server process (``command``: argv or a shell-like
    string) and speaks NDJSON to it over stdin/stdout, session era (``initialize`` first)."""

    abstract = True
    command: ClassVar[Sequence[str] | str] = ()
    timeout_s: ClassVar[float] = 30.0
    """A request with no answer after this long fails (``McpTransportError("timeout")``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._next_id = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._ready = False

    def on_start(self) -> None:
        argv = shlex.split(self.command) if isinstance(self.command, str) else list(self.command)
        if not argv:
            raise ValueError(f"{type(self).__name__}.command is empty: give the server command")
        # subprocess is gevent's here (Locust monkey-patches it): reads yield to other users.
        self._process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._initialize()

    def _initialize(self) -> None:
        """The handshake; a failed one (an injected error, say) is retried before the next call."""
        if self._exchange("initialize", initialize_params(CLIENT_INFO), "initialize") is not None:
            self._write(_INITIALIZED)
            self._ready = True

    def on_stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()  # a stdio server's cue to exit
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def call(
        self, method: str, params: dict[str, Any] | None = None, name: str | None = None
    ) -> dict[str, Any] | None:
        params = params or {}
        if not self._ready:
            self._initialize()
            if not self._ready:
                return None
        return self._exchange(method, params, name or stat_name(method, params))

    def _exchange(self, method: str, params: dict[str, Any], name: str) -> dict[str, Any] | None:
        """One request and its answer, reported to Locust."""
        self._next_id += 1
        request_id = self._next_id
        started = time.perf_counter()
        length = 0
        result: dict[str, Any] | None = None
        error: Exception | None = None
        try:
            with gevent.Timeout(self.timeout_s, McpTransportError("timeout")):
                self._write(request_bytes(request_id, method, params))
                answer, length = self._read_answer(request_id)
            if "error" in answer:
                error = McpRpcError(answer["error"])
            else:
                result = answer.get("result")
        except (McpTransportError, OSError) as failure:
            error = failure if isinstance(failure, McpTransportError) else McpTransportError(repr(failure))
        self.environment.events.request.fire(
            request_type="MCP-stdio",
            name=name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=length,
            exception=error,
            context=self.context(),
        )
        return result

    def _write(self, line: bytes) -> None:
        if self._process is None or self._process.stdin is None:
            raise McpTransportError("server not running")
        self._process.stdin.write(line + b"\n")
        self._process.stdin.flush()

    def _read_answer(self, request_id: int) -> tuple[dict[str, Any], int]:
        assert self._process is not None
        assert self._process.stdout is not None
        while True:
            line = self._process.stdout.readline()
            if not line:
                raise McpTransportError(f"server exited ({self._process.poll()})")
            message = loads(line)
            if message is None:
                continue  # a corrupted line: the request may still get its answer
            if "method" in message:
                if "id" in message:  # a server request (sampling, roots...): we offer none
                    self._write(method_not_found(message["id"]))
                continue
            if is_response(message) and message.get("id") == request_id:
                return message, len(line)
