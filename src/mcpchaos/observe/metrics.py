"""Metrics that listen to events: no metrics code lives in faults or transports.

A :class:`Metrics` object subscribes to the pumps (as a chain observer), to the fault
injector and to the chain's failure guard, and counts: messages by direction, kind and
method; faults by type and rule; JSON-RPC errors sent, by code; malformed frames; interceptor
failures; sessions and connections as the proxies report them. Latencies go into HDR
histograms with microsecond resolution: end to end (request in → response out, faults
included) and upstream (request forwarded → response back).

Exposed in the Prometheus text format (prometheus_client, its own registry) and as JSON.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from typing import Any

from hdrh.histogram import HdrHistogram
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily

from mcpchaos.faults.injector import FaultRecord
from mcpchaos.intercept.context import Context
from mcpchaos.protocol.messages import Direction, Kind, Message

_MAX_METHODS = 200
"""Distinct method labels kept; beyond it (a peer spraying random names) they count as 'other'."""
_METHOD_SHAPE = re.compile(r"[A-Za-z0-9_./-]{1,64}")
_LATENCY_MAX_US = 3_600_000_000  # one hour
_QUANTILES = (0.5, 0.9, 0.99, 0.999)


class LatencyHistogram:
    """An HDR histogram of durations in microseconds (3 significant digits)."""

    def __init__(self) -> None:
        self._histogram = HdrHistogram(1, _LATENCY_MAX_US, 3)
        self.total_seconds = 0.0

    def record(self, seconds: float) -> None:
        micros = min(max(int(seconds * 1_000_000), 1), _LATENCY_MAX_US)
        self._histogram.record_value(micros)
        self.total_seconds += seconds

    @property
    def count(self) -> int:
        return int(self._histogram.get_total_count())

    def quantile_ms(self, quantile: float) -> float:
        if self.count == 0:
            return 0.0
        return float(self._histogram.get_value_at_percentile(quantile * 100)) / 1000

    def as_dict(self) -> dict[str, float]:
        summary: dict[str, float] = {"count": self.count}
        for quantile in _QUANTILES:
            summary[f"p{quantile * 100:g}_ms"] = self.quantile_ms(quantile)
        if self.count:
            summary["max_ms"] = float(self._histogram.get_max_value()) / 1000
            summary["mean_ms"] = self.total_seconds * 1000 / self.count
        return summary


class Metrics:
    """All the counters of one mcpchaos process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # the Prometheus scrape may come from another thread
        self.messages: Counter[tuple[str, str, str]] = Counter()
        self.faults: Counter[tuple[str, str]] = Counter()
        self.errors_sent: Counter[tuple[str, int]] = Counter()
        self.invalid: Counter[str] = Counter()
        self.interceptor_failures: Counter[str] = Counter()
        self.transport_errors: Counter[str] = Counter()
        self.sessions_created = 0
        self.sessions_ended = 0
        self.sessions_evicted = 0
        self.sessions_expired = 0
        self.upstream_restarts = 0
        """stdio servers started again after a failure (--restart on-failure)."""
        self.server_processes: Counter[str] = Counter()
        """The HTTP → stdio bridge's server processes: started, exited, refused (over its limit)."""
        self.breaker_state = "closed"
        self.breaker_transitions: Counter[tuple[str, str]] = Counter()
        self.connections: Counter[str] = Counter()
        """accepted, refused, closed, reset (links)."""
        self.end_to_end = LatencyHistogram()
        self.upstream = LatencyHistogram()
        self._methods: set[str] = set()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(self))

    # -- events -------------------------------------------------------------------------

    def received(self, ctx: Context, message: Message, upstream: float | None) -> None:
        method = message.method or ctx.request_method or ""
        self.messages[(ctx.direction.value, message.kind.value, self._method_label(method))] += 1
        if upstream is not None:
            self.upstream.record(upstream)

    def sent(self, direction: Direction, message: Message, waited: float | None) -> None:
        if message.kind is Kind.ERROR:
            error = message.payload.get("error")
            code = error.get("code") if isinstance(error, dict) else None
            if isinstance(code, int):
                self.errors_sent[(direction.value, code)] += 1
        if waited is not None and direction is Direction.SERVER_TO_CLIENT:
            self.end_to_end.record(waited)

    def invalid_frame(self, direction: Direction) -> None:
        self.invalid[direction.value] += 1

    def fault(self, record: FaultRecord) -> None:
        self.faults[(record.fault, record.rule)] += 1

    def interceptor_failed(self, name: str, *_: object) -> None:
        self.interceptor_failures[name] += 1

    def session_started(self) -> None:
        self.sessions_created += 1

    def session_ended(self) -> None:
        self.sessions_ended += 1

    def transport_error(self, kind: str) -> None:
        self.transport_errors[kind] += 1

    def breaker_moved(self, before: str, after: str) -> None:
        self.breaker_state = after
        self.breaker_transitions[(before, after)] += 1

    def connection(self, event: str) -> None:
        self.connections[event] += 1

    def observe_link(self, link: Any) -> Metrics:
        """Subscribe to a TCP link's connection events."""
        link.observers.append(_PumpObserver(self))
        return self

    def _method_label(self, method: str) -> str:
        if method in self._methods:
            return method
        if not _METHOD_SHAPE.fullmatch(method) or len(self._methods) >= _MAX_METHODS:
            return "other" if method else ""
        self._methods.add(method)
        return method

    # -- exposition ------------------------------------------------------------------------

    def prometheus(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)

    def as_dict(self) -> dict[str, Any]:
        """Everything, as JSON-ready data."""
        return {
            "messages": [
                {"direction": d, "kind": k, "method": m, "count": n}
                for (d, k, m), n in sorted(self.messages.items())
            ],
            "messages_total": sum(self.messages.values()),
            "faults": [{"fault": f, "rule": r, "count": n} for (f, r), n in sorted(self.faults.items())],
            "faults_total": sum(self.faults.values()),
            "jsonrpc_errors_sent": [
                {"direction": d, "code": c, "count": n} for (d, c), n in sorted(self.errors_sent.items())
            ],
            "invalid_frames": dict(self.invalid),
            "interceptor_failures": dict(self.interceptor_failures),
            "transport_errors": dict(self.transport_errors),
            "sessions": {
                "created": self.sessions_created,
                "ended": self.sessions_ended,
                "active": self.sessions_created - self.sessions_ended,
                "evicted": self.sessions_evicted,
                "expired": self.sessions_expired,
            },
            "upstream_restarts": self.upstream_restarts,
            "server_processes": {
                "started": self.server_processes["started"],
                "alive": self.server_processes["started"] - self.server_processes["exited"],
                "refused": self.server_processes["refused"],
            },
            "connections": {
                **self.connections,
                "active": self.connections["accepted"] - self.connections["closed"],
            },
            "breaker": {
                "state": self.breaker_state,
                "transitions": [
                    {"from": a, "to": b, "count": n} for (a, b), n in sorted(self.breaker_transitions.items())
                ],
            },
            "latency": {"end_to_end": self.end_to_end.as_dict(), "upstream": self.upstream.as_dict()},
        }

    def observe(self, chain: Any, injector: Any = None) -> Metrics:
        """Subscribe to a chain (its pumps and its failure guard) and an injector."""
        chain.observers.append(_PumpObserver(self))
        chain.on_failure(self.interceptor_failed)
        if injector is not None:
            injector.on_fault(self.fault)
        return self


