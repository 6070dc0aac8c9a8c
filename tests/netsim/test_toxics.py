"""Toxiproxy's toxics mapped onto the network configuration, in memory."""

from __future__ import annotations

import pytest

from mcpchaos.config.network import NetworkConfig
from mcpchaos.netsim.toxics import Toxic, ToxicError, network_config, parse_toxic, reaches


def toxic(**body: object) -> Toxic:
    return parse_toxic(body)


def test_each_toxic_lands_on_its_stream_in_the_simulators_units() -> None:
    config = network_config(
        NetworkConfig(),
        [
            toxic(type="latency", stream="upstream", attributes={"latency": 100, "jitter": 10}),
            toxic(type="bandwidth", attributes={"rate": 50}),
            toxic(type="slow_close", attributes={"delay": 300}),
            toxic(type="timeout", stream="upstream", attributes={"timeout": 250}),
            toxic(type="reset_peer", attributes={"timeout": 40}),
            toxic(type="slicer", attributes={"average_size": 8, "size_variation": 2, "delay": 500}),
            toxic(type="limit_data", stream="upstream", attributes={"bytes": 1000}),
        ],
    )
    up, down = config.for_direction(True), config.for_direction(False)
    assert up.latency is not None
    assert (up.latency.base_ms, up.latency.jitter_ms) == (100, 10)
    assert down.latency is None
    assert down.bandwidth is not None
    assert down.bandwidth.bytes_per_second == 50_000  # KB/s → bytes/s
    assert down.bandwidth.burst_bytes == 5_000  # 100 ms worth, as Toxiproxy slices
    assert config.slow_close_ms == 300
    assert (up.timeout_ms, down.timeout_ms) == (250, None)
    assert (up.reset_after_ms, down.reset_after_ms) == (None, 40)
    assert down.slicer is not None
    assert (down.slicer.average_size, down.slicer.size_variation, down.slicer.delay_us) == (8, 2, 500)
    assert up.limit_data == 1000


def test_toxics_of_one_kind_add_up_or_the_strictest_wins() -> None:
    config = network_config(
        NetworkConfig(),
        [
            toxic(name="a", type="latency", attributes={"latency": 100}),
            toxic(name="b", type="latency", attributes={"latency": 50, "jitter": 5}),
            toxic(name="c", type="bandwidth", attributes={"rate": 50}),
            toxic(name="d", type="bandwidth", attributes={"rate": 20}),
            toxic(name="e", type="timeout", attributes={"timeout": 0}),
            toxic(name="f", type="timeout", attributes={"timeout": 300}),
        ],
    )
    down = config.for_direction(False)
    assert down.latency is not None
    assert (down.latency.base_ms, down.latency.jitter_ms) == (150, 5)
    assert down.bandwidth is not None
    assert down.bandwidth.bytes_per_second == 20_000
    assert down.timeout_ms == 300  # a timeout of 0 never closes; the other one does


def test_a_toxic_overrides_the_start_up_network_and_removing_it_restores_it() -> None:
    base = NetworkConfig.model_validate({"downstream": {"latency": {"base_ms": 5}}, "slow_close_ms": 7})
    with_toxic = network_config(base, [toxic(type="latency", attributes={"latency": 80})])
    latency = with_toxic.for_direction(False).latency
    assert latency is not None
    assert latency.base_ms == 80
    assert network_config(base, []) == base


def test_a_toxic_takes_toxiproxys_defaults_and_reports_every_attribute() -> None:
    made = toxic(type="latency", attributes={"latency": 10, "unknown": 1})
    assert made.as_json() == {
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1.0,
        "attributes": {"latency": 10, "jitter": 0},
    }


def test_an_update_merges_attributes_into_the_toxic() -> None:
    made = toxic(type="slicer", attributes={"average_size": 8, "delay": 10})
    updated = parse_toxic({"attributes": {"delay": 99}, "toxicity": 0.5}, made)
    assert updated.attribute("average_size") == 8
    assert updated.attribute("delay") == 99
    assert updated.toxicity == 0.5


@pytest.mark.parametrize(
    "body",
    [
        {"type": "nope"},
        {"type": "latency", "stream": "sideways"},
        {"type": "latency", "toxicity": 2},
        {"type": "latency", "attributes": {"latency": -1}},
        {"type": "latency", "attributes": {"latency": "slow"}},
        [],
    ],
)
def test_a_bad_toxic_is_refused(body: object) -> None:
    with pytest.raises(ToxicError):
        parse_toxic(body)


def test_toxicity_reaches_about_that_share_of_connections_the_same_way_every_time() -> None:
    half = toxic(type="latency", toxicity=0.3)
    reached = [reaches(half, 42, connection) for connection in range(1, 2001)]
    assert 0.25 < sum(reached) / len(reached) < 0.35
    assert reached == [reaches(half, 42, connection) for connection in range(1, 2001)]
    assert not any(reaches(toxic(type="latency", toxicity=0), 42, n) for n in range(100))
    assert all(reaches(toxic(type="latency"), 42, n) for n in range(100))
