import httpx2
import orjson
import pytest
from mcp.client.auth.utils import extract_resource_metadata_from_www_auth
from mcp.shared.auth import ProtectedResourceMetadata
from mcp.shared.auth_utils import check_resource_allowed

from mcpchaos.protocol.oauth_rewrite import (
    is_metadata_path,
    rewrite_resource_metadata,
    rewrite_url,
    rewrite_www_authenticate,
)

UP = "http://127.0.0.1:8000"
PROXY = "http://127.0.0.1:9100"


def test_the_resource_metadata_url_of_a_401_moves_to_the_proxy() -> None:
    value = 'Bearer error="invalid_token", resource_metadata="http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp"'
    assert rewrite_www_authenticate(value, UP, PROXY) == (
        'Bearer error="invalid_token", resource_metadata="http://127.0.0.1:9100/.well-known/oauth-protected-resource/mcp"'
    )


def test_the_sdk_client_reads_the_rewritten_url() -> None:
    value = 'Bearer error="invalid_token", resource_metadata="http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp"'
    response = httpx2.Response(401, headers={"WWW-Authenticate": rewrite_www_authenticate(value, UP, PROXY)})
    assert extract_resource_metadata_from_www_auth(response) == (
        "http://127.0.0.1:9100/.well-known/oauth-protected-resource/mcp"
    )


def test_everything_but_the_url_stays_byte_for_byte() -> None:
    value = (
        'Bearer  realm="mcp",scope="read write" ,  Resource_Metadata = "http://127.0.0.1:8000/.well-known/x?a=1#f",'
        ' error_description="resource_metadata=\\"http://127.0.0.1:8000/\\""'
    )
    assert rewrite_www_authenticate(value, UP, PROXY) == value.replace(
        '"http://127.0.0.1:8000/.well-known/x?a=1#f"', '"http://127.0.0.1:9100/.well-known/x?a=1#f"'
    )


def test_a_bare_token_value_is_rewritten_and_stays_bare() -> None:
    value = "Bearer resource_metadata=http://127.0.0.1:8000/.well-known/oauth-protected-resource, scope=x"
    assert rewrite_www_authenticate(value, UP, PROXY) == (
        "Bearer resource_metadata=http://127.0.0.1:9100/.well-known/oauth-protected-resource, scope=x"
    )


def test_every_challenge_with_a_resource_metadata_is_rewritten() -> None:
    value = (
        'DPoP algs="ES256", resource_metadata="http://127.0.0.1:8000/m", '
        'Bearer resource_metadata="http://127.0.0.1:8000/m"'
    )
    assert rewrite_www_authenticate(value, UP, PROXY) == value.replace(":8000/", ":9100/")


@pytest.mark.parametrize(
    "value",
    [
        'Bearer resource_metadata="http://auth.example/.well-known/oauth-protected-resource"',
        'Bearer resource_metadata="http://127.0.0.1:8001/.well-known/oauth-protected-resource"',
        'Bearer resource_metadata="https://127.0.0.1:8000/.well-known/oauth-protected-resource"',
        'Bearer resource_metadata="http://127.0.0.1:80000/x"',
        'Bearer resource_metadata="/.well-known/oauth-protected-resource"',
        'Bearer realm="resource_metadata=http://127.0.0.1:8000/x"',
        'Bearer my_resource_metadata="http://127.0.0.1:8000/x"',
        'Bearer resource_metadata="http://127.0.0.1:8000/x',
        'Bearer resource_metadata="http://127.0.0.1:8000/x\\"',
        'Bearer error="invalid_token"',
        "Basic realm=x",
        "",
    ],
)
def test_a_header_with_nothing_on_the_upstream_origin_is_returned_unchanged(value: str) -> None:
    assert rewrite_www_authenticate(value, UP, PROXY) is value


def test_a_quote_or_backslash_in_the_new_url_is_escaped() -> None:
    value = 'Bearer resource_metadata="http://127.0.0.1:8000/a\\"b"'
    assert (
        rewrite_www_authenticate(value, UP, PROXY) == 'Bearer resource_metadata="http://127.0.0.1:9100/a\\"b"'
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:9100"),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:9100/"),
        ("http://127.0.0.1:8000/mcp", "http://127.0.0.1:9100/mcp"),
        ("http://127.0.0.1:8000?q", "http://127.0.0.1:9100?q"),
        ("HTTP://127.0.0.1:8000/MCP", "http://127.0.0.1:9100/MCP"),
        ("http://localhost:8000/mcp", "http://127.0.0.1:9100/mcp"),
        ("http://LOCALHOST:8000/mcp", "http://127.0.0.1:9100/mcp"),
        ("http://[::1]:8000/mcp", "http://127.0.0.1:9100/mcp"),
        ("http://127.0.0.1:80001/mcp", None),
        ("http://127.0.0.1:800/mcp", None),
        ("http://127.0.0.2:8000/mcp", None),
        ("http://localhost.example:8000/mcp", None),
        ("http://127.0.0.1:8000@evil.example/mcp", None),
        ("https://127.0.0.1:8000/mcp", None),
        ("http://127.0.0.1/mcp", None),
    ],
)
def test_a_url_moves_when_it_is_on_the_upstream_origin(url: str, expected: str | None) -> None:
    assert rewrite_url(url, UP, PROXY) == expected


def test_a_localhost_upstream_also_owns_its_127_0_0_1_and_ipv6_spellings() -> None:
    for url in ("http://127.0.0.1:8000/mcp", "http://localhost:8000/mcp", "http://[::1]:8000/mcp"):
        assert (
            rewrite_url(url, "http://localhost:8000", "http://localhost:9100") == "http://localhost:9100/mcp"
        )


