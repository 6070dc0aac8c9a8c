"""A Toxiproxy-compatible REST API on the control server, so Toxiproxy's clients drive mcpchaos.

    GET  /proxies                      {name: proxy, ...}
    POST /proxies                      create (and start listening): 201, 409 if the name exists
    POST /populate                     [proxy, ...]: create or replace: 201 {"proxies": [...]}
    GET|POST|PATCH|DELETE /proxies/{name}            show, update (listen, upstream, enabled), 204
    GET|POST /proxies/{name}/toxics                  list, add a toxic (200; 409 if the name exists)
    GET|POST|PATCH|DELETE /proxies/{name}/toxics/{toxic}
    POST /reset                        enable every proxy, remove every toxic: 204
    GET  /version                      {"version": ...}

A proxy created here listens on loopback unless the control API has a token (the rule of
``--control`` itself): otherwise a caller could put the API, or anything on this machine's
loopback, in front of every interface. Off loopback without a token: 403.

A proxy is ``{name, listen, upstream, enabled, toxics}``; a toxic ``{name, type, stream,
toxicity, attributes}``; errors ``{"error", "status"}``, as Toxiproxy answers them. A proxy
created here is a :class:`TcpLink` of its own (``mcpchaos link``'s relay); ``enabled: false``
stops it listening and drops its connections, as Toxiproxy does. The process's own network
(``mcpchaos link``'s link, the HTTP proxy's upstream link) can be registered too: toxics then
change that network; on a proxy without a link of its own, ``enabled: false`` partitions it.
The mapping of toxics onto the simulator is :mod:`mcpchaos.netsim.toxics`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from pydantic import ValidationError

from mcpchaos import __version__
from mcpchaos.config.addresses import host_port
from mcpchaos.config.network import NetworkConfig
from mcpchaos.errors import ConfigError, ListenError
from mcpchaos.netsim.controller import NetworkController
from mcpchaos.netsim.toxics import Toxic, ToxicError, network_config, parse_toxic, reaches
from mcpchaos.protocol.host_check import is_loopback
from mcpchaos.transport.tcp_link import TcpLink

log = logging.getLogger("mcpchaos.toxiproxy")

TOXIPROXY_API_VERSION = "2.9.0"
"""The Toxiproxy release whose API this follows (clients may check it)."""


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Proxy:
    """One Toxiproxy proxy: a network controller, and the link that listens for it (if any)."""

    name: str
    listen: str
    upstream: str
    controller: NetworkController
    link: TcpLink | None = None
    """None: the process's own network, which this API neither stops nor deletes."""
    enabled: bool = True
    toxics: dict[str, Toxic] = field(default_factory=dict)
    base: NetworkConfig = field(default_factory=NetworkConfig)
    """The network before any toxic (a link's start-up impairments); /reset returns to it."""
    seed: int = field(default_factory=lambda: secrets.randbits(63))
    """Draws which connections a toxic with toxicity < 1 reaches."""

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": [toxic.as_json() for toxic in self.toxics.values()],
        }

    def set_toxics(self, toxics: dict[str, Toxic]) -> None:
        """Make ``toxics`` the proxy's, if the network they make together is one the simulator
        takes (whatever their toxicity, so a later change of toxicity cannot fail); else an
        :class:`ApiError` 400 and nothing changes."""
        try:
            network_config(self.base, toxics.values())
        except ValidationError as exc:
            reasons = "; ".join(f"{error['loc'][-1]}: {error['msg']}" for error in exc.errors())
            message = f"this proxy's toxics would add up to more than the simulator takes ({reasons})"
            raise ApiError(400, f"bad request body: {message}") from exc
        self.toxics = toxics
        self.apply_toxics()

    def apply_toxics(self) -> None:
        """Push the toxics to the network simulator (felt by open connections too)."""
        active = [toxic for toxic in self.toxics.values() if toxic.toxicity > 0]
        # A partition started through the control API stays as it is.
        base = self.base.model_copy(update={"partition": self.controller.config.partition})
        per_connection = None
        if any(toxic.toxicity < 1 for toxic in active):

            def per_connection(connection: int) -> NetworkConfig:
                return network_config(base, [t for t in active if reaches(t, self.seed, connection)])

        self.controller.update(network_config(base, active), per_connection)


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class ToxiproxyApi:
    """The proxies this API knows, and its HTTP routes."""

    def __init__(self) -> None:
        self.proxies: dict[str, Proxy] = {}
        self.any_listen_host = False
        """Whether a proxy may listen off loopback: only when the control API has a token."""
        self._lock = asyncio.Lock()

    def register(self, proxy: Proxy) -> None:
        """Make an existing network (started elsewhere) visible and toxic-able through the API."""
        proxy.base = proxy.controller.config
        self.proxies[proxy.name] = proxy

    async def close(self) -> None:
        """Stop the links this API started."""
        for proxy in self.proxies.values():
            if proxy.link is not None:
                await proxy.link.stop()

    def add_routes(self, app: web.Application) -> None:
        routes = [
            ("GET", "/proxies", self._proxy_index),
            ("POST", "/proxies", self._proxy_create),
            ("POST", "/populate", self._populate),
            ("GET", "/proxies/{proxy}", self._proxy_show),
            ("POST", "/proxies/{proxy}", self._proxy_update),
            ("PATCH", "/proxies/{proxy}", self._proxy_update),
            ("DELETE", "/proxies/{proxy}", self._proxy_delete),
            ("GET", "/proxies/{proxy}/toxics", self._toxic_index),
            ("POST", "/proxies/{proxy}/toxics", self._toxic_create),
            ("GET", "/proxies/{proxy}/toxics/{toxic}", self._toxic_show),
            ("POST", "/proxies/{proxy}/toxics/{toxic}", self._toxic_update),
            ("PATCH", "/proxies/{proxy}/toxics/{toxic}", self._toxic_update),
            ("DELETE", "/proxies/{proxy}/toxics/{toxic}", self._toxic_delete),
            ("POST", "/reset", self._reset),
            ("GET", "/version", self._version),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, path, self._errors(handler))

    @staticmethod
    def _errors(handler: Any) -> Any:
        async def wrapped(request: web.Request) -> web.Response:
            try:
                response: web.Response = await handler(request)
                return response
            except ApiError as exc:
                return _json({"error": str(exc), "status": exc.status}, exc.status)

        return wrapped

    # -- proxies ----------------------------------------------------------------------------

    def _proxy(self, request: web.Request) -> Proxy:
        proxy = self.proxies.get(request.match_info["proxy"])
        if proxy is None:
            raise ApiError(404, "proxy not found")
        return proxy

    async def _proxy_index(self, request: web.Request) -> web.Response:
        return _json({name: proxy.as_json() for name, proxy in self.proxies.items()})

    async def _proxy_show(self, request: web.Request) -> web.Response:
        return _json(self._proxy(request).as_json())

    async def _proxy_create(self, request: web.Request) -> web.Response:
        body = await _body(request)
        async with self._lock:
            proxy = await self._create(body)
        return _json(proxy.as_json(), 201)

    async def _create(self, body: Any) -> Proxy:
        if not isinstance(body, dict):
            raise ApiError(400, "bad request body: a proxy is a JSON object")
        listen, upstream_address, listen_address = self._checked(body)
        name = body["name"]
        if name in self.proxies:
            raise ApiError(409, "proxy already exists")
        link = TcpLink(listen_address, upstream_address, NetworkController(), name)
        proxy = Proxy(name, listen, body["upstream"], link.controller, link)
        if body.get("enabled") is not False:
            await self._start(proxy)
        else:
            proxy.enabled = False
        self.proxies[name] = proxy
        log.info("toxiproxy API: proxy %s created: %s → %s", name, proxy.listen, proxy.upstream)
        return proxy

    def _checked(self, body: dict[str, Any]) -> tuple[str, tuple[str, int], tuple[str, int]]:
        """A new proxy's fields, checked: (listen as given, upstream address, listen address)."""
        for key in ("name", "upstream"):
            if not isinstance(body.get(key), str) or not body[key]:
                raise ApiError(400, f"missing required field: {key}")
        if not isinstance(body.get("enabled"), bool | None):
            raise ApiError(400, "bad request body: enabled must be true or false")
        listen = body.get("listen") or "127.0.0.1:0"
        return listen, self._address(body["upstream"], "upstream"), self._listen_address(listen)

    def _listen_address(self, value: Any) -> tuple[str, int]:
        host, port = self._address(value, "listen")
        if not self.any_listen_host and not is_loopback(host):
            raise ApiError(
                403,
                f"listen {value} is not a loopback address: the control API has no token, so the "
                "proxies it makes listen on loopback only (start it with --control-token TOKEN "
                "to allow other addresses)",
            )
        return host, port

    @staticmethod
    def _address(value: Any, what: str) -> tuple[str, int]:
        if not isinstance(value, str):
            raise ApiError(400, f"bad request body: {what} must be HOST:PORT")
        try:
            return host_port(value, what, port_alone=False, example="127.0.0.1:9000")
        except ConfigError as exc:
            raise ApiError(400, f"bad request body: {exc}") from exc

    @staticmethod
    async def _start(proxy: Proxy) -> None:
        assert proxy.link is not None
        try:
            port = await proxy.link.start()
        except ListenError as exc:
            raise ApiError(500, str(exc)) from exc
        # Keep the port picked for ":0", so disabling and enabling again keeps the address.
        proxy.link.listen = (proxy.link.listen[0], port)
        proxy.listen = _address(proxy.link.listen[0], port)
        proxy.enabled = True

    async def _proxy_update(self, request: web.Request) -> web.Response:
        proxy = self._proxy(request)
        body = await _body(request)
        if not isinstance(body, dict):
            raise ApiError(400, "bad request body: a proxy is a JSON object")
        async with self._lock:
            await self._update(proxy, body)
        return _json(proxy.as_json())

    async def _update(self, proxy: Proxy, body: dict[str, Any]) -> None:
        listen = body.get("listen") or proxy.listen
        upstream = body.get("upstream") or proxy.upstream
        enabled = proxy.enabled if body.get("enabled") is None else body["enabled"]
        if not isinstance(enabled, bool):
            raise ApiError(400, "bad request body: enabled must be true or false")
        moved = listen != proxy.listen or upstream != proxy.upstream
        if proxy.link is None:
            if moved:
                raise ApiError(409, "this proxy's addresses are fixed by its command line")
            if enabled != proxy.enabled:
                if enabled:
                    proxy.controller.heal()
                else:
                    proxy.controller.partition()
                proxy.enabled = enabled
            return
        if moved:  # as Toxiproxy: a new address restarts the proxy and drops its connections
            link = TcpLink(
                self._listen_address(listen),
                self._address(upstream, "upstream"),
                proxy.controller,
                proxy.name,
            )
            await proxy.link.stop()
            proxy.link, proxy.listen, proxy.upstream, proxy.enabled = link, listen, upstream, False
        if enabled and not proxy.enabled:
            await self._start(proxy)
        elif not enabled and proxy.enabled:
            await proxy.link.stop()  # stop listening, reset the connections
            proxy.enabled = False
        log.info("toxiproxy API: proxy %s updated (enabled: %s)", proxy.name, proxy.enabled)

    async def _proxy_delete(self, request: web.Request) -> web.Response:
        proxy = self._proxy(request)
        if proxy.link is None:
            raise ApiError(409, "this proxy is the process's own network: it cannot be deleted")
        async with self._lock:
            await proxy.link.stop()
            self.proxies.pop(proxy.name, None)
        log.info("toxiproxy API: proxy %s deleted", proxy.name)
        return web.Response(status=204)

    async def _populate(self, request: web.Request) -> web.Response:
        body = await _body(request)
        if isinstance(body, dict) and isinstance(body.get("proxies"), list):
            body = body["proxies"]
        if not isinstance(body, list):
            raise ApiError(400, "bad request body: a JSON array of proxies")
        result = []
        async with self._lock:
            for item in body:  # every one checked before any changes, as Toxiproxy does
                if not isinstance(item, dict):
                    raise ApiError(400, "bad request body: each proxy is a JSON object")
                if self._kept(item) is None:
                    self._checked(item)
                    existing = self.proxies.get(item["name"])
                    if existing is not None and existing.link is None:
                        raise ApiError(409, f"proxy {existing.name} is the process's own network")
            for item in body:
                proxy = self._kept(item)
                if proxy is None:
                    replaced = self.proxies.pop(item["name"], None)
                    if replaced is not None and replaced.link is not None:
                        await replaced.link.stop()
                    proxy = await self._create(item)
                result.append(proxy.as_json())
        return _json({"proxies": result}, 201)

    def _kept(self, item: dict[str, Any]) -> Proxy | None:
        """The proxy ``item`` names, if /populate keeps it as it is (the same addresses)."""
        existing = self.proxies.get(str(item.get("name")))
        if existing is None or existing.upstream != item.get("upstream"):
            return None
        return existing if existing.listen == item.get("listen") or existing.link is None else None

    async def _reset(self, request: web.Request) -> web.Response:
        async with self._lock:
            for proxy in self.proxies.values():
                proxy.toxics.clear()
                proxy.apply_toxics()
                if not proxy.enabled:
                    if proxy.link is not None:
                        await self._start(proxy)
                    else:
                        proxy.controller.heal()
                        proxy.enabled = True
        log.info("toxiproxy API: reset (every proxy enabled, every toxic removed)")
        return web.Response(status=204)

    async def _version(self, request: web.Request) -> web.Response:
        return _json({"version": TOXIPROXY_API_VERSION, "server": f"mcpchaos {__version__}"})

    # -- toxics -----------------------------------------------------------------------------

    def _toxic(self, proxy: Proxy, request: web.Request) -> Toxic:
        toxic = proxy.toxics.get(request.match_info["toxic"])
        if toxic is None:
            raise ApiError(404, "toxic not found")
        return toxic

    async def _toxic_index(self, request: web.Request) -> web.Response:
        return _json([toxic.as_json() for toxic in self._proxy(request).toxics.values()])

    async def _toxic_show(self, request: web.Request) -> web.Response:
        proxy = self._proxy(request)
        return _json(self._toxic(proxy, request).as_json())

    async def _toxic_create(self, request: web.Request) -> web.Response:
        proxy = self._proxy(request)
        body = await _body(request)
        try:
            toxic = parse_toxic(body)
        except (ToxicError, ValueError) as exc:
            raise ApiError(400, f"bad request body: {exc}") from exc
        if toxic.name in proxy.toxics:
            raise ApiError(409, "toxic already exists")
        proxy.set_toxics({**proxy.toxics, toxic.name: toxic})
        log.info("toxiproxy API: toxic %s added to %s: %s", toxic.name, proxy.name, toxic.as_json())
        return _json(toxic.as_json())

    async def _toxic_update(self, request: web.Request) -> web.Response:
        proxy = self._proxy(request)
        current = self._toxic(proxy, request)
        body = await _body(request)
        if isinstance(body, dict):  # name and type stay: a toxic is renamed by delete + create
            body = {key: value for key, value in body.items() if key not in ("name", "type")}
        try:
            toxic = parse_toxic(body, current)
        except (ToxicError, ValueError) as exc:
            raise ApiError(400, f"bad request body: {exc}") from exc
        proxy.set_toxics({**proxy.toxics, toxic.name: toxic})
        log.info("toxiproxy API: toxic %s of %s updated: %s", toxic.name, proxy.name, toxic.as_json())
        return _json(toxic.as_json())

    async def _toxic_delete(self, request: web.Request) -> web.Response:
        proxy = self._proxy(request)
        toxic = self._toxic(proxy, request)
        del proxy.toxics[toxic.name]
        proxy.apply_toxics()
        log.info("toxiproxy API: toxic %s removed from %s", toxic.name, proxy.name)
        return web.Response(status=204)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


async def _body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"bad request body: {exc}") from exc
