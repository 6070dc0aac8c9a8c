"""The ``proxy`` command's options, and the option groups ``link`` and ``replay`` share with it.

Kept apart from :mod:`mcpchaos.cli.main` (which builds the whole command line) because the proxy
has more options than every other command together: the four shapes, faults, limits, the
control API, the simulated network, the history and the tape.
"""

from __future__ import annotations

import argparse

from mcpchaos.cli.arg_types import positive_float, size
from mcpchaos.intercept.chain import FailurePolicy
from mcpchaos.protocol.ndjson import DEFAULT_MAX_LINE_BYTES

PROXY_USAGE = """%(prog)s [OPTIONS] -- COMMAND [ARGS...]
       %(prog)s [OPTIONS] --listen HOST:PORT --upstream URL
       %(prog)s [OPTIONS] --listen HOST:PORT -- COMMAND [ARGS...]
       %(prog)s [OPTIONS] --upstream URL"""

PROXY_DESCRIPTION = """\
Put mcpchaos between an MCP client and an MCP server: every message passes through the fault
injector (and the simulated network), so you see what the client or the server does when calls
fail, stall or come back wrong. The options choose one of four shapes:

  stdio → stdio   the MCP client launches mcpchaos in place of the server command
    mcpchaos proxy --fault-probability 0.2 --faults-enabled error -- python -m my_server
  HTTP → HTTP     clients connect to --listen; mcpchaos relays to a Streamable HTTP server
    mcpchaos proxy --listen 127.0.0.1:8080 --upstream http://127.0.0.1:8000/mcp
  HTTP → stdio    a stdio server served over Streamable HTTP (one process per session)
    mcpchaos proxy --listen 127.0.0.1:8080 -- python -m my_server
  stdio → HTTP    a stdio MCP client reaches a Streamable HTTP server
    mcpchaos proxy --upstream http://127.0.0.1:8000/mcp

Add --control 9900 to read metrics and change faults and the network while it runs
('mcpchaos ctl --control http://127.0.0.1:9900 ...')."""


def add_limit_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("limits")
    group.add_argument(
        "--max-connections",
        type=int,
        default=0,
        metavar="N",
        help="open client connections at most (0: no limit; HTTP and links)",
    )
    group.add_argument(
        "--over-limit",
        choices=["503", "reset"],
        default=None,
        help="a connection over the limit gets HTTP 503 with a JSON-RPC error (default for HTTP) "
        "or a reset (default for links)",
    )


def add_control_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("control API (see docs/control.md)")
    group.add_argument(
        "--control",
        metavar="HOST:PORT",
        help="serve the control API and metrics here (PORT alone: on 127.0.0.1)",
    )
    group.add_argument(
        "--control-token",
        metavar="TOKEN",
        help="require 'Authorization: Bearer TOKEN' (mandatory off loopback)",
    )


def add_network_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("network simulation (see docs/network.md)")
    group.add_argument("--network", metavar="FILE", help="a NetworkConfig in YAML or JSON")
    group.add_argument(
        "--latency-ms",
        type=positive_float,
        metavar="MS",
        help="added latency per direction (a round trip gets twice this); overrides the file",
    )
    group.add_argument("--jitter-ms", type=positive_float, metavar="MS", help="latency jitter (uniform ±)")
    group.add_argument(
        "--bandwidth-kbps",
        type=positive_float,
        metavar="KBPS",
        help="per-connection bandwidth per direction, kilobytes per second",
    )
    group.add_argument(
        "--loss", type=float, metavar="P", help="chance per chunk that the connection is reset"
    )
    group.add_argument("--network-seed", type=int, metavar="N", help="seed for the network's randomness")


