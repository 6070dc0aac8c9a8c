"""The Toxiproxy-compatible API: plain HTTP as Toxiproxy's README shows it, toxiproxy-python,
chaostoolkit-toxiproxy's functions, and `mcpchaos link --control` in its own process; bytes
through real loopback links show that each toxic really acts."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from mcpchaos.netsim.toxics import MAXIMUM
from mcpchaos.observe.control import ControlServer, ControlTargets
from mcpchaos.observe.metrics import Metrics
from tests.netsim.test_link import EchoServer, echo, round_trip
from tests.observe.test_control import call

__all__ = ["echo"]  # the fixture, imported for the tests below


@pytest.fixture
async def api() -> AsyncIterator[str]:
    server = ControlServer(ControlTargets(Metrics()))
    port = await server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.stop()


async def create(api: str, echo: EchoServer, name: str = "echo", **extra: Any) -> dict[str, Any]:
    status, proxy = await call(
        "POST",
        f"{api}/proxies",
        {"name": name, "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{echo.port}", **extra},
    )
    assert status == 201, proxy
    return dict(proxy)


async def read_to_end(reader: asyncio.StreamReader) -> None:
    while await reader.read(100):
        pass


def port_of(proxy: dict[str, Any]) -> int:
    return int(proxy["listen"].rsplit(":", 1)[1])


async def test_proxies_are_created_listed_shown_and_deleted_with_toxiproxys_shapes_and_codes(
    api: str, echo: EchoServer
) -> None:
    proxy = await create(api, echo)
    assert proxy["enabled"] is True
    assert proxy["toxics"] == []
    assert port_of(proxy) > 0  # port 0: the port picked is reported
    assert (await round_trip(port_of(proxy)))[0] == b"ping\n"
    assert (await call("GET", f"{api}/proxies"))[1] == {"echo": proxy}
    assert (await call("GET", f"{api}/proxies/echo"))[1] == proxy
    status, error = await call("POST", f"{api}/proxies", {"name": "echo", "upstream": "127.0.0.1:1"})
    assert (status, error["status"]) == (409, 409)
    status, error = await call("POST", f"{api}/proxies", {"name": "x"})
    assert status == 400
    assert "upstream" in error["error"]
    assert (await call("GET", f"{api}/proxies/nope"))[0] == 404
    assert (await call("GET", f"{api}/proxies/echo/toxics/nope"))[0] == 404
    assert (await call("DELETE", f"{api}/proxies/echo"))[0] == 204
    assert (await call("GET", f"{api}/proxies"))[1] == {}
    with pytest.raises(ConnectionRefusedError):
        await round_trip(port_of(proxy))
    status, version = await call("GET", f"{api}/version")
    assert status == 200
    assert version["version"].startswith("2.")


async def test_a_latency_toxic_delays_the_bytes_and_removing_it_restores_the_link(
    api: str, echo: EchoServer
) -> None:
    port = port_of(await create(api, echo))
    status, made = await call(
        "POST",
        f"{api}/proxies/echo/toxics",
        {"type": "latency", "stream": "downstream", "attributes": {"latency": 300}},
    )
    assert status == 200
    assert made == {
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1.0,
        "attributes": {"latency": 300, "jitter": 0},
    }
    assert (await call("POST", f"{api}/proxies/echo/toxics", {"type": "latency"}))[0] == 409
    assert (await call("GET", f"{api}/proxies/echo/toxics"))[1] == [made]
    assert (await round_trip(port))[1] >= 0.29
    status, updated = await call(
        "POST", f"{api}/proxies/echo/toxics/latency_downstream", {"attributes": {"latency": 0}}
    )
    assert updated["attributes"]["latency"] == 0
    assert (await round_trip(port))[1] < 0.25
    assert (
        await call("POST", f"{api}/proxies/echo/toxics/latency_downstream", {"attributes": {"latency": 300}})
    )[0] == 200
    assert (await call("DELETE", f"{api}/proxies/echo/toxics/latency_downstream"))[0] == 204
    assert (await round_trip(port))[1] < 0.25
    assert (await call("GET", f"{api}/proxies/echo/toxics"))[1] == []


async def test_a_bandwidth_toxic_limits_the_rate(api: str, echo: EchoServer) -> None:
    port = port_of(await create(api, echo))
    await call("POST", f"{api}/proxies/echo/toxics", {"type": "bandwidth", "attributes": {"rate": 10}})
    payload = b"x" * 6_000  # 100 ms worth of burst (1 kB), then 5 kB at 10 KB/s: half a second
    data, elapsed = await round_trip(port, payload)
    assert data == payload
    assert elapsed >= 0.4


async def test_reset_peer_resets_the_connection_after_its_timeout(api: str, echo: EchoServer) -> None:
    port = port_of(await create(api, echo))
    await call(
        "POST",
        f"{api}/proxies/echo/toxics",
        {"type": "reset_peer", "stream": "upstream", "attributes": {"timeout": 150}},
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    writer.write(b"before\n")
    assert await asyncio.wait_for(reader.readexactly(7), 5) == b"before\n"  # bytes pass until then
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(read_to_end(reader), 5)
    assert time.monotonic() - started >= 0.14
    writer.close()


async def test_a_toxic_added_while_a_connection_is_open_reaches_it(api: str, echo: EchoServer) -> None:
    port = port_of(await create(api, echo))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"open\n")
    assert await asyncio.wait_for(reader.readexactly(5), 5) == b"open\n"
    await call("POST", f"{api}/proxies/echo/toxics", {"type": "reset_peer", "attributes": {"timeout": 50}})
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(read_to_end(reader), 5)
    writer.close()


async def test_a_timeout_toxic_drops_the_bytes_then_closes_the_connection(api: str, echo: EchoServer) -> None:
    port = port_of(await create(api, echo))
    await call("POST", f"{api}/proxies/echo/toxics", {"type": "timeout", "attributes": {"timeout": 200}})
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    writer.write(b"lost\n")
    async with asyncio.timeout(5):
        assert await reader.read(100) == b""  # nothing came back, then the close
    assert time.monotonic() - started >= 0.19
    writer.close()


async def test_a_toxic_with_toxicity_zero_does_nothing_and_one_in_between_reaches_some_connections(
    api: str, echo: EchoServer
) -> None:
    port = port_of(await create(api, echo))
    await call(
        "POST",
        f"{api}/proxies/echo/toxics",
        {"name": "never", "type": "latency", "toxicity": 0, "attributes": {"latency": 400}},
    )
    assert (await round_trip(port))[1] < 0.3
    await call("DELETE", f"{api}/proxies/echo/toxics/never")
    await call(
        "POST",
        f"{api}/proxies/echo/toxics",
        {"name": "half", "type": "latency", "toxicity": 0.5, "attributes": {"latency": 400}},
    )
    times = [elapsed for _, elapsed in await asyncio.gather(*(round_trip(port) for _ in range(30)))]
    slow = sum(1 for elapsed in times if elapsed >= 0.39)
    assert 3 <= slow <= 27, times


async def test_a_disabled_proxy_refuses_connections_and_comes_back_on_the_same_port(
    api: str, echo: EchoServer
) -> None:
    port = port_of(await create(api, echo))
    status, proxy = await call("POST", f"{api}/proxies/echo", {"enabled": False})
    assert (status, proxy["enabled"]) == (200, False)
    with pytest.raises(ConnectionRefusedError):
        await round_trip(port)
    status, proxy = await call("POST", f"{api}/proxies/echo", {"enabled": True})
    assert port_of(proxy) == port
    assert (await round_trip(port))[0] == b"ping\n"


async def test_reset_enables_every_proxy_and_removes_every_toxic(api: str, echo: EchoServer) -> None:
    first = port_of(await create(api, echo, "first"))
    await create(api, echo, "second")
    await call("POST", f"{api}/proxies/first/toxics", {"type": "latency", "attributes": {"latency": 400}})
    await call("POST", f"{api}/proxies/second", {"enabled": False})
    status, _ = await call("POST", f"{api}/reset")
    assert status == 204
    proxies = (await call("GET", f"{api}/proxies"))[1]
    assert all(proxy["enabled"] and proxy["toxics"] == [] for proxy in proxies.values())
    assert (await round_trip(first))[1] < 0.3
    assert (await round_trip(port_of(proxies["second"])))[0] == b"ping\n"


async def test_populate_creates_keeps_and_replaces_proxies(api: str, echo: EchoServer) -> None:
    upstream = f"127.0.0.1:{echo.port}"
    status, result = await call(
        "POST",
        f"{api}/populate",
        [{"name": "a", "listen": "127.0.0.1:0", "upstream": upstream}, {"name": "b", "upstream": upstream}],
    )
    assert status == 201
    a, b = result["proxies"]
    again = [a, {"name": "b", "listen": b["listen"], "upstream": "127.0.0.1:1"}]
    status, result = await call("POST", f"{api}/populate", again)
    assert result["proxies"][0] == a  # the same fields: untouched
    assert result["proxies"][1]["upstream"] == "127.0.0.1:1"  # replaced
    assert (await round_trip(port_of(a)))[0] == b"ping\n"


BAD_TOXICS: list[tuple[Any, bytes | None, str]] = [
    ({"type": "latency", "attributes": {"latency": 700_000}}, None, "latency"),
    ({"type": "latency", "attributes": {"jitter": 10**30}}, None, "jitter"),
    ({"type": "slicer", "attributes": {"delay": 20_000_000}}, None, "delay"),
    ({"type": "slow_close", "attributes": {"delay": 700_000}}, None, "delay"),
    ({"type": "timeout", "attributes": {"timeout": 10**11}}, None, "timeout"),
    ({"type": "reset_peer", "attributes": {"timeout": 10**11}}, None, "timeout"),
    ({"type": "bandwidth", "attributes": {"rate": 1e308}}, None, "rate"),
    ({"type": "limit_data", "attributes": {"bytes": 1e300}}, None, "bytes"),
    ({"type": "slicer", "attributes": {"average_size": 1e300}}, None, "average_size"),
    ({"name": "more", "type": "latency", "attributes": {"latency": 500_000}}, None, "add up"),
    ({"type": "teleport"}, None, "invalid toxic type"),
    ({"attributes": {"latency": 5}}, None, "invalid toxic type"),
    ({"type": "latency", "attributes": {"latency": "300"}}, None, "latency"),
    ({"type": "latency", "attributes": {"latency": True}}, None, "latency"),
    ({"type": "latency", "attributes": {"latency": -1}}, None, "latency"),
    ({"type": "latency", "attributes": [300]}, None, "attributes"),
    ({"type": "latency", "toxicity": 1.5}, None, "toxicity"),
    ({"type": "latency", "toxicity": -0.1}, None, "toxicity"),
    ({"type": "latency", "toxicity": "1"}, None, "toxicity"),
    ({"type": "latency", "stream": "sideways"}, None, "stream"),
    ({"type": "latency", "name": ""}, None, "name"),
    ({"type": "latency", "name": 5}, None, "name"),
    (None, b"{not json", "bad request body"),
    (None, b"[1, 2]", "bad request body"),
    (None, b'"latency"', "bad request body"),
]


@pytest.mark.parametrize(("body", "raw", "expect"), BAD_TOXICS)
async def test_a_wrong_toxic_is_a_400_in_toxiproxys_shape_and_changes_nothing(
    api: str, echo: EchoServer, body: Any, raw: bytes | None, expect: str
) -> None:
    port = port_of(await create(api, echo))
    good = {"name": "kept", "type": "latency", "attributes": {"latency": 200_000}, "toxicity": 0}
    status, kept = await call("POST", f"{api}/proxies/echo/toxics", good)
    assert status == 200, kept
    headers = {"Content-Type": "application/json"}
    status, error = await call("POST", f"{api}/proxies/echo/toxics", body, raw, headers)
    assert status == 400, error
    assert set(error) == {"error", "status"}
    assert error["status"] == 400
    assert expect in error["error"]
    assert "Traceback" not in error["error"]
    assert (await call("GET", f"{api}/proxies/echo/toxics"))[1] == [kept]
    # The proxy still takes changes, and its bytes still flow.
    status, changed = await call("POST", f"{api}/proxies/echo/toxics/kept", {"toxicity": 0.0})
    assert status == 200, changed
    assert (await call("DELETE", f"{api}/proxies/echo/toxics/kept"))[0] == 204
    assert (await round_trip(port))[0] == b"ping\n"


@pytest.mark.parametrize(
    ("body", "expect"),
    [
        ({"attributes": {"latency": 700_000}}, "latency"),
        ({"attributes": {"latency": 450_000}}, "add up"),
        ({"attributes": {"latency": "slow"}}, "latency"),
        ({"toxicity": 2}, "toxicity"),
        ({"stream": "sideways"}, "stream"),
        ([1], "bad request body"),
    ],
)
async def test_a_wrong_toxic_update_is_a_400_and_the_toxic_stays_as_it_was(
    api: str, echo: EchoServer, body: Any, expect: str
) -> None:
    port = port_of(await create(api, echo))
    other = {"name": "other", "type": "latency", "toxicity": 0, "attributes": {"latency": 200_000}}
    assert (await call("POST", f"{api}/proxies/echo/toxics", other))[0] == 200
    status, made = await call(
        "POST", f"{api}/proxies/echo/toxics", {"type": "latency", "attributes": {"latency": 200}}
    )
    assert status == 200, made
    status, error = await call("POST", f"{api}/proxies/echo/toxics/latency_downstream", body)
    assert (status, error.get("status")) == (400, 400), error
    assert expect in error["error"]
    assert (await call("GET", f"{api}/proxies/echo/toxics/latency_downstream"))[1] == made
    status, _ = await call(
        "POST", f"{api}/proxies/echo/toxics/latency_downstream", {"attributes": {"latency": 0, "jitter": 0}}
    )
    assert status == 200
    assert (await round_trip(port))[1] < 0.25


@pytest.mark.parametrize(("toxic_type", "attribute"), sorted(MAXIMUM))
async def test_every_attribute_at_its_maximum_is_taken(
    api: str, echo: EchoServer, toxic_type: str, attribute: str
) -> None:
    await create(api, echo)
    body = {"type": toxic_type, "attributes": {attribute: MAXIMUM[toxic_type, attribute]}}
    status, made = await call("POST", f"{api}/proxies/echo/toxics", body)
    assert status == 200, made
    assert made["attributes"][attribute] == MAXIMUM[toxic_type, attribute]


@pytest.mark.parametrize(
    ("body", "raw", "expect"),
    [
        ({"upstream": "127.0.0.1:1"}, None, "name"),
        ({"name": 5, "upstream": "127.0.0.1:1"}, None, "name"),
        ({"name": "p"}, None, "upstream"),
        ({"name": "p", "upstream": ["127.0.0.1:1"]}, None, "upstream"),
        ({"name": "p", "upstream": "127.0.0.1"}, None, "upstream"),
        ({"name": "p", "upstream": "127.0.0.1:1", "listen": 5}, None, "listen"),
        ({"name": "p", "upstream": "127.0.0.1:1", "listen": "127.0.0.1:99999"}, None, "listen"),
        ({"name": "p", "upstream": "127.0.0.1:1", "enabled": "no"}, None, "enabled"),
        (None, b"[]", "bad request body"),
        (None, b"{not json", "bad request body"),
    ],
)
async def test_a_wrong_proxy_is_a_400_in_toxiproxys_shape_and_nothing_is_made(
    api: str, body: Any, raw: bytes | None, expect: str
) -> None:
    headers = {"Content-Type": "application/json"}
    status, error = await call("POST", f"{api}/proxies", body, raw, headers)
    assert (status, error["status"]) == (400, 400), error
    assert expect in error["error"]
    assert (await call("GET", f"{api}/proxies"))[1] == {}
    good = {"name": "good", "upstream": "127.0.0.1:1"}
    status, error = await call("POST", f"{api}/populate", [good, body], raw and None)
    assert (status, error["status"]) == (400, 400), error
    assert (await call("GET", f"{api}/proxies"))[1] == {}  # populate made none of them


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def refused(port: int) -> bool:
    try:
        await round_trip(port)
    except ConnectionRefusedError:
        return True
    return False


OFF_LOOPBACK = ["0.0.0.0", "[::]", "192.0.2.1", "evil.example"]
"""Listen hosts that are not loopback (192.0.2.1: TEST-NET-1, never a local address)."""


@pytest.mark.parametrize("host", OFF_LOOPBACK)
async def test_without_a_token_a_proxy_cannot_listen_off_loopback(api: str, host: str) -> None:
    # The probe: a listener on every interface in front of the control port itself.
    port = free_port()
    control = api.removeprefix("http://")
    body: dict[str, Any] = {"name": "open", "listen": f"{host}:{port}", "upstream": control}
    status, error = await call("POST", f"{api}/proxies", body)
    assert (status, error["status"]) == (403, 403), error
    assert "loopback" in error["error"]
    assert "--control-token" in error["error"]
    assert (await call("GET", f"{api}/proxies"))[1] == {}
    assert await refused(port)  # a 0.0.0.0 listener would have answered on 127.0.0.1 too
    body["enabled"] = False  # nor can one be made disabled, to be enabled later
    assert (await call("POST", f"{api}/proxies", body))[0] == 403
    assert (await call("GET", f"{api}/proxies"))[1] == {}


async def test_without_a_token_a_proxy_cannot_move_or_be_populated_off_loopback(
    api: str, echo: EchoServer
) -> None:
    proxy = await create(api, echo)
    port = free_port()
    status, error = await call("POST", f"{api}/proxies/echo", {"listen": f"0.0.0.0:{port}"})
    assert (status, error["status"]) == (403, 403), error
    assert (await call("GET", f"{api}/proxies/echo"))[1] == proxy
    assert (await round_trip(port_of(proxy)))[0] == b"ping\n"
    assert await refused(port)
    upstream = f"127.0.0.1:{echo.port}"
    batch = [
        {"name": "fine", "listen": "127.0.0.1:0", "upstream": upstream},
        {"name": "open", "listen": f"0.0.0.0:{port}", "upstream": upstream},
    ]
    status, error = await call("POST", f"{api}/populate", batch)
    assert (status, error["status"]) == (403, 403), error
    assert (await call("GET", f"{api}/proxies"))[1] == {"echo": proxy}  # not even the fine one
    assert await refused(port)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "[::1]"])
async def test_without_a_token_a_proxy_listens_on_any_loopback_address(
    api: str, echo: EchoServer, host: str
) -> None:
    status, proxy = await call(
        "POST", f"{api}/proxies", {"name": "lo", "listen": f"{host}:0", "upstream": f"127.0.0.1:{echo.port}"}
    )
    if status == 500 and "cannot listen" in proxy["error"]:
        pytest.skip(f"no {host} on this machine")
    assert status == 201, proxy


async def test_with_a_token_a_proxy_may_listen_off_loopback() -> None:
    server = ControlServer(ControlTargets(Metrics()), token="s3cret")
    port = await server.start()
    auth = {"Authorization": "Bearer s3cret"}
    try:
        # Not a local address, so nothing opens: the bind is tried (500), the rule let it by.
        body = {"name": "far", "listen": "192.0.2.1:0", "upstream": "127.0.0.1:1"}
        status, error = await call("POST", f"http://127.0.0.1:{port}/proxies", body, headers=auth)
        assert (status, error["status"]) == (500, 500), error
        assert "cannot listen on 192.0.2.1:0" in error["error"]
    finally:
        await server.stop()


async def test_toxiproxy_python_drives_the_api_unchanged(api: str, echo: EchoServer) -> None:
    from toxiproxy import Toxiproxy

    host, port = api.removeprefix("http://").rsplit(":", 1)

    def scenario() -> tuple[str, dict[str, Any], int]:
        server = Toxiproxy()
        server.update_api_consumer(host, int(port))
        proxy = server.create(upstream=f"127.0.0.1:{echo.port}", name="py", listen="127.0.0.1:0")
        proxy.add_toxic(type="latency", attributes={"latency": 300})
        toxics = {name: toxic.attributes for name, toxic in proxy.toxics().items()}
        return proxy.listen, toxics, len(server.proxies())

    listen, toxics, count = await asyncio.to_thread(scenario)
    assert toxics == {"latency_downstream": {"latency": 300, "jitter": 0}}
    assert count == 1
    link_port = int(listen.rsplit(":", 1)[1])
    assert (await round_trip(link_port))[1] >= 0.29

    def tidy() -> bool:
        server = Toxiproxy()
        proxy = server.get_proxy("py")
        assert proxy is not None
        proxy.destroy_toxic("latency_downstream")
        proxy.disable()
        down = not server.get_proxy("py").enabled
        server.reset()
        return down and server.get_proxy("py").enabled and server.version() is not None

    assert await asyncio.to_thread(tidy)
    assert (await round_trip(link_port))[1] < 0.25


async def test_chaostoolkit_toxiproxy_actions_drive_the_api_unchanged(api: str, echo: EchoServer) -> None:
    from chaostoxi.proxy import actions as proxy_actions
    from chaostoxi.toxic import actions as toxic_actions

    configuration: dict[str, Any] = {"toxiproxy_url": api}

    def scenario() -> str:
        proxy_actions.create_proxy("ctk", "127.0.0.1", echo.port, "127.0.0.1", 0, configuration=configuration)
        toxic_actions.create_latency_toxic("ctk", "slow", latency=300, configuration=configuration)
        return str(configuration["ctk_PORT"])

    port = int(await asyncio.to_thread(scenario))
    assert (await round_trip(port))[1] >= 0.29
    await asyncio.to_thread(toxic_actions.delete_toxic, "ctk", "slow", configuration)
    assert (await round_trip(port))[1] < 0.25
    await asyncio.to_thread(proxy_actions.disable_proxy, "ctk", configuration)
    with pytest.raises(ConnectionRefusedError):
        await round_trip(port)


@contextlib.asynccontextmanager
async def mcpchaos_link(*args: str) -> AsyncIterator[str]:
    """`mcpchaos link ... --control 0` in its own process; yields its control URL."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mcpchaos", "link", *args, "--control", "0",
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert process.stderr is not None
        api = ""
        async with asyncio.timeout(20):
            while not api:
                line = (await process.stderr.readline()).decode()
                assert line, "mcpchaos link exited"
                if "control API on " in line:
                    api = line.rsplit(" ", 1)[1].strip()
        yield api
    finally:
        process.terminate()
        async with asyncio.timeout(10):
            await process.wait()


