"""Every control API endpoint, in process, with a real HTTP client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from mcpchaos.config.faults import FaultConfig
from mcpchaos.config.load import validate
from mcpchaos.config.network import NetworkConfig
from mcpchaos.errors import ConfigError
from mcpchaos.faults.injector import FaultInjector
from mcpchaos.intercept.chain import InterceptorChain
from mcpchaos.intercept.context import Context, Session
from mcpchaos.netsim.controller import NetworkController
from mcpchaos.observe.control import ControlServer, ControlTargets
from mcpchaos.observe.metrics import Metrics
from mcpchaos.observe.toxiproxy_api import Proxy as ToxiProxy
from mcpchaos.protocol.messages import Direction, request


@pytest.fixture
async def control() -> AsyncIterator[tuple[ControlServer, str]]:
    injector = FaultInjector(validate(FaultConfig, {"seed": 3}))
    metrics = Metrics().observe(InterceptorChain([injector]), injector)
    network = NetworkController(NetworkConfig())
    targets = ControlTargets(metrics, injector, network, lambda: [{"id": "s-1"}])
    server = ControlServer(targets)
    port = await server.start()
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        await server.stop()


async def call(
    method: str, url: str, body: Any = None, raw: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, url, json=body, data=raw, headers=headers) as response,
    ):
        text = await response.text()
        try:
            return response.status, await response.json(content_type=None)
        except ValueError:
            return response.status, text


async def test_health_metrics_and_sessions(control: tuple[ControlServer, str]) -> None:
    _, base = control
    assert (await call("GET", f"{base}/health"))[1]["status"] == "ok"
    status, text = await call("GET", f"{base}/metrics")
    assert status == 200
    assert "mcpchaos_messages" in text
    status, data = await call("GET", f"{base}/metrics.json")
    assert data["messages_total"] == 0
    assert (await call("GET", f"{base}/sessions"))[1] == {"sessions": [{"id": "s-1"}]}


async def test_faults_put_patch_reset_and_log(control: tuple[ControlServer, str]) -> None:
    server, base = control
    injector = server.targets.injector
    assert injector is not None
    status, data = await call("GET", f"{base}/faults")
    assert data["config"]["fault_probability"] == 0
    status, data = await call(
        "PUT", f"{base}/faults", {"fault_probability": 1.0, "enabled_faults": {"drop": True}}
    )
    assert status == 200
    assert injector.config.fault_probability == 1.0
    assert injector.config.seed is None  # PUT: what is not given takes its default
    status, data = await call("PATCH", f"{base}/faults", {"enabled_faults": {"delay": True}})
    assert status == 200
    assert injector.config.enabled_faults.drop  # PATCH merges
    assert injector.config.enabled_faults.delay
    session = Session("s", 1, "stdio")
    for ordinal in range(3):
        injector.intercept(
            request(ordinal, "tools/call"), Context(session, Direction.CLIENT_TO_SERVER, ordinal, 0)
        )
    status, data = await call("GET", f"{base}/faults/log?since=0")
    assert [record["seq"] for record in data["records"]] == [1, 2, 3]
    status, data = await call("GET", f"{base}/faults/log?since=2")
    assert [record["seq"] for record in data["records"]] == [3]
    assert data["next"] == 3
    status, data = await call("POST", f"{base}/faults/reset")
    assert injector.config.fault_probability == 0
    assert injector.config.seed == 3


async def test_rules_are_added_first_and_removed_by_name(control: tuple[ControlServer, str]) -> None:
    server, base = control
    injector = server.targets.injector
    assert injector is not None
    rule = {"match": {"tools": ["write_*"]}, "probability": 0.3, "enabled_faults": {"error": True}}
    status, data = await call("POST", f"{base}/faults/rules", {**rule, "name": "writes"})
    assert status == 200
    status, data = await call("POST", f"{base}/faults/rules", rule)  # no name: one is given
    assert [r["name"] for r in data["config"]["rules"]] == ["error-1", "writes"]
    assert injector.config.rule_names() == ["error-1", "writes"]
    assert injector.seed == 3  # a rule change keeps the seed
    status, data = await call("POST", f"{base}/faults/rules", {**rule, "name": "writes"})
    assert (status, data["error"]) == (409, "a rule named 'writes' exists (rules: error-1, writes)")
    status, data = await call("POST", f"{base}/faults/rules", {**rule, "probability": 2})
    assert status == 422
    assert "probability" in str(data)
    status, data = await call("DELETE", f"{base}/faults/rules/writes")
    assert [r["name"] for r in data["config"]["rules"]] == ["error-1"]
    status, data = await call("DELETE", f"{base}/faults/rules/writes")
    assert (status, data["error"]) == (404, "no rule named 'writes' (rules: error-1)")


async def test_a_rule_that_does_not_fit_the_configuration_is_refused(
    control: tuple[ControlServer, str],
) -> None:
    server, base = control
    await call("PUT", f"{base}/faults", {"error_config": {"types": []}})
    status, data = await call("POST", f"{base}/faults/rules", {"enabled_faults": {"error": True}})
    assert status == 422
    assert "types is empty" in str(data)
    assert server.targets.injector is not None
    assert server.targets.injector.config.rules == []


async def test_network_reset_returns_to_the_start_up_network(control: tuple[ControlServer, str]) -> None:
    server, base = control
    network = server.targets.network
    assert network is not None
    server.targets.toxiproxy.register(ToxiProxy("mcpchaos", "stdio", "server", network))
    toxic = {"type": "latency", "attributes": {"latency": 200}}
    assert (await call("POST", f"{base}/proxies/mcpchaos/toxics", toxic))[0] == 200
    await call("PATCH", f"{base}/network", {"upstream": {"limit_data": 10}})
    await call("POST", f"{base}/network/partition")
    status, data = await call("POST", f"{base}/network/reset")
    assert status == 200
    assert data == {"config": NetworkConfig().model_dump(mode="json"), "partitioned": False}
    assert network.config == server.targets.startup_network
    assert (await call("GET", f"{base}/proxies/mcpchaos/toxics"))[1] == []  # the toxics went too


@pytest.mark.parametrize(
    ("body", "raw", "status", "expect"),
    [
        (None, b"{not json", 400, "not valid JSON"),
        (None, b"", 400, "empty"),
        ([1, 2], None, 422, "JSON object"),
        ({"fault_probability": 1.5, "enabled_faults": {"drop": True}}, None, 422, "fault_probability"),
        ({"enabled_faults": {"teleport": True}}, None, 422, "enabled_faults.teleport"),
    ],
)
async def test_bad_bodies_are_refused_with_the_reason(
    control: tuple[ControlServer, str], body: Any, raw: bytes | None, status: int, expect: str
) -> None:
    server, base = control
    before = server.targets.injector.config if server.targets.injector else None
    got, data = await call(
        "PUT", f"{base}/faults", body, raw, {"Content-Type": "application/json"} if raw is not None else None
    )
    assert got == status
    assert expect in str(data)
    assert server.targets.injector is not None
    assert server.targets.injector.config == before  # nothing changed


async def test_network_endpoints(control: tuple[ControlServer, str]) -> None:
    server, base = control
    network = server.targets.network
    assert network is not None
    status, data = await call("PUT", f"{base}/network", {"both": {"latency": {"base_ms": 5}}})
    assert status == 200
    assert network.config.both.latency is not None
    status, data = await call("PATCH", f"{base}/network", {"upstream": {"limit_data": 10}})
    assert network.config.upstream.limit_data == 10
    assert network.config.both.latency is not None
    status, data = await call("POST", f"{base}/network/partition", {"duration_ms": 60000})
    assert data["partitioned"] is True
    status, data = await call("POST", f"{base}/network/heal")
    assert data["partitioned"] is False
    status, data = await call("POST", f"{base}/network/partition", {"duration_ms": -1})
    assert status == 422
    status, data = await call("PUT", f"{base}/network", {"both": {"latency": {"base_ms": -5}}})
    assert status == 422
    assert "both.latency.base_ms" in str(data)


async def test_off_loopback_without_a_token_refuses_to_start() -> None:
    with pytest.raises(ConfigError, match="control-token"):
        ControlServer(ControlTargets(Metrics()), host="0.0.0.0", port=0)


async def test_with_a_token_every_call_must_present_it() -> None:
    server = ControlServer(ControlTargets(Metrics()), token="s3cret")
    port = await server.start()
    base = f"http://127.0.0.1:{port}"
    try:
        assert (await call("GET", f"{base}/health"))[0] == 401
        assert (await call("GET", f"{base}/health", headers={"Authorization": "Bearer wrong"}))[0] == 401
        assert (await call("GET", f"{base}/health", headers={"Authorization": "Bearer s3cret"}))[0] == 200
    finally:
        await server.stop()


async def raw_status(port: int, authorization: bytes) -> bytes:
    """The status line the API answers a GET /health whose Authorization is these raw bytes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " + authorization + b"\r\n"
            b"Connection: close\r\n\r\n"
        )
        async with asyncio.timeout(10):
            return await reader.readline()
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (b"Bearer \xff\xfe\xed\xa0\x80", b"401"),  # not UTF-8
        (b"Bearer s\xe9cret", b"401"),  # the token in Latin-1
        (b"\x80", b"401"),
        ("Bearer sécret".encode(), b"200"),  # the token in UTF-8
    ],
)
async def test_an_authorization_header_that_is_not_utf8_is_a_401_not_a_500(
    authorization: bytes, status: bytes
) -> None:
    server = ControlServer(ControlTargets(Metrics()), token="sécret")
    port = await server.start()
    try:
        line = await raw_status(port, authorization)
        assert line.split(b" ")[1] == status, line
    finally:
        await server.stop()


