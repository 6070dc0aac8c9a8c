"""The control API and metrics on running proxies, with the official SDK client."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from mcpchaos.config.faults import FaultConfig
from mcpchaos.config.load import validate
from mcpchaos.faults.injector import FaultInjector
from mcpchaos.intercept.chain import InterceptorChain
from mcpchaos.observe.faultlog import FaultLog, read_fault_log
from mcpchaos.observe.metrics import Metrics
from mcpchaos.protocol import codes
from mcpchaos.proxy.http import HttpProxy
from tests.forkserver import DEMO_SERVER
from tests.http.mcp import HEADERS, INITIALIZE
from tests.http.servers import free_port, wait_for_port

MCPCHAOS = [sys.executable, "-m", "mcpchaos"]
DEMO = DEMO_SERVER
ERRORS_ON = {
    "rules": [
        {
            "match": {"methods": ["tools/call"], "message_classes": ["client_request"]},
            "enabled_faults": {"error": True},
            "error_config": {"types": ["internal_error"]},
        }
    ]
}


async def echo_or_error(client: Client, text: str) -> str | int:
    try:
        result = await client.call_tool("echo", {"text": text})
    except MCPError as exc:
        return exc.error.code
    return result.content[0].text  # type: ignore[union-attr]


async def test_fault_counters_equal_the_fault_log_and_request_counters_what_the_client_sent(
    stateful_url: str, tmp_path: Path
) -> None:
    injector = FaultInjector(
        validate(
            FaultConfig,
            {
                "seed": 11,
                "rules": [{**ERRORS_ON["rules"][0], "probability": 0.5}],
            },
        )
    )
    log_path = tmp_path / "faults.jsonl"
    injector.on_fault(FaultLog(log_path))
    chain = InterceptorChain([injector])
    metrics = Metrics().observe(chain, injector)
    proxy = HttpProxy(stateful_url, chain)
    await proxy.start("127.0.0.1", 0)
    try:
        with anyio.fail_after(60):
            async with Client(f"http://127.0.0.1:{proxy.port}/mcp", mode="legacy") as client:
                await client.list_tools()
                outcomes = [await echo_or_error(client, f"m{i}") for i in range(40)]
    finally:
        await proxy.stop()
    errors_seen = sum(1 for outcome in outcomes if outcome == codes.INTERNAL_ERROR)
    assert 0 < errors_seen < 40
    data = metrics.as_dict()
    assert data["faults_total"] == len(read_fault_log(log_path)) == errors_seen
    calls = [
        m
        for m in data["messages"]
        if m["method"] == "tools/call" and m["direction"] == "client_to_server" and m["kind"] == "request"
    ]
    assert calls[0]["count"] == 40
    injected = [e for e in data["jsonrpc_errors_sent"] if e["code"] == codes.INTERNAL_ERROR]
    assert injected[0]["count"] == errors_seen
    assert data["latency"]["end_to_end"]["count"] >= 40 - errors_seen


async def put(control: str, path: str, body: Any, method: str = "PUT") -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.request(method, control + path, json=body) as response:
        assert response.status == 200, await response.text()
        result: dict[str, Any] = await response.json()
        return result


async def switch_mid_session(target: Any, control: str) -> list[str | int]:
    outcomes: list[str | int] = []
    with anyio.fail_after(60):
        async with Client(target, mode="legacy") as client:
            await client.list_tools()
            outcomes.append(await echo_or_error(client, "before"))
            await put(control, "/faults", ERRORS_ON)
            outcomes.append(await echo_or_error(client, "during"))
            await put(control, "/faults/reset", None, "POST")
            outcomes.append(await echo_or_error(client, "after"))
    return outcomes


async def test_switching_faults_on_mid_run_hits_the_next_message_over_stdio() -> None:
    port = free_port()
    params = StdioServerParameters(
        command=sys.executable,
        args=[
            "-m",
            "mcpchaos",
            "proxy",
            "--control",
            str(port),
            "--",
            *DEMO,
        ],
    )
    outcomes = await switch_mid_session(params, f"http://127.0.0.1:{port}")
    assert outcomes == ["before", codes.INTERNAL_ERROR, "after"]


def start(*args: str, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([*MCPCHAOS, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for_port(port, process)
    return process


def stop(process: subprocess.Popen[bytes]) -> bytes:
    process.send_signal(signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return err


def ctl(control: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MCPCHAOS, "ctl", "--control", control, *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=30,
        check=False,
    )


async def test_switching_mid_run_over_http_and_the_ctl_command(stateful_url: str) -> None:
    listen, control_port = free_port(), free_port()
    process = start(
        "proxy",
        "--listen",
        f"127.0.0.1:{listen}",
        "--upstream",
        stateful_url,
        "--control",
        f"127.0.0.1:{control_port}",
        port=listen,
    )
    control = f"http://127.0.0.1:{control_port}"
    try:
        wait_for_port(control_port, process)
        outcomes = await switch_mid_session(f"http://127.0.0.1:{listen}/mcp", control)
        assert outcomes == ["before", codes.INTERNAL_ERROR, "after"]

        status = ctl(control, "status")
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["faults_injected"] == 1
        patched = ctl(
            control, "faults", "patch", '{"fault_probability": 0.25, "enabled_faults": {"delay": true}}'
        )
        assert patched.returncode == 0, patched.stderr
        assert json.loads(patched.stdout)["config"]["fault_probability"] == 0.25
        logged = ctl(control, "log")
        assert [json.loads(line)["fault"] for line in logged.stdout.splitlines()] == ["error"]
        assert "mcpchaos_faults_injected" in ctl(control, "metrics").stdout
        bad = ctl(control, "faults", "set", "-", stdin="fault_probability: 7\n")
        assert bad.returncode == 1
        assert "fault_probability" in bad.stderr
        network = ctl(control, "partition", "--duration-ms", "50")
        assert json.loads(network.stdout)["partitioned"] is True
        assert json.loads(ctl(control, "heal").stdout)["partitioned"] is False
    finally:
        stop(process)
    unreachable = ctl(control, "status")
    assert unreachable.returncode == 1
    assert "cannot reach" in unreachable.stderr


async def test_watch_reloads_the_fault_file_and_keeps_the_old_config_when_it_is_invalid(
    tmp_path: Path,
) -> None:
    profile = tmp_path / "faults.yaml"
    profile.write_text("seed: 1\n")
    port = free_port()
    params = StdioServerParameters(
        command=sys.executable,
        args=[
            "-m",
            "mcpchaos",
            "proxy",
            "--faults",
            str(profile),
            "--watch",
            "--control",
            str(port),
            "--",
            *DEMO,
        ],
    )
    control = f"http://127.0.0.1:{port}"

    async def probability() -> float:
        async with aiohttp.ClientSession() as http, http.get(control + "/faults") as response:
            return float((await response.json())["config"]["fault_probability"])

    with anyio.fail_after(60):
        async with Client(params, mode="legacy") as client:
            assert await echo_or_error(client, "a") == "a"
            profile.write_text(
                "seed: 1\nfault_probability: 1.0\nenabled_faults: {error: true}\n"
                "error_config: {types: [internal_error]}\n"
            )
            while await probability() != 1.0:  # noqa: ASYNC110 - bounded by fail_after
                await anyio.sleep(0.05)
            assert await echo_or_error(client, "b") == codes.INTERNAL_ERROR
            profile.write_text("fault_probability: 3\n")  # invalid: the running config stays
            await anyio.sleep(1.2)  # two watch periods: a reload would have happened by now
            assert await probability() == 1.0


@pytest.mark.parametrize("flags", [["--watch"], ["--fault-log", "/tmp/x.jsonl"]])
def test_watch_and_fault_log_without_faults_are_usage_errors(flags: list[str]) -> None:
    result = subprocess.run(
        [*MCPCHAOS, "proxy", *flags, "--", "true"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 2


async def test_sessions_are_counted_as_they_start_and_end(stateful_url: str) -> None:
    chain = InterceptorChain()
    metrics = Metrics().observe(chain)
    proxy = HttpProxy(stateful_url, chain)
    await proxy.start("127.0.0.1", 0)
    try:
        with anyio.fail_after(30):
            async with Client(f"http://127.0.0.1:{proxy.port}/mcp", mode="legacy") as client:
                await client.list_tools()
                assert metrics.as_dict()["sessions"]["active"] == 1
            async with Client(f"http://127.0.0.1:{proxy.port}/mcp") as client:  # sessionless requests
                await client.list_tools()
    finally:
        await proxy.stop()
    sessions = metrics.as_dict()["sessions"]
    assert sessions["active"] == 0
    assert sessions["created"] >= 2


async def test_connections_and_evictions_reach_the_metrics(stateful_url: str) -> None:
    from mcpchaos.proxy.http import HttpOptions

    chain = InterceptorChain()
    metrics = Metrics().observe(chain)
    proxy = HttpProxy(stateful_url, chain, HttpOptions(max_sessions=2))
    await proxy.start("127.0.0.1", 0)
    try:
        for _ in range(4):
            async with (
                aiohttp.ClientSession() as http,
                http.post(f"http://127.0.0.1:{proxy.port}/mcp", json=INITIALIZE, headers=HEADERS) as response,
            ):
                await response.read()
    finally:
        await proxy.stop()
    data = metrics.as_dict()
    assert data["sessions"]["evicted"] == 2
    assert data["connections"]["accepted"] == 4
