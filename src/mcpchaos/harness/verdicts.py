"""The success criteria, made checkable. Each verdict states its rule with its thresholds
(the same words appear in the report and in docs/harness.md) and the numbers it saw.

* ``no_exceptions`` — the proxy stayed up, its stderr has no traceback and no ERROR line,
  and its chain guard caught no interceptor failure.
* ``no_hangs`` — every request reached an outcome by its deadline (plus the driver's grace):
  no request was still open when the load stopped.
* ``nothing_lost`` — Jepsen-style accounting: every request ends in exactly one outcome;
  requests that got no answer at all (deadline outcomes outside outage phases), duplicated
  and unexpected responses are each at most what the injected faults explain (drops,
  unanswered timeouts, delays beyond the deadline; duplicates; replaced/unknown ids; the
  requests in flight when an outage began).
* ``graceful_degradation`` — at every fault level p before the collapse point, success is at
  least baseline × (1 − p) minus a tolerance (5 points plus three standard errors): success
  falls no faster than the fault rate explains, no cliff.
* ``recovery`` — after the faults clear, success is back to ≥ 99% of the baseline's within
  T seconds (``recovery_within_s``), and stays there for the rest of the phase.
* ``no_leaks`` — after the load stopped (and ``settle_s``), the proxy's and upstream's open
  fds, live child processes, asyncio tasks and RSS are back within tolerance of the
  baseline taken under healthy load.
* ``metrics_accurate`` — client, proxy and fault log reconcile exactly: requests the clients
  sent (calls, and handshakes counted apart: an ``initialize`` that timed out is still one
  the proxy saw) = client requests the proxy counted; faults the proxy counted = fault log
  lines; injected errors the clients saw = error faults the log shows on requests answered
  with a JSON-RPC error.
* ``history_consistent`` — the history checker finds no violation of the MCP invariants in any
  session's history that the injected faults do not explain (:mod:`mcpchaos.harness.history_verdict`).

Scenarios add their own: ``isolation`` (cascading failure), ``connection_limit`` (connection
storm), ``sessions_bounded`` (memory pressure).

No verdict passes vacuously. Success means ``ok`` only (a tool error is not one). A verdict
judged against the baseline (``recovery``, ``graceful_degradation``) is *inconclusive* when
the baseline has fewer than ``min_baseline_ok`` ok calls or less than ``min_baseline_success``
success (:func:`baseline_problem`); ``nothing_lost``, ``no_hangs`` and ``metrics_accurate``
are inconclusive when no request was sent at all.

One module over 400 lines on purpose: every rule, its thresholds and its words read side by
side, each a pure ``check_*`` function beside the few lines that feed it from a scenario.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from mcpchaos.harness.history_verdict import history_consistent
from mcpchaos.harness.journal import (
    Accounting,
    OutcomeCounts,
    PhaseRecord,
    ResourceSample,
    TimeBucket,
    Verdict,
)

if TYPE_CHECKING:
    from mcpchaos.harness.scenario import ScenarioContext

RECOVERY_SHARE = 0.99
DEGRADATION_TOLERANCE = 0.05


def judge(ctx: ScenarioContext, names: Iterable[str]) -> list[Verdict]:
    """The named verdicts for a finished scenario; ``history_consistent`` is left out for an
    attached proxy that records no history (started without ``--history``): the user's choice,
    which must not make every scenario inconclusive."""
    unrecorded = ctx.history_check is None and ctx.stack.target.kind == "attach"
    return [VERDICTS[name](ctx) for name in names if not (unrecorded and name == "history_consistent")]


# -- the baseline --------------------------------------------------------------------------


def baseline_success(outcomes: OutcomeCounts) -> float | None:
    """A baseline's success rate, its injected errors left out. A baseline has no faults, so an
    injected error there is a call that was still in flight when the next phase's faults went
    in: on a slow, loaded 2-core machine 38 of a baseline's 69 calls were failed by the sudden
    failure that followed it."""
    judged = outcomes.total - outcomes.injected
    return outcomes.ok / judged if judged > 0 else None


def baseline_problem(outcomes: OutcomeCounts, min_ok: int, min_success: float) -> str | None:
    """Why a baseline is too weak to judge against (None when it is good enough), with the
    counts and the first errors it saw (:func:`baseline_success`: injected errors left out)."""
    rate = baseline_success(outcomes) or 0.0
    if outcomes.ok >= min_ok and rate >= min_success:
        return None
    if outcomes.total == 0:
        return (
            f"no call started and ended in it (at least {min_ok} ok needed): the clients were still "
            "waiting on earlier calls or their handshakes"
        )
    saw = ", ".join(
        f"{n} {name}"
        for name, n in (
            ("tool errors", outcomes.tool_error),
            ("JSON-RPC errors", outcomes.error),
            ("transport failures", outcomes.transport),
            ("deadlines", outcomes.deadline),
        )
        if n
    )
    first = "; ".join(outcomes.first_errors)
    return (
        f"{outcomes.ok} ok of {outcomes.total} calls"
        + (f" ({outcomes.injected} failed by an injected fault, left out)" if outcomes.injected else "")
        + f" ({rate:.1%} success; at least {min_ok} ok and {min_success:.0%} needed)"
        + (f": {saw}" if saw else "")
        + (f"; first errors: {first}" if first else "")
    )


def weak_baseline(ctx: ScenarioContext, phases: Iterable[PhaseRecord] | None = None) -> str | None:
    """Every baseline phase (``baseline*``) that is too weak, said in words; None if none is."""
    params = ctx.params
    problems = [
        f"{p.name}: {problem}"
        for p in (ctx.phases if phases is None else phases)
        if p.name.startswith("baseline")
        and (problem := baseline_problem(p.outcomes, params.min_baseline_ok, params.min_baseline_success))
    ]
    return "; ".join(problems) or None


def _inconclusive(name: str, rule: str, why: str, evidence: dict[str, Any] | None = None) -> Verdict:
    return Verdict(name=name, passed=False, inconclusive=True, rule=rule, detail=why, evidence=evidence or {})


# -- no_exceptions -------------------------------------------------------------------------


def no_exceptions(ctx: ScenarioContext) -> Verdict:
    stderr = ""
    if ctx.stack.proxy_stderr is not None and ctx.stack.proxy_stderr.exists():
        stderr = ctx.stack.proxy_stderr.read_text(errors="replace")
    return check_no_exceptions(stderr, ctx.proxy_metrics, proxy_alive=ctx.proxy_alive_at_end)


def check_no_exceptions(stderr: str, proxy_metrics: dict[str, Any], proxy_alive: bool) -> Verdict:
    tracebacks = stderr.count("Traceback (most recent call last)")
    error_lines = [line for line in stderr.splitlines() if " ERROR " in f" {line} " or "CRITICAL" in line]
    failures = sum((proxy_metrics.get("interceptor_failures") or {}).values())
    passed = proxy_alive and tracebacks == 0 and not error_lines and failures == 0
    detail = (
        f"proxy {'up' if proxy_alive else 'DOWN'} at the end; {tracebacks} traceback(s), "
        f"{len(error_lines)} ERROR line(s), {failures} interceptor failure(s)"
    )
    if error_lines:
        detail += f"; first: {error_lines[0][:200]}"
    return Verdict(
        name="no_exceptions",
        passed=passed,
        rule="the proxy stays up; no traceback or ERROR line on its stderr; no interceptor failure",
        detail=detail,
        evidence={"tracebacks": tracebacks, "error_lines": error_lines[:5], "interceptor_failures": failures},
    )


# -- no_hangs ------------------------------------------------------------------------------


def no_hangs(ctx: ScenarioContext) -> Verdict:
    loads = {"main": ctx.totals(), **ctx.other_totals()}
    hung = {name: c.accounting.hung for name, c in loads.items()}
    started = sum(c.outcomes.total + c.accounting.hung for c in loads.values())
    deadline = ctx.params.load.deadline_s
    rule = "every request reaches an outcome by its deadline: none still open when the load stops"
    if started == 0:
        return _inconclusive("no_hangs", rule, "no request was made", {"hung": 0})
    total = sum(hung.values())
    by_load = " (" + ", ".join(f"{k} load {v}" for k, v in hung.items()) + ")"
    return Verdict(
        name="no_hangs",
        passed=total == 0,
        rule=rule,
        detail=f"{total} of {started} request(s) never reached an outcome"
        + (by_load if len(hung) > 1 else "")
        + ("" if deadline is not None else " (the client has no deadline)"),
        evidence={"hung": total, "started": started, "deadline_s": deadline},
    )


# -- nothing_lost --------------------------------------------------------------------------


_ID_DESTROYING = frozenset({"replace_id", "truncated_json", "invalid_utf8", "split_line", "wrong_types"})
"""Corruption modes after which the request's id cannot be read (no answer can match it)."""


