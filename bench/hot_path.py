"""The HTTP proxy's own cost for one exchange, in process, with no sockets and no other process.

One sessionless ``tools/call`` (the request of ``http-sessionless``) is fed to a real
:class:`~mcpchaos.proxy.http.HttpProxy` through its front's connection protocol, and an
upstream's JSON answer through a kept-alive upstream connection of its pool; the transports
are stand-ins that keep what is written. What remains is the proxy's Python work per exchange,
without the kernel, the event loop's polling or the load client: the figure to move when
optimising the data plane, and one that background load disturbs far less than req/s.

``--relay`` answers every request the way paths that carry no MCP message are relayed (no
message parsed, no session, no pump): the HTTP core's share. ``--count`` also counts Python
calls and bytecodes per exchange (deterministic, so before/after compare exactly).

    .venv/bin/python -m bench.hot_path [--relay] [--count] [--exchanges 20000]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

import orjson
import uvloop

from mcpchaos.proxy.http import HttpProxy
from mcpchaos.transport.http_client import _Connection
from mcpchaos.transport.http_message import Request, ResponseWriter

if TYPE_CHECKING:
    from _typeshed import TraceFunction

_TEXT = "x" * 100
_BODY = orjson.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {
            "name": "echo",
            "arguments": {"text": _TEXT},
            "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"},
        },
    }
)
REQUEST = (
    b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\n"
    b"Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\n"
    b"Mcp-Method: tools/call\r\nMcp-Name: echo\r\nContent-Length: %d\r\n\r\n" % len(_BODY)
) + _BODY
"""What wrk sends in ``http-sessionless`` (the same headers, the same body shape)."""
_ANSWER = orjson.dumps(
    {"jsonrpc": "2.0", "id": 1, "result": {"content": [{"type": "text", "text": _TEXT}], "isError": False}}
)
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
    b"Date: Tue, 01 Dec 2026 22:00:00 GMT\r\nServer: Python/3.11 aiohttp/3.9\r\n\r\n" % len(_ANSWER)
) + _ANSWER
"""What ``bench.echo_http`` (aiohttp) answers."""


class _Transport:
    """Keeps what is written; the rest of a transport's surface does nothing."""

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def is_closing(self) -> bool:
        return False

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


def _exchange_once(relay: bool) -> Callable[[], None]:
    """A proxy wired to stand-in transports, and the function that runs one exchange on it."""
    if relay:

        class _RelayingProxy(HttpProxy):
            def handle(self, request: Request, writer: ResponseWriter) -> None:
                self.relay(request, writer)

        proxy: HttpProxy = _RelayingProxy("http://127.0.0.1:8000/mcp")
    else:
        proxy = HttpProxy("http://127.0.0.1:8000/mcp")
    client, upstream = _Transport(), _Transport()
    front = proxy.front._connection()
    front.connection_made(client)  # type: ignore[arg-type]
    pool = proxy.upstream.pool
    conn = _Connection(pool)
    conn.connection_made(upstream)  # type: ignore[arg-type]
    pool._idle.append(conn)
    pool._open = 1
    feed_front = front.data_received  # type: ignore[attr-defined]

    def once() -> None:
        feed_front(REQUEST)
        if not upstream.written:
            raise RuntimeError("the proxy sent nothing upstream")
        upstream.written.clear()
        conn.data_received(RESPONSE)
        if not client.written or b"200 OK" not in client.written[0]:
            raise RuntimeError(f"the client got no answer: {client.written[:1]!r}")
        client.written.clear()

    return once


def _counted(once: Callable[[], None], exchanges: int) -> tuple[float, float]:
    """(Python calls, bytecodes) per exchange, by tracing ``exchanges`` of them."""
    calls = opcodes = 0

    def tracer(frame: FrameType, event: str, arg: object) -> TraceFunction:
        nonlocal calls, opcodes
        if event == "call":
            calls += 1
            frame.f_trace_opcodes = True
        elif event == "opcode":
            opcodes += 1
        return tracer

    sys.settrace(tracer)
    try:
        for _ in range(exchanges):
            once()
    finally:
        sys.settrace(None)
    return calls / exchanges, opcodes / exchanges


async def measure(relay: bool, exchanges: int, count: bool) -> dict[str, float]:
    once = _exchange_once(relay)
    for _ in range(min(2000, exchanges)):  # warm: the pool, the caches, the allocator
        once()
    started = time.process_time()
    for _ in range(exchanges):
        once()
    result = {"cpu_us": (time.process_time() - started) / exchanges * 1e6}
    if count:
        result["calls"], result["opcodes"] = _counted(once, 200)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--relay", action="store_true", help="relay untouched (the HTTP core's share)")
    parser.add_argument("--count", action="store_true", help="also count Python calls and bytecodes")
    parser.add_argument("--exchanges", type=int, default=20000, help="exchanges timed (default 20000)")
    args = parser.parse_args()
    result = uvloop.run(measure(args.relay, args.exchanges, args.count))
    what = "relayed untouched" if args.relay else "through the MCP path"
    line = f"{result['cpu_us']:.1f} µs of CPU per exchange {what}"
    if args.count:
        line += f"; {result['calls']:.0f} Python calls, {result['opcodes']:.0f} bytecodes"
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
