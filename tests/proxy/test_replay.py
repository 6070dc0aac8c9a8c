"""Tapes recorded through the real proxy (stdio and HTTP), replayed as a server by
``mcpchaos replay --as-server``: the official SDK client sees the same transcript; with a
fault profile on top it sees exactly the profile's faults; ``tape diff`` and redaction."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
import yaml
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from mcpchaos.history import tape as tapes
from mcpchaos.history.tape_diff import diff
from mcpchaos.observe.faultlog import read_fault_log
from mcpchaos.protocol import codes
from tests.forkserver import DEMO_SERVER
from tests.http.mcp import HEADERS, INITIALIZE
from tests.http.servers import demo_http_server, free_port, wait_for_port
from tests.sdk_sessions import MODES, scripted_session

MCPCHAOS = [sys.executable, "-m", "mcpchaos"]
DEMO = DEMO_SERVER
ENV = {"PYTHONPATH": os.environ.get("PYTHONPATH", "")}
"""The SDK starts a stdio server with a minimal environment: keep the source tree under test."""


def stdio(*args: str) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "mcpchaos", *args], env=ENV)


def replay_stdio(tape: Path, *flags: str) -> StdioServerParameters:
    return stdio("replay", "--as-server", str(tape), "--timing", "none", *flags)


class Served:
    """An ``mcpchaos`` HTTP process; stopped with SIGTERM so its tape gets its end line."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [*MCPCHAOS, *[a.replace("{port}", str(self.port)) for a in args]],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.process, within=60)
        self.url = f"http://127.0.0.1:{self.port}/mcp"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def stdio_tapes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, Any]]]:
    """A scripted session per era through 'mcpchaos proxy --record' over stdio: tape, transcript."""
    found = {}
    for mode in MODES:
        path = tmp_path_factory.mktemp("stdio") / f"{mode}.tape"
        seen = anyio.run(scripted_session, stdio("proxy", "--record", str(path), "--", *DEMO), mode)
        found[mode] = (path, seen)
    return found


@pytest.fixture(scope="module")
def http_upstream() -> Iterator[str]:
    with demo_http_server() as url:
        yield url


@pytest.mark.parametrize("mode", MODES)
async def test_a_stdio_tape_replays_as_a_server_the_sdk_client_cannot_tell_from_the_original(
    stdio_tapes: dict[str, tuple[Path, dict[str, Any]]], mode: str
) -> None:
    path, recorded = stdio_tapes[mode]
    tape = tapes.read(str(path))
    assert tape.header["era"] == ("2025-11-25" if mode == "legacy" else "2026-07-28")
    assert tape.header["shape"] == "stdio"
    assert tape.end == {"end": True, "dropped": 0}
    replayed = await scripted_session(replay_stdio(path), mode)
    assert replayed == recorded
    assert replayed["echo"]["content"][0]["text"] == "héllo ✓ 😀"


@pytest.mark.parametrize("mode", MODES)
async def test_an_http_tape_replays_over_http_with_the_same_transcript(
    http_upstream: str, tmp_path: Path, mode: str
) -> None:
    path = tmp_path / "http.tape"
    proxy = Served(
        "proxy", "--listen", "127.0.0.1:{port}", "--upstream", http_upstream, "--record", str(path)
    )
    try:
        recorded = await scripted_session(proxy.url, mode)
    finally:
        proxy.stop()
    tape = tapes.read(str(path))
    assert tape.header["shape"] == "http"
    assert tape.end is not None
    if mode == "auto":  # the 2026-07-28 mirrored headers are on the tape
        assert any("mcp-method" in (item.get("meta") or {}).get("headers", {}) for item in tape.lines)
    server = Served(
        "replay", "--as-server", str(path), "--transport", "http", "--port", "{port}", "--timing", "none"
    )
    try:
        replayed = await scripted_session(server.url, mode)
    finally:
        server.stop()
    assert replayed == recorded


