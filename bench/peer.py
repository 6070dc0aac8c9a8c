"""A peer: ``mcp-proxy`` (PyPI) as a stdio→HTTP bridge against mcpchaos's stdio→HTTP bridge.

Both expose the demo server (a stdio command) over Streamable HTTP at ``/mcp``; the same lean
client drives 16 closed-loop sessions of ``tools/call echo`` against each, alternately, and the
bridge's process CPU per call is measured too (its child, the demo server, excluded).

``mcp-proxy`` pins ``mcp<2`` while mcpchaos needs ``mcp>=2.3``, so it lives in its own venv:
``$MCP_PROXY`` (the path of its executable), else ``mcp-proxy`` on PATH, else
``/tmp/mcpchaos-bench-peer/bin/mcp-proxy``, made with ``pip install mcp-proxy`` on first use
(not with ``--quick``, which skips the figure instead).

    .venv/bin/python -m bench.peer [--seconds 3] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psutil

from bench.common import (
    MCPCHAOS,
    Budget,
    Check,
    Load,
    Result,
    alternate,
    free_port,
    load_cells,
    median,
    rate_ratio,
    render,
    run_load,
    spawn,
)

_VENV = Path("/tmp/mcpchaos-bench-peer")
_SERVER = [sys.executable, "-m", "mcpchaos", "demo-server"]


def find_mcp_proxy(install: bool) -> str | None:
    found = os.environ.get("MCP_PROXY") or shutil.which("mcp-proxy")
    if found:
        return found
    executable = _VENV / "bin" / "mcp-proxy"
    if not executable.exists() and install:
        subprocess.run([sys.executable, "-m", "venv", str(_VENV)], check=True, timeout=120)
        pip = [str(_VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", "mcp-proxy"]
        done = subprocess.run(pip, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"pip install mcp-proxy failed:\n{done.stderr[-2000:]}")
    return str(executable) if executable.exists() else None


def figure(budget: Budget) -> Result:
    result = Result(
        "peer",
        "A peer: `mcp-proxy` as a stdio→HTTP bridge",
        "`mcp-proxy --port P -- mcpchaos demo-server` against `mcpchaos proxy --listen 127.0.0.1:P -- "
        "mcpchaos demo-server` (each exposes the stdio demo server over Streamable HTTP); 16 "
        "closed-loop sessions of `tools/call echo`, alternating runs, medians",
        ["bridge", "calls/s", "p50 ms", "p99 ms", "bridge CPU µs/call"],
    )
    peer = find_mcp_proxy(install=not budget.quick)
    if peer is None:
        result.notes.append("skipped: mcp-proxy is not installed (the full run installs it under /tmp)")
        return result
    version = subprocess.run([peer, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    ours_port, peer_port = free_port(), free_port()
    cpu: dict[str, list[float]] = {"mcpchaos": [], "mcp-proxy": []}
    with (
        spawn([*MCPCHAOS, "proxy", "--listen", f"127.0.0.1:{ours_port}", "--", *_SERVER], ours_port) as ours,
        spawn([peer, "--port", str(peer_port), "--host", "127.0.0.1", "--", *_SERVER], peer_port) as theirs,
    ):

        def bridge(name: str, port: int, process: psutil.Process) -> Load:
            load = run_load(f"http://127.0.0.1:{port}/mcp", budget.seconds, cpu_of=process)
            cpu[name].append(load.probe / max(load.calls, 1) * 1e6)
            return load

        loads = alternate(
            {
                "mcpchaos": lambda: bridge("mcpchaos", ours_port, ours),
                "mcp-proxy": lambda: bridge("mcp-proxy", peer_port, theirs),
            },
            budget.rounds,
        )
    for name, runs in loads.items():
        result.rows.append(
            [
                name if name == "mcpchaos" or not version else version,
                *load_cells(runs),
                f"{median(cpu[name]):.0f}",
            ]
        )
    ratio = rate_ratio(loads["mcpchaos"], loads["mcp-proxy"])
    result.checks.append(Check("throughput mcpchaos / mcp-proxy", "(comparison)", f"{ratio:.2f}", None))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(render(figure(Budget(args.seconds, args.rounds))))


if __name__ == "__main__":
    main()
