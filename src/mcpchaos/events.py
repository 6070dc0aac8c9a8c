"""Optional events to observers: the one helper every layer may use to report what happened
(sessions, connections, breaker moves, transport errors) without knowing who listens."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("mcpchaos.events")


def notify(observers: list[Any], event: str, *args: Any) -> None:
    """Call ``observer.<event>(*args)`` on every observer that has such a method. A failing
    observer is logged and skipped: observing must never break the observed."""
    for observer in observers:
        handler = getattr(observer, event, None)
        if handler is not None:
            try:
                handler(*args)
            except Exception:
                log.exception("observer %r failed on %s", observer, event)
