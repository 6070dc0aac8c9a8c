"""Running one scenario quick-sized from a test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcpchaos.harness.journal import ScenarioResult
from mcpchaos.harness.runner import run_scenario
from mcpchaos.harness.scenario import RunSettings
from mcpchaos.harness.scenarios import ALL_SCENARIOS
from mcpchaos.harness.stack import TargetSpec


async def run_quick(
    name: str, tmp_path: Path, params: dict[str, Any] | None = None, target: TargetSpec | None = None
) -> ScenarioResult:
    settings = RunSettings(target=target or TargetSpec(), workdir=tmp_path, seed=7, quick=True)
    return await run_scenario(ALL_SCENARIOS[name](), params, settings)


def failed(result: ScenarioResult) -> list[str]:
    return [f"{v.name}: {v.detail}" for v in result.verdicts if not v.passed]