def explained_by_faults(records: list[dict[str, Any]], deadline_s: float | None) -> dict[str, int]:
    """How many silences, duplicates and unexpected responses the injected faults explain."""
    silences = duplicates = unexpected = 0
    for record in records:
        fault = record.get("fault")
        params = record.get("params") or {}
        direction = record.get("direction")
        if (
            fault == "drop"
            or (fault == "error" and params.get("error_type") == "timeout")
            or (
                fault == "delay"
                and deadline_s is not None
                and float(params.get("delay_ms", 0)) >= deadline_s * 1000
            )
        ):
            silences += 1
        elif fault == "corruption":
            mode = params.get("mode")
            # A request whose id cannot be read any more cannot be answered; a robust server
            # answers every other corrupted request (-32601, -32602, -32600) with its id.
            if direction == "server_to_client" or mode in _ID_DESTROYING:
                silences += 1
            if mode in ("replace_id", "unknown_response_id"):
                unexpected += 1
        elif fault == "duplicate":
            # A response written twice, or a request sent twice upstream (its second answer
            # may surface): either way at most one extra response.
            duplicates += 1
        elif fault == "reorder":
            silences += 1
    return {"silences": silences, "duplicates": duplicates, "unexpected": unexpected}


def nothing_lost(ctx: ScenarioContext) -> Verdict:
    load = ctx.params.load
    return check_nothing_lost(
        ctx.phases,
        ctx.outage_phases,
        ctx.fault_records,
        load.deadline_s,
        ctx.totals().accounting,
        in_flight_bound=load.clients if load.mode == "closed" else load.max_in_flight,
    )


