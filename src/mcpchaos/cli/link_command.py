"""``mcpchaos link``: one link from flags, or several from a file; until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from mcpchaos.cli import options
from mcpchaos.config.addresses import host_port, naming
from mcpchaos.config.load import load_file
from mcpchaos.config.network import LinkConfig, LinksFile, NetworkConfig
from mcpchaos.errors import ConfigError
from mcpchaos.netsim.controller import NetworkController
from mcpchaos.observe.control import ControlServer, ControlTargets
from mcpchaos.observe.metrics import Metrics
from mcpchaos.observe.toxiproxy_api import Proxy as ToxiProxy
from mcpchaos.proxy.lifecycle import wait_for_stop_signal
from mcpchaos.transport.tcp_link import TcpLink


async def serve(args: argparse.Namespace) -> int:
    if args.config:
        if args.listen or args.upstream:
            raise ConfigError("give either --config FILE or --listen/--upstream, not both")
        links = load_file(LinksFile, args.config).links
    elif args.listen and args.upstream:
        links = [
            LinkConfig(
                listen=args.listen,
                upstream=args.upstream,
                network=options.network_config(args) or NetworkConfig(),
            )
        ]
    elif args.control and not (args.listen or args.upstream):
        links = []  # a Toxiproxy-style server: links are created through the API
    else:
        raise ConfigError(
            "give --listen HOST:PORT and --upstream HOST:PORT, or --config FILE with several links "
            "(or only --control PORT, to create links through the Toxiproxy-compatible API)"
        )
    control = options.control_address(args.control)
    if control is not None and len(links) > 1:
        raise ConfigError("--control works with one link; run one 'mcpchaos link' per link to control each")
    # Every address is checked before anything listens.
    addresses = [_addresses(args, index, config) for index, config in enumerate(links)]

    running: list[TcpLink] = []
    server: ControlServer | None = None
    try:
        for config, (listen_name, listen_at, upstream) in zip(links, addresses, strict=True):
            link = TcpLink(
                listen_at,
                upstream,
                NetworkController(config.network),
                config.name,
                max_connections=max(args.max_connections, 0),
            )
            with naming(listen_name):
                port = await link.start()
            running.append(link)
            print(
                f"mcpchaos: link {link.name}: {link.listen[0]}:{port} → {config.upstream}",
                file=sys.stderr,
                flush=True,
            )
        if control is not None and not running:
            server = ControlServer(ControlTargets(Metrics()), control[0], control[1], args.control_token)
            with naming("--control"):
                port = await server.start()
            print(f"mcpchaos: control API on http://{control[0]}:{port}", file=sys.stderr, flush=True)
        elif control is not None:
            link = running[0]

            def connections() -> list[dict[str, Any]]:
                stats = link.stats
                return [
                    {
                        "id": link.name,
                        "transport": "tcp",
                        "active_connections": stats.active,
                        "accepted": stats.accepted,
                        "refused": stats.refused,
                        "resets": stats.resets,
                        "bytes_up": stats.bytes_up,
                        "bytes_down": stats.bytes_down,
                    }
                ]

            targets = ControlTargets(Metrics().observe_link(link), None, link.controller, connections)
            # Toxiproxy's clients see this link as a proxy named after it; they may add more.
            listen = f"{link.listen[0]}:{link.port}"
            link.listen = (link.listen[0], link.port or 0)
            targets.toxiproxy.register(ToxiProxy(link.name, listen, links[0].upstream, link.controller, link))
            server = ControlServer(targets, control[0], control[1], args.control_token)
            with naming("--control"):
                port = await server.start()
            print(f"mcpchaos: control API on http://{control[0]}:{port}", file=sys.stderr, flush=True)
        await wait_for_stop_signal()
        return 0
    finally:
        if server is not None:
            await server.stop()
        await asyncio.gather(*(link.stop() for link in running), return_exceptions=True)


def _addresses(
    args: argparse.Namespace, index: int, config: LinkConfig
) -> tuple[str, tuple[str, int], tuple[str, int]]:
    """A link's listen address as messages name it (the flag, or the --config file's field),
    and its listen and upstream addresses."""
    listen_name, upstream_name = "--listen", "--upstream"
    if args.config:
        listen_name = f"links.{index}.listen in {args.config}"
        upstream_name = f"links.{index}.upstream in {args.config}"
    listen = host_port(config.listen, listen_name)
    upstream = host_port(config.upstream, upstream_name, port_alone=False, example="127.0.0.1:8000")
    return listen_name, listen, upstream
