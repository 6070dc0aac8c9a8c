"""Run a real MCP client through the real proxy (HTTP → HTTP) against the demo server under one
fault, and read what happened from the client's output and the proxy's tape (the wire as the
client saw it). Shared by tests/realclients and by the findings run behind docs/clients.md:

    python -m tests.realclients.drive                  # every client under every fault
    python -m tests.realclients.drive ts-sdk hung_call # one client, one fault
    python -m tests.realclients.drive --out DIR ...    # keep each run's tape and logs in DIR
    python -m tests.realclients.drive python-sdk server_restart -- --era legacy  # client flags

The clients are examples/clients/ (one fixed job: list tools, call echo, call slow; a JSON line
per step); the faults are the client scenarios of issue 19 written as proxy fault profiles
(`FAULTS`), plus two that are actions rather than profiles: restarting the server mid-call and
a server that announces `notifications/tools/list_changed`.

About 400 lines, on purpose in one file: the scenario table, running a client through a proxy
and reading the tape back are the one mechanism the tests and the findings share.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcpchaos.harness.stack import free_port
from mcpchaos.history import tape
from mcpchaos.observe.faultlog import read_fault_log
from tests.forkserver import DEMO_SERVER
from tests.http.servers import wait_for_port

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools"
CLIENTS_DIR = TOOLS / "clients"
EXAMPLES = ROOT / "examples/clients"
LIST_CHANGED_SERVER = Path(__file__).with_name("list_changed_server.py")


def node() -> Path | None:
    """Node.js 22 under .tools (scripts/conformance-setup.sh), if installed."""
    found = sorted(TOOLS.glob("node22/node_modules/node-linux-*/bin/node"))
    return found[0] if found else None


def missing_clients() -> str | None:
    """Why the npm clients cannot run here, or None when they can."""
    if node() is None:
        return "Node.js 22 is not under .tools/node22: run scripts/clients-setup.sh"
    for package in ("sdk", "inspector"):
        if not (CLIENTS_DIR / f"node_modules/@modelcontextprotocol/{package}/package.json").is_file():
            return (
                f"@modelcontextprotocol/{package} is not under .tools/clients: run scripts/clients-setup.sh"
            )
    return None


def client_command(client: str, *flags: str) -> list[str]:
    """The example client's command line (the server URL comes from MCPCHAOS_SERVER_URL)."""
    if client == "python-sdk":
        return [sys.executable, str(EXAMPLES / "python_sdk_client.py"), *flags]
    if client == "ts-sdk":
        return [str(node() or "node"), str(EXAMPLES / "ts_sdk_client.mjs"), *flags]
    if client == "inspector":
        return ["bash", str(EXAMPLES / "inspector_cli.sh"), *flags]
    raise ValueError(f"no client {client!r}: python-sdk, ts-sdk or inspector")


CLIENTS = ("python-sdk", "ts-sdk", "inspector")


@dataclass(frozen=True)
class Fault:
    """One client scenario: a fault profile for the proxy (None: no faults), flags for the
    client, and what else happens: the upstream restarted once echo has answered, the
    list-changed server upstream instead of the demo, or the client on stdio (the proxy's
    extra unknown-id response reaches an HTTP client on no stream: stdio is where it shows)."""

    profile: dict[str, Any] | None
    client_flags: tuple[str, ...] = ()
    restart_upstream: bool = False
    list_changed_server: bool = False
    stdio: bool = False
    within_s: float = 30.0


# Where a kind's settings live in a rule (the others are named after the kind, or have none).
_SETTINGS = {"error": "error_config", "delay": "delay_ms", "corruption": "corruption_config"}


