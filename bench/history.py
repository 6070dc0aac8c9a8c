"""Cost of the session history (``proxy --history``) per message, and of the checker, in process.

    .venv/bin/python -m bench.history [--exchanges 50000] [--rounds 5]

*Recording*: the recorder's own calls alone (read + written per message, nothing else); and a
real :class:`~mcpchaos.proxy.pump.Pump` with stand-in endpoints carrying ``tools/call``
request/response pairs (a 2026-07-28 request with its ``_meta``, 100-byte text)
with the recorder on and off, alternately; the difference per proxied message is what
recording costs (each proxied message is two entries: read from one peer, written to the other).
Target: ≤ 2 µs per message. *Checking*: :func:`mcpchaos.history.check` over the histories the
recording run made (both wires, every rule), per recorded entry. Medians of the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import orjson

from mcpchaos.history import check
from mcpchaos.intercept.chain import InterceptorChain
from mcpchaos.intercept.context import Session
from mcpchaos.observe.history import HistoryRecorder
from mcpchaos.protocol.messages import Direction, Message, parse
from mcpchaos.proxy.pump import Pump

TARGET_US = 2.0
_META = {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}


class _Sink:
    def send(self, message: Message) -> bool:
        return True

    def close(self) -> None:
        return None


def _messages(count: int) -> list[tuple[Message, Message]]:
    pairs = []
    for i in range(count):
        request = orjson.dumps(
            {
                "jsonrpc": "2.0",
                "id": i,
                "method": "tools/call",
                "params": {"name": "echo", "arguments": {"text": "x" * 100}, "_meta": _META},
            }
        )
        response = orjson.dumps(
            {
                "jsonrpc": "2.0",
                "id": i,
                "result": {"content": [{"type": "text", "text": "x" * 100}], "resultType": "complete"},
            }
        )
        parsed = parse(request), parse(response)
        assert isinstance(parsed[0], Message)
        assert isinstance(parsed[1], Message)
        pairs.append((parsed[0], parsed[1]))
    return pairs


def _run(pairs: list[tuple[Message, Message]], recorder: HistoryRecorder | None, sessions: int) -> float:
    """Seconds of CPU to pump every pair through ``sessions`` sessions."""
    chain = InterceptorChain()
    chain.recorder = recorder
    pumps = [Pump(Session(f"s-{n}", n, "bench"), chain, _Sink(), _Sink()) for n in range(1, sessions + 1)]
    started = time.process_time()
    for index, (request, response) in enumerate(pairs):
        pump = pumps[index % sessions]
        pump.receive(Direction.CLIENT_TO_SERVER, request)
        pump.receive(Direction.SERVER_TO_CLIENT, response)
    return time.process_time() - started


def _direct(pairs: list[tuple[Message, Message]], sessions: int) -> float:
    """Seconds of CPU for the recorder's own calls alone (read + written per message)."""
    recorder = HistoryRecorder(limit=8 * len(pairs), per_session=8 * len(pairs))
    all_sessions = [Session(f"s-{n}", n, "bench") for n in range(1, sessions + 1)]
    read, written = recorder.read, recorder.written
    c2s, s2c = Direction.CLIENT_TO_SERVER, Direction.SERVER_TO_CLIENT
    started = time.process_time()
    for index, (request, response) in enumerate(pairs):
        session = all_sessions[index % sessions]
        read(session, c2s, request, 1.0, index)
        written(session, c2s, request, 1.0)
        read(session, s2c, response, 1.0, index)
        written(session, s2c, response, 1.0)
    return time.process_time() - started


async def main(exchanges: int, rounds: int) -> None:
    pairs = _messages(exchanges)
    messages = 2 * exchanges
    sessions = 50  # 1,000 pairs a session: well under the per-session cap
    off: list[float] = []
    on: list[float] = []
    checks: list[float] = []
    entries = 0
    direct: list[float] = []
    for round_ in range(rounds):
        direct.append(_direct(pairs, sessions))
        order = (False, True) if round_ % 2 == 0 else (True, False)
        for recording in order:
            recorder = HistoryRecorder(limit=4 * messages, per_session=4 * messages) if recording else None
            seconds = _run(pairs, recorder, sessions)
            (on if recording else off).append(seconds)
            if recorder is not None:
                entries = recorder.total
                started = time.process_time()
                result = check(recorder.histories())
                checks.append(time.process_time() - started)
                assert result.clean, result.as_dict()
    per_off = statistics.median(off) / messages * 1e6
    per_on = statistics.median(on) / messages * 1e6
    per_check = statistics.median(checks) / entries * 1e6
    print(f"{exchanges} request/response pairs ({messages} messages, {entries} entries), {rounds} rounds")
    print(f"pump per message, history off: {per_off:.2f} µs")
    print(f"pump per message, history on:  {per_on:.2f} µs")
    verdict = "met" if per_on - per_off <= TARGET_US else "NOT met"
    print(f"recording per message: {per_on - per_off:.2f} µs (target ≤ {TARGET_US:g} µs: {verdict})")
    per_direct = statistics.median(direct) / messages * 1e6
    print(f"the recorder's calls alone (read + written) per message: {per_direct:.2f} µs")
    print(f"checker per entry (every rule, both wires): {per_check:.2f} µs")
    print(f"checker per proxied message (2 entries):    {2 * per_check:.2f} µs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--exchanges", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    asyncio.run(main(options.exchanges, options.rounds))
