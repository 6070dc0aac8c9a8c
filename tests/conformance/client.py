"""The client the official conformance suite's client scenarios run, on the official SDK.

``conformance client --command "python tests/conformance/client.py" --scenario NAME`` starts
the scenario's test server (and, for ``auth/*``, its authorization server), then runs this
with the server's URL as the last argument and the scenario's name in
``MCP_CONFORMANCE_SCENARIO`` (credentials, where a scenario has some, in the JSON of
``MCP_CONFORMANCE_CONTEXT``). Each scenario wants a small, fixed conversation: connect, list
the tools, call one; the ``auth/*`` ones want the OAuth flow first, which the SDK's
``OAuthClientProvider`` does. The authorization step has no browser: the authorization URL is
fetched and the code taken from its redirect, which the suite's authorization server issues
at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
from mcp import types
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.auth.extensions.client_credentials import (
    ClientCredentialsOAuthProvider,
    PrivateKeyJWTOAuthProvider,
    SignedJWTParameters,
)
from mcp.client.client import Client
from mcp.client.context import ClientRequestContext
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)
from pydantic import AnyUrl

log = logging.getLogger("conformance-client")

REDIRECT_URI = "http://localhost:3000/callback"  # never listened on: the code is read from the redirect


class MemoryTokens(TokenStorage):
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class HeadlessAuthorization:
    """Stands in for the browser: follows the authorization URL by hand and keeps the code."""

    def __init__(self) -> None:
        self.result: AuthorizationCodeResult | None = None

    async def redirect(self, authorization_url: str) -> None:
        async with httpx2.AsyncClient(timeout=10.0) as http:
            response = await http.get(authorization_url, follow_redirects=False)
        location = response.headers.get("location")
        if response.status_code not in (301, 302, 303, 307, 308) or not location:
            raise RuntimeError(f"authorization answered {response.status_code} without a redirect")
        query = parse_qs(urlsplit(location).query)
        if "code" not in query:
            raise RuntimeError(f"no code in the redirect {location}")
        self.result = AuthorizationCodeResult(
            code=query["code"][0], state=query.get("state", [None])[0], iss=query.get("iss", [None])[0]
        )

    async def callback(self) -> AuthorizationCodeResult:
        if self.result is None:
            raise RuntimeError("the callback came before the redirect")
        result, self.result = self.result, None
        return result


async def accept_with_defaults(
    context: ClientRequestContext, params: types.ElicitRequestParams
) -> types.ElicitResult | types.ErrorData:
    """SEP-1034: accept, answering every field with the default its schema gives."""
    content: dict[str, Any] = {}
    if isinstance(params, types.ElicitRequestFormParams):
        for name, schema in params.requested_schema.get("properties", {}).items():
            if isinstance(schema, dict) and "default" in schema:
                content[name] = schema["default"]
    return types.ElicitResult(action="accept", content=content)


def context() -> dict[str, Any]:
    raw = os.environ.get("MCP_CONFORMANCE_CONTEXT")
    loaded = json.loads(raw) if raw else {}
    return loaded if isinstance(loaded, dict) else {}


async def converse(client: Client, tool: str | None, arguments: dict[str, Any] | None = None) -> None:
    """List the tools, then call ``tool`` (None: the first one listed, errors ignored)."""
    listed = await client.list_tools()
    if tool is not None:
        await client.call_tool(tool, arguments or {})
    elif listed.tools:
        try:
            await client.call_tool(listed.tools[0].name, {})
        except Exception as exc:  # the auth scenarios judge the HTTP exchange, not the call
            log.info("call of %s failed: %r", listed.tools[0].name, exc)


async def plain(url: str, tool: str | None, arguments: dict[str, Any] | None = None) -> None:
    async with Client(url, mode="legacy", elicitation_callback=accept_with_defaults) as client:
        await converse(client, tool, arguments)


async def authorized(url: str, auth: httpx2.Auth) -> None:
    http = httpx2.AsyncClient(auth=auth, timeout=30.0)
    async with (
        http,
        Client(streamable_http_client(url, http_client=http), mode="legacy") as client,
    ):
        await converse(client, None)


def authorization_code(url: str) -> OAuthClientProvider:
    storage = MemoryTokens()
    given = context()
    if given.get("client_id"):  # auth/pre-registration: no dynamic registration
        secret = given.get("client_secret")
        storage.client = OAuthClientInformationFull(
            client_id=given["client_id"],
            client_secret=secret,
            redirect_uris=[AnyUrl(REDIRECT_URI)],
            token_endpoint_auth_method="client_secret_basic" if secret else "none",
        )
    browser = HeadlessAuthorization()
    return OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name="mcpchaos-conformance-client",
            redirect_uris=[AnyUrl(REDIRECT_URI)],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        storage=storage,
        redirect_handler=browser.redirect,
        callback_handler=browser.callback,
        # auth/basic-cimd: a client ID metadata document URL, used where the server allows it.
        client_metadata_url="https://conformance-test.local/client-metadata.json",
    )


def client_credentials(url: str, method: str) -> httpx2.Auth:
    given = context()
    if method == "jwt":
        jwt = SignedJWTParameters(
            issuer=given["client_id"],
            subject=given["client_id"],
            signing_key=given["private_key_pem"],
            signing_algorithm=given.get("signing_algorithm", "ES256"),
        )
        return PrivateKeyJWTOAuthProvider(
            server_url=url,
            storage=MemoryTokens(),
            client_id=given["client_id"],
            assertion_provider=jwt.create_assertion_provider(),
        )
    return ClientCredentialsOAuthProvider(
        server_url=url,
        storage=MemoryTokens(),
        client_id=given["client_id"],
        client_secret=given["client_secret"],
        token_endpoint_auth_method="client_secret_basic",
    )


SCENARIOS: dict[str, Callable[[str], Coroutine[Any, Any, None]]] = {
    "initialize": lambda url: plain(url, tool=None),
    "tools_call": lambda url: plain(url, "add_numbers", {"a": 5, "b": 3}),
    "sse-retry": lambda url: plain(url, "test_reconnection"),
    "elicitation-sep1034-client-defaults": lambda url: plain(url, "test_client_elicitation_defaults"),
    "auth/client-credentials-jwt": lambda url: authorized(url, client_credentials(url, "jwt")),
    "auth/client-credentials-basic": lambda url: authorized(url, client_credentials(url, "basic")),
}


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")
    if len(argv) < 2:
        print(f"usage: {argv[0]} SERVER_URL (scenario in MCP_CONFORMANCE_SCENARIO)", file=sys.stderr)
        return 2
    url, scenario = argv[-1], os.environ.get("MCP_CONFORMANCE_SCENARIO", "")
    run = SCENARIOS.get(scenario)
    if run is None and scenario.startswith("auth/"):
        run = lambda url: authorized(url, authorization_code(url))  # noqa: E731
    if run is None:
        print(f"unknown scenario {scenario!r}", file=sys.stderr)
        return 2
    asyncio.run(run(url))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