async def test_with_a_fault_profile_on_top_the_client_sees_exactly_the_profiles_faults(
    stdio_tapes: dict[str, tuple[Path, dict[str, Any]]], tmp_path: Path
) -> None:
    profile = tmp_path / "faults.yaml"
    profile.write_text(
        yaml.safe_dump(
            {
                "seed": 7,
                "error_config": {"types": ["internal_error"]},
                "rules": [
                    {
                        "match": {"methods": ["tools/call"], "tools": ["echo"]},
                        "probability": 0.4,
                        "enabled_faults": {"error": True},
                    }
                ],
            }
        )
    )
    log, again = tmp_path / "faults.jsonl", tmp_path / "faulty.tape"
    server = replay_stdio(
        stdio_tapes["legacy"][0], "--faults", str(profile), "--fault-log", str(log), "--record", str(again)
    )
    codes_seen: list[int] = []
    texts: list[str] = []
    with anyio.fail_after(60):
        async with Client(server, mode="legacy") as client:
            for _ in range(30):
                try:
                    result = await client.call_tool("echo", {"text": "héllo ✓ 😀"})
                except MCPError as exc:
                    codes_seen.append(exc.error.code)
                else:
                    texts.append(result.content[0].model_dump()["text"])
    faults = read_fault_log(log)
    errors, answers = len(codes_seen), len(texts)
    assert set(codes_seen) == {codes.INTERNAL_ERROR}
    assert set(texts) == {"héllo ✓ 😀"}
    assert 0 < errors < 30
    assert len(faults) == errors
    assert answers == 30 - errors
    assert {record["fault"] for record in faults} == {"error"}
    marked = [item for item in tapes.read(str(again)).lines if item.get("faults")]  # the tape names them too
    assert len(marked) == errors


