"""The mcpchaos pytest plugin (entry point ``pytest11``): a chaos proxy per test.

::

    @pytest.mark.mcpchaos(target="python -m my_server", proxy_args=["--max-sessions", "50"])
    def test_survives_errors(mcpchaos):
        with mcpchaos.faults({"fault_probability": 1.0, "enabled_faults": {"error": True}}):
            ...  # an MCP client against mcpchaos.url sees injected errors here
        assert mcpchaos.fault_log()

Clients under test are judged the way ``mcpchaos judge`` judges them (docs/judge.md), from the
proxy's history, with a command or a Python callable given the proxy's URL::

    def test_my_client_times_out_hung_calls(mcpchaos):
        mcpchaos.judge(my_async_client, ["hung_call", "rate_limited"]).assert_passed()

Fixtures: ``mcpchaos`` (a started :class:`mcpchaos.testing.ChaosProxy`) and
``mcpchaos_factory`` (start as many as a test needs, e.g. a chain of servers). Where the
target comes from, first match wins: the fixture's indirect parameter (a dict), the
``mcpchaos`` marker, ``--mcpchaos-target``, the ``mcpchaos_target`` ini option, the demo
server. Proxy options: the parameter, the marker, then the ``mcpchaos_proxy_args`` ini option.

This module is loaded into every pytest session of an environment where mcpchaos is
installed, ours included: it imports nothing heavy at module level (the proxy machinery is
imported by the fixtures, when a test asks for one).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mcpchaos.testing import ChaosProxy

_STARTED = pytest.StashKey[list["ChaosProxy"]]()
"""The proxies a test started, for the stderr section of its failure report."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mcpchaos", "mcpchaos chaos proxy")
    group.addoption(
        "--mcpchaos-target",
        default=None,
        help="server the mcpchaos fixture puts behind the proxy: 'demo' (default), a stdio command, or a URL",
    )
    parser.addini("mcpchaos_target", "default target of the mcpchaos fixture", default="")
    parser.addini("mcpchaos_proxy_args", "extra mcpchaos proxy options", type="args", default=[])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "mcpchaos(target=None, proxy_args=()): what the mcpchaos fixture starts: target is 'demo', "
        "a stdio server command or a URL; proxy_args are extra `mcpchaos proxy` options",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    # The proxy's log explains most chaos-test failures: show it with the failure.
    started = item.stash.get(_STARTED, None)
    if started and report.failed:
        for chaos in started:
            log = chaos.proxy_stderr()[-4000:]
            if log:
                report.sections.append((f"mcpchaos proxy stderr ({chaos.stack.name})", log))
    return report


@pytest.fixture
def mcpchaos_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., ChaosProxy]]:
    """``start(target=None, proxy_args=(), name=None) -> ChaosProxy``: start a chaos proxy in
    front of ``target``; every proxy started is stopped after the test, pass or fail."""
    from mcpchaos.testing import ChaosProxy

    started: list[ChaosProxy] = []
    request.node.stash[_STARTED] = started

    def start(
        target: str | None = None, proxy_args: Sequence[str] = (), name: str | None = None
    ) -> ChaosProxy:
        chaos = ChaosProxy(
            target,
            proxy_args,
            workdir=tmp_path_factory.mktemp("mcpchaos"),
            name=name or f"mcpchaos{len(started)}",
        )
        started.append(chaos)
        return chaos.start()

    try:
        yield start
    finally:
        errors: list[BaseException] = []
        for chaos in reversed(started):  # dependents first
            try:
                chaos.stop()
            except Exception as error:  # stop the others anyway
                errors.append(error)
        if errors:
            raise errors[0]


@pytest.fixture
def mcpchaos(request: pytest.FixtureRequest, mcpchaos_factory: Callable[..., ChaosProxy]) -> ChaosProxy:
    """A started chaos proxy (see the module docstring for where its target comes from)."""
    options: dict[str, Any] = {}
    marker = request.node.get_closest_marker("mcpchaos")
    if marker is not None:
        if marker.args:
            options["target"] = marker.args[0]
        options.update(marker.kwargs)
    param = getattr(request, "param", None)
    if param is not None:
        options.update(param if isinstance(param, dict) else {"target": param})
    unknown = set(options) - {"target", "proxy_args"}
    if unknown:
        raise pytest.UsageError(f"mcpchaos: unknown option(s) {sorted(unknown)}; use target, proxy_args")
    config = request.config
    target = (
        options.get("target") or config.getoption("--mcpchaos-target") or config.getini("mcpchaos_target")
    )
    proxy_args = options.get("proxy_args", config.getini("mcpchaos_proxy_args"))
    return mcpchaos_factory(target or None, list(proxy_args), name="mcpchaos")
