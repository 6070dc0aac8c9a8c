"""Resource samples of the processes under test (psutil and the proxy's own gauges), for the
leak verdict and the figures over time."""

from __future__ import annotations

import contextlib
from typing import Any

import psutil

from mcpchaos.harness.journal import ResourceSample


def sample(
    pid: int, process: str, t_s: float, label: str = "", tasks: int | None = None
) -> ResourceSample | None:
    """RSS, open fds, live child processes and threads of ``pid``; None if it is gone."""
    try:
        proc = psutil.Process(pid)
        with proc.oneshot():
            rss = proc.memory_info().rss
            fds = proc.num_fds()
            threads = proc.num_threads()
        children = 0
        for child in proc.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if child.status() != psutil.STATUS_ZOMBIE:
                    children += 1
    except psutil.Error:
        return None
    return ResourceSample(
        t_s=round(t_s, 3),
        process=process,
        label=label,
        rss_bytes=rss,
        fds=fds,
        children=children,
        threads=threads,
        tasks=tasks,
    )


def proxy_gauges(metrics: dict[str, Any]) -> dict[str, int | None]:
    """The proxy's open connections and sessions from its ``/metrics.json`` (None where absent)."""

    def active(part: str) -> int | None:
        value = (metrics.get(part) or {}).get("active")
        return int(value) if isinstance(value, int | float) else None

    return {"connections": active("connections"), "sessions": active("sessions")}
