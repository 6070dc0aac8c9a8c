"""Start-up: the CPU a process spends before it listens, and what a harness stack costs.

Each case is run alternately, several times, and reported as the median:

* ``proxy``, ``proxy --control``, ``demo-server``: one ``python -m mcpchaos ...`` process,
  started, waited for until its port accepts, stopped; its CPU (user + system) until then;
* ``stack, forks`` and ``stack, new interpreters``: what one more stack costs a harness that
  starts and stops a demo target's stacks (demo server + proxy with its control API), with the
  demo servers and proxies forked from warm templates (harness/forks.py) or, with
  ``MCPCHAOS_FORKS=0``, started as new interpreters: the CPU of the harness and everything it
  started for four stacks, less that for one, over three (the harness's own start-up and the
  templates' come out).

    .venv/bin/python -m bench.startup [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys

from bench.common import MCPCHAOS, Budget, Check, Result, alternate, cpu_seconds, free_port, median, spawn

STACKS = 4
_STACKS_SCRIPT = """
import asyncio, pathlib, sys, tempfile
from mcpchaos.harness.stack import Stack, TargetSpec
async def main():
    for _ in range(int(sys.argv[1])):
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
    port = free_port()
    with spawn([*MCPCHAOS, *(arg.replace("{port}", str(port)) for arg in args)], port) as process:
        return cpu_seconds(process)


def per_stack(forks: bool) -> float:
    """CPU seconds one more stack costs, the harness and all it started."""
    env = {**os.environ, "MCPCHAOS_FORKS": "1" if forks else "0"}
    spent = []
    for stacks in (1, STACKS):
        before = _children_cpu()
        subprocess.run([sys.executable, "-c", _STACKS_SCRIPT, str(stacks)], env=env, check=True, timeout=300)
        spent.append(_children_cpu() - before)
    return (spent[1] - spent[0]) / (STACKS - 1)


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
        f"what one more demo server + proxy with control API costs the harness ({STACKS} stacks less 1)",
        ["case", "CPU s"],
    )
    runs = alternate(CASES, rounds)
    costs = {name: median(values) for name, values in runs.items()}
    result.rows = [[name, f"{cost:.2f}"] for name, cost in costs.items()]
    ratio = costs["stack, forks"] / costs["stack, new interpreters"]
    result.checks.append(Check("stack: forks / new interpreters", "≤ 0.5", f"{ratio:.2f}", ratio <= 0.5))
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
