"""Targets that never succeed: the run says inconclusive or failed, with the reason, and no
verdict passes vacuously. The targets are small stdio servers on the official SDK."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mcpchaos.harness.report import figures
from mcpchaos.harness.stack import TargetSpec
from tests.harness.report_check import check_run
from tests.harness.scenario_runs import run_quick

TOOL_ERRORS = '''
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("always-tool-error")


@server.tool()
def echo(message: str = "") -> str:
    """Every call a tool error, as a server answers arguments it does not accept."""
    raise ToolError("Input validation error: 'message' is a required property")


server.run("stdio")
'''

NEVER_ANSWERS = """
import json
import sys

# The handshake and the tool list work; a call never comes back. Plain NDJSON, no SDK import:
# it starts in milliseconds, so only the calls (not the handshake) meet the deadline.
for line in sys.stdin:
    message = json.loads(line)
    method, request_id = message.get("method"), message.get("id")
    if method == "initialize":
        info = {"name": "never-answers", "version": "0"}
        result = {"protocolVersion": "2025-11-25", "capabilities": {"tools": {}}, "serverInfo": info}
    elif method == "tools/list":
        result = {"tools": [{"name": "echo", "inputSchema": {"type": "object"}}]}
    elif method == "ping":
        result = {}
    else:
        continue
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": request_id, "result": result}) + "\\n")
    sys.stdout.flush()
"""

BASELINE_RELATIVE = {"recovery", "graceful_degradation", "isolation"}
"""Verdicts judged against the baseline: against a target that never succeeds they cannot pass."""


def server(tmp_path: Path, name: str, source: str) -> str:
    path = tmp_path / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    return f"{sys.executable} {path}"


@pytest.mark.timeout(240)
def test_a_target_whose_tools_always_error_is_inconclusive_with_its_error_and_exit_3(tmp_path: Path) -> None:
    out = tmp_path / "report"
    # Short phases (--duration): the baseline alone makes the run inconclusive.
    command = [sys.executable, "-m", "mcpchaos", "run", "gradual_degradation", "--quick", "--duration", "4"]
    # A generous deadline: the SDK server's start-up (python, mcp) is paid inside the handshake.
    params = tmp_path / "params.yaml"
    # The mix given (the demo's echo): the run does not build one from the target's tools, which
    # would leave this always-failing tool out before the run (exit 2, tested in test_target_mix).
    mix = "[{name: echo, params: {name: echo, arguments: {text: hi}}}]"
    params.write_text(f"load: {{deadline_s: 10, mix: {mix}}}\n", encoding="utf-8")
    command += ["--target", server(tmp_path, "tool_errors", TOOL_ERRORS), "--out", str(out)]
    command += ["--params", str(params)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=220, check=False)
    said = done.stdout + done.stderr
    assert done.returncode == 3, said
    journal = json.loads((out / "journal.json").read_text(encoding="utf-8"))
    assert journal["status"] == "inconclusive"
    (result,) = journal["scenarios"]
    assert result["status"] == "inconclusive"
    assert "0 ok of" in result["inconclusive"]
    assert "tool errors" in result["inconclusive"]
    assert "'message' is a required property" in result["inconclusive"]  # the server's own words
    baseline = next(p for p in result["phases"] if p["name"] == "baseline")
    assert baseline["outcomes"]["ok"] == 0
    assert baseline["outcomes"]["tool_error"] > 0
    verdicts = {v["name"]: v["status"] for v in result["verdicts"]}
    assert verdicts["recovery"] == verdicts["graceful_degradation"] == "inconclusive"
    assert "failed" not in verdicts.values()
    assert "inconclusive" in said
    assert "'message' is a required property" in said
    assert "⚠️ inconclusive" in (out / "findings.md").read_text(encoding="utf-8")
    check_run(out, said)  # the tool errors, counted apart, the same in every output
    totals = result["totals"]
    assert (
        totals["outcomes"]["ok"] == 0
    )  # faulted calls answer with JSON-RPC errors, the rest with tool errors
    assert totals["outcomes"]["tool_error"] + totals["outcomes"]["error"] == totals["accounting"]["answered"]


@pytest.mark.timeout(120)
async def test_a_target_that_never_answers_a_call_fails_and_is_inconclusive_with_the_reason(
    tmp_path: Path,
) -> None:
    target = TargetSpec.parse(server(tmp_path, "never_answers", NEVER_ANSWERS))
    # Calls end by the 1 s deadline, so calls start (and end) inside the 3 s baseline.
    params = {"baseline_s": 3.0, "load": {"deadline_s": 1.0}}
    result = await run_quick("sudden_failure", tmp_path / "run", params, target)
    assert result.error is None, result.error
    assert result.status == "failed"
    assert result.inconclusive is not None
    assert "0 ok of" in result.inconclusive
    assert "deadline" in result.inconclusive
    verdicts = {v.name: v for v in result.verdicts}
    assert verdicts["nothing_lost"].status == "failed", verdicts["nothing_lost"].detail
    assert verdicts["nothing_lost"].evidence["unexplained_lost"] > 0
    assert verdicts["recovery"].status == "inconclusive", verdicts["recovery"].detail
    assert not [v.name for v in result.verdicts if v.name in BASELINE_RELATIVE and v.passed]
    assert result.totals.outcomes.ok == 0
    assert result.totals.accounting.silent > 0
    assert (figures.why(result) or "").startswith("also inconclusive: the baseline is too weak")
