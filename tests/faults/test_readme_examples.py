"""Every fault example in the README, run as written through the real proxy with the official
SDK client: the client connects, the share of calls that fail and of calls that get a fault
are within 4σ of what the README says, only calls get faults, and a delayed call takes about
its delay (not twice it).

The examples are read from the README's fenced ``sh`` blocks; the server command after ``--``
becomes the demo server, ``--control PORT`` a free port and the fault log a temporary file.
A new fault example in the README fails :func:`test_every_fault_example_in_the_readme_is_measured`
until it gets its expectation here.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from mcpchaos.config.faults import HANDSHAKE_METHODS
from mcpchaos.observe.faultlog import read_fault_log
from tests.http.servers import free_port

ROOT = Path(__file__).parents[2]
MCPCHAOS = [sys.executable, "-m", "mcpchaos"]
DEMO = [*MCPCHAOS, "demo-server"]
SDK_ENV = {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else None
"""The SDK starts a server with a minimal environment: keep the source tree under test."""
CALLS = 200
"""Enough to tell the semantics apart at 4σ: at p = 0.3 per call, 60 ± 26 faults, where the old
per-message draw (≈ 51% of calls) gives 102."""
IN_FLIGHT = 16
DELAY_SLACK_S = 0.3
"""What a delayed call may take beyond 1.5 × its delay (16 calls in flight on a loaded machine)."""


@dataclass(frozen=True)
class Expect:
    faulted: float
    """Share of calls that get a fault (what the fault log shows)."""
    failed: float
    """Share of calls the client sees fail."""


PROXY_WITH_CONTROL = "mcpchaos proxy --control 9900 --fault-log faults.jsonl -- python -m weather_server"
EXPECTED = {
    # delay and error equally likely: 30% of calls get a fault, 15% fail.
    "mcpchaos proxy --fault-probability 0.3 --faults-enabled delay,error --seed 7 "
    "-- python -m weather_server": Expect(faulted=0.3, failed=0.15),
    # the rule: 20% of tools/call, error weighted 3 to delay's 1.
    "mcpchaos proxy --faults examples/flaky-tools.yaml --fault-log faults.jsonl "
    "-- python -m weather_server": Expect(faulted=0.2, failed=0.15),
    # run against PROXY_WITH_CONTROL: errors only.
    "mcpchaos ctl --control 9900 faults patch "
    """'{"fault_probability": 0.3, "enabled_faults": {"error": true}}'""": Expect(faulted=0.3, failed=0.3),
    # run against PROXY_WITH_CONTROL: a rule failing 30% of the demo's echo calls.
    "mcpchaos ctl --control 9900 faults add error --probability 0.3 --tool echo": Expect(
        faulted=0.3, failed=0.3
    ),
}


def readme_commands() -> list[str]:
    """The ``mcpchaos`` commands of the README's ``sh`` blocks, comments left out."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words[:1] == ["mcpchaos"]:
                commands.append(shlex.join(words))
    return commands


def is_fault_example(command: str) -> bool:
    words = shlex.split(command)
    if words[1] == "proxy":
        return any(word in ("--fault-probability", "--faults-enabled", "--faults") for word in words)
    return words[1] == "ctl" and "faults" in words and any(w in words for w in ("set", "patch", "add"))


def test_every_fault_example_in_the_readme_is_measured() -> None:
    examples = {command for command in readme_commands() if is_fault_example(command)}
    assert examples == {shlex.join(shlex.split(command)) for command in EXPECTED}
    assert shlex.join(shlex.split(PROXY_WITH_CONTROL)) in readme_commands()


def localised(command: str, fault_log: Path, control_port: int) -> list[str]:
    """The README command as this test runs it (the demo server, a free port, a temporary log)."""
    words = shlex.split(command)
    if "--" in words:
        words = words[: words.index("--")]
    out = [*MCPCHAOS]
    for index, word in enumerate(words[1:], start=1):
        previous = words[index - 1]
        out.append(
            str(fault_log)
            if previous == "--fault-log"
            else str(control_port)
            if previous == "--control"
            else word
        )
    if words[1] == "proxy":
        if "--fault-log" not in words:
            out += ["--fault-log", str(fault_log)]
        out += ["--", *DEMO]
    return out


