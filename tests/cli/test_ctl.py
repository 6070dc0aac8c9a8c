"""``mcpchaos ctl`` against a real proxy's control API, with the official SDK client making the
calls: add and remove rules, faults off beside reset, network reset, every form of --control;
usage mistakes exit 2 with a message, and every subcommand's --help has an example."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from mcpchaos.cli.main import main
from mcpchaos.protocol import codes
from tests.http.servers import free_port, wait_for_port

MCPCHAOS = [sys.executable, "-m", "mcpchaos"]
START_UP = {
    "seed": 5,
    "rules": [
        {
            "name": "boot",
            "match": {"tools": ["payload"]},
            "enabled_faults": {"error": True},
            "error_config": {"types": ["internal_error"]},
        }
    ],
}
"""The proxy's start-up profile: every payload call fails (what 'reset' brings back)."""


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


class Proxy:
    """A running proxy, and ``mcpchaos ctl`` against it (in this process: its ``main``)."""

    def __init__(self, listen: int, control: int, capsys: pytest.CaptureFixture[str]) -> None:
        self.url = f"http://127.0.0.1:{listen}/mcp"
        self.control = control
        self._capsys = capsys

    def ctl(self, *args: str, control: str | None = None) -> Done:
        self._capsys.readouterr()
        try:
            status = main(["ctl", "--control", control or str(self.control), *args])
        except SystemExit as exited:
            status = int(exited.code or 0)
        out = self._capsys.readouterr()
        return Done(status, out.out, out.err)


