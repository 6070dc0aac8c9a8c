"""Running the official MCP conformance suite (npm @modelcontextprotocol/conformance) from Python.

``scripts/conformance-setup.sh`` installs it and Node.js 22 under ``.tools/``. The suite
writes one ``checks.json`` per scenario under its ``--output-dir``; :func:`read_outcomes`
turns those into an :class:`Outcome` per scenario, whose :attr:`Outcome.verdict` is what the
tests compare between a direct run and a run through mcpchaos.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests import forkserver
from tests.http.servers import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SETUP = ROOT / "scripts" / "conformance-setup.sh"
TOOLS = ROOT / ".tools"
CLI = TOOLS / "conformance" / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
SERVER = HERE / "server.py"
CLIENT = HERE / "client.py"
VIA_PROXY = HERE / "via_proxy.py"
LOOPBACK = HERE / "loopback.cjs"

# Checks whose WARNING only says the machine was slow (the client reconnected a few hundred
# ms late): not part of a verdict, or a loaded CI machine would decide the comparison.
TIMING_CHECKS = frozenset({"client-sse-retry-timing"})

_RESULT_DIR = re.compile(r"^(?:server-)?(?P<scenario>.+)-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z$")


@dataclass(frozen=True)
class Outcome:
    """One scenario's result: every check's (id, status), or why there is none."""

    checks: tuple[tuple[str, str], ...] = ()
    error: str | None = None

    @property
    def verdict(self) -> tuple[tuple[str, str], ...]:
        """What must match between paths: every check but the INFO ones, with its status (a
        timing warning counts as a success), or the reason there is no result."""
        if self.error is not None:
            return (("no result", self.error),)
        return tuple(
            sorted(
                (check, "SUCCESS" if status == "WARNING" and check in TIMING_CHECKS else status)
                for check, status in self.checks
                if status != "INFO"
            )
        )

    def summary(self) -> str:
        """For the results table: '3/3', '1/2', '0/0 2 warnings', 'no result (...)'."""
        if self.error is not None:
            return f"no result ({self.error})"
        counted = [status for _, status in self.checks if status in ("SUCCESS", "FAILURE")]
        text = f"{counted.count('SUCCESS')}/{len(counted)}"
        warnings = sum(status == "WARNING" for _, status in self.checks)
        return f"{text} {warnings} warning{'s' * (warnings != 1)}" if warnings else text


def installed() -> bool:
    return CLI.is_file() and node() is not None


def node() -> Path | None:
    found = sorted(TOOLS.glob("node22/node_modules/node-linux-*/bin/node"))
    return found[0] if found else None


def ensure_installed(timeout_s: float = 600.0) -> None:
    """Run the setup script (milliseconds when everything is there already)."""
    subprocess.run(["bash", str(SETUP)], check=True, timeout=timeout_s, stdout=subprocess.DEVNULL)
    if not installed():
        raise RuntimeError(f"{SETUP} ran but {CLI} or Node.js 22 is still missing")


def environment() -> dict[str, str]:
    """Node 22 first on PATH, the loopback preload, and this checkout's mcpchaos importable by
    the Python processes the suite starts (the proxy, the clients)."""
    binary = node()
    assert binary is not None
    env = dict(os.environ)
    env["PATH"] = f"{binary.parent}{os.pathsep}{env.get('PATH', '')}"
    env["NODE_OPTIONS"] = f"--require {LOOPBACK}"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("MCP_CONFORMANCE_SCENARIO", None)
    env.pop("MCP_CONFORMANCE_CONTEXT", None)
    return env


def run_bounded(argv: Sequence[str], timeout_s: float, log: Path) -> int | None:
    """Run ``argv`` in its own process group with output to ``log``; after ``timeout_s`` the
    whole group is killed (None returned). Whatever it left running is killed either way."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            list(argv), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=environment(), start_new_session=True,
        )  # fmt: skip
        try:
            return process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return None
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def conformance(args: Sequence[str], out_dir: Path, timeout_s: float) -> int | None:
    binary = node()
    assert binary is not None
    out_dir.mkdir(parents=True, exist_ok=True)
    return run_bounded(
        [str(binary), str(CLI), *args, "--output-dir", str(out_dir)], timeout_s, out_dir / "log.txt"
    )


def read_outcomes(out_dir: Path) -> dict[str, Outcome]:
    """Every scenario with a checks.json under ``out_dir`` (a scenario run twice: the last)."""
    outcomes: dict[str, Outcome] = {}
    for checks_file in sorted(out_dir.rglob("checks.json")):
        relative = checks_file.parent.relative_to(out_dir)
        match = _RESULT_DIR.match(relative.name)
        if match is None:
            continue
        scenario = "/".join([*relative.parent.parts, match["scenario"]])
        try:
            checks = json.loads(checks_file.read_text())
            outcomes[scenario] = Outcome(tuple((str(c["id"]), str(c["status"])) for c in checks))
        except (ValueError, KeyError, TypeError) as exc:
            outcomes[scenario] = Outcome(error=f"unreadable checks.json: {exc!r}")
    return outcomes


