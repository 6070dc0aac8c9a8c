"""The simulated network under the proxies, with the official SDK client and server."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import anyio
from mcp import Client, StdioServerParameters
from mcp.types import TextContent

from tests.http.servers import free_port, wait_for_port

MCPCHAOS = [sys.executable, "-m", "mcpchaos"]


async def timed_echo(target: object) -> tuple[str, float]:
    with anyio.fail_after(30):
        async with Client(target, mode="legacy") as client:  # type: ignore[arg-type]
            await client.list_tools()  # so the call below is one round trip
            started = time.monotonic()
            result = await client.call_tool("echo", {"text": "far away"})
            elapsed = time.monotonic() - started
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text, elapsed


async def test_latency_under_the_stdio_proxy_delays_each_direction() -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=[
            "-m",
            "mcpchaos",
            "proxy",
            "--latency-ms",
            "100",
            "--",
            *MCPCHAOS,
            "demo-server",
        ],
    )
    text, elapsed = await timed_echo(params)
    assert text == "far away"
    assert elapsed >= 0.2


def run_proxy(*args: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        [*MCPCHAOS, "proxy", "--listen", f"127.0.0.1:{port}", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, process)
    return process, port


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def test_latency_under_the_http_proxy_with_the_sdk_client(stateful_url: str) -> None:
    process, port = run_proxy("--upstream", stateful_url, "--latency-ms", "100")
    try:
        text, elapsed = await timed_echo(f"http://127.0.0.1:{port}/mcp")
    finally:
        stop(process)
    assert text == "far away"
    assert elapsed >= 0.2


def start_link(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*MCPCHAOS, "link", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def test_mcpchaos_link_in_front_of_an_http_mcp_server(stateful_url: str) -> None:
    upstream_port = stateful_url.split(":")[2].split("/")[0]
    port = free_port()
    process = start_link(
        "--listen", f"127.0.0.1:{port}", "--upstream", f"127.0.0.1:{upstream_port}", "--latency-ms", "60"
    )
    try:
        wait_for_port(port, process)
        text, elapsed = await timed_echo(f"http://127.0.0.1:{port}/mcp")
    finally:
        stop(process)
    assert process.returncode == 0
    assert text == "far away"
    assert elapsed >= 0.12


async def test_several_links_from_one_file(stateful_url: str, tmp_path: object) -> None:
    from pathlib import Path

    upstream_port = stateful_url.split(":")[2].split("/")[0]
    ports = [free_port(), free_port()]
    config = Path(str(tmp_path)) / "links.yaml"
    config.write_text(
        "links:\n"
        f"  - {{name: fast, listen: '127.0.0.1:{ports[0]}', upstream: '127.0.0.1:{upstream_port}'}}\n"
        f"  - name: slow\n    listen: '127.0.0.1:{ports[1]}'\n    upstream: '127.0.0.1:{upstream_port}'\n"
        "    network: {both: {latency: {base_ms: 80}}}\n"
    )
    process = start_link("--config", str(config))
    try:
        for port in ports:
            wait_for_port(port, process)
        _, fast = await timed_echo(f"http://127.0.0.1:{ports[0]}/mcp")
        _, slow = await timed_echo(f"http://127.0.0.1:{ports[1]}/mcp")
    finally:
        stop(process)
    assert slow >= 0.16 > fast


def test_a_link_config_with_a_wrong_field_is_rejected_naming_it(tmp_path: object) -> None:
    from pathlib import Path

    config = Path(str(tmp_path)) / "links.yaml"
    config.write_text("links:\n  - {listen: '127.0.0.1:1', upstream: '127.0.0.1:2', network: {latncy: {}}}\n")
    result = subprocess.run(
        [*MCPCHAOS, "link", "--config", str(config)], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 2
    assert "links.0.network.latncy" in result.stderr