def ctl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``mcpchaos ctl`` as a process of its own."""
    return subprocess.run(
        [*MCPCHAOS, "ctl", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**os.environ, **(env or {})},
    )


def ok(done: Done | subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def proxy(stateful_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Proxy]:
    profile = tmp_path / "faults.json"
    profile.write_text(json.dumps(START_UP))
    listen, control = free_port(), free_port()
    process = subprocess.Popen(
        [
            *MCPCHAOS,
            "proxy",
            "--listen",
            f"127.0.0.1:{listen}",
            "--upstream",
            stateful_url,
            "--control",
            str(control),
            "--faults",
            str(profile),
            "--latency-ms",
            "5",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(listen, process)
        wait_for_port(control, process)
        yield Proxy(listen, control, capsys)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def outcomes(url: str, *tools: str) -> list[str | int]:
    """Call each tool once: its text, or the JSON-RPC error code."""
    arguments: dict[str, dict[str, Any]] = {"echo": {"text": "hi"}, "payload": {"size_bytes": 2}}
    results: list[str | int] = []
    with anyio.fail_after(30):
        async with Client(url, mode="legacy") as client:
            await client.list_tools()
            for tool in tools:
                try:
                    result = await client.call_tool(tool, arguments[tool])
                except MCPError as exc:
                    results.append(exc.error.code)
                else:
                    results.append(result.content[0].text)  # type: ignore[union-attr]
    return results


def test_faults_add_and_remove_rules_that_the_next_calls_feel(proxy: Proxy) -> None:
    assert asyncio.run(outcomes(proxy.url, "echo", "payload")) == ["hi", codes.INTERNAL_ERROR]
    added = ok(
        proxy.ctl(
            "faults",
            "add",
            "error",
            "--tool",
            "ec*",
            "--error-type",
            "internal_error",
            "--name",
            "echo-errors",
        )
    )
    assert [rule["name"] for rule in added["config"]["rules"]] == ["echo-errors", "boot"]  # tried first
    assert added["config"]["rules"][0]["probability"] == 1.0
    assert added["config"]["rules"][0]["match"]["message_classes"] == ["client_request"]
    assert asyncio.run(outcomes(proxy.url, "echo", "payload")) == [codes.INTERNAL_ERROR, codes.INTERNAL_ERROR]

    unnamed = ok(
        proxy.ctl("faults", "add", "delay", "--delay-ms", "1", "--tool", "nothing", "--probability", "0.3")
    )
    assert unnamed["config"]["rules"][0]["name"] == "delay-1"
    assert unnamed["config"]["rules"][0]["delay_ms"]["max_ms"] == 1
    taken = proxy.ctl("faults", "add", "drop", "--name", "echo-errors")
    assert taken.returncode == 1
    assert "a rule named 'echo-errors' exists" in taken.stderr

    removed = ok(proxy.ctl("faults", "remove", "echo-errors"))
    assert [rule["name"] for rule in removed["config"]["rules"]] == ["delay-1", "boot"]
    assert asyncio.run(outcomes(proxy.url, "echo")) == ["hi"]
    unknown = proxy.ctl("faults", "remove", "echo-errors")
    assert unknown.returncode == 1
    assert "no rule named 'echo-errors' (rules: delay-1, boot)" in unknown.stderr


def test_faults_off_injects_nothing_and_reset_brings_back_the_start_up_profile(proxy: Proxy) -> None:
    seed = ok(proxy.ctl("faults", "show"))["seed"]
    off = ok(proxy.ctl("faults", "off"))
    assert off["config"]["rules"] == []
    assert off["config"]["fault_probability"] == 0
    assert off["seed"] == seed  # later faults replay the same
    assert asyncio.run(outcomes(proxy.url, "payload")) == ["mc"]
    reset = ok(proxy.ctl("faults", "reset"))
    assert [rule["name"] for rule in reset["config"]["rules"]] == ["boot"]
    assert asyncio.run(outcomes(proxy.url, "payload")) == [codes.INTERNAL_ERROR]


def test_network_reset_returns_to_the_start_up_network_and_heals(proxy: Proxy) -> None:
    patched = ok(proxy.ctl("network", "patch", '{"both": {"latency": {"base_ms": 300}}}'))
    assert patched["config"]["both"]["latency"]["base_ms"] == 300
    assert ok(proxy.ctl("partition"))["partitioned"] is True
    reset = ok(proxy.ctl("network", "reset"))
    assert reset["config"]["both"]["latency"]["base_ms"] == 5  # --latency-ms 5 at start-up
    assert reset["partitioned"] is False


def test_control_takes_a_port_host_port_a_url_or_the_environment(proxy: Proxy) -> None:
    port = str(proxy.control)
    for form in (port, f"127.0.0.1:{port}", f"localhost:{port}", f"http://127.0.0.1:{port}/"):
        assert ok(proxy.ctl("status", control=form))["health"]["status"] == "ok", form
    # As its own process, the address from the environment:
    assert ok(ctl("status", env={"MCPCHAOS_CONTROL": port}))["health"]["status"] == "ok"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["status"], "give --control PORT"),
        (["--control", "abc", "status"], "--control abc has no port; give HOST:PORT"),
        (["--control", "99999", "status"], "the port must be a number from 0 to 65535, got '99999'"),
        (
            ["--control", "ftp://127.0.0.1:1", "status"],
            "--control must be an http:// or https:// URL",
        ),
        (["--control", "1", "faults"], "the following arguments are required: ACTION"),
        (["--control", "1", "faults", "add", "teleport"], "invalid choice: 'teleport'"),
        (["--control", "1", "faults", "add", "error", "--probability", "2"], "must be between 0 and 1"),
        (
            ["--control", "1", "faults", "add", "error", "--delay-ms", "300"],
            "--delay-ms is for 'delay' rules",
        ),
        (
            ["--control", "1", "faults", "add", "delay", "--delay-ms", "9-1"],
            "must not be greater than max_ms",
        ),
        (["--control", "1", "faults", "add", "drop", "--first-n", "0"], "first_n"),
        (["--control", "1", "faults", "set"], "the following arguments are required: CONFIG"),
        (["--control", "1", "faults", "set", "/no/such/file.yaml"], "cannot read /no/such/file.yaml"),
        (["--control", "1", "faults", "patch", "{not json"], "not valid YAML/JSON"),
        (["--control", "1", "network", "off"], "invalid choice: 'off'"),
    ],
)
def test_usage_mistakes_exit_2_with_a_message(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MCPCHAOS_CONTROL", raising=False)
    status: object
    try:
        status = main(["ctl", *argv])
    except SystemExit as exited:  # argparse's own usage errors
        status = exited.code
    assert status == 2
    assert says in capsys.readouterr().err


def test_a_usage_mistake_on_the_command_line_is_a_message_not_a_traceback() -> None:
    done = ctl("--control", "18999x", "status")
    assert done.returncode == 2
    assert (
        done.stderr
        == "mcpchaos: error: --control 18999x has no port; give HOST:PORT, e.g. --control 127.0.0.1:9900\n"
    )


SUBCOMMANDS = [
    [],
    ["status"],
    ["faults"],
    *(["faults", action] for action in ("show", "set", "patch", "reset", "off", "add", "remove")),
    ["network"],
    *(["network", action] for action in ("show", "set", "patch", "reset")),
    ["partition"],
    ["heal"],
    ["log"],
    ["metrics"],
]


@pytest.mark.parametrize("words", SUBCOMMANDS, ids=lambda words: " ".join(words) or "ctl")
def test_every_ctl_command_has_a_description_and_an_example_in_its_help(
    words: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["ctl", *words, "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    description = text.split("\n\n")[1]
    assert not description.startswith(("positional", "options")), text
    examples = text.split("examples:\n", 1)[1]
    assert " ".join(["mcpchaos", "ctl", *words]) in examples, text
