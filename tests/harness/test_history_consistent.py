"""history_consistent can fail: the harness, driving a server that answers every call twice,
is told so by the history checker (and passes the demo server: every scenario's own tests)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mcpchaos.harness.stack import TargetSpec
from tests.harness.scenario_runs import run_quick

FRAGILE = str(Path(__file__).parents[1] / "fixtures" / "history_fragile_server.py")


@pytest.mark.timeout(90)
async def test_history_consistent_catches_a_server_that_answers_every_call_twice(tmp_path: Path) -> None:
    target = TargetSpec.parse(f"{sys.executable} {FRAGILE}")
    result = await run_quick("intermittent_failures", tmp_path, {"cycles": 1}, target)
    assert result.error is None, result.error
    caught = next(v for v in result.verdicts if v.name == "history_consistent")
    assert caught.status == "failed", caught.detail
    assert caught.evidence["unexplained_by_rule"].get("one_response", 0) > 0
    assert "first: one_response in session" in caught.detail
    assert "got 2 responses" in caught.detail
