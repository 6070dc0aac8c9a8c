import orjson
import pytest

from mcpchaos.protocol import codes
from mcpchaos.protocol.host_check import HostPolicy, Rejection, for_listener, is_loopback


def loopback() -> HostPolicy:
    policy = for_listener("127.0.0.1")
    assert policy is not None
    return policy


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1:8000", "localhost:9", "[::1]:65535", "LOCALHOST:8000", "LocalHost:1", "[::1]", "localhost"],
)
def test_loopback_names_on_any_port_are_allowed_by_default_on_a_loopback_listener(host: str) -> None:
    assert loopback().check(host, None) is None


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:8000",
        "127.0.0.1.evil.example:8000",
        "localhost.evil.example",
        "127.0.0.2:8000",
        "::1",
        "::1:8000",
        "[::2]:8000",
        "localhost:",
        "localhost:80x",
        "localhost:8000:1",
        "localhost:٣٣",
    ],
)
def test_a_host_not_allowed_is_answered_421_like_the_sdk(host: str) -> None:
    rejection = loopback().check(host, None)
    assert rejection == Rejection(421, codes.HOST_OR_ORIGIN_NOT_ALLOWED, f"Invalid Host header: {host!r}")


def test_a_missing_or_empty_host_is_answered_421() -> None:
    for host in (None, ""):
        rejection = loopback().check(host, None)
        assert rejection is not None
        assert rejection.status == 421
        assert rejection.message == "Invalid Host header: missing"


def test_an_absent_or_empty_origin_is_allowed() -> None:
    assert loopback().check("localhost:8000", None) is None
    assert loopback().check("localhost:8000", "") is None


@pytest.mark.parametrize(
    "origin",
    [
        "http://localhost:3000",
        "http://127.0.0.1:8000",
        "http://[::1]:8000",
        "HTTP://LocalHost:3000",
        "http://[::1]",
    ],
)
def test_loopback_origins_on_any_port_are_allowed_by_default(origin: str) -> None:
    assert loopback().check("localhost:8000", origin) is None


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "http://evil.example:3000",
        "https://localhost:3000",
        "http://localhost.evil.example:3000",
        "null",
        "http://localhost:3000/path",
    ],
)
def test_an_origin_not_allowed_is_answered_403_like_the_sdk(origin: str) -> None:
    rejection = loopback().check("localhost:8000", origin)
    assert rejection == Rejection(403, codes.HOST_OR_ORIGIN_NOT_ALLOWED, f"Invalid Origin header: {origin!r}")


def test_the_host_is_checked_before_the_origin() -> None:
    rejection = loopback().check("evil.example", "http://evil.example")
    assert rejection is not None
    assert rejection.status == 421


def test_exact_entries_match_only_that_host_and_port_ignoring_case() -> None:
    policy = HostPolicy.of(["Proxy.Example:8443"], ["https://App.Example"])
    assert policy.check("proxy.example:8443", None) is None
    assert policy.check("PROXY.EXAMPLE:8443", "https://app.example") is None
    assert policy.check("proxy.example:8444", None) is not None
    assert policy.check("proxy.example", None) is not None
    rejection = policy.check("proxy.example:8443", "https://app.example:8443")
    assert rejection is not None
    assert rejection.status == 403


def test_a_wildcard_port_entry_matches_any_numeric_port_and_no_port() -> None:
    policy = HostPolicy.of(["proxy.example:*", "[2001:db8::1]:*"], ["https://app.example:*"])
    for host in (
        "proxy.example:1",
        "proxy.example:443",
        "proxy.example",
        "[2001:db8::1]:8000",
        "[2001:db8::1]",
    ):
        assert policy.check(host, None) is None, host
    for host in ("proxy.example:", "proxy.example:x", "[2001:db8::2]:8000", "sub.proxy.example:443"):
        assert policy.check(host, None) is not None, host
    assert policy.check("proxy.example", "https://app.example:8443") is None
    assert policy.check("proxy.example", "https://app.example") is None
    assert policy.check("proxy.example", "http://app.example:8443") is not None


def test_empty_lists_refuse_every_host_and_every_origin() -> None:
    policy = HostPolicy.of([], [])
    assert policy.check("localhost:8000", None) is not None
    nohosts = HostPolicy.of(["localhost:*"], [])
    assert nohosts.check("localhost:8000", None) is None
    assert nohosts.check("localhost:8000", "http://localhost:8000") is not None


@pytest.mark.parametrize("listen", ["127.0.0.1", "localhost", "::1", "[::1]", "LOCALHOST"])
def test_a_loopback_listener_gets_the_sdk_defaults(listen: str) -> None:
    assert for_listener(listen) == HostPolicy.of(
        ["127.0.0.1:*", "localhost:*", "[::1]:*"],
        ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
    )


def test_another_loopback_address_is_added_to_the_defaults() -> None:
    policy = for_listener("127.0.0.2")
    assert policy is not None
    assert policy.check("127.0.0.2:8000", "http://127.0.0.2:8000") is None
    assert policy.check("localhost:8000", None) is None
    six = for_listener("0:0:0:0:0:0:0:1")
    assert six is not None
    assert six.check("[0:0:0:0:0:0:0:1]:8000", None) is None


@pytest.mark.parametrize("listen", ["0.0.0.0", "::", "", "192.0.2.10", "proxy.example"])
def test_a_non_loopback_listener_checks_nothing_unless_configured(listen: str) -> None:
    assert for_listener(listen) is None
    configured = for_listener(listen, allowed_hosts=["proxy.example:*"])
    assert configured is not None
    assert configured.check("proxy.example:8000", None) is None
    assert configured.check("evil.example:8000", None) is not None


def test_configured_lists_replace_the_loopback_defaults() -> None:
    policy = for_listener("127.0.0.1", allowed_hosts=["mcp.test:*"], allowed_origins=["http://mcp.test:*"])
    assert policy is not None
    assert policy.check("mcp.test:8000", "http://mcp.test:3000") is None
    assert policy.check("localhost:8000", None) is not None


def test_a_rejection_becomes_a_json_rpc_error_body() -> None:
    rejection = loopback().check("evil.example", None)
    assert rejection is not None
    body = orjson.loads(rejection.response().wire)
    assert body == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": codes.HOST_OR_ORIGIN_NOT_ALLOWED, "message": "Invalid Host header: 'evil.example'"},
    }


def test_a_long_refused_value_is_quoted_only_in_part() -> None:
    rejection = loopback().check("a" * 10_000, None)
    assert rejection is not None
    assert len(rejection.message) < 300


def test_loopback_addresses_are_recognised() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LocalHost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "", "192.0.2.1", "localhost.example"))
