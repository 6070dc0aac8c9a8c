"""Real MCP clients nobody here wrote, through the real proxy against the demo server: the
official Python SDK client, the TypeScript SDK client (npm ``@modelcontextprotocol/sdk``) and the
MCP Inspector's CLI mode, each doing the fixed job of ``examples/clients/`` (list tools, echo,
slow). ``scripts/clients-setup.sh`` installs the npm ones, pinned, under ``.tools/clients``
(``scripts/bootstrap.sh --tests`` runs it; here it runs again, a no-op in milliseconds when they
are there; the npm tests skip with the reason when it cannot).

Each test asserts one behaviour written down in docs/clients.md, from the client's own output
and the proxy's tape (the wire as the client saw it): a clean run, then what the verdicts of
``mcpchaos judge`` (test_judged.py) do not show: a response for an unknown id over stdio, how
long a cut stream is waited for, what the Inspector says of a 429. Timeouts are the examples'
``--timeout 2`` so each test takes a few seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.realclients import drive

NPM_CLIENTS = ("ts-sdk", "inspector")


@pytest.fixture(scope="module")
def demo() -> Iterator[drive.Upstream]:
    """The demo server over Streamable HTTP, shared: each test has its own proxy in front."""
    with drive.upstream() as server:
        yield server


def run(client: str, fault: str, demo: drive.Upstream, tmp_path: Path, *flags: str) -> drive.Outcome:
    return drive.run(client, fault, demo, tmp_path, *flags)


def failed_step(outcome: drive.Outcome) -> dict[str, object]:
    (failed,) = [s for s in outcome.steps if not s["ok"]]
    return failed


@pytest.mark.timeout(120)
@pytest.mark.parametrize("client", drive.CLIENTS)
def test_each_client_does_its_job_through_the_proxy(
    client: str, demo: drive.Upstream, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if client in NPM_CLIENTS:
        request.getfixturevalue("npm_clients")
    outcome = run(client, "clean", demo, tmp_path)
    assert outcome.exit_code == 0, (outcome.steps, outcome.stderr)
    assert [s["step"] for s in outcome.steps][-3:] == ["list_tools", "echo", "slow"]
    assert all(s["ok"] for s in outcome.steps), outcome.steps
    # one slow call on the wire, whatever the sessions (the Inspector CLI opens one per step)
    assert len(outcome.sent("tools/call", "slow")) == 1, outcome.transcript()


# -- the SDK clients over stdio ------------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("client", ["python-sdk", "ts-sdk"])
def test_sdk_clients_over_stdio_ignore_a_response_for_an_unknown_id(
    client: str, demo: drive.Upstream, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # The client starts `mcpchaos proxy ... -- mcpchaos demo-server` itself (MCPCHAOS_SERVER_COMMAND).
    if client in NPM_CLIENTS:
        request.getfixturevalue("npm_clients")
    outcome = run(client, "unknown_id_response", demo, tmp_path, "--timeout", "5")
    assert outcome.exit_code == 0, (outcome.steps, outcome.stderr)
    asked = {e.id for e in outcome.wire if e.io == "in" and e.kind == "request"}
    unasked = [e for e in outcome.wire if e.io == "out" and e.kind == "result" and e.id not in asked]
    assert len(unasked) == 1, outcome.transcript()  # it was given the answer nobody asked for
    assert outcome.sent("tools/call", "slow")  # and went on with its job


# -- the TypeScript SDK (npm @modelcontextprotocol/sdk 1.32.2) ----------------------------------


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("npm_clients")
def test_ts_sdk_waits_for_its_timeout_when_the_stream_is_cut(demo: drive.Upstream, tmp_path: Path) -> None:
    # The Python SDK fails such a call at once ("SSE stream ended without a response").
    outcome = run("ts-sdk", "cut_sse_stream", demo, tmp_path, "--timeout", "2")
    assert outcome.exit_code == 1
    failed = failed_step(outcome)
    assert failed["step"] == "slow"
    assert "-32001" in str(failed["detail"])  # its own request timeout, not the cut
    assert float(str(failed["seconds"])) >= 2.0


# -- the MCP Inspector CLI (npm @modelcontextprotocol/inspector 2.12.0) -------------------------


@pytest.mark.timeout(90)
@pytest.mark.usefixtures("npm_clients")
def test_inspector_reports_a_429_with_its_retry_after(demo: drive.Upstream, tmp_path: Path) -> None:
    outcome = run("inspector", "rate_limited_429", demo, tmp_path)
    assert outcome.exit_code == 1
    failed = failed_step(outcome)
    assert failed["step"] == "echo"
    assert "retry after 1s" in str(failed["detail"])
    assert len(outcome.sent("tools/call", "echo")) == 1, outcome.transcript()