def check_nothing_lost(
    phases: list[PhaseRecord],
    outage_phases: set[str],
    fault_records: list[dict[str, Any]],
    deadline_s: float | None,
    accounting: Accounting,
    in_flight_bound: int = 0,
) -> Verdict:
    """``accounting`` is the scenario's total, the sum of ``phases``' accountings."""
    silent_outside = sum(p.accounting.silent for p in phases if p.name not in outage_phases)
    silent_outages = sum(p.accounting.silent for p in phases if p.name in outage_phases)
    explained = explained_by_faults(fault_records, deadline_s)
    # Requests still in flight when an outage began started in the phase before it: at most
    # one per client (closed loop) or max_in_flight (open loop) per outage.
    for before, phase in itertools.pairwise(phases):
        if phase.name in outage_phases and before.name not in outage_phases:
            explained["silences"] += min(before.accounting.silent, in_flight_bound)
    lost = max(0, silent_outside - explained["silences"])
    duplicated = max(0, accounting.duplicated - explained["duplicates"])
    unexpected = max(0, accounting.unexpected - explained["unexpected"])
    # The recorder ends every request once (outcomes + hung = requests started); a second
    # answer is a duplicate, never a second outcome, so at most one answer per request sent.
    exactly_once = accounting.answered <= accounting.sent
    rule = (
        "every request ends in exactly one outcome; lost requests that got no word at all "
        "(silent, outside outages), duplicated and unexpected responses are at most what the "
        "injected faults explain"
    )
    a = accounting
    detail = (
        f"sent {a.sent}: answered {a.answered}, lost {a.lost} "
        f"({a.lost - a.silent} told by a transport failure, {a.silent} silent: {silent_outages} during "
        f"outages, {silent_outside} outside them, faults explain {explained['silences']}), hung {a.hung}; "
        f"duplicated {a.duplicated} (explained {explained['duplicates']}), "
        f"unexpected {a.unexpected} (explained {explained['unexpected']})"
    )
    evidence = {
        "sent": a.sent,
        "answered": a.answered,
        "lost": a.lost,
        "silent": a.silent,
        "silent_in_outages": silent_outages,
        "silent_outside_outages": silent_outside,
        "unexplained_lost": lost,
        "unexplained_duplicated": duplicated,
        "unexplained_unexpected": unexpected,
        **{f"explained_{k}": v for k, v in explained.items()},
    }
    if a.sent == 0 and a.hung == 0:
        return _inconclusive("nothing_lost", rule, "no request was sent: " + detail, evidence)
    return Verdict(
        name="nothing_lost",
        passed=lost == 0 and duplicated == 0 and unexpected == 0 and exactly_once,
        rule=rule,
        detail=detail,
        evidence=evidence,
    )