async def test_the_api_binds_loopback_by_default_and_takes_bodies_up_to_4_mib(
    control: tuple[ControlServer, str],
) -> None:
    server, base = control
    assert server._runner is not None
    assert [address[0] for address in server._runner.addresses] == ["127.0.0.1"]
    before = server.targets.injector.config if server.targets.injector else None
    padded = b'{"seed": 4, "pad": "' + b"x" * (4 * 1024 * 1024) + b'"}'
    status, _ = await call("PUT", f"{base}/faults", raw=padded, headers={"Content-Type": "application/json"})
    assert status == 413
    assert server.targets.injector is not None
    assert server.targets.injector.config == before


async def test_endpoints_for_absent_parts_say_so() -> None:
    server = ControlServer(ControlTargets(Metrics()))
    port = await server.start()
    try:
        status, text = await call("GET", f"http://127.0.0.1:{port}/faults")
        assert status == 404
        assert "injects no faults" in str(text)
    finally:
        await server.stop()


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Origin": "http://evil.example"}, 403),
        ({"Host": "evil.example:9900"}, 403),
        ({"Content-Type": "text/plain"}, 415),
    ],
)
async def test_web_pages_and_rebinding_cannot_drive_the_api(
    control: tuple[ControlServer, str], headers: dict[str, str], status: int
) -> None:
    server, base = control
    got, _ = await call("POST", f"{base}/network/partition", raw=b"{}", headers=headers)
    assert got == status
    assert server.targets.network is not None
    assert not server.targets.network.partitioned


