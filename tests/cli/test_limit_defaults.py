"""The defaults docs/security.md states for the proxy's limits are the ones the CLI applies."""

from __future__ import annotations

from mcpchaos.cli.main import build_parser
from mcpchaos.cli.options import http_options

MiB = 1024 * 1024


def test_the_http_proxys_limits_default_to_the_documented_values() -> None:
    args = build_parser().parse_args(["proxy", "--listen", "8080", "--upstream", "http://127.0.0.1:8000/mcp"])
    options = http_options(args)
    assert options.max_connections == 0  # no limit unless --max-connections
    assert options.max_sessions == 10_000
    assert options.max_body_bytes == options.max_message_bytes == 16 * MiB
    assert (options.header_timeout, options.body_timeout, options.idle_timeout) == (10.0, 30.0, 75.0)
    assert (options.upstream_timeout, options.request_timeout) == (30.0, 300.0)
    assert options.allowed_hosts is options.allowed_origins is None  # the loopback defaults
    assert options.forward_host is False
    assert args.control is None  # no control API unless asked


def test_host_and_origin_lists_are_read_comma_separated() -> None:
    args = build_parser().parse_args(
        [
            "proxy", "--listen", "0.0.0.0:8080", "--upstream", "http://127.0.0.1:8000/mcp",
            "--allowed-hosts", "proxy.example:*, 10.0.0.5:8080", "--allowed-origins", "https://app.example",
        ]
    )  # fmt: skip
    options = http_options(args)
    assert options.allowed_hosts == ("proxy.example:*", "10.0.0.5:8080")
    assert options.allowed_origins == ("https://app.example",)


def test_the_stdio_proxys_message_limit_defaults_to_16_mib() -> None:
    args = build_parser().parse_args(["proxy", "--", "python", "-m", "server"])
    assert args.max_message_bytes == 16 * MiB
    assert args.control is None