# -- graceful_degradation ------------------------------------------------------------------


def graceful_degradation(ctx: ScenarioContext) -> Verdict:
    p = ctx.params
    return check_graceful_degradation(
        ctx.phases, ctx.collapse_point, p.min_baseline_ok, p.min_baseline_success
    )


def check_graceful_degradation(
    phases: list[PhaseRecord], collapse_point: float | None, min_ok: int = 1, min_success: float = 0.0
) -> Verdict:
    steps = [p for p in phases if p.fault_probability is not None and p.outcomes.total > 0]
    if not steps:
        return Verdict(
            name="graceful_degradation",
            passed=False,
            rule="success ≥ baseline × (1 − p) − tolerance at every fault level before the collapse point",
            detail="no fault level was measured",
        )
    weak = baseline_problem(steps[0].outcomes, min_ok, min_success)
    if weak is not None:
        return _inconclusive(
            "graceful_degradation",
            "success ≥ baseline × (1 − p) − tolerance at every fault level before the collapse point",
            f"the baseline ({steps[0].name}) is too weak to compare with: {weak}",
        )
    baseline = steps[0].outcomes.success_rate or 0.0
    cliffs: list[dict[str, float]] = []
    for step in steps:
        p = step.fault_probability or 0.0
        if collapse_point is not None and p >= collapse_point:
            break
        n = step.outcomes.total
        expected = baseline * (1 - p)
        tolerance = DEGRADATION_TOLERANCE + 3 * math.sqrt(max(expected * (1 - expected), 0.0) / n)
        actual = step.outcomes.success_rate or 0.0
        if actual < expected - tolerance:
            cliffs.append({"p": p, "success": round(actual, 4), "expected": round(expected, 4)})
    detail = (
        f"baseline success {baseline:.1%}; {len(steps)} fault levels"
        + (f", collapse at p={collapse_point:g}" if collapse_point is not None else ", no collapse")
        + (
            "; below the expected curve at "
            + ", ".join(f"p={c['p']:g} ({c['success']:.1%} < {c['expected']:.1%})" for c in cliffs)
            if cliffs
            else "; every level on or above baseline × (1 − p)"
        )
    )
    return Verdict(
        name="graceful_degradation",
        passed=not cliffs,
        rule=(
            "success ≥ baseline × (1 − p) − (5 points + 3 standard errors) at every fault level p "
            "before the collapse point"
        ),
        detail=detail,
        evidence={"baseline": baseline, "cliffs": cliffs},
    )