def test_the_prometheus_exposition_names_every_family() -> None:
    metrics = Metrics()
    metrics.breaker_moved("closed", "open")
    metrics.connection("accepted")
    text = metrics.prometheus().decode()
    for name in (
        'mcpchaos_breaker_state{state="open"} 1.0',
        "mcpchaos_breaker_transitions_total",
        "mcpchaos_connections_total",
        "mcpchaos_sessions_evicted_total",
        "mcpchaos_messages_total",
        "mcpchaos_end_to_end_latency_seconds_quantile",
    ):
        if name.endswith("_total") and name not in text:
            # families with no samples yet print no sample line; their HELP/TYPE lines remain
            assert f"# TYPE {name.removesuffix('_total')} counter" in text, name
        else:
            assert name in text, name


async def test_the_breaker_endpoint_shows_its_state() -> None:
    from mcpchaos.proxy.breaker import BreakerConfig, CircuitBreaker

    breaker = CircuitBreaker(BreakerConfig(min_requests=1))
    breaker.record(False, 0.0)
    server = ControlServer(ControlTargets(Metrics(), breaker=breaker))
    port = await server.start()
    try:
        status, data = await call("GET", f"http://127.0.0.1:{port}/breaker")
        assert status == 200
        assert data["state"] == "open"
    finally:
        await server.stop()
    bare = ControlServer(ControlTargets(Metrics()))
    port = await bare.start()
    try:
        assert (await call("GET", f"http://127.0.0.1:{port}/breaker"))[0] == 404
    finally:
        await bare.stop()


def test_a_stdio_server_restart_is_counted() -> None:
    from mcpchaos.events import notify

    chain = InterceptorChain()
    metrics = Metrics().observe(chain)
    notify(chain.observers, "upstream_restarted", 1, 7)
    assert metrics.as_dict()["upstream_restarts"] == 1
    assert "mcpchaos_upstream_restarts_total 1.0" in metrics.prometheus().decode()
