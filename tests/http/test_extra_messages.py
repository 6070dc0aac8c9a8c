"""Messages a fault sends together with a request's answer on Streamable HTTP (a stray response
with an unknown id, a duplicated response): the answer ends the client's response, so they go
out with it on one SSE stream (a JSON answer is streamed instead), and what cannot go out is
logged. Through the real HTTP proxy and the HTTP → stdio bridge, with a raw HTTP client and
the official SDK client; the fault log and the history say what was sent."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import orjson
import pydantic
import pytest
from mcp import Client

from mcpchaos.config.faults import FaultConfig
from mcpchaos.config.load import validate
from mcpchaos.faults.injector import FaultInjector, FaultRecord
from mcpchaos.intercept.chain import InterceptorChain
from mcpchaos.observe.history import HistoryRecorder
from mcpchaos.protocol.messages import Direction
from mcpchaos.protocol.sse import SseEvent, SseParser
from mcpchaos.proxy.http import HttpOptions, HttpProxy
from mcpchaos.proxy.http_to_stdio import HttpToStdioBridge
from tests.faults.live import DEMO, on_http, on_stdio, rule
from tests.http.mcp import HEADERS

from .recording_upstream import RecordingUpstream

STRAY = rule(
    {"corruption": True},
    tools=(),
    methods=("*",),
    classes=("server_response",),
    corruption_config={"modes": ["unknown_response_id"]},
)
DUPLICATE = rule({"duplicate": True}, tools=(), methods=("*",), classes=("server_response",))
LIST_CHANGED = rule({"list_changed": True}, tools=(), methods=("*",), classes=("server_response",))
SESSIONLESS_HEADERS = {
    **HEADERS,
    "MCP-Protocol-Version": "2026-07-28",
    "Mcp-Method": "tools/call",
    "Mcp-Name": "echo",
}


def sessionless_echo(request_id: int, text: str) -> dict[str, Any]:
    """A 2026-07-28 ``tools/call`` of the demo server's echo: no handshake needed."""
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "0"},
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    params = {"name": "echo", "arguments": {"text": text}, "_meta": meta}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


@dataclass
class Faulty:
    """A proxy (or bridge) with one fault rule, its fault log and its history."""

    url: str
    records: list[FaultRecord] = field(default_factory=list)
    recorder: HistoryRecorder = field(default_factory=HistoryRecorder)

    def written_to_client(self) -> list[dict[str, Any]]:
        """The messages the history says the proxy wrote to the client, in order."""
        return [
            orjson.loads(entry.raw)
            for history in self.recorder.histories()
            for entry in history.view()
            if entry.written and entry.direction is Direction.SERVER_TO_CLIENT
        ]


def _chain(config: dict[str, Any], faulty: Faulty) -> InterceptorChain:
    injector = FaultInjector(validate(FaultConfig, config))
    injector.on_fault(faulty.records.append)
    chain = InterceptorChain([injector])
    chain.recorder = faulty.recorder
    injector.on_fault(faulty.recorder.fault)
    return chain


@asynccontextmanager
async def faulty_proxy(
    upstream: str, config: dict[str, Any], options: HttpOptions | None = None
) -> AsyncIterator[Faulty]:
    faulty = Faulty("")
    proxy = HttpProxy(upstream, _chain(config, faulty), options)
    await proxy.start("127.0.0.1", 0)
    faulty.url = f"http://127.0.0.1:{proxy.port}{proxy.mcp_path}"
    try:
        yield faulty
    finally:
        await proxy.stop()


async def post(
    url: str, body: dict[str, Any], headers: dict[str, str]
) -> tuple[aiohttp.ClientResponse, list[dict[str, Any]]]:
    """POST ``body``; the response and every JSON-RPC message in it (a JSON body or SSE events)."""
    async with aiohttp.ClientSession() as http, http.post(url, json=body, headers=headers) as response:
        with anyio.fail_after(10):
            raw = await response.read()
    if response.content_type != "text/event-stream":
        return response, [orjson.loads(raw)]
    parser = SseParser()
    parser.feed(raw)
    messages = []
    while isinstance(event := parser.next_event(), SseEvent):
        if event.data:
            messages.append(orjson.loads(event.data))
    return response, messages


async def test_a_stray_response_reaches_the_client_just_before_a_json_answer_streamed_instead(
    stateful_url: str,
) -> None:
    async with faulty_proxy(stateful_url, STRAY) as faulty:
        response, messages = await post(faulty.url, sessionless_echo(5, "x"), SESSIONLESS_HEADERS)
    assert response.status == 200
    assert response.content_type == "text/event-stream"  # the demo server answered JSON
    stray, answer = messages
    assert stray == {"jsonrpc": "2.0", "id": stray["id"], "result": {}}
    assert answer["id"] == 5
    assert answer["result"]["content"][0]["text"] == "x"
    [record] = faulty.records
    assert record.params == {"mode": "unknown_response_id", "unknown_id": stray["id"]}
    assert faulty.written_to_client() == messages