# -- recovery ------------------------------------------------------------------------------


def time_to_recover(
    timeline: list[TimeBucket], phase: PhaseRecord, target: float, min_requests: int = 3
) -> float | None:
    """Seconds from the start of ``phase`` to the first of its buckets from which every later
    one (with enough requests) has success ≥ ``target``; None if never. Only buckets wholly
    inside the phase count: one that straddles a boundary mixes two conditions."""
    buckets = [
        b
        for b in timeline
        if b.t_s >= phase.started_s
        and b.t_s + b.width_s <= phase.ended_s + 1e-9
        and b.outcomes.total >= min_requests
    ]
    for index, bucket in enumerate(buckets):
        if all((b.outcomes.success_rate or 0.0) >= target for b in buckets[index:]):
            return max(0.0, round(bucket.t_s - phase.started_s, 3))
    return None


def recovery(ctx: ScenarioContext) -> Verdict:
    within = float(getattr(ctx.params, "recovery_within_s", 5.0))
    rule = (
        f"after faults clear, success ≥ {RECOVERY_SHARE:.0%} of baseline within {within:g} s and stays there"
    )
    base = ctx.phase_named("baseline")
    weak = weak_baseline(ctx, [base])
    if weak is not None:
        ctx.measurements["time_to_recover_s"] = None
        return _inconclusive("recovery", rule, f"the baseline is too weak to recover to: {weak}")
    baseline = baseline_success(base.outcomes) or 0.0
    recovery_phases = [p for p in ctx.phases if p.name.startswith("recovery")]
    target = RECOVERY_SHARE * baseline
    times: list[float | None] = []
    for phase in recovery_phases:
        times.append(time_to_recover(ctx.recorder.timeline(), phase, target))
    worst = None if any(t is None for t in times) or not times else max(t for t in times if t is not None)
    ctx.measurements["time_to_recover_s"] = worst
    passed = bool(times) and worst is not None and worst <= within
    return Verdict(
        name="recovery",
        passed=passed,
        rule=rule,
        detail=(
            f"baseline success {baseline:.1%}; "
            + (
                "no recovery phase"
                if not times
                else ", ".join(
                    f"{p.name}: " + ("never recovered" if t is None else f"recovered after {t:.2f} s")
                    for p, t in zip(recovery_phases, times, strict=True)
                )
            )
        ),
        evidence={"baseline": baseline, "times_s": times, "within_s": within},
    )


# -- no_leaks ------------------------------------------------------------------------------