def _rule(match: dict[str, Any], kind: str, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """A FaultConfig with one rule: ``kind`` on what ``match`` matches, every time (seed 1)."""
    rule: dict[str, Any] = {"match": match, "enabled_faults": {kind: True}}
    if settings is not None:
        rule[_SETTINGS.get(kind, kind)] = settings
    return {"seed": 1, "rules": [rule]}


ECHO = {"methods": ["tools/call"], "tools": ["echo"]}
FIRST_ECHO = {**ECHO, "first_n": 1}
SLOW = {"methods": ["tools/call"], "tools": ["slow"]}
ECHO_ANSWER = {**ECHO, "message_classes": ["server_response"]}

FAULTS: dict[str, Fault] = {
    "clean": Fault(None),
    # every call 2 s late: within the clients' timeout (10 s)
    "slow_server": Fault(
        _rule({"methods": ["tools/call"]}, "delay", {"min_ms": 2000, "max_ms": 2000, "jitter": False})
    ),
    # the slow call is never answered: the client's own timeout must end it
    "hung_call": Fault(_rule(SLOW, "drop"), within_s=90.0),
    # every echo answered -32603 (a client that retries meets the burst again)
    "error_burst": Fault(_rule(ECHO, "error", {"types": ["internal_error"]})),
    "rate_limited_429": Fault(_rule(FIRST_ECHO, "error", {"types": ["rate_limited"], "retry_after_s": 1})),
    "unauthorized_401": Fault(_rule(FIRST_ECHO, "error", {"types": ["unauthorized"]})),
    # 404 on the session's first echo: the proxy ends the session (handshake era)
    "session_expiry_404": Fault(_rule(FIRST_ECHO, "session_expiry"), ("--era", "legacy")),
    "server_restart": Fault(None, ("--slow-seconds", "2"), restart_upstream=True, within_s=75.0),
    # the slow call's response stream closes before its result
    "cut_sse_stream": Fault(
        _rule({**SLOW, "message_classes": ["server_response"]}, "result_shape", {"modes": ["late_result"]}),
        within_s=75.0,
    ),
    "list_changed": Fault(None, ("--era", "legacy"), list_changed_server=True),
    "unknown_id_response": Fault(
        _rule(ECHO_ANSWER, "corruption", {"modes": ["unknown_response_id"]}), stdio=True
    ),
    "malformed_response": Fault(
        _rule(ECHO_ANSWER, "corruption", {"modes": ["truncated_json"]}), within_s=90.0
    ),
    # a 2026-07-28 probe told "handshake era only": an auto client falls back to initialize
    "era_fallback": Fault(_rule({"methods": ["server/discover"]}, "era_downgrade"), ("--era", "auto")),
    # initialize told "2026-07-28 only": a handshake-only client must fail cleanly
    "era_modern_only": Fault(_rule({"methods": ["initialize"]}, "era_downgrade"), ("--era", "legacy")),
}


@dataclass
class WireEntry:
    """A message on the client's wire of the tape: what the client sent (``in``) or was given."""

    time: float
    io: str
    kind: str
    method: str | None
    id: Any
    status: int | None
    faults: list[str]
    tool: str | None


@dataclass
class Outcome:
    """What the client did: its exit status (None: still running at the bound, then killed),
    how long it ran, its steps, and the client wire of the tape."""

    client: str
    fault: str
    exit_code: int | None
    seconds: float
    steps: list[dict[str, Any]]
    wire: list[WireEntry]
    stderr: str
    fault_log: list[dict[str, object]] = field(default_factory=list)

    def step(self, name: str) -> dict[str, Any] | None:
        return next((s for s in self.steps if s["step"] == name), None)

    def sent(self, method: str, tool: str | None = None) -> list[WireEntry]:
        """The requests and notifications the client sent with this method (and tool)."""
        return [
            e for e in self.wire if e.io == "in" and e.method == method and (tool is None or e.tool == tool)
        ]

    def transcript(self) -> str:
        """The client wire in one line: → sent, ← given (HTTP status, faults)."""
        parts = []
        for e in self.wire:
            what = e.method or e.kind
            if e.tool:
                what += f"({e.tool})"
            if e.kind == "error":
                what = "error"
            notes = [str(e.status)] if e.status else []
            notes += e.faults
            arrow = "→" if e.io == "in" else "←"
            parts.append(f"{e.time:.1f} {arrow}{what}" + (f"[{','.join(notes)}]" if notes else ""))
        return " ".join(parts)


def read_tape(path: Path) -> list[WireEntry]:
    """The client wire of a tape (docs/tapes.md), in order."""
    entries = []
    for record in tape.read(str(path)).lines:
        if record["wire"] != "client":
            continue
        params = (record.get("message") or {}).get("params")
        tool = (
            params.get("name") if record.get("method") == "tools/call" and isinstance(params, dict) else None
        )
        entries.append(
            WireEntry(
                time=record["time"],
                io=record["io"],
                kind=record["kind"],
                method=record.get("method"),
                id=record.get("id"),
                status=(record.get("meta") or {}).get("status"),
                faults=record.get("faults") or [],
                tool=tool,
            )
        )
    return entries


class Upstream:
    """The demo server (or the list-changed server) over Streamable HTTP on 127.0.0.1, which can
    be restarted on the same port."""

    def __init__(self, list_changed: bool = False) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        if list_changed:
            self.command = [sys.executable, str(LIST_CHANGED_SERVER), str(self.port)]
        else:
            self.command = [*DEMO_SERVER, "--transport", "http"]
            self.command += ["--port", str(self.port)]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.process, within=60.0)

    def stop(self) -> None:
        if self.process is not None:
            _end(self.process)
            self.process = None


