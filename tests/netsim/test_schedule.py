"""The pure schedule, without sockets."""

from __future__ import annotations

import random
import statistics

import pytest

from mcpchaos.config.load import validate
from mcpchaos.config.network import Impairments, LatencyConfig, NetworkConfig
from mcpchaos.netsim.schedule import Action, Schedule, TokenBucket, latency_s


def impairments(**data: object) -> Impairments:
    return validate(Impairments, data)


def test_no_impairment_sends_at_once() -> None:
    plan = Schedule(random.Random(1)).plan(b"abc", 10.0, Impairments())
    assert plan.pieces == [(b"abc", 10.0)]
    assert plan.action is Action.NONE


def test_latency_is_added_and_order_is_kept_even_with_jitter() -> None:
    schedule = Schedule(random.Random(2))
    config = impairments(latency={"base_ms": 50, "jitter_ms": 40})
    times = [schedule.plan(b"x", now / 1000, config).pieces[0][1] for now in range(0, 100, 1)]
    assert times == sorted(times)
    assert all(t >= now / 1000 + 0.010 - 1e-9 for t, now in zip(times, range(0, 100), strict=True))


@pytest.mark.parametrize("distribution", ["uniform", "normal", "pareto"])
def test_latency_distributions_center_where_expected(distribution: str) -> None:
    config = LatencyConfig(base_ms=20, jitter_ms=5, distribution=distribution)
    rng = random.Random(3)
    samples = [latency_s(config, rng) * 1000 for _ in range(5000)]
    assert min(samples) >= 0
    if distribution == "pareto":
        assert min(samples) >= 20
        assert statistics.mean(samples) == pytest.approx(20 + 5 * 0.5, abs=0.5)  # E[X-1] = 1/2 for alpha 3
    else:
        assert statistics.mean(samples) == pytest.approx(20, abs=0.3)


def test_spikes_multiply_the_delay() -> None:
    config = LatencyConfig(base_ms=10, spike_probability=1.0, spike_multiplier=5)
    assert latency_s(config, random.Random(1)) == pytest.approx(0.050)


def test_bandwidth_spaces_bytes_at_the_rate() -> None:
    schedule = Schedule(random.Random(1))
    config = impairments(bandwidth={"bytes_per_second": 1000, "burst_bytes": 100})
    times = [schedule.plan(b"x" * 100, 0.0, config).pieces[0][1] for _ in range(11)]
    assert times[0] == 0.0
    assert times[10] == pytest.approx(1.0)


def test_token_bucket_refills_while_idle() -> None:
    bucket = TokenBucket(rate=100, burst=50)
    assert bucket.reserve(50, 0.0) == 0.0
    assert bucket.reserve(50, 0.0) == pytest.approx(0.5)
    assert bucket.reserve(50, 10.0) == 10.0


def test_the_slicer_cuts_into_pieces_with_delays_in_order() -> None:
    schedule = Schedule(random.Random(1))
    config = impairments(slicer={"average_size": 10, "size_variation": 3, "delay_us": 1000})
    plan = schedule.plan(bytes(range(100)), 0.0, config)
    assert b"".join(piece for piece, _ in plan.pieces) == bytes(range(100))
    assert all(7 <= len(piece) <= 13 for piece, _ in plan.pieces[:-1])
    times = [at for _, at in plan.pieces]
    assert times == sorted(times)
    assert times[-1] == pytest.approx((len(times) - 1) * 0.001)


def test_loss_resets_at_the_configured_rate() -> None:
    resets = 0
    for seed in range(4000):
        plan = Schedule(random.Random(seed)).plan(b"x", 0.0, impairments(packet_loss={"probability": 0.1}))
        resets += plan.action is Action.RESET
    assert abs(resets - 400) < 4 * (4000 * 0.1 * 0.9) ** 0.5


def test_gilbert_elliott_loss_comes_in_bursts() -> None:
    config = impairments(
        packet_loss={
            "model": "gilbert_elliott",
            "probability": 0.0,
            "good_to_bad": 0.05,
            "bad_to_good": 0.2,
            "bad_probability": 1.0,
        }
    )
    schedule = Schedule(random.Random(5))
    losses = []
    for _ in range(2000):
        lost = schedule._lost(config.packet_loss)  # type: ignore[arg-type]
        losses.append(lost)
        assert not lost or schedule.bad_state
    assert any(losses)
    runs = [len(run) for run in "".join("x" if lost else "." for lost in losses).split(".") if run]
    assert max(runs) > 1  # bursts, not isolated losses


def test_a_reset_delivers_nothing_and_ends_the_schedule() -> None:
    schedule = Schedule(random.Random(1))
    plan = schedule.plan(b"abc", 0.0, impairments(packet_loss={"probability": 1.0}))
    assert plan == type(plan)([], Action.RESET)
    assert schedule.plan(b"more", 0.0, Impairments()).pieces == []


def test_limit_data_delivers_up_to_the_limit_then_closes() -> None:
    schedule = Schedule(random.Random(1))
    config = impairments(limit_data=10)
    assert schedule.plan(b"123456", 0.0, config).pieces == [(b"123456", 0.0)]
    plan = schedule.plan(b"7890abc", 0.0, config)
    assert plan.pieces == [(b"7890", 0.0)]
    assert plan.action is Action.CLOSE


def test_a_direction_inherits_both_field_by_field() -> None:
    config = validate(
        NetworkConfig,
        {
            "both": {"latency": {"base_ms": 5}, "limit_data": 100},
            "upstream": {"latency": {"base_ms": 50}},
        },
    )
    assert config.for_direction(True).latency == LatencyConfig(base_ms=50)
    assert config.for_direction(False).latency == LatencyConfig(base_ms=5)
    assert config.for_direction(True).limit_data == 100


def test_an_aggregate_bucket_is_shared_by_every_connection() -> None:
    shared = TokenBucket(rate=1000, burst=100)
    first, second = Schedule(random.Random(1)), Schedule(random.Random(2))
    config = impairments(bandwidth={"aggregate_bytes_per_second": 1000, "burst_bytes": 100})
    assert first.plan(b"x" * 100, 0.0, config, shared).pieces[0][1] == 0.0
    assert second.plan(b"x" * 100, 0.0, config, shared).pieces[0][1] == pytest.approx(
        0.1
    )  # waits for the first


def test_one_connections_latency_does_not_hold_up_anothers_bandwidth_share() -> None:
    shared = TokenBucket(rate=10_000_000, burst=100_000)
    slow, fast = Schedule(random.Random(1)), Schedule(random.Random(2))
    spiked = impairments(latency={"base_ms": 3000}, bandwidth={"aggregate_bytes_per_second": 10_000_000})
    plain = impairments(latency={"base_ms": 10}, bandwidth={"aggregate_bytes_per_second": 10_000_000})
    assert slow.plan(b"x" * 100, 0.0, spiked, shared).pieces[0][1] == pytest.approx(3.0)
    assert fast.plan(b"x" * 100, 0.0, plain, shared).pieces[0][1] == pytest.approx(0.010)
