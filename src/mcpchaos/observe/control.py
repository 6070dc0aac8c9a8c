"""The control API: read and change a running proxy or link over HTTP.

Binds 127.0.0.1 unless told otherwise; bound to any other address it refuses to start
without a token, which every call must then present as ``Authorization: Bearer TOKEN``
(compared in constant time). It runs on the proxy's own event loop and does no blocking
work, so it answers while the proxy is under load (a stalled loop from a CPU-spike fault in
``event_loop`` mode stalls it too, by design).

    GET  /health                 GET /metrics (Prometheus)      GET /metrics.json
    GET  /faults                 PUT /faults (a whole FaultConfig; omitted fields take defaults)
    PATCH /faults (merged into the current one)                 POST /faults/reset
    POST /faults/rules (a Rule, tried first)                    DELETE /faults/rules/{name}
    GET  /faults/log?since=N     (records after sequence number N; "next" to poll with, "latest"
                                  and "oldest" kept: the bounds of what can still be read)
    GET  /network   PUT /network   PATCH /network   POST /network/reset
    POST /network/partition      POST /network/heal
    GET  /sessions               GET /breaker
    GET  /history                GET /history/check?grace_ms=N (``--history``: docs/history.md)
    GET  /history?format=tape    (the histories as a tape, JSON lines: docs/tapes.md)
    /proxies, /populate, /reset, /version: Toxiproxy's API (:mod:`mcpchaos.observe.toxiproxy_api`)

Invalid JSON → 400; a body that does not validate → 422 with the errors, field paths named;
a rule name taken → 409, unknown → 404. Every change is logged.

One module of a little over 400 lines: every route is a few lines over the same targets, and
splitting them would scatter one API's table (the Toxiproxy routes already live apart).
"""

from __future__ import annotations

import asyncio
import collections
import hmac
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from mcpchaos import __version__
from mcpchaos.config.faults import FaultConfig, Rule
from mcpchaos.config.network import NetworkConfig
from mcpchaos.errors import ConfigError, ListenError
from mcpchaos.faults.injector import FaultInjector, FaultRecord
from mcpchaos.history.check import DEFAULT_GRACE_S, check
from mcpchaos.netsim.controller import NetworkController
from mcpchaos.observe.history import HistoryRecorder
from mcpchaos.observe.metrics import Metrics
from mcpchaos.observe.toxiproxy_api import ToxiproxyApi
from mcpchaos.protocol.host_check import is_loopback

log = logging.getLogger("mcpchaos.control")

FAULT_LOG_MEMORY = 10_000
"""Recent fault records kept in memory for GET /faults/log."""


class FaultTail:
    """The last injected faults, numbered, for polling with ``since``."""

    def __init__(self, size: int = FAULT_LOG_MEMORY) -> None:
        self._records: collections.deque[tuple[int, dict[str, Any]]] = collections.deque(maxlen=size)
        self.sequence = 0

    def __call__(self, record: FaultRecord) -> None:
        self.sequence += 1
        self._records.append((self.sequence, record.as_dict()))

    def since(self, sequence: int, limit: int = 1000) -> tuple[list[dict[str, Any]], int]:
        records = [{"seq": seq, **data} for seq, data in self._records if seq > sequence][:limit]
        return records, (records[-1]["seq"] if records else max(sequence, 0))

    @property
    def oldest(self) -> int:
        """The sequence number of the oldest record still kept (``sequence + 1`` when none is):
        a reader that wants everything after N and finds ``oldest > N + 1`` has lost records."""
        return self._records[0][0] if self._records else self.sequence + 1


@dataclass
class ControlTargets:
    """What the control API reads and changes."""

    metrics: Metrics
    injector: FaultInjector | None = None
    network: NetworkController | None = None
    sessions: Callable[[], list[dict[str, Any]]] = list
    breaker: Any = None
    """The upstream circuit breaker, if there is one (GET /breaker)."""
    fault_tail: FaultTail = field(default_factory=FaultTail)
    startup_faults: FaultConfig = field(default_factory=FaultConfig)
    startup_network: NetworkConfig = field(default_factory=NetworkConfig)
    toxiproxy: ToxiproxyApi = field(default_factory=ToxiproxyApi)
    """Toxiproxy's API: proxies (links) created through it, and the networks registered."""
    history: HistoryRecorder | None = None
    """The session histories, when the proxy runs with ``--history`` (GET /history/check)."""

    def __post_init__(self) -> None:
        if self.injector is not None:
            self.startup_faults = self.injector.config
            self.injector.on_fault(self.fault_tail)
        if self.network is not None:
            self.startup_network = self.network.config


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS),
        content_type="application/json",
    )


