"""A stdio MCP server that answers from a tape: the "upstream" of ``mcpchaos replay``.

``mcpchaos replay --as-server`` runs this as the server command of an ordinary proxy (stdio →
stdio, or HTTP → stdio), so the whole fault injector, the network simulator, the control API
and ``--record`` sit on top of it unchanged: one more proxy shape, no second chain. It reads
JSON-RPC messages as NDJSON on stdin and answers each request with
:class:`mcpchaos.history.replay.Answers` (docs/tapes.md, "Matching"), after the recorded delay
(``--timing recorded``) or at once (``--timing none``). Requests are answered concurrently, as
the recorded server did; ``notifications/cancelled`` drops the answer it names; other
notifications are ignored.

Run as ``python -m mcpchaos.proxy.replay_server [--timing recorded|none] TAPE``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import orjson

from mcpchaos.history import tape
from mcpchaos.history.replay import Answers, recorded_calls
from mcpchaos.protocol import codes

MAX_LINE = 64 * 1024 * 1024


class ReplayServer:
    """Answers NDJSON requests from ``answers`` and writes the replies with ``write``."""

    def __init__(self, answers: Answers, timing: bool, write: Any) -> None:
        self.answers = answers
        self.timing = timing
        self.write = write
        self.pending: dict[Any, asyncio.Task[None]] = {}

    def handle(self, line: bytes) -> None:
        try:
            message = orjson.loads(line)
        except orjson.JSONDecodeError:
            self._send(
                {"jsonrpc": "2.0", "id": None, "error": {"code": codes.PARSE_ERROR, "message": "parse error"}}
            )
            return
        for item in message if isinstance(message, list) else [message]:
            if isinstance(item, dict):
                self._one(item)

    def _one(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        if not isinstance(method, str):
            return  # a response (to a server request the tape never makes): nothing to do
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        if "id" not in message:
            if method == "notifications/cancelled":
                task = self.pending.pop(params.get("requestId"), None)
                if task is not None:
                    task.cancel()
            return
        answer = self.answers.answer(method, params)
        request_id = message["id"]
        reply = answer.message(request_id)
        delay = answer.delay if self.timing else 0.0
        if delay <= 0:
            self._send(reply)
            return
        task = asyncio.get_running_loop().create_task(self._later(request_id, reply, delay))
        self.pending[_key(request_id)] = task

    async def _later(self, request_id: Any, reply: dict[str, Any], delay: float) -> None:
        await asyncio.sleep(delay)
        self.pending.pop(_key(request_id), None)
        self._send(reply)

    def _send(self, message: dict[str, Any]) -> None:
        self.write(orjson.dumps(message) + b"\n")


def _key(request_id: Any) -> Any:
    return request_id if isinstance(request_id, int | str) else repr(request_id)


async def serve(path: str, timing: bool) -> int:
    answers = Answers(recorded_calls(tape.read(path)))
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_LINE)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = sys.stdout.buffer

    def write(data: bytes) -> None:
        out.write(data)
        out.flush()

    server = ReplayServer(answers, timing, write)
    while line := await reader.readline():
        if line.strip():
            server.handle(line)
    for task in list(server.pending.values()):  # stdin closed: the client is gone
        task.cancel()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mcpchaos-replay-server")
    parser.add_argument("--timing", choices=["recorded", "none"], default="recorded")
    parser.add_argument("tape")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(serve(args.tape, args.timing == "recorded"))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a broken tape: say so on stderr (the proxy logs it), exit 1
        print(f"mcpchaos replay: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
