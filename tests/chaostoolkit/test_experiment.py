"""The Chaos Toolkit extension: `chaos run` of the example experiment against a real proxy in
front of the demo server, and the functions' own contract (token, errors) in process."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from mcpchaos.chaostoolkit import ControlCallError, actions, call, probes
from mcpchaos.config.faults import FaultConfig
from mcpchaos.faults.injector import FaultInjector
from mcpchaos.netsim.controller import NetworkController
from mcpchaos.observe.control import ControlServer, ControlTargets
from mcpchaos.observe.metrics import Metrics
from tests.http.servers import demo_http_server, free_port, wait_for_port

EXPERIMENT = Path(__file__).parents[2] / "examples" / "chaostoolkit" / "experiment.json"
CHAOS = Path(sys.executable).with_name("chaos")


@pytest.fixture
def proxied_demo() -> Iterator[tuple[str, str]]:
    """(MCP URL through the proxy, control URL)."""
    with demo_http_server() as upstream:
        listen, control = free_port(), free_port()
        process = subprocess.Popen(
            [
                sys.executable, "-m", "mcpchaos", "proxy",
                "--listen", f"127.0.0.1:{listen}", "--upstream", upstream, "--control", str(control),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            # The control API listens first (faults can go in before any traffic), then the proxy.
            wait_for_port(control, process)
            wait_for_port(listen, process)
            yield f"http://127.0.0.1:{listen}/mcp", f"http://127.0.0.1:{control}"
        finally:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_chaos_run_of_the_example_experiment_completes_with_its_hypothesis_met_and_rolls_back(
    proxied_demo: tuple[str, str], tmp_path: Path
) -> None:
    mcp_url, control = proxied_demo
    journal_path = tmp_path / "journal.json"
    completed = subprocess.run(
        [
            str(CHAOS), "--no-version-check", "--no-log-file", "--settings", str(tmp_path / "settings.yaml"),
            "run", "--journal-path", str(journal_path), "--rollback-strategy", "always", str(EXPERIMENT),
        ],
        env={**os.environ, "MCPCHAOS_CONTROL": control, "MCP_URL": mcp_url},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    journal = json.loads(journal_path.read_text())
    assert (journal["status"], journal["deviated"]) == ("completed", False)
    outputs = {run["activity"]["name"]: run["output"] for run in journal["run"]}
    assert all(run["status"] == "succeeded" for run in journal["run"])
    assert outputs["info-answers-during-the-fault"] is False  # the fault did hit the tool
    assert outputs["faults-injected"] >= 1
    assert 0 < outputs["success-rate"] < 1
    assert all(probe["tolerance_met"] for probe in journal["steady_states"]["after"]["probes"])
    assert [run["status"] for run in journal["rollbacks"]] == ["succeeded", "succeeded"]
    # The rollbacks left the proxy as it started.
    faults = actions.reset_faults(control)
    assert faults["config"]["rules"] == []
    network = actions.patch_network({}, control)
    assert network["config"]["both"]["latency"] is None
    assert network["partitioned"] is False


@pytest.fixture
async def control() -> AsyncIterator[tuple[ControlServer, str]]:
    targets = ControlTargets(Metrics(), FaultInjector(FaultConfig()), NetworkController())
    server = ControlServer(targets, token="s3cret")
    port = await server.start()
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        await server.stop()


async def test_actions_send_the_token_from_arguments_secrets_or_configuration(
    control: tuple[ControlServer, str],
) -> None:
    server, url = control

    def scenario() -> list[Any]:
        return [
            actions.patch_faults(
                {"fault_probability": 0.5, "enabled_faults": {"delay": True}}, url, token="s3cret"
            )["config"]["fault_probability"],
            actions.partition(
                None, configuration={"mcpchaos_control_url": url}, secrets={"mcpchaos": {"token": "s3cret"}}
            )["partitioned"],
            actions.heal(url, "s3cret")["partitioned"],
            probes.health(url, "s3cret")["status"],
        ]

    assert await asyncio.to_thread(scenario) == [0.5, True, False, "ok"]
    assert server.targets.injector is not None
    assert server.targets.injector.config.fault_probability == 0.5


async def test_a_refused_call_fails_the_action_and_an_unreachable_proxy_is_not_healthy(
    control: tuple[ControlServer, str],
) -> None:
    _, url = control
    with pytest.raises(ControlCallError, match="401"):
        await asyncio.to_thread(actions.reset_faults, url, "wrong")
    with pytest.raises(ControlCallError, match="422"):
        await asyncio.to_thread(actions.set_faults, {"fault_probability": 7}, url, "s3cret")
    assert await asyncio.to_thread(probes.is_healthy, f"http://127.0.0.1:{free_port()}") is False
    with pytest.raises(ControlCallError, match="no control API"):
        await asyncio.to_thread(probes.metrics, None, None, {})


def test_the_proxys_own_network_is_the_toxiproxy_proxy_named_mcpchaos(
    proxied_demo: tuple[str, str],
) -> None:
    mcp_url, control = proxied_demo
    proxies = call("GET", "/proxies", control_url=control)
    assert list(proxies) == ["mcpchaos"]
    assert proxies["mcpchaos"]["upstream"].endswith("/mcp")
    call(
        "POST",
        "/proxies/mcpchaos/toxics",
        {"type": "latency", "stream": "upstream", "attributes": {"latency": 40}},
        control_url=control,
    )
    network = call("GET", "/network", control_url=control)
    assert network["config"]["upstream"]["latency"]["base_ms"] == 40
    assert probes.mcp_answers(mcp_url)  # the MCP server still answers, 40 ms later each way
    call("POST", "/proxies/mcpchaos", {"enabled": False}, control_url=control)
    assert call("GET", "/network", control_url=control)["partitioned"] is True
    assert not probes.mcp_answers(mcp_url, timeout_s=0.3)  # nothing passes
    with pytest.raises(ControlCallError, match="409"):
        call("DELETE", "/proxies/mcpchaos", control_url=control)
    call("POST", "/reset", control_url=control)
    network = call("GET", "/network", control_url=control)
    assert (network["partitioned"], network["config"]["upstream"]["latency"]) == (False, None)
    assert probes.mcp_answers(mcp_url)