def leak_problems(baseline: ResourceSample, final: ResourceSample, concurrency: int = 0) -> list[str]:
    """What grew beyond tolerance from ``baseline`` to ``final`` (same process). Kept-alive
    connections (up to 4 fds per concurrent client: both ends and the network simulator's
    relay) may outlive the load for a while; a real leak grows with the requests, by thousands."""
    problems: list[str] = []
    fd_slack = max(10, (baseline.fds or 0) // 5, 4 * concurrency)
    if baseline.fds is not None and final.fds is not None and final.fds > baseline.fds + fd_slack:
        problems.append(f"{final.process} fds {baseline.fds} → {final.fds}")
    if baseline.children is not None and final.children is not None and final.children > baseline.children:
        problems.append(f"{final.process} child processes {baseline.children} → {final.children}")
    if baseline.tasks is not None and final.tasks is not None and final.tasks > baseline.tasks + 10:
        problems.append(f"{final.process} asyncio tasks {baseline.tasks} → {final.tasks}")
    if (
        baseline.rss_bytes is not None
        and final.rss_bytes is not None
        and final.rss_bytes > max(baseline.rss_bytes * 1.5, baseline.rss_bytes + 64 * 2**20)
    ):
        problems.append(
            f"{final.process} RSS {baseline.rss_bytes / 2**20:.0f} → {final.rss_bytes / 2**20:.0f} MiB"
        )
    return problems


def server_process_problems(
    baseline: dict[str, int] | None, final: dict[str, int], limit: int | None
) -> list[str]:
    """A stdio target's server processes (the proxy starts one per session): the run stayed under
    its limit, and no more are alive at the end than under healthy load (each problem names the
    counts)."""
    started, alive = final.get("started", 0), final.get("alive", 0)
    problems: list[str] = []
    if limit is not None and (started >= limit or final.get("refused", 0)):
        problems.append(
            f"server processes: {started} started, the limit of {limit} reached "
            f"({final.get('refused', 0)} new session(s) refused)"
        )
    if baseline is not None and alive > baseline.get("alive", 0):
        problems.append(
            f"server processes: {alive} of {started} started still alive at the end, "
            f"{baseline.get('alive', 0)} at baseline"
        )
    return problems


def server_process_counts(final: dict[str, int], limit: int | None) -> str:
    """``server processes: 9 started (limit 200), 4 alive at the end``."""
    bound = f" (limit {limit})" if limit is not None else ""
    started, alive = final.get("started", 0), final.get("alive", 0)
    return f"server processes: {started} started{bound}, {alive} alive at the end"


def no_leaks(ctx: ScenarioContext) -> Verdict:
    problems: list[str] = []
    compared: list[str] = []
    for process in ("proxy", "upstream"):
        baseline = _labelled(ctx.resources, process, "baseline")
        final = _labelled(ctx.resources, process, "final")
        if baseline is None or final is None:
            continue
        compared.append(process)
        problems += leak_problems(baseline, final, concurrency(ctx))
    processes = ctx.server_processes.get("final")
    limit = ctx.stack.max_server_processes
    counted = ""
    if processes is not None:
        problems += server_process_problems(ctx.server_processes.get("baseline"), processes, limit)
        counted = server_process_counts(processes, limit)
    detail = (
        ("; ".join(problems) if problems else "back to baseline: " + ", ".join(compared))
        if compared
        else ("no resource samples (process not visible from here)")
    )
    if counted and not any(p.startswith("server processes") for p in problems):
        detail += f"; {counted}"
    return Verdict(
        name="no_leaks",
        passed=bool(compared) and not problems,
        rule=(
            "after the load stops: fds ≤ baseline + max(10, 20%, 4 per concurrent client), "
            "child processes ≤ baseline, "
            "asyncio tasks ≤ baseline + 10, RSS ≤ max(1.5 × baseline, baseline + 64 MiB)"
            + (
                "; stdio server processes: started < max_server_processes, alive ≤ baseline"
                if processes
                else ""
            )
        ),
        detail=detail,
        evidence={
            "problems": problems,
            "compared": compared,
            "server_processes": {**(processes or {}), "limit": limit} if processes is not None else None,
        },
    )


def concurrency(ctx: ScenarioContext) -> int:
    """Requests the load keeps in flight at most (every driver)."""
    loads = [ctx.params.load, *(d.settings for d, _ in ctx.extra_drivers.values())]
    if ctx.driver is not None:
        loads[0] = ctx.driver.settings
    return sum(s.clients if s.mode == "closed" else s.max_in_flight for s in loads)


def _labelled(samples: list[ResourceSample], process: str, label: str) -> ResourceSample | None:
    for sample in reversed(samples):
        if sample.process == process and sample.label == label:
            return sample
    return None


# -- metrics_accurate ----------------------------------------------------------------------


def metrics_accurate(ctx: ScenarioContext) -> Verdict:
    loads = [ctx.totals(), *ctx.other_totals().values()]
    return check_metrics_accurate(
        client_sent=sum(c.accounting.sent for c in loads),
        client_injected=sum(c.outcomes.injected + c.accounting.handshakes_injected for c in loads),
        proxy_metrics=ctx.proxy_metrics,
        fault_records=ctx.fault_records,
        handshakes=sum(c.accounting.handshakes for c in loads),
        handshakes_failed=sum(c.accounting.handshakes_failed for c in loads),
        fault_log_lost=ctx.fault_log_lost,
    )


def check_metrics_accurate(
    client_sent: int,
    client_injected: int,
    proxy_metrics: dict[str, Any],
    fault_records: list[dict[str, Any]],
    handshakes: int = 0,
    handshakes_failed: int = 0,
    fault_log_lost: bool = False,
) -> Verdict:
    """``client_sent``: calls the clients wrote; ``handshakes``: ``initialize`` requests they
    wrote (``handshakes_failed`` of which opened no session). The proxy counts both kinds.
    ``fault_log_lost``: records aged out of an attached proxy's memory before they were read."""
    proxy_requests = sum(
        m["count"]
        for m in proxy_metrics.get("messages", [])
        if m.get("direction") == "client_to_server" and m.get("kind") == "request"
    )
    proxy_faults = int(proxy_metrics.get("faults_total", 0))
    logged_errors = sum(
        1
        for r in fault_records
        if r.get("fault") == "error"
        and r.get("direction") == "client_to_server"
        and "http" not in (r.get("params") or {})
    ) + sum(
        1 for r in fault_records if r.get("fault") == "error" and r.get("direction") == "server_to_client"
    )
    requests = client_sent + handshakes
    said = f"{requests} requests ({client_sent} calls + {handshakes} handshakes"
    said += f", {handshakes_failed} of which opened no session)" if handshakes_failed else ")"
    mismatches = []
    if requests != proxy_requests:
        mismatches.append(f"clients sent {said}, the proxy counted {proxy_requests}")
    if proxy_faults != len(fault_records):
        mismatches.append(f"the proxy counted {proxy_faults} faults, the fault log has {len(fault_records)}")
    if client_injected != logged_errors:
        mismatches.append(
            f"clients saw {client_injected} injected errors, the fault log shows {logged_errors}"
        )
    rule = (
        "clients' requests (calls + handshakes) = the proxy's counted client requests; the proxy's "
        "fault counter = fault log lines; injected errors seen by clients = error faults in the log (exactly)"
    )
    evidence = {
        "client_sent": client_sent,
        "handshakes": handshakes,
        "handshakes_failed": handshakes_failed,
        "proxy_requests": proxy_requests,
        "proxy_faults": proxy_faults,
        "fault_log_lines": len(fault_records),
        "client_injected": client_injected,
        "logged_errors": logged_errors,
    }
    if requests == 0 and proxy_requests == 0:
        return _inconclusive("metrics_accurate", rule, "no request was sent or counted", evidence)
    if fault_log_lost and mismatches:
        why = "the attached proxy forgot fault records before they were read (its control API keeps "
        why += "the last 10,000): slow the load (--clients, --rate) to reconcile exactly"
        return _inconclusive("metrics_accurate", rule, f"{why}; {'; '.join(mismatches)}", evidence)
    return Verdict(
        name="metrics_accurate",
        passed=not mismatches,
        rule=rule,
        detail="; ".join(mismatches)
        if mismatches
        else (f"{said}, {proxy_faults} faults, {client_injected} injected errors: all reconcile"),
        evidence=evidence,
    )


VERDICTS: dict[str, Callable[[ScenarioContext], Verdict]] = {
    "no_exceptions": no_exceptions,
    "no_hangs": no_hangs,
    "nothing_lost": nothing_lost,
    "graceful_degradation": graceful_degradation,
    "recovery": recovery,
    "no_leaks": no_leaks,
    "metrics_accurate": metrics_accurate,
    "history_consistent": history_consistent,
}

COMMON = ("no_exceptions", "no_hangs", "nothing_lost", "no_leaks", "history_consistent")
"""Verdicts every scenario is judged by."""