def test_a_named_upstream_is_never_aliased() -> None:
    assert rewrite_url("http://upstream.internal:8000/mcp", "http://upstream.internal:8000", PROXY) == (
        "http://127.0.0.1:9100/mcp"
    )
    assert rewrite_url("http://10.0.0.5:8000/mcp", "http://upstream.internal:8000", PROXY) is None
    assert rewrite_url("http://localhost:8000/mcp", "http://upstream.internal:8000", PROXY) is None


def test_a_default_port_may_be_spelled_or_left_out() -> None:
    assert rewrite_url("https://up.example/mcp", "https://up.example:443", PROXY) == PROXY + "/mcp"
    assert rewrite_url("https://up.example:443/mcp", "https://up.example", PROXY) == PROXY + "/mcp"
    assert rewrite_url("http://up.example:80/mcp", "http://up.example/", PROXY) == PROXY + "/mcp"
    assert rewrite_url("https://up.example:8443/mcp", "https://up.example", PROXY) is None


def test_an_ipv6_upstream_origin_is_understood() -> None:
    assert rewrite_url("http://[2001:db8::1]:8000/mcp", "http://[2001:db8::1]:8000", PROXY) == PROXY + "/mcp"
    assert rewrite_url("http://[2001:db8::2]:8000/mcp", "http://[2001:db8::1]:8000", PROXY) is None


def test_a_trailing_slash_on_the_proxy_origin_is_ignored() -> None:
    assert rewrite_url("http://127.0.0.1:8000/mcp", UP, PROXY + "/") == PROXY + "/mcp"


def test_an_unusable_upstream_origin_matches_nothing() -> None:
    assert rewrite_url("http://127.0.0.1:8000/mcp", "127.0.0.1:8000", PROXY) is None
    assert rewrite_url("http://127.0.0.1:8000/mcp", "", PROXY) is None


@pytest.mark.parametrize(
    "path",
    [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource/tenant/a/mcp",
        "/.well-known/oauth-protected-resource/",
        "/.well-known/oauth-protected-resource?tenant=a",
    ],
)
def test_the_protected_resource_metadata_paths_are_recognised(path: str) -> None:
    assert is_metadata_path(path)


@pytest.mark.parametrize(
    "path",
    [
        "/mcp",
        "/",
        "",
        "/.well-known/oauth-protected-resourcex",
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
        "/mcp/.well-known/oauth-protected-resource",
        "/.WELL-KNOWN/oauth-protected-resource",
    ],
)
def test_other_paths_are_not_metadata(path: str) -> None:
    assert not is_metadata_path(path)


def metadata(**fields: object) -> bytes:
    return orjson.dumps(
        {
            "resource": "http://127.0.0.1:8000/mcp",
            "authorization_servers": ["http://127.0.0.1:8000/", "http://127.0.0.1:9000/"],
            "scopes_supported": ["user"],
            **fields,
        }
    )


def test_only_the_bytes_of_the_resource_change_in_the_metadata() -> None:
    body = (
        b'{ "scopes_supported": ["a", {"resource": "http://127.0.0.1:8000/nested"}],\n'
        b'  "resource" : "http:\\/\\/127.0.0.1:8000\\/mcp", "n": 1.50, "big": 123456789012345678901234567890,'
        b' "authorization_servers": ["http://127.0.0.1:8000/"], "t": "\\u00e9" }'
    )
    rewritten = rewrite_resource_metadata(body, UP, PROXY)
    assert rewritten == body.replace(b'"http:\\/\\/127.0.0.1:8000\\/mcp"', b'"http://127.0.0.1:9100/mcp"')


def test_an_escaped_resource_key_and_a_duplicate_are_both_rewritten() -> None:
    body = b'{"resource":"http://127.0.0.1:8000/a","resourc\\u0065":"http://127.0.0.1:8000/b"}'
    assert rewrite_resource_metadata(body, UP, PROXY) == (
        b'{"resource":"http://127.0.0.1:9100/a","resourc\\u0065":"http://127.0.0.1:9100/b"}'
    )


def test_the_rewritten_metadata_passes_the_sdk_clients_resource_check() -> None:
    rewritten = rewrite_resource_metadata(metadata(), UP, PROXY)
    assert rewritten is not None
    prm = ProtectedResourceMetadata.model_validate_json(rewritten)
    assert check_resource_allowed(requested_resource=PROXY + "/mcp", configured_resource=str(prm.resource))
    assert [str(server) for server in prm.authorization_servers] == [
        "http://127.0.0.1:8000/",
        "http://127.0.0.1:9000/",
    ]


@pytest.mark.parametrize(
    "body",
    [
        metadata(resource="http://auth.example/mcp"),
        metadata(resource="http://127.0.0.1:8001/mcp"),
        metadata(resource=None),
        metadata(resource=["http://127.0.0.1:8000/mcp"]),
        orjson.dumps({"authorization_servers": ["http://127.0.0.1:8000/"]}),
        orjson.dumps({"about": {"resource": "http://127.0.0.1:8000/mcp"}, "resource": "http://a.example/"}),
        b'["http://127.0.0.1:8000/mcp"]',
        b'"http://127.0.0.1:8000/mcp"',
        b"not json",
        b"",
        b'{"resource": "http://127.0.0.1:8000/mcp"',
        b'{"resource": "http://127.0.0.1:8000/mcp"} {}',
    ],
)
def test_metadata_with_nothing_to_change_gives_none(body: bytes) -> None:
    assert rewrite_resource_metadata(body, UP, PROXY) is None