async def test_mcpchaos_link_shows_its_link_as_a_proxy_that_toxics_change(echo: EchoServer) -> None:
    async with mcpchaos_link("--listen", "127.0.0.1:0", "--upstream", f"127.0.0.1:{echo.port}") as api:
        proxies = (await call("GET", f"{api}/proxies"))[1]
        (proxy,) = proxies.values()
        assert proxy["upstream"] == f"127.0.0.1:{echo.port}"
        port = port_of(proxy)
        await call(
            "POST",
            f"{api}/proxies/{proxy['name']}/toxics",
            {"type": "latency", "stream": "upstream", "attributes": {"latency": 300}},
        )
        assert (await round_trip(port))[1] >= 0.29
        assert (await call("GET", f"{api}/network"))[1]["config"]["upstream"]["latency"]["base_ms"] == 300
        assert (await call("POST", f"{api}/reset"))[0] == 204
        assert (await round_trip(port))[1] < 0.25


async def test_mcpchaos_link_with_only_a_control_port_is_a_toxiproxy_server(echo: EchoServer) -> None:
    async with mcpchaos_link() as api:
        assert (await call("GET", f"{api}/proxies"))[1] == {}
        proxy = await create(api, echo)
        assert (await round_trip(port_of(proxy)))[0] == b"ping\n"
