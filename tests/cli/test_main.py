"""The command line, run as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from mcpchaos.cli.main import main

MCPCHAOS = [sys.executable, "-m", "mcpchaos"]


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MCPCHAOS, *args], capture_output=True, text=True, timeout=timeout, check=False)


def test_help_lists_the_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("proxy", "demo-server", "demo"):
        assert command in result.stdout


def test_proxy_help_explains_the_server_command() -> None:
    result = run("proxy", "--help")
    assert result.returncode == 0
    assert "-- COMMAND" in result.stdout
    assert "--max-message-bytes" in result.stdout


def test_no_command_is_a_usage_error() -> None:
    assert main([]) == 2


def test_proxy_without_a_server_command_says_how_to_give_one() -> None:
    result = run("proxy")
    assert result.returncode == 2
    assert "after '--'" in result.stderr


def test_a_bad_size_is_a_usage_error_that_names_the_option() -> None:
    result = run("proxy", "--max-message-bytes", "lots", "--", "true")
    assert result.returncode == 2
    assert "--max-message-bytes" in result.stderr


def test_options_for_another_proxy_shape_are_usage_errors_that_say_where_they_work() -> None:
    restart = main(["proxy", "--restart", "on-failure", "--upstream", "http://127.0.0.1:9/mcp"])
    assert restart == 2
    breaker = main(["proxy", "--breaker", "--", "true"])
    assert breaker == 2
    negative = main(["proxy", "--restart", "on-failure", "--max-restarts", "-1", "--", "true"])
    assert negative == 2


def test_the_proxy_works_with_files_as_stdin_and_stdout(tmp_path: Path) -> None:
    requests = tmp_path / "requests.jsonl"
    requests.write_bytes(
        b"\n".join(
            orjson.dumps(m)
            for m in [
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "initialize",
                    "params": {
                        "protocolVersion": "2025-11-25",
                        "capabilities": {},
                        "clientInfo": {"name": "f", "version": "0"},
                    },
                },
                {"jsonrpc": "2.0", "method": "notifications/initialized"},
                {
                    "jsonrpc": "2.0",
                    "id": 2,
                    "method": "tools/call",
                    "params": {"name": "echo", "arguments": {"text": "f"}},
                },
                {"broken": True},
            ]
        )
        + b"\n"
    )
    output = tmp_path / "responses.jsonl"
    with requests.open("rb") as stdin, output.open("wb") as stdout:
        result = subprocess.run(
            [*MCPCHAOS, "proxy", "--shutdown-grace", "20", "--", *MCPCHAOS, "demo-server"],
            stdin=stdin,
            stdout=stdout,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    replies = {m.get("id"): m for m in map(orjson.loads, output.read_bytes().splitlines())}
    assert replies[None]["error"]["code"] == -32600
    assert replies[1]["result"]["serverInfo"]["name"] == "mcpchaos-demo"
    assert replies[2]["result"]["content"][0]["text"] == "f"


def test_the_demo_runs_a_session_through_the_proxy() -> None:
    result = run("demo", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "all answers as expected" in result.stdout
    assert "client → server" in result.stderr  # the proxy's trace of each message
    assert "tools/call [echo]" in result.stderr


def test_the_http_proxy_runs_from_the_command_line_and_stops_on_sigterm() -> None:
    import signal
    import time

    import anyio
    from mcp import Client

    from tests.http.servers import demo_http_server, free_port, wait_for_port

    with demo_http_server() as upstream:
        port = free_port()
        process = subprocess.Popen(
            [*MCPCHAOS, "proxy", "--listen", f"127.0.0.1:{port}", "--upstream", upstream],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_for_port(port, process)

            async def call() -> str:
                with anyio.fail_after(20):
                    async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                        result = await client.call_tool("echo", {"text": "cli"})
                        return result.content[0].text  # type: ignore[union-attr]

            assert anyio.run(call) == "cli"
            process.send_signal(signal.SIGTERM)
            started = time.monotonic()
            assert process.wait(10) == 0
            assert time.monotonic() - started < 10
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        assert process.stderr is not None
        assert b"listening on" in process.stderr.read()


def test_fault_flags_with_mistakes_are_usage_errors_that_say_what_to_fix() -> None:
    unknown = run("proxy", "--faults-enabled", "delay,teleport", "--", "true")
    assert unknown.returncode == 2
    assert "unknown fault teleport" in unknown.stderr
    nothing_enabled = run("proxy", "--fault-probability", "0.5", "--", "true")
    assert nothing_enabled.returncode == 2
    assert "no fault is enabled" in nothing_enabled.stderr
    out_of_range = run("proxy", "--fault-probability", "1.5", "--faults-enabled", "drop", "--", "true")
    assert out_of_range.returncode == 2
    assert "fault_probability" in out_of_range.stderr


def test_shorthand_fault_flags_inject_on_calls_not_the_handshake_and_log(tmp_path: Path) -> None:
    log = tmp_path / "faults.jsonl"
    requests = (
        b"\n".join(
            orjson.dumps(m)
            for m in [
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "initialize",
                    "params": {
                        "protocolVersion": "2025-11-25",
                        "capabilities": {},
                        "clientInfo": {"name": "f", "version": "0"},
                    },
                },
                {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}},
            ]
        )
        + b"\n"
    )
    result = subprocess.run(
        [
            *MCPCHAOS,
            "proxy",
            "--fault-probability",
            "1",
            "--faults-enabled",
            "error",
            "--seed",
            "3",
            "--fault-log",
            str(log),
            "--shutdown-grace",
            "20",
            "--",
            *MCPCHAOS,
            "demo-server",
        ],
        input=requests,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    replies = {reply["id"]: reply for reply in map(orjson.loads, result.stdout.splitlines())}
    initialized, listed = replies[1], replies[2]
    assert "result" in initialized  # the handshake is left alone
    assert listed["error"]["data"]["mcpchaos"]["injected"]
    assert [orjson.loads(line)["method"] for line in log.read_text().splitlines()] == ["tools/list"]


def test_the_proxy_accepts_dev_null_as_stdin_and_stdout() -> None:
    with open(os.devnull, "rb") as stdin, open(os.devnull, "wb") as stdout:
        result = subprocess.run(
            [*MCPCHAOS, "proxy", "--shutdown-grace", "20", "--", *MCPCHAOS, "demo-server"],
            stdin=stdin,
            stdout=stdout,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
    assert result.returncode == 0, result.stderr