def add_proxy_arguments(parser: argparse.ArgumentParser, with_shape: bool = True) -> None:
    """The proxy's options (faults, network, control, HTTP, limits, breaker, restarts, the
    proxy itself, tapes); ``with_shape`` adds what to relay (--listen, --upstream, the server
    command), which ``mcpchaos replay`` sets itself."""
    # Groups in the order --help shows them (arguments are added to them further down).
    shape = parser.add_argument_group("what to relay (the shape)") if with_shape else None
    faults = parser.add_argument_group("fault injection (see docs/faults.md)")
    add_network_arguments(parser)
    add_control_arguments(parser)
    http = parser.add_argument_group("Streamable HTTP (--listen, --upstream)")
    add_limit_arguments(parser)
    breaker = parser.add_argument_group("circuit breaker (toward an HTTP upstream, --upstream)")
    restart = parser.add_argument_group("server restarts (stdio → stdio)")
    general = parser.add_argument_group("the proxy itself")
    general.add_argument(
        "--max-message-bytes",
        type=size,
        default=DEFAULT_MAX_LINE_BYTES,
        metavar="SIZE",
        help="longest message accepted from either side, e.g. 16MiB (default: 16MiB)",
    )
    general.add_argument(
        "--shutdown-grace",
        type=positive_float,
        default=1.5,
        metavar="SECONDS",
        help="after the client closes stdin, how long the server gets to exit before SIGTERM (default: 1.5)",
    )
    general.add_argument(
        "--on-interceptor-error",
        choices=[p.value for p in FailurePolicy],
        default=FailurePolicy.FAIL_OPEN.value,
        help="when an interceptor raises: forward the message unchanged (fail-open) or "
        "answer -32603 (fail-closed) (default: fail-open)",
    )
    general.add_argument("--trace", action="store_true", help="log every message that passes (on stderr)")
    general.add_argument(
        "--history",
        action="store_true",
        help="record every session's messages (both sides, bounded) for 'mcpchaos ctl check' "
        "(needs --control; docs/history.md)",
    )
    tape = parser.add_argument_group("tapes (see docs/tapes.md)")
    tape.add_argument(
        "--record",
        metavar="FILE.tape",
        help="write every message (both sides, transport metadata, faults, pairing) to a JSONL "
        "tape; secrets redacted unless --no-redact",
    )
    tape.add_argument(
        "--redact",
        action="append",
        default=[],
        metavar="FIELD",
        help="with --record: also redact every JSON field (or HTTP header) named FIELD; repeatable",
    )
    tape.add_argument(
        "--no-redact",
        action="store_true",
        help="with --record: keep Authorization and cookie headers and --redact fields as they were",
    )
    general.add_argument(
        "--history-limit",
        type=int,
        default=100_000,
        metavar="N",
        help="with --history: messages kept in all (oldest sessions evicted first; at most "
        "10000 per session) (default: 100000)",
    )
    faults.add_argument(
        "--faults", metavar="FILE", help="a FaultConfig in YAML or JSON (examples/ has profiles)"
    )
    faults.add_argument(
        "--fault-probability",
        type=float,
        metavar="P",
        help="chance (0-1) that a call (a client request, not the handshake) gets a fault; "
        "overrides the file",
    )
    faults.add_argument(
        "--faults-enabled",
        metavar="LIST",
        help="comma-separated fault kinds (delay, error, corruption, drop, duplicate, reorder, "
        "resource_exhaustion); overrides the file",
    )
    faults.add_argument("--seed", type=int, help="seed for reproducible faults; overrides the file")
    faults.add_argument(
        "--watch",
        action="store_true",
        help="reload --faults FILE when it changes (an invalid file keeps the running config)",
    )
    faults.add_argument(
        "--fault-log", metavar="FILE", help="append every injected fault to FILE as JSON lines"
    )
    breaker.add_argument(
        "--breaker",
        action="store_true",
        help="fail fast (JSON-RPC -32016; HTTP 503) while the upstream keeps failing",
    )
    breaker.add_argument(
        "--breaker-failure-rate",
        type=float,
        default=0.5,
        metavar="R",
        help="failure share in the window that opens it (default: 0.5)",
    )
    breaker.add_argument(
        "--breaker-window",
        type=positive_float,
        default=10.0,
        metavar="SECONDS",
        help="the sliding window (default: 10)",
    )
    breaker.add_argument(
        "--breaker-min",
        type=int,
        default=10,
        metavar="N",
        help="outcomes needed in the window before it can open (default: 10)",
    )
    breaker.add_argument(
        "--breaker-open",
        type=positive_float,
        default=5.0,
        metavar="SECONDS",
        help="how long it stays open before probing (default: 5)",
    )
    breaker.add_argument(
        "--breaker-probes",
        type=int,
        default=3,
        metavar="N",
        help="half-open probes; this many successes close it (default: 3)",
    )
    restart.add_argument(
        "--restart",
        choices=["never", "on-failure"],
        default="never",
        help="start the server again when it exits non-zero or dies of a signal, replaying the "
        "client's initialize (default: never: exit with the server's status)",
    )
    restart.add_argument(
        "--restart-backoff",
        type=positive_float,
        default=0.5,
        metavar="SECONDS",
        help="wait before the first restart, doubled for each next one (default: 0.5)",
    )
    restart.add_argument(
        "--restart-max-backoff",
        type=positive_float,
        default=10.0,
        metavar="SECONDS",
        help="the longest wait before a restart (default: 10)",
    )
    restart.add_argument(
        "--max-restarts",
        type=int,
        default=5,
        metavar="N",
        help="restarts at most; the next failure ends the proxy with the server's status (default: 5)",
    )
    restart.add_argument(
        "--during-restart",
        choices=["queue", "fail"],
        default="queue",
        help="client messages while the server restarts: queue them (default) or answer -32010 at once",
    )
    restart.add_argument(
        "--restart-queue",
        type=int,
        default=100,
        metavar="N",
        help="messages queued during a restart at most; beyond it requests get -32010 (default: 100)",
    )
    if shape is not None:
        shape.add_argument(
            "--listen",
            metavar="HOST:PORT",
            help="serve MCP over Streamable HTTP here (e.g. 127.0.0.1:8080; PORT alone: on 127.0.0.1) "
            "instead of stdio",
        )
        shape.add_argument(
            "--upstream",
            metavar="URL",
            help="the upstream MCP server's Streamable HTTP endpoint, e.g. http://127.0.0.1:8000/mcp",
        )
    http.add_argument(
        "--max-sessions",
        type=int,
        default=None,
        metavar="N",
        help="sessions at most; the least recently used is evicted (default: 10000 for the HTTP proxy, "
        "100 server processes for the HTTP→stdio bridge)",
    )
    http.add_argument(
        "--max-server-processes",
        type=int,
        default=None,
        metavar="N",
        help="HTTP→stdio bridge: server processes started at most over the proxy's life; past it a new "
        "session is refused with HTTP 502 (default: no bound; mcpchaos run sets one)",
    )
    http.add_argument(
        "--session-idle-timeout",
        type=positive_float,
        metavar="SECONDS",
        help="a session with no request or stream open for this long expires (default: never)",
    )
    http.add_argument(
        "--session-max-age",
        type=positive_float,
        metavar="SECONDS",
        help="a session older than this expires, used or not (default: never)",
    )
    http.add_argument(
        "--header-timeout",
        type=positive_float,
        default=10.0,
        metavar="SECONDS",
        help="a new connection's request head must arrive within this (slowloris; default: 10)",
    )
    http.add_argument(
        "--body-timeout",
        type=positive_float,
        default=30.0,
        metavar="SECONDS",
        help="a request body must arrive within this once its head did (default: 30)",
    )
    http.add_argument(
        "--idle-timeout",
        type=positive_float,
        default=75.0,
        metavar="SECONDS",
        help="close kept-alive connections idle this long between requests (default: 75)",
    )
    http.add_argument(
        "--path",
        default="/mcp",
        help="with --listen and a server command: the MCP endpoint path (default: /mcp)",
    )
    http.add_argument(
        "--max-body-bytes",
        type=size,
        default=DEFAULT_MAX_LINE_BYTES,
        metavar="SIZE",
        help="largest HTTP request body accepted (413 above it; default: 16MiB)",
    )
    http.add_argument(
        "--upstream-timeout",
        type=positive_float,
        default=30.0,
        metavar="SECONDS",
        help="wait this long for the upstream's response headers, then 504 (default: 30)",
    )
    http.add_argument(
        "--request-timeout",
        type=positive_float,
        default=300.0,
        metavar="SECONDS",
        help="longest a request is held when nothing will answer it (default: 300)",
    )
    http.add_argument(
        "--allowed-hosts",
        metavar="HOST[,HOST...]",
        help="Host values the listener accepts, e.g. 'myhost:*,10.0.0.5:8080' (DNS-rebinding "
        "protection; default: localhost, 127.0.0.1 and [::1] on any port when listening on "
        "loopback, anything otherwise); others get 421",
    )
    http.add_argument(
        "--allowed-origins",
        metavar="ORIGIN[,ORIGIN...]",
        help="Origin values accepted, e.g. 'http://localhost:*' (default: the loopback ones when "
        "listening on loopback); others get 403; a request without Origin is always accepted",
    )
    http.add_argument(
        "--forward-host",
        action="store_true",
        help="send the client's Host header upstream instead of the upstream's own address "
        "(so the upstream's own Host checks see what the client sent)",
    )
    if shape is not None:
        shape.add_argument(
            "server_command",
            nargs=argparse.REMAINDER,
            metavar="-- COMMAND [ARGS...]",
            help="the real MCP server to run",
        )