def server_scenarios(
    url: str, scenarios: Sequence[str], out_dir: Path, per_scenario_s: float = 45.0
) -> dict[str, Outcome]:
    """All ``scenarios`` against ``url``: first in one run of the suite (one Node start), then
    one by one, each bounded, for those that run left without a result (one that hangs stops
    the run; those after it are run again on their own)."""
    whole = out_dir / "all"
    if len(scenarios) > 1:
        conformance(["server", "--url", url, "--suite", "all"], whole, timeout_s=per_scenario_s * 3)
    outcomes = {name: outcome for name, outcome in read_outcomes(whole).items() if name in scenarios}
    for name in scenarios:
        if name in outcomes:
            continue
        alone = out_dir / name
        status = conformance(["server", "--url", url, "--scenario", name], alone, timeout_s=per_scenario_s)
        found = read_outcomes(alone).get(name)
        if found is not None:
            outcomes[name] = found
        elif status is None:
            outcomes[name] = Outcome(error=f"no answer within {per_scenario_s:g}s")
        else:
            outcomes[name] = Outcome(error=f"the suite exited {status} without checks")
    return outcomes


# The suite gives a client 30 s by default. Through the proxy a scenario starts two Python
# processes (the proxy, then the SDK client), and at load 15 on 2 cores the OAuth scenarios ran
# out of those 30 s with every check failed. A bound, not a wait: a client ends the scenario
# when it exits.
CLIENT_SCENARIO_MS = 90_000


def client_scenario(
    command: Sequence[str], scenario: str, out_dir: Path, timeout_s: float = 150.0
) -> Outcome:
    """One client scenario: the suite starts its test server and runs ``command URL``."""
    for part in command:
        if " " in part:
            raise ValueError(f"the suite splits --command on spaces: {part!r} has one")
    where = out_dir / scenario.replace("/", "_")
    argv = [
        "client",
        "--command",
        " ".join(command),
        "--scenario",
        scenario,
        "--timeout",
        str(CLIENT_SCENARIO_MS),
    ]
    status = conformance(argv, where, timeout_s)
    found = read_outcomes(where).get(scenario)
    if found is not None:
        return found
    if status is None:
        return Outcome(error=f"no answer within {timeout_s:g}s")
    return Outcome(error=f"the suite exited {status} without checks")


PythonCommand = Callable[..., list[str]]
"""``python_command``'s shape: a script and its arguments to the command line that runs them."""


def python_command(script: Path, *args: str) -> list[str]:
    return [sys.executable, str(script), *args]


@contextlib.contextmanager
def forked_python(log_dir: Path) -> Iterator[PythonCommand]:
    """A fork server with client.py and server.py loaded (tests/forkserver.py); yields the
    twin of :func:`python_command` whose command runs the script in a fork of it: the 52
    client scenario runs and the bridge's per-session servers skip importing the SDK."""
    sock = log_dir / "fork.sock"
    with forkserver.running(sock, [CLIENT, SERVER], environment(), log_dir / "forkserver.log"):
        yield lambda script, *args: forkserver.command(sock, script, *args)


@contextlib.contextmanager
def process(argv: Sequence[str], port: int, log: Path) -> Iterator[None]:
    """A server process listening on 127.0.0.1:port for the duration; stopped after."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            list(argv), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=environment(), start_new_session=True,
        )  # fmt: skip
    try:
        wait_for_port(port, proc, within=30.0)
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextlib.contextmanager
def conformance_server(log_dir: Path, *flags: str) -> Iterator[str]:
    """tests/conformance/server.py over Streamable HTTP; yields its MCP URL."""
    port = free_port()
    with process(python_command(SERVER, "--port", str(port), *flags), port, log_dir / f"server-{port}.log"):
        yield f"http://127.0.0.1:{port}/mcp"


@contextlib.contextmanager
def http_proxy(upstream: str, log_dir: Path) -> Iterator[str]:
    """``mcpchaos proxy --listen ... --upstream URL`` (HTTP→HTTP); yields the proxied URL."""
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "mcpchaos",
        "proxy",
        "--listen",
        f"127.0.0.1:{port}",
        "--upstream",
        upstream,
    ]
    with process(argv, port, log_dir / f"proxy-{port}.log"):
        yield f"http://127.0.0.1:{port}/mcp"


@contextlib.contextmanager
def stdio_bridge(log_dir: Path, python: PythonCommand = python_command) -> Iterator[str]:
    """``mcpchaos proxy --listen ... -- server.py --transport stdio`` (HTTP→stdio)."""
    port = free_port()
    argv = [
        sys.executable, "-m", "mcpchaos", "proxy", "--listen", f"127.0.0.1:{port}", "--",
        *python(SERVER, "--transport", "stdio"),
    ]  # fmt: skip
    with process(argv, port, log_dir / f"bridge-{port}.log"):
        yield f"http://127.0.0.1:{port}/mcp"
