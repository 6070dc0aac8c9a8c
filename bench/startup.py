"""Start-up: the CPU a process spends before it listens, and what a harness stack costs.

Each case is run alternately, several times, and reported as the median:

* ``proxy``, ``proxy --control``, ``demo-server``: one ``python -m mcpchaos ...`` process,
  started, waited for until its port accepts, stopped; its CPU (user + system) until then;
* ``stack, forks`` and ``stack, new interpreters``: a harness process that starts and stops a
  demo target's stack (demo server + proxy with its control API) three times, with the demo
  servers and proxies forked from warm templates (harness/forks.py) or, with
  ``MCPCHAOS_FORKS=0``, started as new interpreters; the CPU of the harness and everything it
  started, per stack.

    .venv/bin/python -m bench.startup [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

from bench.common import MCPCHAOS, Budget, Check, Result, alternate, free_port, median

STACKS = 3
_STACKS_SCRIPT = f"""
import asyncio, pathlib, tempfile
from mcpchaos.harness.stack import Stack, TargetSpec
async def main():
    for _ in range({STACKS}):
        stack = Stack(TargetSpec(), pathlib.Path(tempfile.mkdtemp()))
        await stack.start()
        await stack.stop()
asyncio.run(main())
"""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def until_listening(*args: str) -> float:
    """CPU seconds of ``mcpchaos ARGS`` (with ``{port}`` filled) from its start until it listens."""
    import socket

    port = free_port()
    before = _children_cpu()
    process = subprocess.Popen(
        [*MCPCHAOS, *(arg.replace("{port}", str(port)) for arg in args)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            time.sleep(0.01)
    process.terminate()
    process.wait()
    return _children_cpu() - before


def per_stack(forks: bool) -> float:
    """CPU seconds per stack started and stopped, the harness and all it started."""
    before = _children_cpu()
    env = {**os.environ, "MCPCHAOS_FORKS": "1" if forks else "0"}
    subprocess.run([sys.executable, "-c", _STACKS_SCRIPT], env=env, check=True, timeout=300)
    return (_children_cpu() - before) / STACKS


CASES = {
    "proxy (HTTP → HTTP)": lambda: until_listening(
        "proxy", "--listen", "127.0.0.1:{port}", "--upstream", "http://127.0.0.1:9/mcp"
    ),
    "proxy --control": lambda: until_listening(
        "proxy", "--listen", "127.0.0.1:{port}", "--upstream", "http://127.0.0.1:9/mcp", "--control", "0"
    ),
    "demo-server (HTTP)": lambda: until_listening("demo-server", "--transport", "http", "--port", "{port}"),
    "stack, forks": lambda: per_stack(True),
    "stack, new interpreters": lambda: per_stack(False),
}


def figure(budget: Budget) -> Result:
    rounds = 1 if budget.quick else max(budget.rounds, 3)
    result = Result(
        "startup",
        "Start-up",
        f"CPU (user + system) until the port listens, median of {rounds} alternating runs; a stack: "
        f"demo server + proxy with control API started and stopped by the harness, {STACKS} per run",
        ["case", "CPU s"],
    )
    runs = alternate(CASES, rounds)
    costs = {name: median(values) for name, values in runs.items()}
    result.rows = [[name, f"{cost:.2f}"] for name, cost in costs.items()]
    ratio = costs["stack, forks"] / costs["stack, new interpreters"]
    result.checks.append(Check("stack: forks / new interpreters", "≤ 0.6", f"{ratio:.2f}", ratio <= 0.6))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    result = figure(Budget(rounds=args.rounds))
    print(result.setup)
    for name, cost in result.rows:
        print(f"  {name:28} {cost} s")
    for check in result.checks:
        print(f"  {check.what}: {check.measured} (target {check.target})")


if __name__ == "__main__":
    main()
