"""``mcpchaos``: the command line.

Exit codes: 0 success; 1 a runtime failure; 2 a usage or configuration error; 126/127 the
server command could not be run / was not found; otherwise ``mcpchaos proxy`` exits with the
server's own status (128+N when it died of signal N).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mcpchaos import __version__
from mcpchaos.errors import ConfigError, McpChaosError
from mcpchaos.protocol.ndjson import DEFAULT_MAX_LINE_BYTES
from mcpchaos.proxy.chain import FailurePolicy, InterceptorChain
from mcpchaos.proxy.interceptor import Interceptor

if TYPE_CHECKING:
    from mcpchaos.config.faults import FaultConfig
    from mcpchaos.config.network import NetworkConfig
    from mcpchaos.proxy.http import HttpOptions

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

log = logging.getLogger("mcpchaos")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be zero or more")
    return value


def _size(text: str) -> int:
    """Sizes like 1048576, 512KiB, 16MiB, 1GiB."""
    units = {"kib": 1024, "mib": 1024**2, "gib": 1024**3, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "b": 1}
    lowered = text.strip().lower()
    for unit, factor in units.items():
        if lowered.endswith(unit):
            number, multiplier = lowered[: -len(unit)], factor
            break
    else:
        number, multiplier = lowered, 1
    try:
        value = int(float(number) * multiplier)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a size (examples: 1048576, 512KiB, 16MiB)"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1 byte")
    return value


def _add_network_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("network simulation (see docs/network.md)")
    group.add_argument("--network", metavar="FILE", help="a NetworkConfig in YAML or JSON")
    group.add_argument(
        "--latency-ms",
        type=_positive_float,
        metavar="MS",
        help="added latency per direction (a round trip gets twice this); overrides the file",
    )
    group.add_argument("--jitter-ms", type=_positive_float, metavar="MS", help="latency jitter (uniform ±)")
    group.add_argument(
        "--bandwidth-kbps",
        type=_positive_float,
        metavar="KBPS",
        help="per-connection bandwidth per direction, kilobytes per second",
    )
    group.add_argument(
        "--loss", type=float, metavar="P", help="chance per chunk that the connection is reset"
    )
    group.add_argument("--network-seed", type=int, metavar="N", help="seed for the network's randomness")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="mcpchaos",
        description="A fault-injecting proxy and chaos-testing harness for MCP servers and clients.",
        epilog="Run 'mcpchaos COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"mcpchaos {__version__}")
    parser.add_argument(
        "--loop",
        choices=["auto", "asyncio", "uvloop"],
        default="auto",
        help="event loop: uvloop when installed (auto, default), or the standard asyncio loop",
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["debug", "info", "warning", "error"],
        help="how much to log on stderr (default: warning)",
    )
    commands = parser.add_subparsers(dest="command_name", metavar="COMMAND")

    proxy = commands.add_parser(
        "proxy",
        help="run COMMAND as an MCP server behind the proxy (stdio)",
        description=(
            "Speak MCP over stdio to the client that launched us, run COMMAND as the real MCP server "
            "and relay every message through the interceptor chain. Put this in an MCP client's "
            "server configuration in place of the server command."
        ),
        epilog="example: mcpchaos proxy --trace -- python -m my_server --flag",
    )
    proxy.add_argument(
        "--max-message-bytes",
        type=_size,
        default=DEFAULT_MAX_LINE_BYTES,
        metavar="SIZE",
        help="longest message accepted from either side, e.g. 16MiB (default: 16MiB)",
    )
    proxy.add_argument(
        "--shutdown-grace",
        type=_positive_float,
        default=1.5,
        metavar="SECONDS",
        help="after the client closes stdin, how long the server gets to exit before SIGTERM (default: 1.5)",
    )
    proxy.add_argument(
        "--on-interceptor-error",
        choices=[p.value for p in FailurePolicy],
        default=FailurePolicy.FAIL_OPEN.value,
        help="when an interceptor raises: forward the message unchanged (fail-open, default) or "
        "answer -32603 (fail-closed)",
    )
    proxy.add_argument("--trace", action="store_true", help="log every message that passes (on stderr)")
    faults = proxy.add_argument_group("fault injection (see docs/faults.md)")
    faults.add_argument(
        "--faults", metavar="FILE", help="a FaultConfig in YAML or JSON (examples/ has profiles)"
    )
    faults.add_argument(
        "--fault-probability",
        type=float,
        metavar="P",
        help="chance (0-1) that a message gets a fault; overrides the file",
    )
    faults.add_argument(
        "--faults-enabled",
        metavar="LIST",
        help="comma-separated fault kinds: delay,error,corruption,drop,duplicate,reorder,"
        "resource_exhaustion; overrides the file",
    )
    faults.add_argument("--seed", type=int, help="seed for reproducible faults; overrides the file")
    faults.add_argument(
        "--fault-log", metavar="FILE", help="append every injected fault to FILE as JSON lines"
    )
    _add_network_arguments(proxy)
    http = proxy.add_argument_group("Streamable HTTP")
    http.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="serve MCP over Streamable HTTP here (e.g. 127.0.0.1:8080) instead of stdio",
    )
    http.add_argument(
        "--upstream",
        metavar="URL",
        help="the upstream MCP server's Streamable HTTP endpoint, e.g. http://127.0.0.1:8000/mcp",
    )
    http.add_argument(
        "--path",
        default="/mcp",
        help="with --listen and a server command: the MCP endpoint path (default: /mcp)",
    )
    http.add_argument(
        "--max-body-bytes",
        type=_size,
        default=DEFAULT_MAX_LINE_BYTES,
        metavar="SIZE",
        help="largest HTTP request body accepted (413 above it; default: 16MiB)",
    )
    http.add_argument(
        "--upstream-timeout",
        type=_positive_float,
        default=30.0,
        metavar="SECONDS",
        help="wait this long for the upstream's response headers, then 504 (default: 30)",
    )
    http.add_argument(
        "--request-timeout",
        type=_positive_float,
        default=300.0,
        metavar="SECONDS",
        help="longest a request is held when nothing will answer it (default: 300)",
    )
    proxy.add_argument(
        "server_command",
        nargs=argparse.REMAINDER,
        metavar="-- COMMAND [ARGS...]",
        help="the real MCP server to run",
    )

    demo_server = commands.add_parser(
        "demo-server",
        help="run the built-in demo MCP server",
        description="The built-in demo MCP server (official MCP SDK) with tools made for chaos runs.",
    )
    demo_server.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    demo_server.add_argument("--host", default="127.0.0.1", help="HTTP only (default: 127.0.0.1)")
    demo_server.add_argument("--port", type=int, default=8000, help="HTTP only (default: 8000)")
    demo_server.add_argument("--stateless", action="store_true", help="HTTP only: no sessions")
    demo_server.add_argument("--json-response", action="store_true", help="HTTP only: JSON bodies, not SSE")

    link = commands.add_parser(
        "link",
        help="a TCP relay with a simulated network, for any TCP service",
        description="Relay TCP connections from --listen to --upstream through a simulated network "
        "(latency, loss as resets, bandwidth, partitions, slicing, limit_data), or run several links "
        "from --config FILE.",
        epilog="example: mcpchaos link --listen 127.0.0.1:9000 --upstream 127.0.0.1:8000 --latency-ms 50",
    )
    link.add_argument("--listen", metavar="HOST:PORT", help="where clients connect")
    link.add_argument("--upstream", metavar="HOST:PORT", help="the real service")
    link.add_argument("--config", metavar="FILE", help="several links: a YAML file with 'links: [...]'")
    _add_network_arguments(link)

    commands.add_parser(
        "demo",
        help="show a short MCP session with the demo server through the proxy",
        description="Start the demo server behind 'mcpchaos proxy --trace' and drive a short session "
        "with the official MCP SDK client, printing what happens.",
    )
    return parser


def _choose_event_loop(choice: str) -> None:
    """uvloop when asked for or available (measured faster on the relay hot path)."""
    if choice == "asyncio":
        return
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise ConfigError("--loop uvloop: uvloop is not installed (pip install uvloop)") from None
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, level.upper()),
        format="mcpchaos: %(levelname)s %(message)s",
    )


def _run_proxy(args: argparse.Namespace) -> int:
    from mcpchaos.observe.trace import TraceInterceptor
    from mcpchaos.proxy.stdio import StdioOptions, StdioProxy

    command = list(args.server_command)
    if command and command[0] == "--":
        command = command[1:]
    interceptors: list[Interceptor] = []
    if args.trace:
        interceptors.append(TraceInterceptor())
        logging.getLogger("mcpchaos.trace").setLevel(logging.INFO)
    interceptors.extend(_fault_interceptors(args))
    chain = InterceptorChain(interceptors, FailurePolicy(args.on_interceptor_error))
    if args.listen and args.upstream and not command:
        return _run_http_proxy(args, chain)
    bridging = (args.upstream and not args.listen and not command) or (args.listen and command)
    if bridging and network_config_from_args(args) is not None:
        raise ConfigError(
            "network simulation works on stdio → stdio and HTTP → HTTP proxies; for a bridge, put "
            "'mcpchaos link' in front of the HTTP side"
        )
    if args.upstream and not args.listen and not command:
        return _run_stdio_to_http(args, chain)
    if args.upstream and command:
        raise ConfigError("give either --upstream URL or a server command after '--', not both")
    if args.listen and not command:
        raise ConfigError("--listen needs an upstream: --upstream URL, or a server command after '--'")
    if args.listen:
        return _run_http_to_stdio(args, chain, command)
    if not command:
        raise ConfigError("no server command: give it after '--', e.g. mcpchaos proxy -- python server.py")
    options = StdioOptions(max_message_bytes=args.max_message_bytes, shutdown_grace=args.shutdown_grace)
    network = network_config_from_args(args)

    async def run_stdio() -> int:
        controller = None
        if network is not None:
            from mcpchaos.netsim.controller import NetworkController

            controller = NetworkController(network)  # inside the loop: partitions use its timers
        proxy = StdioProxy(command, chain, options, network=controller)
        return await proxy.run(handle_signals=True)

    return asyncio.run(run_stdio())


def _run_http_proxy(args: argparse.Namespace, chain: InterceptorChain) -> int:
    from mcpchaos.proxy.http import HttpProxy, parse_listen

    host, port = parse_listen(args.listen)
    network = network_config_from_args(args)
    if network is None:
        proxy = HttpProxy(args.upstream, chain, _http_options(args))
        return asyncio.run(proxy.run_forever(host, port))

    async def serve_with_network() -> int:
        from urllib.parse import urlsplit, urlunsplit

        from mcpchaos.netsim.controller import NetworkController
        from mcpchaos.transport.tcp_link import TcpLink

        # The simulated network sits between the proxy and the upstream: a TCP link on a
        # loopback port, and the proxy talks to the upstream through it.
        parts = urlsplit(args.upstream)
        if parts.hostname is None:
            raise ConfigError(f"--upstream must name a host, got {args.upstream!r}")
        upstream_port = parts.port or (443 if parts.scheme == "https" else 80)
        link = TcpLink(
            ("127.0.0.1", 0), (parts.hostname, upstream_port), NetworkController(network), "upstream"
        )
        link_port = await link.start()
        via_link = urlunsplit(
            (parts.scheme, f"127.0.0.1:{link_port}", parts.path, parts.query, parts.fragment)
        )
        proxy = HttpProxy(via_link, chain, _http_options(args))
        try:
            return await proxy.run_forever(host, port)
        finally:
            await link.stop()

    return asyncio.run(serve_with_network())


def fault_config_from_args(args: argparse.Namespace) -> FaultConfig | None:
    """The FaultConfig the fault options describe (file, then the shorthand flags on top);
    None when no fault option was given."""
    from mcpchaos.config.faults import FaultConfig, FaultType
    from mcpchaos.config.load import load_file, validate

    if (
        args.faults is None
        and args.fault_probability is None
        and args.faults_enabled is None
        and args.seed is None
    ):
        return None
    base = load_file(FaultConfig, args.faults) if args.faults else FaultConfig()
    data = base.model_dump(mode="json", exclude_unset=True)
    if args.fault_probability is not None:
        data["fault_probability"] = args.fault_probability
    if args.faults_enabled is not None:
        names = [name.strip() for name in args.faults_enabled.split(",") if name.strip()]
        known = {kind.value for kind in FaultType}
        unknown = [name for name in names if name not in known]
        if unknown:
            choices = ", ".join(sorted(known))
            raise ConfigError(f"--faults-enabled: unknown fault {', '.join(unknown)}; choose from {choices}")
        weights = data.get("enabled_faults", {}).get("weights", {})
        data["enabled_faults"] = {**{name: True for name in names}, "weights": weights}
    if args.seed is not None:
        data["seed"] = args.seed
    return validate(FaultConfig, data, args.faults or "fault options")


def _fault_interceptors(args: argparse.Namespace) -> list[Interceptor]:
    config = fault_config_from_args(args)
    if config is None:
        if args.fault_log:
            raise ConfigError("--fault-log needs faults to log: add --faults FILE or --fault-probability")
        return []
    from mcpchaos.faults.injector import FaultInjector

    injector = FaultInjector(config)
    if args.fault_log:
        from mcpchaos.observe.faultlog import FaultLog

        injector.on_fault(FaultLog(args.fault_log))
    log.info("fault injection on (seed %d)", injector.seed)
    return [injector]


def network_config_from_args(args: argparse.Namespace) -> NetworkConfig | None:
    """The NetworkConfig the network options describe (file, then shorthand flags on
    ``both``); None when no network option was given."""
    from mcpchaos.config.load import load_file, validate
    from mcpchaos.config.network import NetworkConfig

    flags = (args.latency_ms, args.jitter_ms, args.bandwidth_kbps, args.loss, args.network_seed)
    if args.network is None and all(flag is None for flag in flags):
        return None
    base = load_file(NetworkConfig, args.network) if args.network else NetworkConfig()
    data = base.model_dump(mode="json", exclude_unset=True)
    both = data.setdefault("both", {})
    if args.latency_ms is not None or args.jitter_ms is not None:
        latency = both.setdefault("latency", {})
        if args.latency_ms is not None:
            latency["base_ms"] = args.latency_ms
        if args.jitter_ms is not None:
            latency["jitter_ms"] = args.jitter_ms
    if args.bandwidth_kbps is not None:
        both["bandwidth"] = {"bytes_per_second": args.bandwidth_kbps * 1000}
    if args.loss is not None:
        both["packet_loss"] = {"probability": args.loss}
    if args.network_seed is not None:
        data["seed"] = args.network_seed
    return validate(NetworkConfig, data, args.network or "network options")


def _run_link(args: argparse.Namespace) -> int:
    from mcpchaos.config.load import load_file
    from mcpchaos.config.network import LinkConfig, LinksFile, NetworkConfig
    from mcpchaos.netsim.controller import NetworkController
    from mcpchaos.proxy.lifecycle import wait_for_stop_signal
    from mcpchaos.transport.tcp_link import TcpLink, parse_host_port

    if args.config:
        links = load_file(LinksFile, args.config).links
    elif args.listen and args.upstream:
        links = [
            LinkConfig(
                listen=args.listen,
                upstream=args.upstream,
                network=network_config_from_args(args) or NetworkConfig(),
            )
        ]
    else:
        raise ConfigError(
            "give --listen HOST:PORT and --upstream HOST:PORT, or --config FILE with several links"
        )

    async def serve() -> int:
        running = []
        for index, config in enumerate(links):
            link = TcpLink(
                parse_host_port(config.listen, f"links.{index}.listen"),
                parse_host_port(config.upstream, f"links.{index}.upstream"),
                NetworkController(config.network),
                config.name,
            )
            port = await link.start()
            print(
                f"mcpchaos: link {link.name}: 127.0.0.1:{port} → {config.upstream}",
                file=sys.stderr,
                flush=True,
            )
            running.append(link)
        try:
            await wait_for_stop_signal()
            return EXIT_OK
        finally:
            await asyncio.gather(*(link.stop() for link in running), return_exceptions=True)

    return asyncio.run(serve())


def _http_options(args: argparse.Namespace) -> HttpOptions:
    from mcpchaos.proxy.http import HttpOptions

    return HttpOptions(
        max_body_bytes=args.max_body_bytes,
        max_message_bytes=args.max_message_bytes,
        upstream_timeout=args.upstream_timeout,
        request_timeout=args.request_timeout,
    )


def _run_http_to_stdio(args: argparse.Namespace, chain: InterceptorChain, command: list[str]) -> int:
    from mcpchaos.proxy.http import parse_listen
    from mcpchaos.proxy.http_to_stdio import BridgeOptions, HttpToStdioBridge

    host, port = parse_listen(args.listen)
    bridge = HttpToStdioBridge(
        command, chain, _http_options(args), BridgeOptions(path=args.path, shutdown_grace=args.shutdown_grace)
    )
    return asyncio.run(bridge.run_forever(host, port))


def _run_stdio_to_http(args: argparse.Namespace, chain: InterceptorChain) -> int:
    from mcpchaos.proxy.stdio_to_http import StdioToHttpBridge

    bridge = StdioToHttpBridge(args.upstream, chain, _http_options(args), shutdown_grace=args.shutdown_grace)
    return asyncio.run(bridge.run())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mcpchaos`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.log_level)
    if args.command_name is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        _choose_event_loop(args.loop)
        if args.command_name == "proxy":
            return _run_proxy(args)
        if args.command_name == "link":
            return _run_link(args)
        if args.command_name == "demo-server":
            from mcpchaos.demo.server import run

            run(args.transport, args.host, args.port, args.stateless, args.json_response)
            return EXIT_OK
        if args.command_name == "demo":
            from mcpchaos.demo.session import run_demo

            return asyncio.run(run_demo())
    except McpChaosError as exc:
        print(f"mcpchaos: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    parser.error(f"unknown command {args.command_name!r}")
    return EXIT_USAGE  # pragma: no cover - parser.error exits