class _PumpObserver:
    """Adapts the pump's observer calls to :class:`Metrics`."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def received(self, ctx: Context, message: Message, upstream: float | None) -> None:
        self._metrics.received(ctx, message, upstream)

    def sent(self, direction: Direction, message: Message, waited: float | None) -> None:
        self._metrics.sent(direction, message, waited)

    def invalid(self, direction: Direction) -> None:
        self._metrics.invalid_frame(direction)

    def session_started(self, session: object) -> None:
        self._metrics.session_started()

    def session_ended(self, session: object) -> None:
        self._metrics.session_ended()

    def transport_error(self, kind: str) -> None:
        self._metrics.transport_error(kind)

    def breaker_transition(self, before: str, after: str) -> None:
        self._metrics.breaker_moved(before, after)

    def session_evicted(self, session: object) -> None:
        self._metrics.sessions_evicted += 1

    def session_expired(self, session: object) -> None:
        self._metrics.sessions_expired += 1

    def upstream_restarted(self, attempt: int, status: int) -> None:
        self._metrics.upstream_restarts += 1

    def server_process_started(self) -> None:
        self._metrics.server_processes["started"] += 1

    def server_process_exited(self) -> None:
        self._metrics.server_processes["exited"] += 1

    def server_process_refused(self) -> None:
        self._metrics.server_processes["refused"] += 1

    def connection_accepted(self) -> None:
        self._metrics.connection("accepted")

    def connection_refused(self) -> None:
        self._metrics.connection("refused")

    def connection_closed(self) -> None:
        self._metrics.connection("closed")

    def connection_reset(self) -> None:
        self._metrics.connection("reset")


class _Collector:
    """Builds the Prometheus families from the counters at scrape time."""

    def __init__(self, metrics: Metrics) -> None:
        self._m = metrics

    def collect(self) -> Any:
        m = self._m
        messages = CounterMetricFamily(
            "mcpchaos_messages", "Messages received", labels=["direction", "kind", "method"]
        )
        for (direction, kind, method), count in m.messages.items():
            messages.add_metric([direction, kind, method], count)
        yield messages
        faults = CounterMetricFamily("mcpchaos_faults_injected", "Faults injected", labels=["fault", "rule"])
        for (fault, rule), count in m.faults.items():
            faults.add_metric([fault, rule], count)
        yield faults
        errors = CounterMetricFamily(
            "mcpchaos_jsonrpc_errors_sent", "JSON-RPC errors written", labels=["direction", "code"]
        )
        for (direction, code), count in m.errors_sent.items():
            errors.add_metric([direction, str(code)], count)
        yield errors
        invalid = CounterMetricFamily(
            "mcpchaos_invalid_frames", "Malformed or oversized frames", labels=["direction"]
        )
        for direction, count in m.invalid.items():
            invalid.add_metric([direction], count)
        yield invalid
        failures = CounterMetricFamily(
            "mcpchaos_interceptor_failures", "Interceptor exceptions caught", labels=["interceptor"]
        )
        for name, count in m.interceptor_failures.items():
            failures.add_metric([name], count)
        yield failures
        transport = CounterMetricFamily("mcpchaos_transport_errors", "Transport errors", labels=["kind"])
        for kind, count in m.transport_errors.items():
            transport.add_metric([kind], count)
        yield transport
        state = GaugeMetricFamily(
            "mcpchaos_breaker_state", "1 for the breaker's current state", labels=["state"]
        )
        for name in ("closed", "open", "half_open"):
            state.add_metric([name], 1.0 if m.breaker_state == name else 0.0)
        yield state
        moves = CounterMetricFamily(
            "mcpchaos_breaker_transitions", "Breaker transitions", labels=["from", "to"]
        )
        for (before, after), count in m.breaker_transitions.items():
            moves.add_metric([before, after], count)
        yield moves
        connections = CounterMetricFamily(
            "mcpchaos_connections",
            "Connections by event (accepted, refused, closed, reset)",
            labels=["event"],
        )
        for event, count in m.connections.items():
            connections.add_metric([event], count)
        yield connections
        yield CounterMetricFamily("mcpchaos_sessions_created", "Sessions started", value=m.sessions_created)
        yield CounterMetricFamily(
            "mcpchaos_sessions_evicted",
            "Sessions forgotten to stay under the limit",
            value=m.sessions_evicted,
        )
        yield CounterMetricFamily(
            "mcpchaos_sessions_expired",
            "Sessions ended by the idle timeout or the maximum age, or lost by the upstream",
            value=m.sessions_expired,
        )
        yield CounterMetricFamily(
            "mcpchaos_upstream_restarts",
            "stdio servers started again after a failure",
            value=m.upstream_restarts,
        )
        processes = CounterMetricFamily(
            "mcpchaos_server_processes", "HTTP to stdio bridge: server processes", labels=["event"]
        )
        for event in ("started", "exited", "refused"):
            processes.add_metric([event], m.server_processes[event])
        yield processes
        yield GaugeMetricFamily(
            "mcpchaos_sessions_active", "Sessions open", value=m.sessions_created - m.sessions_ended
        )
        for name, histogram, help_text in (
            ("mcpchaos_end_to_end_latency_seconds", m.end_to_end, "Request in to response out"),
            ("mcpchaos_upstream_latency_seconds", m.upstream, "Request forwarded to response back"),
        ):
            summary = SummaryMetricFamily(
                name, help_text, count_value=histogram.count, sum_value=histogram.total_seconds
            )
            yield summary
            quantiles = GaugeMetricFamily(
                f"{name}_quantile", f"{help_text} (HDR quantiles)", labels=["quantile"]
            )
            for quantile in _QUANTILES:
                quantiles.add_metric([f"{quantile:g}"], histogram.quantile_ms(quantile) / 1000)
            yield quantiles