async def test_a_list_changed_notification_rides_a_json_answer_streamed_instead(stateful_url: str) -> None:
    async with faulty_proxy(stateful_url, LIST_CHANGED) as faulty:
        response, messages = await post(faulty.url, sessionless_echo(8, "y"), SESSIONLESS_HEADERS)
    assert response.content_type == "text/event-stream"
    notice, answer = messages
    assert notice == {"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}
    assert answer["id"] == 8
    assert answer["result"]["content"][0]["text"] == "y"
    assert [r.fault for r in faulty.records] == ["list_changed"]
    assert faulty.written_to_client() == messages


async def test_a_stray_response_goes_before_the_answer_on_an_sse_answer_after_its_progress(
    upstream: RecordingUpstream,
) -> None:
    async with faulty_proxy(upstream.url, STRAY) as faulty:
        _, messages = await post(faulty.url, {"jsonrpc": "2.0", "id": 9, "method": "stream"}, HEADERS)
    assert [m.get("method") for m in messages[:3]] == ["notifications/progress"] * 3
    stray, answer = messages[3:]
    assert stray["id"] == faulty.records[0].params["unknown_id"]
    assert answer == {"jsonrpc": "2.0", "id": 9, "result": {"done": True}}
    assert faulty.written_to_client() == messages


async def test_a_duplicated_json_answer_reaches_the_client_twice_with_the_upstreams_head(
    upstream: RecordingUpstream,
) -> None:
    async with faulty_proxy(upstream.url, DUPLICATE) as faulty:
        response, messages = await post(
            faulty.url, {"jsonrpc": "2.0", "id": 3, "method": "tools/list"}, HEADERS
        )
    assert response.content_type == "text/event-stream"
    assert response.headers["X-Upstream"] == "yes"  # the JSON answer's own headers stay
    answer = {"jsonrpc": "2.0", "id": 3, "result": {"method": "tools/list"}}
    assert messages == [answer, answer]
    assert [r.params for r in faulty.records] == [{"copies": 2}]
    assert faulty.written_to_client() == messages


async def test_a_duplicated_sse_answer_reaches_the_stream_twice_before_it_ends(
    upstream: RecordingUpstream,
) -> None:
    async with faulty_proxy(upstream.url, DUPLICATE) as faulty:
        _, messages = await post(faulty.url, {"jsonrpc": "2.0", "id": 4, "method": "stream"}, HEADERS)
    answer = {"jsonrpc": "2.0", "id": 4, "result": {"done": True}}
    assert messages[-2:] == [answer, answer]
    assert faulty.written_to_client() == messages


async def test_a_notification_reordered_after_the_answer_still_reaches_the_stream(
    upstream: RecordingUpstream,
) -> None:
    # The third progress notification is held until the next server message, the answer.
    config = rule(
        {"reorder": True},
        tools=(),
        methods=("notifications/progress",),
        classes=("server_notification",),
        reorder={"max_hold_ms": 5000},
    )
    config["rules"][0]["match"]["every_nth"] = 3
    async with faulty_proxy(upstream.url, config) as faulty:
        _, messages = await post(faulty.url, {"jsonrpc": "2.0", "id": 2, "method": "stream"}, HEADERS)
    assert [m.get("params", {}).get("progress", m.get("id")) for m in messages] == [1, 2, 2, 3]
    assert [r.fault for r in faulty.records] == ["reorder"]
    assert faulty.written_to_client() == messages


def third_progress_delayed(delay_ms: int) -> dict[str, Any]:
    config = rule(
        {"delay": True},
        tools=(),
        methods=("notifications/progress",),
        classes=("server_notification",),
        delay_ms={"min_ms": delay_ms, "max_ms": delay_ms, "jitter": False},
    )
    config["rules"][0]["match"]["every_nth"] = 3
    return config


async def test_a_notification_delayed_past_the_answer_reaches_the_stream_late(
    upstream: RecordingUpstream,
) -> None:
    # The third progress notification is due 0.8 s late, the answer 0.25 s after it.
    async with faulty_proxy(upstream.url, third_progress_delayed(800)) as faulty:
        _, messages = await post(faulty.url, {"jsonrpc": "2.0", "id": 2, "method": "stream"}, HEADERS)
    progress = [m["params"]["progress"] for m in messages if m.get("method") == "notifications/progress"]
    assert sorted(progress) == [1, 2, 3]
    assert {"jsonrpc": "2.0", "id": 2, "result": {"done": True}} in messages
    assert [r.params for r in faulty.records] == [{"delay_ms": 800.0}]
    assert faulty.written_to_client() == messages


async def test_an_answered_stream_waits_for_a_late_message_no_longer_than_the_request_timeout(
    upstream: RecordingUpstream,
) -> None:
    options = HttpOptions(request_timeout=2.0)  # well above the upstream's 0.25 s between events
    async with faulty_proxy(upstream.url, third_progress_delayed(5000), options) as faulty:
        _, messages = await post(faulty.url, {"jsonrpc": "2.0", "id": 2, "method": "stream"}, HEADERS)
    # Ended as answered: no 504 error event after the answer, and the late one is not sent.
    answer = {"jsonrpc": "2.0", "id": 2, "result": {"done": True}}
    assert [m.get("params", {}).get("progress") for m in messages[:-1]] == [1, 2]
    assert messages[-1] == answer
    assert faulty.written_to_client() == messages


@pytest.mark.parametrize(("config", "body_is_stray"), [(STRAY, True), (DUPLICATE, False)])
async def test_a_client_accepting_only_json_gets_one_message_and_the_other_is_logged_not_recorded(
    upstream: RecordingUpstream,
    caplog: pytest.LogCaptureFixture,
    config: dict[str, Any],
    body_is_stray: bool,
) -> None:
    headers = {**HEADERS, "Accept": "application/json"}
    async with faulty_proxy(upstream.url, config) as faulty:
        with caplog.at_level(logging.WARNING, "mcpchaos.pump"):
            response, messages = await post(
                faulty.url, {"jsonrpc": "2.0", "id": 6, "method": "tools/list"}, headers
            )
    assert response.content_type == "application/json"
    [body] = messages
    assert (body["id"] != 6) is body_is_stray  # the first message of the batch is the body
    assert "1 of 2 messages meant for the client together were not delivered" in caplog.text
    assert "its Accept has no SSE" in caplog.text
    assert faulty.written_to_client() == [body]


@pytest.mark.parametrize(("transport", "mode"), [("http", "legacy"), ("http", "auto"), ("stdio", "legacy")])
async def test_the_sdk_client_takes_a_stray_response_on_its_post_stream_for_its_answer(
    stateful_url: str, tmp_path: Path, transport: str, mode: str
) -> None:
    # The SDK's HTTP client gives any response on a POST's stream the POST's id and stops
    # reading there: the stray's empty result is validated as the tool's result and fails.
    # Over stdio it matches responses by id: the stray is dropped, the answer arrives.
    async def call(client: Client) -> Any:
        try:
            return (await client.call_tool("echo", {"text": "x"}, read_timeout_seconds=5)).content
        except pydantic.ValidationError as exc:
            return exc.errors()[0]["input"]

    config = rule(
        {"corruption": True},
        classes=("server_response",),
        corruption_config={"modes": ["unknown_response_id"]},
    )  # the echo call's answer only (not the SDK's own tools/list)
    if transport == "http":
        seen, records = await on_http(config, call, stateful_url, mode=mode)
        assert seen == {}
    else:
        seen, records = await on_stdio(config, call, tmp_path, mode=mode)
        assert seen[0].text == "x"
    assert [r["params"]["mode"] for r in records] == ["unknown_response_id"]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_the_sdk_client_over_http_reads_the_first_copy_of_a_duplicated_answer(
    stateful_url: str, mode: str
) -> None:
    async def call(client: Client) -> Any:
        return (await client.call_tool("echo", {"text": "once"}, read_timeout_seconds=5)).content

    seen, records = await on_http(
        rule({"duplicate": True}, classes=("server_response",)), call, stateful_url, mode=mode
    )
    assert seen[0].text == "once"
    assert [r["params"] for r in records] == [{"copies": 2}]


async def test_the_http_to_stdio_bridge_streams_a_duplicated_answer_twice() -> None:
    faulty = Faulty("")
    bridge = HttpToStdioBridge(DEMO, _chain(DUPLICATE, faulty))
    await bridge.start("127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{bridge.port}/mcp"
        _, messages = await post(url, sessionless_echo(7, "twice"), SESSIONLESS_HEADERS)
    finally:
        await bridge.stop()
    first, second = messages
    assert first == second
    assert first["id"] == 7
    # The history holds what the pump wrote: the id the bridge gave the request upstream.
    assert [m["result"] for m in faulty.written_to_client()] == [first["result"]] * 2
