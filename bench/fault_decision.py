"""Cost of the fault decision per message (the injector's intercept), in-process.

    .venv/bin/python -m bench.fault_decision [--messages 200000]

Cases: no injector at all (the chain's own cost), probability 0, five rules that never match,
and probability 0.1 over delay/error (decisions that fire). Target: ≤ 5 µs per message for
probability 0 and for five non-matching rules.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import time
from typing import Any

from bench.common import Budget, Check, Result, alternate, median
from mcpchaos.config.faults import FaultConfig
from mcpchaos.config.load import validate
from mcpchaos.faults.injector import FaultInjector
from mcpchaos.intercept.chain import InterceptorChain
from mcpchaos.intercept.context import Context, Session
from mcpchaos.protocol.messages import Direction, Message, parse

CASES: dict[str, dict[str, Any] | None] = {
    "no injector": None,
    "probability 0": {},
    "5 rules, none match": {
        "rules": [{"match": {"tools": [f"tool-{i}"]}, "enabled_faults": {"drop": True}} for i in range(5)]
    },
    "probability 0.1, delay+error": {
        "fault_probability": 0.1,
        "enabled_faults": {"delay": True, "error": True},
        "seed": 1,
    },
}


def messages(count: int) -> list[Message]:
    out = []
    for i in range(count):
        raw = (
            b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}'
            % i
        )
        message = parse(raw)
        assert isinstance(message, Message)
        out.append(message)
    return out


def measure(config: dict[str, Any] | None, batch: list[Message]) -> float:
    interceptors = [] if config is None else [FaultInjector(validate(FaultConfig, config))]
    chain = InterceptorChain(interceptors)
    session = Session("bench", 1, "stdio")
    contexts = [Context(session, Direction.CLIENT_TO_SERVER, i, 0.0) for i in range(len(batch))]
    started = time.perf_counter()
    for message, ctx in zip(batch, contexts, strict=True):
        chain.run(message, ctx)
    return (time.perf_counter() - started) / len(batch) * 1e6


def figure(budget: Budget) -> Result:
    count = 20_000 if budget.quick else 100_000
    batch = messages(count)
    result = Result(
        "faults",
        "Fault decision cost per message",
        f"in-process: `InterceptorChain.run` over {count:,} parsed `tools/call` messages, "
        f"median of {max(budget.rounds, 3)} runs per case (cases alternate)",
        ["case", "µs / message"],
    )
    runs = alternate(
        {name: functools.partial(measure, config, batch) for name, config in CASES.items()},
        max(budget.rounds, 3),
    )
    costs = {name: median(values) for name, values in runs.items()}
    result.rows = [[name, f"{cost:.2f}"] for name, cost in costs.items()]
    for name in ("probability 0", "5 rules, none match"):
        result.checks.append(Check(f"{name}", "≤ 5 µs", f"{costs[name]:.2f} µs", costs[name] <= 5))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=200_000)
    args = parser.parse_args()
    batch = messages(args.messages)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{args.messages} tools/call messages, chain.run per message (best of 3)")
    for name, config in CASES.items():
        best = min(measure(config, batch) for _ in range(3))
        print(f"  {name:32} {best:6.2f} µs/message")


if __name__ == "__main__":
    main()