@contextlib.contextmanager
def upstream(list_changed: bool = False) -> Iterator[Upstream]:
    server = Upstream(list_changed)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _end(process: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL when it has not exited within 5 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def run(client: str, fault_name: str, server: Upstream, workdir: Path, *flags: str) -> Outcome:
    """``client`` through a proxy with ``FAULTS[fault_name]`` in front of ``server`` (HTTP → HTTP),
    or, for a stdio fault, through a stdio proxy the client starts, in front of a demo server
    the proxy starts."""
    fault = FAULTS[fault_name]
    workdir.mkdir(parents=True, exist_ok=True)
    tape_file, fault_log = workdir / "run.tape", workdir / "faults.jsonl"
    options = ["--record", str(tape_file)]
    if fault.profile is not None:
        (workdir / "faults.json").write_text(json.dumps(fault.profile), encoding="utf-8")
        options += ["--faults", str(workdir / "faults.json"), "--fault-log", str(fault_log)]
    mcpchaos = [sys.executable, "-m", "mcpchaos"]
    if fault.stdio:
        command = [*mcpchaos, "proxy", *options, "--", *DEMO_SERVER]
        # Split on spaces by the TS client and the Inspector script: no path here has one.
        env = {"MCPCHAOS_SERVER_COMMAND": " ".join(command)}
        outcome = _run_client(client, fault_name, fault, server, env, workdir, flags)
    else:
        port = free_port()
        proxy = [*mcpchaos, "proxy", "--listen", f"127.0.0.1:{port}", "--upstream", server.url, *options]
        proxy_log = (workdir / "proxy.log").open("wb")
        proxy_process = subprocess.Popen(proxy, stdout=subprocess.DEVNULL, stderr=proxy_log)
        try:
            wait_for_port(port, proxy_process, within=60.0)
            env = {"MCPCHAOS_SERVER_URL": f"http://127.0.0.1:{port}/mcp"}
            outcome = _run_client(client, fault_name, fault, server, env, workdir, flags)
        finally:
            _end(proxy_process)
            proxy_log.close()
    outcome.wire = read_tape(tape_file) if tape_file.exists() else []
    if fault_log.exists():
        outcome.fault_log = read_fault_log(fault_log)
    return outcome


def _run_client(
    client: str,
    fault_name: str,
    fault: Fault,
    server: Upstream,
    target: dict[str, str],
    workdir: Path,
    flags: tuple[str, ...],
) -> Outcome:
    # HOME in the run's directory: the Inspector keeps its catalog and storage there.
    env = {**os.environ, **target, "HOME": str(workdir)}
    env.pop("MCPCHAOS_SERVER_URL" if "MCPCHAOS_SERVER_COMMAND" in target else "MCPCHAOS_SERVER_COMMAND", None)
    command = client_command(client, *fault.client_flags, *flags)
    started = time.monotonic()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True
    )
    steps: list[dict[str, Any]] = []
    echoed = threading.Event()

    def read_steps() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with contextlib.suppress(ValueError):
                steps.append(json.loads(line))
                if steps[-1].get("step") == "echo":
                    echoed.set()

    reader = threading.Thread(target=read_steps, daemon=True)
    reader.start()
    if fault.restart_upstream and echoed.wait(fault.within_s):
        time.sleep(0.5)  # the slow call (2 s) is in flight: restart the server under it
        server.stop()
        server.start()
    try:
        exit_code: int | None = process.wait(max(0.0, fault.within_s - (time.monotonic() - started)))
    except subprocess.TimeoutExpired:
        exit_code = None  # still running at the bound: it hangs
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
    seconds = time.monotonic() - started
    reader.join(5)
    assert process.stderr is not None
    stderr = process.stderr.read().decode(errors="replace")[-3000:]
    return Outcome(client, fault_name, exit_code, round(seconds, 2), steps, [], stderr)


