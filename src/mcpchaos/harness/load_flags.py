"""``mcpchaos run --clients N --duration S --rate R``: Locust-style load flags.

Each flag becomes a change to the scenario's own parameters, merged over the ``--params`` ones
(the flags win), so the journal records the parameters that actually ran:

* ``--clients N`` sets the scenario's :attr:`~Scenario.clients_param` (``load.clients``; the
  relay clients in ``cascading_failure``).
* ``--rate R`` makes the load an open loop of R requests per second (``load.mode: open``,
  ``load.rate_per_s: R``): arrivals whatever the answers, with ``load.clients`` sessions to
  send them on. (Locust's ``-r`` is a spawn rate; mcpchaos starts every client at once.)
* ``--duration S`` scales every timed phase (:meth:`~Scenario.timed_phases`) by one factor,
  so that they add up to S seconds and keep their proportions (baseline, faults, recovery).
  A phase that lasts as long as its work takes (:attr:`~Scenario.untimed_phases`) is left
  alone, and a scenario that names no timed phase keeps its own; both get a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcpchaos.harness.scenario import Scenario, ScenarioParams


@dataclass(frozen=True)
class LoadFlags:
    """The flags as given (None: not given)."""

    clients: int | None = None
    duration_s: float | None = None
    rate_per_s: float | None = None

    def given(self) -> bool:
        return any(flag is not None for flag in (self.clients, self.duration_s, self.rate_per_s))


def overrides(
    scenario: Scenario, params: ScenarioParams, flags: LoadFlags
) -> tuple[dict[str, Any], list[str]]:
    """The parameter changes the flags make to ``params`` (the scenario's resolved parameters),
    as a nested mapping to merge over the raw ones, and the warnings to show."""
    changes: dict[str, Any] = {}
    warnings: list[str] = []
    if flags.clients is not None:
        _set(changes, scenario.clients_param, flags.clients)
    if flags.rate_per_s is not None:
        _set(changes, "load.mode", "open")
        _set(changes, "load.rate_per_s", flags.rate_per_s)
    if flags.duration_s is not None:
        timed = scenario.timed_phases(params)
        total = sum(timed.values())
        if not timed or total <= 0:
            warnings.append(f"{scenario.name}: names no timed phase; --duration leaves it as it is")
        else:
            factor = flags.duration_s / total
            for name in (*timed, *scenario.scaled_with_phases):
                changes[name] = max(0.001, round(getattr(params, name) * factor, 3))
            if scenario.untimed_phases:
                phases = ", ".join(scenario.untimed_phases)
                warnings.append(
                    f"{scenario.name}: --duration {flags.duration_s:g} sets its timed phases; "
                    f"its {phases} phase lasts as long as its work takes"
                )
    return changes, warnings


def _set(changes: dict[str, Any], dotted: str, value: object) -> None:
    """``_set(d, "load.clients", 2)`` → ``d["load"]["clients"] = 2``."""
    *parents, leaf = dotted.split(".")
    node = changes
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value