def _problem(status: int, message: str, errors: list[dict[str, Any]] | None = None) -> web.Response:
    body: dict[str, Any] = {"error": message}
    if errors is not None:
        body["errors"] = errors
    return _json(body, status)


def _merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """JSON merge: objects merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class ControlServer:
    """The control API's HTTP server."""

    def __init__(
        self, targets: ControlTargets, host: str = "127.0.0.1", port: int = 0, token: str | None = None
    ) -> None:
        if not is_loopback(host) and not token:
            raise ConfigError(
                f"--control {host}:{port} is not a loopback address: give --control-token TOKEN "
                "(every call must then send 'Authorization: Bearer TOKEN')"
            )
        self.targets = targets
        # The same rule for the listeners the Toxiproxy API makes.
        targets.toxiproxy.any_listen_host = token is not None
        self.host = host
        self.requested_port = port
        self.token = token
        self.port: int | None = None
        self._runner: web.AppRunner | None = None
        self._started = time.monotonic()

    async def start(self) -> int:
        app = web.Application(middlewares=[self._auth], client_max_size=4 * 1024 * 1024)
        routes = [
            ("GET", "/health", self._health),
            ("GET", "/metrics", self._metrics),
            ("GET", "/metrics.json", self._metrics_json),
            ("GET", "/faults", self._faults_get),
            ("PUT", "/faults", self._faults_put),
            ("PATCH", "/faults", self._faults_patch),
            ("POST", "/faults/reset", self._faults_reset),
            ("POST", "/faults/rules", self._rule_add),
            ("DELETE", "/faults/rules/{name}", self._rule_remove),
            ("GET", "/faults/log", self._faults_log),
            ("GET", "/network", self._network_get),
            ("PUT", "/network", self._network_put),
            ("PATCH", "/network", self._network_patch),
            ("POST", "/network/reset", self._network_reset),
            ("POST", "/network/partition", self._partition),
            ("POST", "/network/heal", self._heal),
            ("GET", "/sessions", self._sessions),
            ("GET", "/breaker", self._breaker),
            ("GET", "/history", self._history),
            ("GET", "/history/check", self._history_check),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, path, handler)
        self.targets.toxiproxy.add_routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.requested_port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            raise ListenError(self.host, self.requested_port, exc) from None
        sockets = getattr(site._server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.requested_port
        log.info("control API on http://%s:%s", self.host, self.port)
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.targets.toxiproxy.close()

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        # Browsers: a web page must not drive this API. Cross-site requests carry Origin;
        # DNS rebinding shows up as a Host that is not a loopback name.
        if "Origin" in request.headers:
            return _problem(403, "requests from web pages (with an Origin header) are refused")
        if self.token is None and not is_loopback(_host_of(request.host)):
            return _problem(403, f"Host {request.host!r} is not a loopback address")
        if (
            request.method in ("PUT", "PATCH", "POST")
            and request.can_read_body
            and request.content_type != "application/json"
        ):
            return _problem(415, "send the body as application/json")
        if self.token is not None:
            # The header's bytes as they came (aiohttp keeps bytes that are not UTF-8 as
            # surrogates), against the token's UTF-8: any bytes compare, none raise.
            given = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
            expected = f"Bearer {self.token}".encode("utf-8", "surrogateescape")
            if not hmac.compare_digest(given, expected):
                return _problem(401, "missing or wrong token: send 'Authorization: Bearer TOKEN'")
        response: web.StreamResponse = await handler(request)
        return response

    # -- reading ----------------------------------------------------------------------------

    async def _health(self, request: web.Request) -> web.Response:
        # pid and tasks let a harness attached to a running proxy watch it for leaks.
        return _json(
            {
                "status": "ok",
                "version": __version__,
                "uptime_s": round(time.monotonic() - self._started, 3),
                "pid": os.getpid(),
                "tasks": len(asyncio.all_tasks()),
            }
        )

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self.targets.metrics.prometheus(),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )

    async def _metrics_json(self, request: web.Request) -> web.Response:
        return _json(self.targets.metrics.as_dict())

    async def _breaker(self, request: web.Request) -> web.Response:
        if self.targets.breaker is None:
            raise web.HTTPNotFound(text="no circuit breaker: start the proxy with --breaker")
        return _json(self.targets.breaker.as_dict())

    def _recorder(self) -> HistoryRecorder:
        if self.targets.history is None:
            raise web.HTTPNotFound(text="no history recorded: start the proxy with --history")
        return self.targets.history

    async def _history(self, request: web.Request) -> web.Response:
        recorder = self._recorder()
        if request.query.get("format") == "tape":
            return self._history_tape(recorder)
        sessions = [
            {"session": h.key, "transport": h.transport, "entries": len(h.raw), "truncated": h.truncated}
            for h in recorder.histories()
        ]
        return _json({**recorder.stats(), "by_session": sessions[-1000:]})

    def _history_tape(self, recorder: HistoryRecorder) -> web.Response:
        """The whole history as a tape (credential headers redacted, as GET /history hides them)."""
        from mcpchaos.history.redact import Redactor
        from mcpchaos.history.tape import from_histories

        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        histories = [history.snapshot() for history in recorder.histories()]
        body = b"".join(from_histories(histories, "live", __version__, started, Redactor()))
        return web.Response(body=body, content_type="application/x-ndjson")

    async def _history_check(self, request: web.Request) -> web.Response:
        recorder = self._recorder()
        try:
            grace_s = float(request.query.get("grace_ms", DEFAULT_GRACE_S * 1000)) / 1000
        except ValueError:
            return _problem(400, "grace_ms must be a number")
        # A snapshot on the loop (copies of the lists: milliseconds), the check in a thread: a
        # full history takes the checker about a second (bench/history.py), which the proxy's
        # sessions must not wait for.
        snapshot = [history.snapshot() for history in recorder.histories()]
        result = await asyncio.to_thread(check, snapshot, grace_s)
        return _json({**result.as_dict(), "recorder": recorder.stats()})

    async def _sessions(self, request: web.Request) -> web.Response:
        return _json({"sessions": self.targets.sessions()})

    # -- faults -----------------------------------------------------------------------------

    def _injector(self) -> FaultInjector:
        if self.targets.injector is None:
            raise web.HTTPNotFound(text="this process injects no faults")
        return self.targets.injector

    async def _faults_get(self, request: web.Request) -> web.Response:
        injector = self._injector()
        return _json(
            {
                "config": injector.config.model_dump(mode="json"),
                "seed": injector.seed,
                "injected": injector.injected,
            }
        )

    async def _faults_put(self, request: web.Request) -> web.Response:
        injector = self._injector()
        config = await self._validated(request, FaultConfig, None)
        if isinstance(config, web.Response):
            return config
        injector.update_config(config)
        log.info("control: fault configuration replaced (PUT /faults)")
        return await self._faults_get(request)

    async def _faults_patch(self, request: web.Request) -> web.Response:
        injector = self._injector()
        config = await self._validated(request, FaultConfig, injector.config)
        if isinstance(config, web.Response):
            return config
        injector.update_config(config)
        log.info("control: fault configuration patched (PATCH /faults)")
        return await self._faults_get(request)

    async def _faults_reset(self, request: web.Request) -> web.Response:
        self._injector().update_config(self.targets.startup_faults)
        log.info("control: fault configuration reset to the start-up one")
        return await self._faults_get(request)

    async def _rule_add(self, request: web.Request) -> web.Response:
        injector = self._injector()
        rule = await self._validated(request, Rule, None)
        if isinstance(rule, web.Response):
            return rule
        names = injector.config.rule_names()
        if rule.name in names:
            return _problem(409, f"a rule named {rule.name!r} exists (rules: {', '.join(names)})")
        try:
            config = injector.config.with_rule(rule)
        except ValidationError as exc:
            return _problem(422, "the rule does not fit the configuration", _errors(exc))
        injector.update_config(config)
        log.info("control: fault rule %s added (POST /faults/rules)", config.rules[0].name)
        return await self._faults_get(request)

    async def _rule_remove(self, request: web.Request) -> web.Response:
        injector = self._injector()
        name = request.match_info["name"]
        try:
            config = injector.config.without_rule(name)
        except KeyError:
            names = ", ".join(injector.config.rule_names()) or "none"
            return _problem(404, f"no rule named {name!r} (rules: {names})")
        injector.update_config(config)
        log.info("control: fault rule %s removed (DELETE /faults/rules)", name)
        return await self._faults_get(request)

    async def _faults_log(self, request: web.Request) -> web.Response:
        try:
            since = int(request.query.get("since", "0"))
            limit = max(1, min(int(request.query.get("limit", "1000")), 10_000))
        except ValueError:
            return _problem(400, "since and limit must be integers")
        tail = self.targets.fault_tail
        records, last = tail.since(since, limit)
        return _json({"records": records, "next": last, "latest": tail.sequence, "oldest": tail.oldest})

    # -- network ----------------------------------------------------------------------------

    def _network(self) -> NetworkController:
        if self.targets.network is None:
            raise web.HTTPNotFound(text="this process simulates no network")
        return self.targets.network

    async def _network_get(self, request: web.Request) -> web.Response:
        network = self._network()
        return _json({"config": network.config.model_dump(mode="json"), "partitioned": network.partitioned})

    async def _network_put(self, request: web.Request) -> web.Response:
        network = self._network()
        config = await self._validated(request, NetworkConfig, None)
        if isinstance(config, web.Response):
            return config
        network.update(config)
        log.info("control: network configuration replaced (PUT /network)")
        return await self._network_get(request)

    async def _network_patch(self, request: web.Request) -> web.Response:
        network = self._network()
        config = await self._validated(request, NetworkConfig, network.config)
        if isinstance(config, web.Response):
            return config
        network.update(config)
        log.info("control: network configuration patched (PATCH /network)")
        return await self._network_get(request)

    async def _network_reset(self, request: web.Request) -> web.Response:
        network = self._network()
        network.update(self.targets.startup_network)
        if not self.targets.startup_network.partition.active:
            network.heal()
        for proxy in self.targets.toxiproxy.proxies.values():
            if proxy.controller is network:  # its toxics were part of the network being reset
                proxy.toxics.clear()
                proxy.enabled = proxy.enabled or (proxy.link is None and not network.partitioned)
        log.info("control: network reset to the start-up configuration")
        return await self._network_get(request)

    async def _partition(self, request: web.Request) -> web.Response:
        network = self._network()
        body = await self._body(request, allow_empty=True)
        if isinstance(body, web.Response):
            return body
        duration = body.get("duration_ms") if isinstance(body, dict) else None
        if duration is not None and (not isinstance(duration, int | float) or duration < 0):
            return _problem(422, "duration_ms must be a number of milliseconds, zero or more")
        network.partition(float(duration) if duration is not None else None)
        log.info("control: network partitioned%s", f" for {duration} ms" if duration is not None else "")
        return await self._network_get(request)

    async def _heal(self, request: web.Request) -> web.Response:
        self._network().heal()
        log.info("control: network healed")
        return await self._network_get(request)

    # -- bodies -----------------------------------------------------------------------------

    @staticmethod
    async def _body(request: web.Request, allow_empty: bool = False) -> Any:
        raw = await request.read()
        if not raw.strip():
            return {} if allow_empty else _problem(400, "the body is empty: send a JSON object")
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return _problem(400, f"the body is not valid JSON: {exc}")

    async def _validated(self, request: web.Request, model: type[BaseModel], base: BaseModel | None) -> Any:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        if not isinstance(body, dict):
            return _problem(422, "the body must be a JSON object")
        data = _merge(base.model_dump(mode="json"), body) if base is not None else body
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            return _problem(422, "the configuration does not validate", _errors(exc))


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(part) for part in error["loc"]), "message": error["msg"]}
        for error in exc.errors()
    ]


def _host_of(host_header: str) -> str:
    """The host part of a Host header (``127.0.0.1:9900``, ``[::1]:9900``, ``localhost``)."""
    if host_header.startswith("["):
        return host_header[1:].split("]", 1)[0]
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header