async def test_a_call_with_other_arguments_gets_the_nearest_recording_and_an_unknown_tool_a_clear_error(
    stdio_tapes: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    with anyio.fail_after(30):
        async with Client(replay_stdio(stdio_tapes["legacy"][0]), mode="legacy") as client:
            nearest = await client.call_tool("fail", {"message": "another"})
            assert nearest.is_error  # the recorded 'fail' call answered
            with pytest.raises(MCPError) as raised:
                await client.call_tool("never_recorded", {})
    assert raised.value.error.code == codes.NO_RECORDING
    assert "no recording of tools/call 'never_recorded'" in raised.value.error.message


@pytest.mark.filterwarnings("ignore:ping is removed")
async def test_tape_diff_finds_a_changed_argument_and_result_and_ignores_ids_and_times(
    tmp_path: Path,
) -> None:
    async def run(path: Path, text: str, ping_first: bool) -> None:
        with anyio.fail_after(60):
            async with Client(stdio("proxy", "--record", str(path), "--", *DEMO), mode="legacy") as client:
                if ping_first:
                    await client.send_ping()  # shifts every later id by one
                await client.list_tools()
                await client.call_tool("echo", {"text": text})

    a, b = tmp_path / "a.tape", tmp_path / "b.tape"
    async with anyio.create_task_group() as runs:  # two runs at once: half the wait
        runs.start_soon(run, a, "one", False)
        runs.start_soon(run, b, "two", True)
    found = [(d.change, d.label, d.path, d.a, d.b) for d in diff(tapes.read(str(a)), tapes.read(str(b)), 5.0)]
    assert ("added", "ping", "", None, None) in found
    assert ("argument", "tools/call echo", "text", "one", "two") in found
    assert ("result", "tools/call echo", "result.content[0].text", "one", "two") in found
    assert ("result", "tools/call echo", "result.structuredContent.result", "one", "two") in found
    assert len(found) == 4, found  # ids (shifted) and times (two runs) are not differences
    cli = await anyio.run_process([*MCPCHAOS, "tape", "diff", str(a), str(b)], check=False)
    assert cli.returncode == 1
    assert b"argument text" in cli.stdout
    same = await anyio.run_process([*MCPCHAOS, "tape", "diff", str(a), str(a)], check=False)
    assert same.returncode == 0
    assert same.stdout == b""


async def test_redaction_removes_an_authorization_header_and_a_named_field(
    http_upstream: str, tmp_path: Path
) -> None:
    path = tmp_path / "secret.tape"
    proxy = Served(
        "proxy", "--listen", "127.0.0.1:{port}", "--upstream", http_upstream, "--record", str(path),
        "--redact", "api_key",
    )  # fmt: skip
    headers = {**HEADERS, "Authorization": "Bearer s3cret-token"}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            client_info = {**INITIALIZE["params"]["clientInfo"], "api_key": "k3y-value"}
            init = {**INITIALIZE, "params": {**INITIALIZE["params"], "clientInfo": client_info}}
            async with http.post(proxy.url, json=init, headers=headers) as response:
                assert response.status == 200
                await response.read()
    finally:
        proxy.stop()
    text = path.read_text()
    assert "s3cret-token" not in text
    assert "k3y-value" not in text
    first = tapes.read(str(path)).lines[0]
    assert first["meta"]["headers"]["authorization"] == "[redacted]"
    assert first["message"]["params"]["clientInfo"]["api_key"] == "[redacted]"
    kept = tmp_path / "kept.tape"
    kept.write_text(text.replace('"[redacted]"', '"visible"'))
    await anyio.run_process([*MCPCHAOS, "tape", "redact", str(kept), "-o", str(kept), "--redact", "api_key"])
    assert "visible" not in kept.read_text()


async def test_the_network_simulator_sits_on_top_of_a_replay_over_http(
    stdio_tapes: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    path, recorded = stdio_tapes["legacy"]  # a stdio tape serves over HTTP as well
    server = Served(
        "replay", "--as-server", str(path), "--transport", "http", "--port", "{port}", "--timing", "none",
        "--latency-ms", "150",
    )  # fmt: skip
    try:
        with anyio.fail_after(30):
            async with Client(server.url, mode="legacy") as client:
                started = anyio.current_time()
                tools = await client.list_tools()
                elapsed = anyio.current_time() - started
    finally:
        server.stop()
    assert tools.model_dump() == recorded["tools"]
    assert elapsed >= 0.3  # 150 ms each way through the link in front of the bridge


async def test_a_2026_client_on_a_2025_era_tape_falls_back_to_the_handshake(
    stdio_tapes: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    path, recorded = stdio_tapes["legacy"]
    with anyio.fail_after(30):
        async with Client(replay_stdio(path)) as client:  # server/discover first: -32601 from the tape
            assert client.protocol_version == "2025-11-25"
            assert (await client.list_tools()).model_dump() == recorded["tools"]


async def short_session(target: Any, mode: str) -> dict[str, Any]:
    """The handshake (or discovery), the tool list and two calls: what the client saw."""
    with anyio.fail_after(60):
        async with Client(target, mode=mode) as client:
            return {
                "protocol": client.protocol_version,
                "tools": (await client.list_tools()).model_dump(),
                "echo": (await client.call_tool("echo", {"text": "bridged"})).model_dump(),
                "fail": (await client.call_tool("fail", {"message": "nope"})).model_dump(),
            }


async def test_the_stdio_to_http_bridge_records_a_tape_that_replays_over_http(
    http_upstream: str, tmp_path: Path
) -> None:
    path = tmp_path / "bridge.tape"
    recorded = await short_session(stdio("proxy", "--upstream", http_upstream, "--record", str(path)), "auto")
    assert tapes.read(str(path)).header["shape"] == "stdio-to-http"
    server = Served(
        "replay", "--as-server", str(path), "--transport", "http", "--port", "{port}", "--timing", "none"
    )
    try:
        assert await short_session(server.url, "auto") == recorded
    finally:
        server.stop()


async def test_the_http_to_stdio_bridge_records_a_tape_that_replays_over_stdio(tmp_path: Path) -> None:
    path = tmp_path / "bridge.tape"
    bridge = Served("proxy", "--listen", "127.0.0.1:{port}", "--record", str(path), "--", *DEMO)
    try:
        recorded = await short_session(bridge.url, "legacy")
    finally:
        bridge.stop()
    assert tapes.read(str(path)).header["shape"] == "http-to-stdio"
    assert await short_session(replay_stdio(path), "legacy") == recorded