async def wait_for_control(port: int, within: float = 20.0) -> None:
    with anyio.fail_after(within):
        while True:
            with contextlib.suppress(OSError):
                await (await anyio.connect_tcp("127.0.0.1", port)).aclose()
                return
            await anyio.sleep(0.05)


@dataclass
class Outcome:
    elapsed: float
    error: Any = None
    """The JSON-RPC error of a failed call."""

    @property
    def failed(self) -> bool:
        return self.error is not None


async def calls(client: Client, n: int) -> list[Outcome]:
    """``n`` echo calls, ``IN_FLIGHT`` at a time."""
    outcomes: list[Outcome] = []
    limit = anyio.Semaphore(IN_FLIGHT)

    async def one(i: int) -> None:
        async with limit:
            started = time.monotonic()
            error = None
            try:
                await client.call_tool("echo", {"text": f"call-{i}"})
            except MCPError as exc:
                error = exc.error
            outcomes.append(Outcome(time.monotonic() - started, error))

    async with anyio.create_task_group() as group:
        for i in range(n):
            group.start_soon(one, i)
    return outcomes


async def warm_tool_cache(client: Client) -> None:
    """The SDK lists tools before its first call (for output schemas): do it now, so the
    measured calls are one request each. tools/list may get a fault too: retry it."""
    for _ in range(20):
        with contextlib.suppress(MCPError):
            await client.list_tools()
            return
    raise AssertionError("tools/list failed 20 times in a row")


def within_four_sigma(hits: int, n: int, p: float) -> bool:
    return abs(hits - n * p) <= 4 * math.sqrt(n * p * (1 - p))


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "example", list(EXPECTED), ids=["shorthand-flags", "profile", "ctl-patch", "ctl-add"]
)
async def test_a_readme_fault_example_does_what_the_readme_says(example: str, tmp_path: Path) -> None:
    assert shlex.join(shlex.split(example)) in readme_commands(), "the README changed: update EXPECTED"
    expect = EXPECTED[example]
    fault_log, port = tmp_path / "faults.jsonl", free_port()
    is_ctl = shlex.split(example)[1] == "ctl"
    proxy = localised(PROXY_WITH_CONTROL if is_ctl else example, fault_log, port)
    params = StdioServerParameters(command=proxy[0], args=proxy[1:], cwd=ROOT, env=SDK_ENV)
    with anyio.fail_after(100):
        async with Client(params) as client:  # the client connects: the handshake is left alone
            if is_ctl:
                await wait_for_control(port)
                done = await anyio.run_process(localised(example, fault_log, port), check=False)
                assert done.returncode == 0, done.stderr.decode()
            await warm_tool_cache(client)
            outcomes = await calls(client, CALLS)
    logged: list[dict[str, Any]] = read_fault_log(fault_log) if fault_log.exists() else []
    assert all(r["direction"] == "client_to_server" for r in logged)  # requests only
    assert all(r["method"] not in HANDSHAKE_METHODS for r in logged)
    records = [r for r in logged if r["method"] == "tools/call"]
    assert len(records) + sum(r["method"] == "tools/list" for r in logged) == len(logged)
    errors = [outcome.error for outcome in outcomes if outcome.failed]
    assert all(error.data["mcpchaos"]["injected"] for error in errors), errors  # no real failure
    failed = len(errors)
    assert within_four_sigma(failed, CALLS, expect.failed), (
        f"{failed}/{CALLS} failed, expected ≈ {expect.failed}"
    )
    assert within_four_sigma(len(records), CALLS, expect.faulted), f"{len(records)}/{CALLS} got a fault"
    assert len({r["id"] for r in records}) == len(records)  # one fault per call at most
    # Delays: the k-th longest successful call takes at least the k-th longest delay and less
    # than 1.5 times it (plus slack); a delay paid twice (request and answer) would break it.
    delays = sorted((r["params"]["delay_ms"] / 1000 for r in records if r["fault"] == "delay"), reverse=True)
    elapsed = sorted((o.elapsed for o in outcomes if not o.failed), reverse=True)
    for delay, took in zip(delays, elapsed, strict=False):
        assert delay <= took < 1.5 * delay + DELAY_SLACK_S, (delay, took)
