"""Addresses and URLs as users type them: parsed, or refused with the fix named."""

from __future__ import annotations

import errno
import socket

import pytest

from mcpchaos.config.addresses import HttpUrl, control_url, host_port, http_url, naming
from mcpchaos.errors import ConfigError, ListenError


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),
        ("localhost:9000", ("localhost", 9000)),
        ("[::1]:8080", ("::1", 8080)),
        ("8080", ("127.0.0.1", 8080)),
    ],
)
def test_host_port_reads_host_and_port_and_a_port_alone_means_loopback(
    value: str, expected: tuple[str, int]
) -> None:
    assert host_port(value, "--listen") == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "http://127.0.0.1:8080/mcp",
            "--listen takes HOST:PORT, not a URL; did you mean --listen 127.0.0.1:8080?",
        ),
        ("localhost", "--listen localhost has no port; give HOST:PORT, e.g. --listen 127.0.0.1:8080"),
        (
            "127.0.0.1:99999",
            "--listen 127.0.0.1:99999: the port must be a number from 0 to 65535, got '99999'",
        ),
        ("127.0.0.1:http", "the port must be a number from 0 to 65535, got 'http'"),
        (":8080", "--listen :8080 has no host; did you mean --listen 127.0.0.1:8080?"),
    ],
)
def test_a_malformed_address_names_the_option_and_the_fix(value: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        host_port(value, "--listen")
    assert message in str(raised.value)


def test_a_port_alone_is_refused_where_a_host_is_needed_with_the_guess() -> None:
    with pytest.raises(
        ConfigError, match=r"--upstream 8000 has no host; did you mean --upstream 127\.0\.0\.1:8000\?"
    ):
        host_port("8000", "--upstream", port_alone=False)


def test_http_url_splits_origin_host_port_and_path_with_the_scheme_defaults() -> None:
    assert http_url("http://127.0.0.1:8000/mcp") == HttpUrl(
        "http://127.0.0.1:8000", "127.0.0.1", 8000, "/mcp", False
    )
    assert http_url("https://example.com") == HttpUrl("https://example.com", "example.com", 443, "/", True)
    assert http_url("http://[::1]/mcp").port == 80


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "127.0.0.1:8000",
            "--upstream 127.0.0.1:8000 has no scheme; did you mean http://127.0.0.1:8000/mcp?",
        ),
        ("localhost:8000/api/mcp", "did you mean http://localhost:8000/api/mcp?"),
        ("8000", "did you mean http://127.0.0.1:8000/mcp?"),
        ("ws://127.0.0.1:8000/mcp", "--upstream must be an http:// or https:// URL"),
        ("http:///mcp", "has no host"),
        ("http://127.0.0.1:99999/mcp", "the port must be a number from 0 to 65535"),
    ],
)
def test_a_url_that_is_not_one_suggests_what_was_meant(value: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        http_url(value)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("18999", "http://127.0.0.1:18999"),
        ("127.0.0.1:9900", "http://127.0.0.1:9900"),
        ("http://127.0.0.1:9900/", "http://127.0.0.1:9900"),
        ("https://proxy.example:8443/control", "https://proxy.example:8443/control"),
    ],
)
def test_control_url_takes_a_port_an_address_or_a_url(value: str, expected: str) -> None:
    assert control_url(value) == expected


def test_a_listen_error_says_the_address_is_in_use_and_which_option_picks_another() -> None:
    error = ListenError("127.0.0.1", 8080, OSError(errno.EADDRINUSE, "bind failed"))
    with pytest.raises(ListenError) as raised, naming("--listen"):
        raise error
    assert str(raised.value) == (
        "cannot listen on 127.0.0.1:8080: address already in use "
        "(another process is using it; pick another port with --listen)"
    )
    assert raised.value.exit_code == 2


def test_a_listen_error_on_a_host_says_what_is_wrong_with_the_host() -> None:
    unknown = ListenError(
        "nosuch.invalid", 80, socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    )
    assert "unknown host" in str(unknown)
    missing = ListenError("10.9.9.9", 80, OSError(errno.EADDRNOTAVAIL, "cannot assign"), "--listen")
    assert "no such address on this machine" in str(missing)
    assert str(ListenError("::1", 80, OSError(errno.EACCES, "x"))).startswith(
        "cannot listen on [::1]:80: permission"
    )
