"""The TCP link through real loopback connections, an impairment at a time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from mcpchaos.config.load import validate
from mcpchaos.config.network import NetworkConfig
from mcpchaos.netsim.controller import NetworkController
from mcpchaos.transport.tcp_link import TcpLink


class EchoServer:
    """Echoes every chunk back; counts connections."""

    def __init__(self) -> None:
        self.connections = 0
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._echo, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _echo(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def echo() -> AsyncIterator[EchoServer]:
    server = EchoServer()
    await server.start()
    yield server
    await server.stop()


async def link_to(echo: EchoServer, **network: object) -> TcpLink:
    link = TcpLink(
        ("127.0.0.1", 0), ("127.0.0.1", echo.port), NetworkController(validate(NetworkConfig, network))
    )
    await link.start()
    return link


async def round_trip(port: int, payload: bytes = b"ping\n") -> tuple[bytes, float]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    writer.write(payload)
    await writer.drain()
    data = await asyncio.wait_for(reader.readexactly(len(payload)), 10)
    elapsed = time.monotonic() - started
    writer.close()
    return data, elapsed


async def test_an_unimpaired_link_relays_bytes_unchanged(echo: EchoServer) -> None:
    link = await link_to(echo)
    try:
        payload = bytes(range(256)) * 1000
        data, _ = await round_trip(link.port or 0, payload)
        assert data == payload
    finally:
        await link.stop()


async def test_latency_applies_per_direction(echo: EchoServer) -> None:
    link = await link_to(echo, both={"latency": {"base_ms": 100}})
    try:
        data, elapsed = await round_trip(link.port or 0)
        assert data == b"ping\n"
        assert elapsed >= 0.2  # 100 ms each way
    finally:
        await link.stop()


async def test_bandwidth_limits_throughput(echo: EchoServer) -> None:
    link = await link_to(echo, upstream={"bandwidth": {"bytes_per_second": 200_000, "burst_bytes": 1000}})
    try:
        data, elapsed = await round_trip(link.port or 0, b"z" * 100_000)
        assert len(data) == 100_000
        assert elapsed >= 0.45  # 100 kB at 200 kB/s
    finally:
        await link.stop()


async def test_loss_resets_the_connection(echo: EchoServer) -> None:
    link = await link_to(echo, upstream={"packet_loss": {"probability": 1.0}})
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", link.port)
        writer.write(b"doomed")
        with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
            await asyncio.wait_for(reader.readexactly(6), 5)
        writer.close()
        assert link.stats.resets == 1
    finally:
        await link.stop()


async def test_a_partition_passes_nothing_until_healed_then_traffic_resumes(echo: EchoServer) -> None:
    link = await link_to(echo)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", link.port)
        writer.write(b"before")
        assert await asyncio.wait_for(reader.readexactly(6), 5) == b"before"
        link.controller.partition()
        writer.write(b"during")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.read(1), 0.3)  # nothing passes in the window
        link.controller.heal()
        assert await asyncio.wait_for(reader.readexactly(6), 5) == b"during"
        writer.close()
    finally:
        await link.stop()


async def test_new_connections_during_a_partition_are_refused_when_configured(echo: EchoServer) -> None:
    link = await link_to(echo, partition={"active": True, "new_connections": "refuse"})
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", link.port)
        with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
            await asyncio.wait_for(reader.readexactly(1), 5)
        writer.close()
        assert echo.connections == 0
    finally:
        await link.stop()


async def test_limit_data_closes_after_n_bytes(echo: EchoServer) -> None:
    link = await link_to(echo, downstream={"limit_data": 5})
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", link.port)
        writer.write(b"0123456789")
        data = await asyncio.wait_for(reader.read(100), 5)
        rest = await asyncio.wait_for(reader.read(100), 5)
        assert data + rest == b"01234"
        writer.close()
    finally:
        await link.stop()


async def test_the_slicer_delivers_everything_in_order(echo: EchoServer) -> None:
    link = await link_to(
        echo, downstream={"slicer": {"average_size": 7, "size_variation": 3, "delay_us": 100}}
    )
    try:
        payload = bytes(range(256)) * 20
        data, _ = await round_trip(link.port or 0, payload)
        assert data == payload
    finally:
        await link.stop()


async def test_a_change_at_run_time_is_felt_by_an_open_connection(echo: EchoServer) -> None:
    link = await link_to(echo)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", link.port)
        started = time.monotonic()
        writer.write(b"a")
        await reader.readexactly(1)
        fast = time.monotonic() - started
        link.controller.update(validate(NetworkConfig, {"both": {"latency": {"base_ms": 150}}}))
        started = time.monotonic()
        writer.write(b"b")
        await asyncio.wait_for(reader.readexactly(1), 5)
        slow = time.monotonic() - started
        assert slow >= 0.3 > fast
        writer.close()
    finally:
        await link.stop()


async def test_stopping_the_link_leaves_no_connection_behind(echo: EchoServer) -> None:
    link = await link_to(echo)
    writers = []
    for _ in range(5):
        _, writer = await asyncio.open_connection("127.0.0.1", link.port)
        writers.append(writer)
    async with asyncio.timeout(5):
        while link.stats.accepted < 5:  # noqa: ASYNC110 - bounded wait on a counter
            await asyncio.sleep(0.01)
    await link.stop()
    assert link.stats.active == 0
    for writer in writers:
        writer.close()


async def test_slow_close_delays_the_close(echo: EchoServer) -> None:
    link = await link_to(echo, slow_close_ms=300)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", link.port)
        writer.write(b"bye")
        assert await asyncio.wait_for(reader.readexactly(3), 5) == b"bye"
        started = time.monotonic()
        writer.write_eof()  # we are done: the link passes the close on, 300 ms late
        assert await asyncio.wait_for(reader.read(10), 5) == b""
        assert time.monotonic() - started >= 0.3
        writer.close()
    finally:
        await link.stop()


async def test_link_connections_reach_the_metrics(echo: EchoServer) -> None:
    from mcpchaos.observe.metrics import Metrics

    link = await link_to(echo)
    metrics = Metrics().observe_link(link)
    try:
        for _ in range(3):
            await round_trip(link.port or 0)
        async with asyncio.timeout(5):
            while metrics.as_dict()["connections"].get("closed", 0) < 3:  # noqa: ASYNC110 - bounded
                await asyncio.sleep(0.01)
    finally:
        await link.stop()
    connections = metrics.as_dict()["connections"]
    assert connections["accepted"] == 3
    assert connections["active"] == 0


async def test_a_link_resets_connections_over_its_limit(echo: EchoServer) -> None:
    link = TcpLink(("127.0.0.1", 0), ("127.0.0.1", echo.port), NetworkController(), max_connections=2)
    await link.start()
    try:
        kept = [await asyncio.open_connection("127.0.0.1", link.port) for _ in range(2)]
        reader, writer = await asyncio.open_connection("127.0.0.1", link.port)
        with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
            await asyncio.wait_for(reader.readexactly(1), 5)
        writer.close()
        assert link.limiter.rejected == 1
        for _, kept_writer in kept:
            kept_writer.close()
    finally:
        await link.stop()


async def test_bytes_keep_their_order_when_impairments_are_cleared_mid_flight(echo: EchoServer) -> None:
    link = await link_to(echo, upstream={"latency": {"base_ms": 100}})
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", link.port)
        writer.write(b"A")
        await writer.drain()
        await asyncio.sleep(0.02)  # A is now held by the writer for its latency
        link.controller.update(NetworkConfig())  # impairments cleared while A is in flight
        writer.write(b"B")
        assert await asyncio.wait_for(reader.readexactly(2), 5) == b"AB"
        writer.close()
    finally:
        await link.stop()


async def test_an_unrelated_update_does_not_heal_a_partition(echo: EchoServer) -> None:
    link = await link_to(echo)
    try:
        link.controller.partition()
        link.controller.update(validate(NetworkConfig, {"slow_close_ms": 5}))
        assert link.controller.partitioned
    finally:
        link.controller.heal()
        await link.stop()


async def test_stopping_a_partitioned_link_leaves_no_writer_task() -> None:
    server = EchoServer()
    await server.start()
    link = await link_to(server)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", link.port)
        writer.write(b"x")
        await reader.readexactly(1)
        link.controller.partition()
        writer.write(b"held")
        await writer.drain()
        await asyncio.sleep(0.05)  # let the link queue it behind the partition
    finally:
        await link.stop()
        await server.stop()
    await asyncio.sleep(0)  # let cancellations land
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "shaped-sink" and not t.done()]
    writer.close()
