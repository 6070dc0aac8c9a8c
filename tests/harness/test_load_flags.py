"""``run --clients/--duration/--rate`` as changes to each scenario's own parameters."""

from __future__ import annotations

import pytest

from mcpchaos.harness.load_flags import LoadFlags, overrides
from mcpchaos.harness.scenario import deep_merge
from mcpchaos.harness.scenarios import ALL_SCENARIOS, SCENARIOS


@pytest.mark.parametrize("quick", [False, True])
@pytest.mark.parametrize("name", list(ALL_SCENARIOS))
def test_duration_scales_every_scenarios_timed_phases_to_add_up_to_it(name: str, quick: bool) -> None:
    scenario = ALL_SCENARIOS[name]()
    before = scenario.params_from(None, quick)
    timed = scenario.timed_phases(before)
    assert timed, f"{name} names no timed phase"
    changes, _ = overrides(scenario, before, LoadFlags(duration_s=7.0))
    after = scenario.params_from(changes, quick)
    assert sum(scenario.timed_phases(after).values()) == pytest.approx(7.0, abs=0.02)
    # The proportions stay: each phase keeps its share of the whole.
    total_before = sum(timed.values())
    for phase, seconds in scenario.timed_phases(after).items():
        assert seconds / 7.0 == pytest.approx(timed[phase] / total_before, abs=0.01), phase


def test_duration_counts_a_phase_parameter_as_often_as_the_scenario_runs_it() -> None:
    scenario = SCENARIOS["intermittent_failures"]()
    params = scenario.params_from({"baseline_s": 1, "on_s": 1, "off_s": 2, "cycles": 3}, False)
    changes, _ = overrides(scenario, params, LoadFlags(duration_s=5.0))
    # 1 + 3 × (1 + 2) = 10 s of phases, halved.
    assert changes == {"baseline_s": 0.5, "on_s": 0.5, "off_s": 1.0}


def test_clients_and_rate_set_the_main_loads_parameters() -> None:
    scenario = SCENARIOS["sudden_failure"]()
    changes, warnings = overrides(
        scenario, scenario.params_from(None, True), LoadFlags(clients=3, rate_per_s=20)
    )
    assert changes == {"load": {"clients": 3, "mode": "open", "rate_per_s": 20}}
    assert warnings == []
    params = scenario.params_from(deep_merge({"load": {"deadline_s": 1.0}}, changes), True)
    assert (params.load.clients, params.load.mode, params.load.rate_per_s) == (3, "open", 20)
    assert params.load.deadline_s == 1.0  # the rest of the YAML's load stays


def test_clients_in_the_cascade_are_its_relay_clients() -> None:
    scenario = SCENARIOS["cascading_failure"]()
    changes, _ = overrides(scenario, scenario.params_from(None, False), LoadFlags(clients=5))
    assert changes == {"relay_clients": 5}


def test_the_cascades_isolation_grace_shrinks_with_its_phases() -> None:
    scenario = SCENARIOS["cascading_failure"]()
    params = scenario.params_from(None, False)  # 2 runs × (5 + 5 + 5) s, grace 1.5 s
    changes, _ = overrides(scenario, params, LoadFlags(duration_s=15.0))
    assert changes["failure_s"] == 2.5
    assert changes["isolation_grace_s"] == 0.75


@pytest.mark.parametrize(("name", "phase"), [("connection_storm", "storm"), ("memory_pressure", "pressure")])
def test_duration_warns_that_a_phase_which_runs_until_its_work_is_done_stays(name: str, phase: str) -> None:
    scenario = SCENARIOS[name]()
    _, warnings = overrides(scenario, scenario.params_from(None, True), LoadFlags(duration_s=3.0))
    assert len(warnings) == 1
    assert f"its {phase} phase lasts as long as its work takes" in warnings[0]
