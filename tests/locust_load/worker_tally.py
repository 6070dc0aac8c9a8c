"""A locustfile fragment for the distributed test: the master counts the requests each worker
reports and writes ``{worker id: requests}`` to ``$TALLY_FILE`` when it quits."""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

from locust import events

tally: Counter[str] = Counter()


@events.worker_report.add_listener
def count(client_id: str, data: dict[str, Any]) -> None:
    tally[client_id] += int(data.get("stats_total", {}).get("num_requests", 0))


@events.quitting.add_listener
def write(**_: Any) -> None:
    path = os.environ.get("TALLY_FILE")
    if path and tally:
        with open(path, "w") as out:
            json.dump(dict(tally), out)
