"""The chaos scenarios, one module each: :data:`SCENARIOS` lists the suite (``mcpchaos run
suite``) in its order, :data:`FEATURE_SCENARIOS` the 2026-07-28 feature scenarios (opt-in:
``mcpchaos run features`` or by name), and :data:`ALL_SCENARIOS` both, for a lookup by name."""

from __future__ import annotations

from mcpchaos.harness.feature_scenario import FeatureScenario
from mcpchaos.harness.scenario import Scenario
from mcpchaos.harness.scenarios.cascading_failure import CascadingFailure
from mcpchaos.harness.scenarios.connection_storm import ConnectionStorm
from mcpchaos.harness.scenarios.cpu_exhaustion import CpuExhaustion
from mcpchaos.harness.scenarios.era_fallback import EraFallback
from mcpchaos.harness.scenarios.gradual_degradation import GradualDegradation
from mcpchaos.harness.scenarios.intermittent_failures import IntermittentFailures
from mcpchaos.harness.scenarios.memory_pressure import MemoryPressure
from mcpchaos.harness.scenarios.mrtr_under_faults import MrtrUnderFaults
from mcpchaos.harness.scenarios.network_partition import NetworkPartition
from mcpchaos.harness.scenarios.subscription_resilience import SubscriptionResilience
from mcpchaos.harness.scenarios.sudden_failure import SuddenFailure
from mcpchaos.harness.scenarios.task_resilience import TaskResilience
from mcpchaos.harness.scenarios.thundering_herd import ThunderingHerd
from mcpchaos.harness.scenarios.upstream_failure import UpstreamFailure

SCENARIOS: dict[str, type[Scenario]] = {
    cls.name: cls
    for cls in (
        GradualDegradation,
        SuddenFailure,
        IntermittentFailures,
        CascadingFailure,
        ConnectionStorm,
        MemoryPressure,
        CpuExhaustion,
        NetworkPartition,
        ThunderingHerd,
        UpstreamFailure,
    )
}
"""Every scenario by name, in the order ``suite`` runs them."""

FEATURE_SCENARIOS: dict[str, type[FeatureScenario]] = {
    cls.name: cls for cls in (EraFallback, MrtrUnderFaults, SubscriptionResilience, TaskResilience)
}
"""The 2026-07-28 feature scenarios, in the order ``features`` runs them: not in the suite, whose
job (the README's CI example) is the proxy under load and must stay as fast as it is."""

ALL_SCENARIOS: dict[str, type[Scenario]] = {**SCENARIOS, **FEATURE_SCENARIOS}
"""Every scenario by name."""
