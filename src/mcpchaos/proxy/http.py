"""The Streamable HTTP proxy: an MCP HTTP endpoint in front of an upstream MCP HTTP server.

Every JSON-RPC message in a request body, a JSON response body or an SSE event passes the
same interceptor chain as on stdio, one by one, as it arrives: an SSE stream with progress
notifications reaches the client event by event.

How it maps onto the pump: each client HTTP request is an
:class:`~mcpchaos.proxy.exchange.Exchange` with its own pump. Exchanges of one MCP session share one
:class:`~mcpchaos.intercept.context.Session` (keyed by ``Mcp-Session-Id``), so the session's
message ordinals and pending requests span all of them; a request without a session id
(2026-07-28, or a stateless server) is a session of its own.

Both protocol eras pass through as they are: POST/GET/DELETE, ``Mcp-Session-Id``,
``MCP-Protocol-Version``, ``Mcp-Method``/``Mcp-Name``, ``Last-Event-ID`` and every other
end-to-end header go upstream unchanged; statuses (202, 404, 405, 406...) come back
unchanged; SSE event ids, comments (pings), ``retry`` and priming events are kept. When a
fault changes a 2026-07-28 request, its mirrored headers are written anew from the body.
Paths other than the MCP endpoint's (OAuth metadata, health checks) are relayed untouched.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
from urllib.parse import urlsplit

from mcpchaos.events import notify
from mcpchaos.intercept.chain import InterceptorChain
from mcpchaos.intercept.context import Session
from mcpchaos.protocol import codes
from mcpchaos.protocol.oauth_rewrite import (
    is_metadata_path,
    rewrite_resource_metadata,
    rewrite_www_authenticate,
)
from mcpchaos.proxy.breaker import CircuitBreaker
from mcpchaos.proxy.exchange import Exchange
from mcpchaos.proxy.http_options import HttpOptions
from mcpchaos.proxy.http_reply import SESSION_GONE
from mcpchaos.proxy.lifecycle import serve_until_stopped, sweep
from mcpchaos.proxy.relay import RawRelay, StatusHook
from mcpchaos.proxy.sessions import END_UPSTREAM_AFTER, SESSION_HEADER, SESSION_KEY, SessionTable
from mcpchaos.proxy.upstream import GuardedUpstream, StatusOnly
from mcpchaos.transport.http import (
    Headers,
    block,
)
from mcpchaos.transport.http_front import HttpFront, read_message, send_error, send_message
from mcpchaos.transport.http_message import Request, ResponseWriter

log = logging.getLogger("mcpchaos.http")


_RESOURCE_METADATA = re.compile(r'resource_metadata\s*=\s*"?([^",\s]+)', re.IGNORECASE)

__all__ = ["SESSION_HEADER", "HttpOptions", "HttpProxy"]


class HttpProxy:
    """Serve MCP over Streamable HTTP on ``listen``, relaying to ``upstream_url``."""

    def __init__(
        self, upstream_url: str, chain: InterceptorChain | None = None, options: HttpOptions | None = None
    ) -> None:
        self.chain = chain if chain is not None else InterceptorChain()
        self.options = options if options is not None else HttpOptions()
        self.upstream = GuardedUpstream(upstream_url, self.options, self.chain.observers)
        self.upstream_url = upstream_url
        self.mcp_path = self.upstream.path
        self._mcp_target = self.mcp_path.encode()
        self.sessions: SessionTable[Session] = SessionTable(
            self.options.max_sessions,
            _itself,
            self._session_gone,
            self.chain.observers,
            self.options.session_idle_timeout,
            self.options.session_max_age,
        )
        self._ordinals = itertools.count(1)
        self._metadata_paths: set[str] = set()
        """Paths a 401's ``resource_metadata`` named (besides the well-known ones)."""
        self._background: set[asyncio.Task[None]] = set()
        self._replicas: dict[str, GuardedUpstream] = {}
        """Other upstreams a fault sent a message to (a replica hop), by URL, made on first use."""
        self.front = HttpFront(self.handle, self.options.front_limits(), self.chain.observers)
        self.limiter = self.front.limiter
        self.port: int | None = None

    @property
    def breaker(self) -> CircuitBreaker | None:
        return self.upstream.breaker

    # ---- lifecycle ---------------------------------------------------------------------------

    async def start(self, host: str, port: int) -> int:
        """Listen; returns the port (useful with port 0)."""
        self.port = await self.front.start(host, port)
        if self.sessions.expires:
            expire = sweep(self.sessions.expire, self.sessions.idle_timeout, self.sessions.max_age)
            self._background.add(asyncio.create_task(expire, name="session-sweep"))
        log.info("HTTP proxy on http://%s:%s%s → %s", host, self.port, self.mcp_path, self.upstream_url)
        return self.port

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._background.clear()
        await self.front.stop()
        await self.upstream.close()
        for replica in self._replicas.values():
            await replica.close()

    def replica(self, url: str) -> GuardedUpstream:
        """The upstream at ``url``, for a message a fault sends to another server process."""
        found = self._replicas.get(url)
        if found is None:
            found = self._replicas[url] = GuardedUpstream(url, self.options, self.chain.observers)
        return found

    async def run_forever(self, host: str, port: int) -> int:
        """Serve until SIGINT/SIGTERM; returns the exit status."""
        await self.start(host, port)
        banner = f"mcpchaos: listening on http://{host}:{self.port}{self.mcp_path} → {self.upstream_url}"
        return await serve_until_stopped(banner, self.stop)

    # ---- requests ----------------------------------------------------------------------------

    def handle(self, request: Request, writer: ResponseWriter) -> None:
        """Route one client request (the front's handler)."""
        method = request.method
        if request.path != self._mcp_target:
            self.relay(request, writer)
        elif method == "POST":
            item = read_message(request)
            if isinstance(item, tuple):
                send_message(writer, item[0], item[1])
                return
            session = self._session_for(request)
            if session is None:
                send_error(writer, 404, codes.INVALID_REQUEST, SESSION_GONE)
                return
            Exchange(self, request, writer, session, item).start()
        elif method == "GET":
            session = self._session_for(request)
            if session is None:
                send_error(writer, 404, codes.INVALID_REQUEST, SESSION_GONE)
                return
            Exchange(self, request, writer, session, None).start()
        elif method == "DELETE":
            self.relay(request, writer, self._deleted)
        else:
            self.relay(request, writer)

    def relay(self, request: Request, writer: ResponseWriter, on_status: StatusHook | None = None) -> None:
        """Relay a request that carries no MCP messages, untouched (same path and query upstream),
        but for the OAuth resource URLs, which name the proxy instead of the upstream."""
        metadata = self._is_metadata(request.path.decode("latin-1"))
        relay = RawRelay(writer, request, on_status, self.auth_headers, self._metadata if metadata else None)
        headers = request.forward_block()
        body = request.body if request.body or request.index.get(b"content-length") else None
        relay.call = self.upstream.call(
            request.method,
            request.target,
            headers,
            body,
            relay,
            self.options.upstream_timeout,
            self.host_for(request),
        )

    def host_for(self, request: Request) -> str | None:
        """The Host to send upstream: the client's with ``forward_host``, else the upstream's."""
        return request.header(b"host") if self.options.forward_host else None

    # ---- OAuth: the protected resource is the proxy (RFC 9728 metadata, WWW-Authenticate) ----

    def _proxy_origin(self, request: Request) -> str:
        """The proxy's origin as this client reached it."""
        return "http://" + (request.header(b"host") or f"127.0.0.1:{self.port}")

    def auth_headers(self, request: Request, status: int, headers: Headers) -> Headers:
        """An upstream answer's headers with any ``resource_metadata`` URL moved to the proxy;
        a metadata document at a path of the upstream's choosing is rewritten too from then on."""
        if status != 401 and status != 403:
            return headers
        proxy, upstream = self._proxy_origin(request), self.upstream.origin
        changed: Headers = []
        for name, value in headers:
            if name.lower() == b"www-authenticate":
                text = rewrite_www_authenticate(value.decode("latin-1"), upstream, proxy)
                self._learn_metadata_path(text)
                value = text.encode("latin-1")
            changed.append((name, value))
        return changed

    def _learn_metadata_path(self, challenge: str) -> None:
        found = _RESOURCE_METADATA.search(challenge)
        if found is not None and len(self._metadata_paths) < 64:
            self._metadata_paths.add(urlsplit(found.group(1)).path)

    def _is_metadata(self, path: str) -> bool:
        return is_metadata_path(path) or path in self._metadata_paths

    def _metadata(self, request: Request, body: bytes) -> bytes:
        """Protected Resource Metadata naming the upstream as the resource: the proxy's instead."""
        changed = rewrite_resource_metadata(body, self.upstream.origin, self._proxy_origin(request))
        return body if changed is None else changed

    def _deleted(self, request: Request, status: int) -> None:
        session_id = request.header(SESSION_KEY)
        if session_id and status < 300:
            self.sessions.remove(session_id)
        elif session_id and status == 404:
            self.sessions.lost(session_id)

    # ---- sessions ----------------------------------------------------------------------------

    def new_session(self) -> Session:
        """A session not yet known by an id (an initialize, or a sessionless request)."""
        ordinal = next(self._ordinals)
        session = Session(id=f"http-{ordinal}", ordinal=ordinal, transport="http")
        notify(self.chain.observers, "session_started", session)
        return session

    def _session_for(self, request: Request) -> Session | None:
        session_id = request.header(SESSION_KEY)
        if not session_id:
            return self.new_session()
        session = self.sessions.get(session_id)
        if session is not None:
            return session
        if self.sessions.is_gone(session_id):
            return None
        # First sight of an id (e.g. the proxy restarted): bound once the upstream accepts it
        # (exchange._Leg), so made-up ids never take a place in the table or evict a real one.
        return self.new_session()

    def bind(self, session: Session, session_id: str) -> None:
        session.id = session_id
        self.sessions.add(session_id, session)

    def _session_gone(self, session_id: str, session: Session, end_upstream: bool) -> None:
        """An evicted or expired session: end it at the upstream too (best effort), after the
        session's ``END_UPSTREAM_AFTER`` seconds when a call of its is still there."""
        if not end_upstream:
            return
        headers = block([(SESSION_HEADER, session_id)])
        delay: float = session.attributes.pop(END_UPSTREAM_AFTER, 0.0)
        if delay > 0:
            asyncio.get_running_loop().call_later(
                delay, self.upstream.call, "DELETE", self._mcp_target, headers, None, StatusOnly(), 5.0
            )
        else:
            self.upstream.call("DELETE", self._mcp_target, headers, None, StatusOnly(), 5.0)


def _itself(session: Session) -> Session:
    return session