def findings(
    clients: list[str], faults: list[str], out: Path, flags: tuple[str, ...] = ()
) -> Iterator[Outcome]:
    """Each client under each fault, one upstream per fault; each run's tape, fault log and
    proxy log under ``out/FAULT/CLIENT``."""
    for fault_name in faults:
        with upstream(FAULTS[fault_name].list_changed_server) as server:
            for client in clients:
                yield run(client, fault_name, server, out / fault_name / client, *flags)


def main(argv: list[str]) -> int:
    """Exit 0 when every run was made (whatever the clients did), 2 for a usage mistake."""
    flags: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, flags = argv[:at], argv[at + 1 :]
    parser = argparse.ArgumentParser(
        prog="python -m tests.realclients.drive",
        description="Run the example clients through the proxy under the client scenarios and "
        "print what each did (docs/clients.md).",
        epilog="examples:\n  %(prog)s\n  %(prog)s --out /tmp/f ts-sdk hung_call\n"
        "  %(prog)s python-sdk server_restart -- --era legacy   (flags after -- go to the client)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "names", nargs="*", metavar="CLIENT|SCENARIO", help=f"of {CLIENTS} and {list(FAULTS)}"
    )
    parser.add_argument("--out", type=Path, help="keep each run's tape, fault log and proxy log here")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in CLIENTS and n not in FAULTS]
    if unknown:
        parser.error(f"unknown {unknown}: clients are {list(CLIENTS)}, scenarios {list(FAULTS)}")
    clients = [n for n in args.names if n in CLIENTS] or list(CLIENTS)
    faults = [n for n in args.names if n in FAULTS] or list(FAULTS)
    with tempfile.TemporaryDirectory(prefix="mcpchaos-clients-") as tmp:
        for outcome in findings(clients, faults, args.out or Path(tmp), tuple(flags)):
            report(outcome)
    return 0


def report(outcome: Outcome) -> None:
    """One run, as the findings in docs/clients.md quote it."""
    steps = " ".join(f"{s['step']}:{'ok' if s['ok'] else 'FAIL'}({s['seconds']}s)" for s in outcome.steps)
    print(f"## {outcome.client} / {outcome.fault}: exit {outcome.exit_code} after {outcome.seconds}s")
    print(f"steps: {steps}")
    for s in outcome.steps:
        if not s["ok"]:
            print(f"failed: {s['step']}: {s['detail'][:300]}")
    print(f"wire: {outcome.transcript()}")
    print(f"faults injected: {[(f['fault'], f.get('params')) for f in outcome.fault_log]}")
    if outcome.stderr.strip():
        print(f"stderr: {outcome.stderr.strip()[-600:]}")
    print(flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
