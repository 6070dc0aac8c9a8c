"""Chaos proxies for tests: an MCP server behind ``mcpchaos proxy``, driven from test code.

The pytest plugin (:mod:`mcpchaos.pytest_plugin`) hands these out as fixtures; they work
without pytest too::

    with ChaosProxy("python -m my_server") as chaos:
        with chaos.faults({"fault_probability": 1.0, "enabled_faults": {"error": True}}):
            ...  # talk MCP to chaos.url
        assert chaos.fault_log()

The processes (the upstream and the proxy) are those of the harness's :class:`Stack`, which is
asyncio code. A test may be sync or async, and an async test runs on an event loop of its own
(pytest-asyncio's) that may change from test to test; so every stack runs on one background
event loop thread, and the sync methods block on it while the async ones (``a``-prefixed, and
``async with`` on the blocks) await it from whatever loop the test runs on.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import os
import signal
import tempfile
import threading
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from mcpchaos.harness.control_client import ControlClient
from mcpchaos.harness.journal import ScenarioResult
from mcpchaos.harness.stack import Stack, TargetSpec

T = TypeVar("T")

CALL_TIMEOUT_S = 60.0
"""Upper bound on any one call into the background loop (starting a stack included), so a
wedged process fails the test instead of hanging the session."""

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()
_live: set[ChaosProxy] = set()


def _background_loop() -> asyncio.AbstractEventLoop:
    """The process-wide loop every stack runs on (started on first use, a daemon thread)."""
    global _loop
    with _loop_lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="mcpchaos-testing", daemon=True).start()
            atexit.register(_kill_leftovers)
            _loop = loop
        return _loop


def _run(coroutine: Coroutine[Any, Any, T], timeout_s: float = CALL_TIMEOUT_S) -> T:
    future = asyncio.run_coroutine_threadsafe(coroutine, _background_loop())
    try:
        return future.result(timeout_s)
    except concurrent.futures.TimeoutError:
        future.cancel()
        raise TimeoutError(f"mcpchaos: no answer within {timeout_s:g}s") from None


async def _arun(coroutine: Coroutine[Any, Any, T], timeout_s: float = CALL_TIMEOUT_S) -> T:
    future = asyncio.run_coroutine_threadsafe(coroutine, _background_loop())
    async with asyncio.timeout(timeout_s):
        return await asyncio.wrap_future(future)


def _kill_leftovers() -> None:
    """At interpreter exit: SIGKILL the process groups of stacks nobody stopped (an
    interrupted session), so no demo server outlives the test run."""
    for chaos in list(_live):
        for process in (chaos.stack.proxy, chaos.stack.upstream):
            if process is not None and process.alive and process.pid is not None:
                with contextlib.suppress(OSError):
                    os.killpg(process.pid, signal.SIGKILL)


class Block:
    """A change applied on entering a ``with`` (or ``async with``) block and undone on leaving
    it, whether the block raised or not."""

    def __init__(
        self,
        apply: Callable[[], Awaitable[None]],
        undo: Callable[[], Awaitable[None]],
    ) -> None:
        self._apply = apply
        self._undo = undo

    async def _do(self, step: Callable[[], Awaitable[None]]) -> None:
        await step()

    def __enter__(self) -> None:
        _run(self._do(self._apply))

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        _run(self._do(self._undo))

    async def __aenter__(self) -> None:
        await _arun(self._do(self._apply))

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await _arun(self._do(self._undo))


class ChaosProxy:
    """An MCP server (the demo server, a stdio command or a URL) behind a fresh mcpchaos proxy
    with its control API and fault log. ``target`` is read like ``mcpchaos run --target``."""

    def __init__(
        self,
        target: str | TargetSpec | None = None,
        proxy_args: Sequence[str] = (),
        workdir: Path | None = None,
        name: str = "mcpchaos",
    ) -> None:
        spec = target if isinstance(target, TargetSpec) else TargetSpec.parse(target)
        if spec.kind == "attach":
            raise ValueError("ChaosProxy starts its own proxy: attach mode is not for tests")
        self.proxy_args = list(proxy_args)
        self.stack = Stack(spec, workdir or Path(tempfile.mkdtemp(prefix="mcpchaos-")), name=name)

    # -- life cycle ----------------------------------------------------------------------

    async def _start(self) -> None:
        try:
            await self.stack.start(self.proxy_args)
        except BaseException:
            await self.stack.stop()  # whatever did start (the upstream) must not outlive us
            raise

    def start(self) -> ChaosProxy:
        _live.add(self)
        _run(self._start())
        return self

    async def astart(self) -> ChaosProxy:
        _live.add(self)
        await _arun(self._start())
        return self

    def stop(self) -> None:
        try:
            _run(self.stack.stop())
        finally:
            _live.discard(self)

    async def astop(self) -> None:
        try:
            await _arun(self.stack.stop())
        finally:
            _live.discard(self)

    def __enter__(self) -> ChaosProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> ChaosProxy:
        return await self.astart()

    async def __aexit__(self, *exc: object) -> None:
        await self.astop()

    # -- where things are ----------------------------------------------------------------

    @property
    def url(self) -> str:
        """The proxy's MCP endpoint (Streamable HTTP): point the client under test here."""
        return self.stack.proxy_url

    @property
    def control_url(self) -> str:
        return self._control.base_url

    @property
    def upstream_url(self) -> str:
        """The demo server's or the URL target's own endpoint ("" for a stdio command)."""
        return self.stack.upstream_url

    @property
    def fault_log_path(self) -> Path:
        return self.stack.fault_log_path

    def proxy_stderr(self) -> str:
        """What the proxy wrote on stderr so far (its log)."""
        path = self.stack.proxy_stderr
        return path.read_text(errors="replace") if path is not None and path.exists() else ""

    @property
    def _control(self) -> ControlClient:
        if self.stack.control is None:
            raise RuntimeError("the proxy is not started")
        return self.stack.control

    # -- blocks: changed inside, restored on leaving ---------------------------------------

    def faults(self, config: Mapping[str, Any], *, replace: bool = False) -> Block:
        """Faults on inside the block (merged into the current configuration; ``replace=True``:
        instead of it), the configuration before the block restored after it."""
        saved: list[dict[str, Any]] = []

        async def apply() -> None:
            saved.append((await self._control.faults())["config"])
            if replace:
                await self._control.set_faults(dict(config))
            else:
                await self._control.patch_faults(dict(config))

        async def undo() -> None:
            await self._control.set_faults(saved.pop())

        return Block(apply, undo)

    def network(self, config: Mapping[str, Any], *, replace: bool = False) -> Block:
        """Network impairments (a NetworkConfig, e.g. ``{"both": {"latency": {"base_ms": 100}}}``)
        inside the block, the previous network configuration restored after it."""
        saved: list[dict[str, Any]] = []

        async def apply() -> None:
            saved.append((await self._control.network())["config"])
            if replace:
                await self._control.set_network(dict(config))
            else:
                await self._control.patch_network(dict(config))

        async def undo() -> None:
            await self._control.set_network(saved.pop())

        return Block(apply, undo)

    def partition(self) -> Block:
        """A network partition inside the block, healed after it."""
        return Block(self._control.partition, self._control.heal)

    def upstream_paused(self) -> Block:
        """The upstream server hangs inside the block (SIGSTOP; SIGCONT after it): a stuck
        server, as opposed to a dead one. Only for servers the proxy runs (demo, command)."""

        async def pause() -> None:
            for process in self._upstream_processes():
                process.pause()

        async def resume() -> None:
            for process in self._upstream_processes():
                process.resume()

        return Block(pause, resume)

    def _upstream_processes(self) -> list[Any]:
        if self.stack.target.kind != "demo" or self.stack.upstream is None:
            raise RuntimeError("upstream_paused() needs the demo target (a server the fixture runs)")
        return [self.stack.upstream]

    # -- plain calls -----------------------------------------------------------------------

    def set_faults(self, config: Mapping[str, Any]) -> None:
        _run(self._control.set_faults(dict(config)))

    def patch_faults(self, config: Mapping[str, Any]) -> None:
        _run(self._control.patch_faults(dict(config)))

    def reset_faults(self) -> None:
        _run(self._control.reset_faults())

    def kill_upstream(self) -> None:
        """SIGKILL the server (demo or command targets)."""
        _run(self.stack.kill_upstream())

    def restart_upstream(self) -> None:
        """Start the demo server again on its port after :meth:`kill_upstream`."""
        _run(self.stack.restart_upstream())

    # -- reading -----------------------------------------------------------------------------

    def fault_log(self) -> list[dict[str, Any]]:
        """Every fault injected so far (the proxy keeps the last 10,000), oldest first."""
        return _run(self._control.fault_log())[0]

    async def afault_log(self) -> list[dict[str, Any]]:
        return (await _arun(self._control.fault_log()))[0]

    def fault_config(self) -> dict[str, Any]:
        """The fault configuration in force (a FaultConfig as JSON)."""
        config: dict[str, Any] = _run(self._control.faults())["config"]
        return config

    def metrics(self) -> dict[str, Any]:
        """The proxy's metrics as JSON (``/metrics.json``: messages, faults, sessions, ...)."""
        return _run(self._control.metrics())

    async def ametrics(self) -> dict[str, Any]:
        return await _arun(self._control.metrics())

    def health(self) -> dict[str, Any]:
        return _run(self._control.health())

    async def ahealth(self) -> dict[str, Any]:
        return await _arun(self._control.health())

    # -- judging a client ----------------------------------------------------------------------

    def judge(
        self,
        client: Sequence[str] | Callable[[str], object],
        scenarios: Sequence[str] | None = None,
        *,
        faults: Mapping[str, Any] | None = None,
        call_timeout_bound: float = 10.0,
        client_timeout: float = 30.0,
        max_request_rate: float = 10.0,
    ) -> JudgeResult:
        """Judge an MCP client against this proxy, as ``mcpchaos judge`` does (docs/judge.md):
        once per client scenario (``scenarios``: names; default all), or once under ``faults``
        (a FaultConfig, judged by every verdict its faults exercise). ``client`` is a command
        (``{url}``/``{command}`` filled, ``MCPCHAOS_SERVER_URL``/``_COMMAND`` set) or a Python
        callable given the URL (a coroutine function runs on a loop of its own)."""
        from mcpchaos.harness.judge import runner
        from mcpchaos.harness.judge import scenarios as known
        from mcpchaos.harness.judge.verdicts import PROFILE_VERDICTS, Bounds

        if faults is not None:
            chosen = [known.ClientScenario("profile", "the given faults", dict(faults), PROFILE_VERDICTS[1:])]
        else:
            names = list(scenarios) if scenarios is not None else list(known.SCENARIOS)
            unknown = [name for name in names if name not in known.SCENARIOS]
            if unknown:
                raise ValueError(f"unknown client scenario(s) {unknown}; known: {list(known.SCENARIOS)}")
            chosen = [known.SCENARIOS[name] for name in names]
        settings = runner.JudgeSettings(
            client=client if callable(client) else tuple(client),
            target=self.stack.target,
            scenarios=chosen,
            workdir=self.stack.workdir / "judge",
            bounds=Bounds(call_timeout_bound, max_request_rate),
            client_timeout_s=client_timeout,
            required=faults is None,
        )
        settings.workdir.mkdir(parents=True, exist_ok=True)
        bound = (client_timeout + 15) * len(chosen) + CALL_TIMEOUT_S
        return JudgeResult(_run(runner.judge_scenarios(self.stack, settings), bound))


class JudgeResult:
    """What :meth:`ChaosProxy.judge` found: a journal scenario result per client scenario."""

    def __init__(self, results: list[ScenarioResult]) -> None:
        self.results = results

    @property
    def passed(self) -> bool:
        return all(result.status in ("passed", "skipped") for result in self.results)

    def status(self, scenario: str, verdict: str) -> str:
        """One verdict's status: passed, failed or inconclusive."""
        found = next(r for r in self.results if r.scenario == scenario)
        return next(v.status for v in found.verdicts if v.name == verdict)

    def failures(self) -> list[str]:
        """``scenario: verdict: detail`` for every verdict not passed."""
        return [
            f"{result.scenario}: {verdict.name} {verdict.status}: {verdict.detail}"
            for result in self.results
            for verdict in result.verdicts
            if verdict.status != "passed"
        ]

    def assert_passed(self) -> None:
        """Raise AssertionError naming every verdict that did not pass."""
        if not self.passed:
            raise AssertionError("the client did not pass:\n" + "\n".join(self.failures()))
