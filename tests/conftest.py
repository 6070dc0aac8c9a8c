from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings

from tests import forkserver
from tests.http.servers import demo_http_server

# Hypothesis's per-example deadline (200 ms) times the machine, not the code: on a loaded
# 2-core runner a trivial example took 353 ms. Correctness is what the properties check; speed
# targets live in bench/.
settings.register_profile("suite", deadline=None)
settings.load_profile("suite")


@pytest.fixture(scope="session", autouse=True)
def demo_forks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The fork server behind tests.forkserver.DEMO_SERVER, for this pytest process."""
    with forkserver.demo_forks(tmp_path_factory.mktemp("demo-forks") / "forkserver.log"):
        yield


@pytest.fixture(scope="session")
def stateful_url() -> Iterator[str]:
    """The demo server over Streamable HTTP (stateful, SSE), shared by the whole run."""
    with demo_http_server() as url:
        yield url


# Tests that share one session-wide run, by path: under xdist each group must go to one worker or
# each worker runs it again (the conformance suite computes each path's results once; the quick
# suite's run is judged per scenario and read back for the reports' counts). The modules after
# them share a module-scoped run (a scenario run, recorded tapes, a proxy and server): spread over
# four workers, test_run_command's quick run was made three times.
SHARED_RUN = (
    ("tests/conformance/",),
    (
        "tests/harness/test_scenarios.py::test_every_scenario",
        "tests/harness/test_report_consistency.py::test_every_output_of_a_quick_run",
    ),
    ("tests/cli/test_run_command.py",),
    ("tests/proxy/test_replay.py",),
    ("tests/harness/judge/test_judge_live.py",),
    ("tests/observe/test_history_live.py",),
    ("tests/harness/load/test_http_load.py",),
    ("tests/faults/test_input_required.py",),
    ("tests/fuzz/",),
    ("tests/realclients/test_real_clients.py",),
)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """For ``-n N`` (``--dist load``): one work unit per test, but one for each group of SHARED_RUN;
    the largest unit is handed out first, so the conformance suite starts at once on one worker
    while the other takes everything else. (xdist's own ``--dist loadgroup`` does not group
    under pytest 9.2: pytest-xdist issue #1386.)"""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedRunScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return next(
                (group[0] for group in SHARED_RUN if any(nodeid.startswith(prefix) for prefix in group)),
                nodeid,
            )

    return SharedRunScheduling(config, log)
