"""``mcpchaos judge``'s run: one proxy in front of the target, the client once per scenario.

One :class:`~mcpchaos.harness.stack.Stack` (the target behind an HTTP proxy with ``--history``)
serves every scenario: between two, the judge only puts the next scenario's faults in place
(``PUT /faults``, which also starts the rules' counts anew) and notes the newest session, so
the next client's sessions are told apart. For each scenario the client command runs once,
with ``{url}``/``{command}`` filled and ``MCPCHAOS_SERVER_URL``/``MCPCHAOS_SERVER_COMMAND``
set; it is killed (its whole process group) if it still runs at ``client_timeout_s``. Then
the proxy's history (``GET /history?format=tape``) is read, the client's sessions are judged
(:mod:`~mcpchaos.harness.judge.verdicts`) and written next to the reports as a tape.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import shlex
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import orjson

from mcpchaos.errors import ConfigError
from mcpchaos.harness.journal import Event, Finding, Journal, ScenarioResult, TargetInfo
from mcpchaos.harness.judge.observed import ClientExit, last_session, observe
from mcpchaos.harness.judge.scenarios import ClientScenario
from mcpchaos.harness.judge.verdicts import Bounds, judge
from mcpchaos.harness.runner import environment
from mcpchaos.harness.stack import Stack, TargetSpec, last_lines
from mcpchaos.history import tape

URL_ENV: Final = "MCPCHAOS_SERVER_URL"
COMMAND_ENV: Final = "MCPCHAOS_SERVER_COMMAND"
RESTART_GAP_S: Final = 0.3
"""How long the server stays down in ``server_restart``."""
MITIGATION: Final = {
    "exits_cleanly": "Give every call a deadline and the whole run one; end with an error status "
    "rather than waiting on a server that does not answer.",
    "times_out_hung_calls": "Time calls out (the SDKs take a read timeout per request) well below "
    "what the user will wait.",
    "cancels_abandoned": "Send notifications/cancelled with the request id for every call you give up, "
    "so the server stops working on it.",
    "no_blind_destructive_retry": "Retry only tools annotated readOnlyHint or idempotentHint; ask the "
    "user (or check the effect) before calling a destructive tool again.",
    "backs_off": "Back off exponentially (with jitter) between retries and cap them.",
    "honours_retry_after": "Wait the Retry-After seconds of a 429 before the next request.",
    "reinitializes_after_404": "On HTTP 404 for a session id, drop the session and initialize again.",
    "relists_after_list_changed": "On notifications/tools/list_changed, list the tools again before "
    "the next call.",
    "survives_bad_responses": "Treat a malformed frame or an unknown id as a protocol error for that "
    "message, not for the connection; time the lost call out and go on.",
    "waits_for_slow_answers": "Do not time calls out below the answers' normal latency.",
    "falls_back_to_legacy": "When server/discover is refused (-32022, 400 or -32601), fall back to "
    "initialize.",
}


PythonClient = Callable[[str], object]
"""A client in Python (the pytest plugin's): called with the proxy's URL, in a thread of its own;
a coroutine function runs on an event loop of its own there. Returning is exit 0, raising exit 1."""


@dataclass(frozen=True)
class JudgeSettings:
    """What to judge, against what, within which bounds."""

    client: tuple[str, ...] | PythonClient
    """The client command (placeholders unfilled), or a Python client."""
    target: TargetSpec
    scenarios: Sequence[ClientScenario]
    workdir: Path
    bounds: Bounds = field(default_factory=Bounds)
    client_timeout_s: float = 30.0
    required: bool = True
    """Built-in scenarios: a verdict they did not exercise is inconclusive (False for a profile)."""
    seed: int = 1
    description: str = ""


def stdio_command(proxy_url: str) -> list[str]:
    """A stdio server command line that reaches the judge's proxy: a plain stdio → HTTP relay."""
    return [sys.executable, "-m", "mcpchaos", "proxy", "--upstream", proxy_url]


def fill(client: Sequence[str], url: str, command: Sequence[str]) -> list[str]:
    """The client command with ``{url}`` and ``{command}`` filled: an argument that is exactly
    ``{command}`` becomes the command's words; inside a longer argument it is the command line,
    shell-quoted."""
    line = shlex.join(command)
    argv: list[str] = []
    for arg in client:
        if arg == "{command}":
            argv.extend(command)
        else:
            argv.append(arg.replace("{url}", url).replace("{command}", line))
    return argv


async def run_client(argv: list[str], env: dict[str, str], timeout_s: float, log: Path) -> ClientExit:
    """Run the client once, output to ``log``; kill its process group at ``timeout_s``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as output:
        started = time.monotonic()
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **env},
            )
        except OSError as exc:
            raise ConfigError(f"cannot run the client {argv[0]!r}: {exc.strerror or exc}") from None
        killed = False
        try:
            async with asyncio.timeout(timeout_s):
                await process.wait()
        except TimeoutError:
            killed = True
        ended = time.monotonic()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # its children too, whether it ended or not
        if killed:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await process.wait()
    tail = last_lines(await asyncio.to_thread(log.read_bytes), 1500)
    return ClientExit(started, ended, None if killed else process.returncode, killed, tail)


async def run_python_client(client: PythonClient, url: str, timeout_s: float) -> ClientExit:
    """Run a Python client in a daemon thread; at ``timeout_s`` a coroutine is cancelled (a
    plain function cannot be stopped: its thread is left to end by itself) and it is "killed"."""
    done = threading.Event()
    outcome: dict[str, Any] = {"returncode": 0, "output": ""}
    task_box: list[tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]]] = []

    def body() -> None:
        try:
            if asyncio.iscoroutinefunction(client):
                loop = asyncio.new_event_loop()
                task = loop.create_task(client(url))
                task_box.append((loop, task))
                try:
                    loop.run_until_complete(task)
                finally:
                    loop.close()
            else:
                client(url)
        except BaseException:  # the client's own failure is its exit status, with its traceback
            outcome.update(returncode=1, output=traceback.format_exc())
        finally:
            done.set()

    started = time.monotonic()
    threading.Thread(target=body, name="mcpchaos-judged-client", daemon=True).start()
    finished = await asyncio.to_thread(done.wait, timeout_s)
    ended = time.monotonic()
    if not finished:
        for loop, task in task_box:
            loop.call_soon_threadsafe(task.cancel)
        return ClientExit(started, ended, None, True, "")
    return ClientExit(started, ended, int(outcome["returncode"]), False, str(outcome["output"]))


async def _history_tape(stack: Stack) -> tape.Tape:
    assert stack.control is not None
    raw = await stack.control.history_tape()
    return tape.parse(raw.splitlines(), "GET /history?format=tape") if raw.strip() else tape.Tape({})


def _fault_counts(path: Path, skip: int) -> tuple[dict[str, int], int]:
    """Injected faults by kind in the fault log after its first ``skip`` lines, and its length."""
    try:
        lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    except OSError:
        return {}, skip
    counts: dict[str, int] = {}
    for line in lines[skip:]:
        kind = str(orjson.loads(line).get("fault", "?"))
        counts[kind] = counts.get(kind, 0) + 1
    return counts, len(lines)


def _answered_calls(metrics: dict[str, Any]) -> int:
    return sum(
        int(m.get("count", 0))
        for m in metrics.get("messages", [])
        if m["method"] == "tools/call" and m["direction"] == "server_to_client" and m["kind"] == "result"
    )


async def _restart_after_first_call(
    stack: Stack, events: list[Event], t0: float, killed: asyncio.Event
) -> None:
    """``server_restart``: once a tool call was answered to this client, kill the server and
    start it again on the same port (``killed`` is set in between: the restart must then finish
    even if the client is gone)."""
    assert stack.control is not None
    before = _answered_calls(await stack.control.metrics())
    # Polled: the proxy is another process, its control API the only way to hear of the call.
    while _answered_calls(await stack.control.metrics()) <= before:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    killed.set()
    await stack.kill_upstream()
    events.append(Event(t_s=time.monotonic() - t0, kind="server_killed", detail="SIGKILL"))
    await asyncio.sleep(RESTART_GAP_S)
    await stack.restart_upstream()
    events.append(Event(t_s=time.monotonic() - t0, kind="server_started", detail="same port, new sessions"))


async def judge_scenario(
    stack: Stack, scenario: ClientScenario, settings: JudgeSettings, log_lines: int
) -> tuple[ScenarioResult, int]:
    """Run the client once under ``scenario``; its result, and the fault log's new length."""
    assert stack.control is not None
    started_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    await stack.control.set_faults({**scenario.faults, "seed": settings.seed})
    before = last_session(await _history_tape(stack))
    url = stack.proxy_url
    command = stdio_command(url)
    client = settings.client
    argv = (
        fill(client, url, command) if isinstance(client, tuple) else [getattr(client, "__name__", "client")]
    )
    env = {URL_ENV: url, COMMAND_ENV: shlex.join(command)}
    events: list[Event] = []
    killed = asyncio.Event()
    t0 = time.monotonic()
    action = (
        asyncio.create_task(_restart_after_first_call(stack, events, t0, killed))
        if scenario.action == "restart_server"
        else None
    )
    try:
        if isinstance(client, tuple):
            log = settings.workdir / f"{scenario.name}-client.log"
            exit = await run_client(argv, env, settings.client_timeout_s, log)
        else:
            exit = await run_python_client(client, url, settings.client_timeout_s)
    finally:
        if action is not None:
            if not killed.is_set():
                action.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await action  # a restart under way finishes: the next scenario needs the server
    await stack.control.set_faults({})
    events.insert(0, Event(t_s=0.0, kind="client_started", detail=shlex.join(argv)))
    events.append(
        Event(
            t_s=exit.ended - t0,
            kind="client_killed" if exit.killed else "client_exited",
            detail="" if exit.killed else f"status {exit.returncode}",
        )
    )
    recorded = await _history_tape(stack)
    _write_tape(recorded, before, settings.workdir / f"{scenario.name}.tape")
    observed = observe(recorded, exit, before)
    names = ("exits_cleanly", *scenario.verdicts)
    verdicts = judge(observed, settings.bounds, names, settings.required)
    fault_counts, log_lines = _fault_counts(stack.fault_log_path, log_lines)
    findings = [
        Finding(
            severity="failure",
            title=f"{scenario.name}: {v.name}",
            detail=v.detail,
            mitigation=MITIGATION[v.name],
        )
        for v in verdicts
        if v.status == "failed"
    ]
    result = ScenarioResult(
        scenario=scenario.name,
        description=scenario.description,
        params={"faults": scenario.faults, "client": argv},
        started_at=started_at,
        duration_s=round(exit.ended - t0, 3),
        events=events,
        verdicts=verdicts,
        findings=findings,
        fault_counts=fault_counts,
        measurements={
            "client_s": round(exit.ended - exit.started, 3),
            "client_sessions": float(len(observed.sessions)),
            "client_requests": float(len(observed.requests())),
        },
        mitigation="; ".join(f.mitigation for f in findings),
    )
    return result, log_lines


def _write_tape(recorded: tape.Tape, after_session: int, path: Path) -> None:
    """This scenario's sessions as a tape of their own (``mcpchaos tape show|diff`` read it)."""
    if not recorded.header:
        return
    lines = [line for line in recorded.lines if int(line["session"]) > after_session]
    path.write_bytes(tape.dumps(recorded.header) + b"".join(tape.dumps(line) for line in lines))


async def run_judge(settings: JudgeSettings, command: list[str], progress: Any = None) -> Journal:
    """Every scenario in order against one stack, into one journal (``progress``: a
    :class:`~mcpchaos.harness.scenario.ProgressSink`)."""
    target = settings.target
    journal = Journal(
        created_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        command=command,
        seed=settings.seed,
        target=TargetInfo(kind=target.kind, description=settings.description or target.describe()),
        environment=environment(),
    )
    stack = Stack(target, settings.workdir, name="judge")
    # Held calls stay held past the client's bound (the proxy must not answer them first).
    request_timeout = settings.client_timeout_s + 30
    try:
        await stack.start(["--request-timeout", str(request_timeout)])
        journal.scenarios = await judge_scenarios(stack, settings, progress)
    finally:
        await stack.stop()
    return journal


async def judge_scenarios(
    stack: Stack, settings: JudgeSettings, progress: Any = None
) -> list[ScenarioResult]:
    """Every scenario of ``settings`` in order, on a started stack (the pytest plugin's proxy,
    or :func:`run_judge`'s)."""
    results: list[ScenarioResult] = []
    _, log_lines = _fault_counts(stack.fault_log_path, 0)
    for scenario in settings.scenarios:
        if scenario.needs and stack.target.kind not in scenario.needs:
            results.append(_skipped(scenario, stack.target))
            continue
        if progress is not None:
            progress.message(f"{scenario.name}: {scenario.description}")
        result, log_lines = await judge_scenario(stack, scenario, settings, log_lines)
        results.append(result)
        if progress is not None:
            progress.scenario_done(result)
    return results


def _skipped(scenario: ClientScenario, target: TargetSpec) -> ScenarioResult:
    return ScenarioResult(
        scenario=scenario.name,
        description=scenario.description,
        started_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        duration_s=0.0,
        skipped=f"it needs a server the judge can restart ({', '.join(scenario.needs)}), "
        f"not {target.describe()}",
    )
