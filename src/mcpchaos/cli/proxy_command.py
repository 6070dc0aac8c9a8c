"""``mcpchaos proxy``: assemble the chain, the fault injector, the network, the metrics and the
control API, then run the proxy in the shape the options ask for:

* stdio → stdio (``-- COMMAND``), HTTP → HTTP (``--listen`` + ``--upstream``),
* HTTP → stdio (``--listen`` + ``-- COMMAND``), stdio → HTTP (``--upstream`` alone).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from mcpchaos.cli import options
from mcpchaos.config import addresses
from mcpchaos.config.addresses import HttpUrl
from mcpchaos.config.faults import FaultConfig
from mcpchaos.config.network import NetworkConfig
from mcpchaos.errors import ConfigError
from mcpchaos.faults.injector import FaultInjector
from mcpchaos.intercept.chain import FailurePolicy, InterceptorChain
from mcpchaos.intercept.context import Session
from mcpchaos.intercept.interceptor import Interceptor
from mcpchaos.netsim.controller import NetworkController
from mcpchaos.observe.tape_writer import TapeWriter
from mcpchaos.protocol.messages import Direction

if TYPE_CHECKING:
    from mcpchaos.observe.control import ControlServer, ControlTargets
    from mcpchaos.proxy.http_to_stdio import HttpToStdioBridge

log = logging.getLogger("mcpchaos")


def describe(session: Session) -> dict[str, Any]:
    """A session as the control API lists it."""
    tracker = session.tracker
    return {
        "id": session.id,
        "ordinal": session.ordinal,
        "transport": session.transport,
        "phase": tracker.phase.value,
        "protocol_version": tracker.protocol_version,
        "pending_client_requests": tracker.pending_count(Direction.CLIENT_TO_SERVER),
        "pending_server_requests": tracker.pending_count(Direction.SERVER_TO_CLIENT),
    }


async def serve(args: argparse.Namespace) -> int:
    """Run ``mcpchaos proxy`` until it ends; returns the exit status."""
    command = list(args.server_command)
    if command and command[0] == "--":
        command = command[1:]
    shape = _shape(args, command)
    if shape not in ("http", "stdio-to-http") and args.breaker:
        raise ConfigError("--breaker works toward an HTTP upstream (--upstream URL)")
    if shape not in ("http", "http-to-stdio") and args.max_connections:
        raise ConfigError("--max-connections works where mcpchaos listens for HTTP (--listen)")
    if shape != "stdio" and args.restart != "never":
        raise ConfigError(
            "--restart works on the stdio → stdio proxy (a server command, no --listen/--upstream)"
        )
    control = options.control_address(args.control)
    listen = options.listen_address(args.listen)
    upstream = addresses.http_url(args.upstream) if args.upstream else None

    chain, injector = build_chain(args, control is not None)
    tape = open_tape(args, chain, injector, shape)
    history = chain.recorder

    network_config = options.network_config(args)
    if network_config is not None and shape == "stdio-to-http":
        raise ConfigError(
            "network simulation works on stdio → stdio, HTTP → HTTP and HTTP → stdio proxies; for "
            "stdio → HTTP, put 'mcpchaos link' in front of the HTTP upstream"
        )
    network = None
    if network_config is not None or (control is not None and shape in ("stdio", "http")):
        network = NetworkController(network_config if network_config is not None else NetworkConfig())

    if args.watch and not args.faults:
        raise ConfigError("--watch reloads the --faults FILE: give --faults too")
    sessions: list[Callable[[], list[dict[str, Any]]]] = []
    server: ControlServer | None = None
    targets: ControlTargets | None = None
    if control is not None:
        # Imported here: the control API's server (aiohttp) is most of a proxy's start-up, and
        # most proxies run without one (docs/testing.md, start-up).
        from mcpchaos.observe.control import ControlServer, ControlTargets
        from mcpchaos.observe.metrics import Metrics
        from mcpchaos.observe.toxiproxy_api import Proxy as ToxiProxy

        # Metrics are read through the control API only: without it nothing observes the pumps,
        # so the per-message path carries no counting it could not show.
        metrics = Metrics().observe(chain, injector)
        targets = ControlTargets(metrics, injector, network, lambda: [s for get in sessions for s in get()])
        targets.history = history
        if network is not None:
            # Toxiproxy's clients see the proxy's own network as a proxy named "mcpchaos".
            targets.toxiproxy.register(
                ToxiProxy("mcpchaos", args.listen or "stdio", args.upstream or " ".join(command), network)
            )
        server = ControlServer(targets, control[0], control[1], args.control_token)
        with addresses.naming("--control"):
            port = await server.start()
        print(f"mcpchaos: control API on http://{control[0]}:{port}", file=sys.stderr, flush=True)
    watcher = (
        asyncio.create_task(watch_faults(args, injector)) if args.watch and injector is not None else None
    )
    try:
        with addresses.naming("--listen"):
            return await _run(args, shape, command, chain, network, sessions, targets, listen, upstream)
    finally:
        if watcher is not None:
            watcher.cancel()
        if server is not None:
            await server.stop()
        if tape is not None:
            tape.close()


def build_chain(args: argparse.Namespace, controlled: bool) -> tuple[InterceptorChain, FaultInjector | None]:
    """The chain the options ask for (trace, fault injector) and, with ``--history``, its
    history recorder; ``controlled``: a control API will run (faults can come later)."""
    interceptors: list[Interceptor] = []
    if args.trace:
        from mcpchaos.observe.trace import TraceInterceptor

        interceptors.append(TraceInterceptor())
        logging.getLogger("mcpchaos.trace").setLevel(logging.INFO)
    faults = options.fault_config(args)
    injector = None
    if faults is not None or controlled:  # with a control API, faults can be switched on later
        injector = FaultInjector(faults if faults is not None else FaultConfig())
        if args.fault_log:
            from mcpchaos.observe.faultlog import FaultLog

            injector.on_fault(FaultLog(args.fault_log))
        interceptors.append(injector)
        log.info("fault injection ready (seed %d)", injector.seed)
    elif args.fault_log:
        raise ConfigError("--fault-log needs faults to log: add --faults FILE or --fault-probability")
    chain = InterceptorChain(interceptors, FailurePolicy(args.on_interceptor_error))
    history = None
    if args.history:
        if not controlled:
            raise ConfigError("--history is read through the control API: give --control too")
        from mcpchaos.observe.history import HistoryRecorder

        # A pump hook, not an interceptor: it records what each peer was actually given.
        history = chain.recorder = HistoryRecorder(max(args.history_limit, 1))
        if injector is not None:
            injector.on_fault(history.fault)

    return chain, injector


def open_tape(
    args: argparse.Namespace, chain: InterceptorChain, injector: FaultInjector | None, shape: str
) -> TapeWriter | None:
    """With ``--record FILE``: a tape writer listening to the chain's history recorder (the
    one ``--history`` uses, made here when only the tape wants it: one recording mechanism)."""
    if not args.record:
        if args.redact or args.no_redact:
            raise ConfigError("--redact and --no-redact choose what a tape keeps: give --record FILE.tape")
        return None
    from mcpchaos.history.redact import Redactor
    from mcpchaos.observe.history import HistoryRecorder
    from mcpchaos.observe.tape_writer import TapeWriter

    if args.no_redact and args.redact:
        raise ConfigError("--no-redact keeps everything: drop --redact, or drop --no-redact")
    if chain.recorder is None:
        chain.recorder = HistoryRecorder(max(args.history_limit, 1))
        if injector is not None:
            injector.on_fault(chain.recorder.fault)
    writer = TapeWriter(
        args.record, getattr(args, "tape_shape", shape), Redactor(args.redact, not args.no_redact)
    )
    chain.recorder.listeners.append(writer)
    return writer


async def watch_faults(args: argparse.Namespace, injector: FaultInjector, every: float = 0.5) -> None:
    """Reload the fault file when its modification time changes; keep the old configuration
    (and say why) when the new file does not validate."""
    path = Path(args.faults)
    seen = _mtime(path)
    while True:
        await asyncio.sleep(every)
        current = _mtime(path)
        if current == seen:
            continue
        seen = current
        try:
            config = options.fault_config(args)
        except ConfigError as exc:
            log.error("not reloading %s, keeping the running configuration: %s", path, exc)
            continue
        if config is not None:
            injector.update_config(config)
            log.warning("reloaded the fault configuration from %s", path)


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime_ns / 1e9
    except OSError:
        return None


def _shape(args: argparse.Namespace, command: list[str]) -> str:
    if args.listen and args.upstream and not command:
        return "http"
    if args.upstream and command:
        raise ConfigError("give either --upstream URL or a server command after '--', not both")
    if args.upstream:
        return "stdio-to-http"
    if args.listen and not command:
        raise ConfigError("--listen needs an upstream: --upstream URL, or a server command after '--'")
    if args.listen:
        return "http-to-stdio"
    if not command:
        raise ConfigError("no server command: give it after '--', e.g. mcpchaos proxy -- python server.py")
    return "stdio"


async def _run(
    args: argparse.Namespace,
    shape: str,
    command: list[str],
    chain: InterceptorChain,
    network: NetworkController | None,
    sessions: list[Callable[[], list[dict[str, Any]]]],
    targets: ControlTargets | None,
    listen: tuple[str, int] | None,
    upstream: HttpUrl | None,
) -> int:
    if shape == "stdio":
        from mcpchaos.proxy.stdio import StdioOptions, StdioProxy

        stdio_options = StdioOptions(
            max_message_bytes=args.max_message_bytes,
            shutdown_grace=args.shutdown_grace,
            restart=options.restart_policy(args),
        )
        proxy = StdioProxy(command, chain, stdio_options, network=network)
        sessions.append(lambda: [describe(proxy.session)])
        return await proxy.run(handle_signals=True)
    if shape == "http":
        assert listen is not None
        assert upstream is not None
        return await _run_http(args, chain, network, sessions, listen, upstream, targets)
    if shape == "http-to-stdio":
        from mcpchaos.proxy.http_to_stdio import BridgeOptions, HttpToStdioBridge

        assert listen is not None
        host, port = listen
        bridge = HttpToStdioBridge(
            command,
            chain,
            options.http_options(args),
            BridgeOptions(
                path=args.path,
                shutdown_grace=args.shutdown_grace,
                max_sessions=max(args.max_sessions or 100, 1),
                max_processes=None
                if args.max_server_processes is None
                else max(args.max_server_processes, 1),
            ),
        )
        sessions.append(lambda: [describe(upstream.session) for upstream in bridge.sessions.entries()])
        if network is not None:
            return await _bridge_behind_link(bridge, listen, network)
        return await bridge.run_forever(host, port)
    from mcpchaos.proxy.stdio_to_http import StdioToHttpBridge

    stdio_bridge = StdioToHttpBridge(
        args.upstream, chain, options.http_options(args), shutdown_grace=args.shutdown_grace
    )
    sessions.append(lambda: [describe(stdio_bridge.session)])
    if targets is not None:
        targets.breaker = stdio_bridge.breaker
    return await stdio_bridge.run()


async def _bridge_behind_link(
    bridge: HttpToStdioBridge, listen: tuple[str, int], network: NetworkController
) -> int:
    """HTTP → stdio with a simulated network: the clients reach the bridge through a TCP link
    (the bridge's server side is a pipe, which has no network to shape)."""
    from mcpchaos.proxy.lifecycle import serve_until_stopped
    from mcpchaos.transport.tcp_link import TcpLink

    inner = await bridge.start("127.0.0.1", 0)
    link = TcpLink(listen, ("127.0.0.1", inner), network, "client")
    try:
        port = await link.start()
    except BaseException:
        await bridge.stop()
        raise

    async def stop() -> None:
        await link.stop()
        await bridge.stop()

    where = f"http://{listen[0]}:{port}{bridge.bridge.path}"
    return await serve_until_stopped(
        f"mcpchaos: listening on {where} (simulated network) → {' '.join(bridge.command)}", stop
    )


async def _run_http(
    args: argparse.Namespace,
    chain: InterceptorChain,
    network: NetworkController | None,
    sessions: list[Callable[[], list[dict[str, Any]]]],
    listen: tuple[str, int],
    upstream: HttpUrl,
    breaker_slot: ControlTargets | None = None,
) -> int:
    from mcpchaos.proxy.http import HttpProxy
    from mcpchaos.transport.tcp_link import TcpLink

    host, port = listen
    url = args.upstream
    link = None
    if network is not None:
        # The simulated network sits between the proxy and the upstream: a TCP link on a
        # loopback port that the proxy talks to the upstream through.
        link = TcpLink(("127.0.0.1", 0), (upstream.host, upstream.port), network, "upstream")
        link_port = await link.start()
        parts = urlsplit(args.upstream)
        url = urlunsplit((parts.scheme, f"127.0.0.1:{link_port}", parts.path, parts.query, parts.fragment))
    proxy = HttpProxy(url, chain, options.http_options(args))
    sessions.append(lambda: [describe(session) for session in proxy.sessions.entries()])
    if breaker_slot is not None:
        breaker_slot.breaker = proxy.breaker
    try:
        return await proxy.run_forever(host, port)
    finally:
        if link is not None:
            with contextlib.suppress(Exception):
                await link.stop()
