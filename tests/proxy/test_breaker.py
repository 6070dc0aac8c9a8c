import pytest

from mcpchaos.proxy.breaker import BreakerConfig, CircuitBreaker


def breaker(**config: float) -> tuple[CircuitBreaker, list[tuple[str, str]]]:
    moves: list[tuple[str, str]] = []
    cb = CircuitBreaker(BreakerConfig(**config))  # type: ignore[arg-type]
    cb.on_transition(lambda a, b: moves.append((a.value, b.value)))
    return cb, moves


def test_it_opens_when_the_failure_rate_reaches_the_threshold() -> None:
    cb, moves = breaker(failure_rate=0.5, min_requests=4, window_s=10)
    for i, ok in enumerate([True, False, True]):
        assert cb.allow(i)
        cb.record(ok, i)
    assert cb.state.value == "closed"  # too few outcomes to decide
    cb.record(False, 3)
    assert cb.state.value == "open"
    assert moves == [("closed", "open")]


def test_old_outcomes_leave_the_window() -> None:
    cb, _ = breaker(failure_rate=0.5, min_requests=2, window_s=1)
    cb.record(False, 0.0)
    cb.record(True, 5.0)
    cb.record(True, 5.1)
    assert cb.state.value == "closed"


def test_open_fails_fast_then_half_opens_and_closes_on_recovery() -> None:
    cb, moves = breaker(min_requests=1, open_s=5, probes=2)
    cb.record(False, 0.0)
    assert not cb.allow(1.0)
    assert cb.rejected == 1
    assert cb.allow(5.0)
    assert cb.state.value == "half_open"
    assert cb.allow(5.1)
    assert not cb.allow(5.2)  # only `probes` requests go through while half-open
    cb.record(True, 5.3)
    cb.record(True, 5.4)
    assert cb.state.value == "closed"
    assert moves == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


def test_a_failed_probe_opens_it_again() -> None:
    cb, moves = breaker(min_requests=1, open_s=1)
    cb.record(False, 0.0)
    assert cb.allow(2.0)
    cb.record(False, 2.1)
    assert cb.state.value == "open"
    assert not cb.allow(2.5)
    assert moves[-1] == ("half_open", "open")


@pytest.mark.parametrize("bad", [{"failure_rate": 0}, {"probes": 0}, {"window_s": 0}])
def test_nonsense_configs_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"must be|required"):
        BreakerConfig(**bad)  # type: ignore[arg-type]
