"""The fault log: one JSON line per injected fault (``--fault-log FILE``).

It listens to the injector's fault events; lines are flushed as written so ``tail -f`` and
the harness see them at once.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import IO, Any

import orjson

from mcpchaos.errors import ConfigError
from mcpchaos.faults.injector import FaultRecord

log = logging.getLogger("mcpchaos.faultlog")


class FaultLog:
    """Appends fault records to a JSONL file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._file: IO[bytes] | None = self.path.open("ab")
        except OSError as exc:
            raise ConfigError(f"cannot open the fault log {self.path}: {exc.strerror or exc}") from None
        self.written = 0

    def __call__(self, record: FaultRecord) -> None:
        if self._file is None:
            return
        try:
            self._file.write(_line(record.as_dict()))
            self._file.flush()
            self.written += 1
        except OSError as exc:
            log.error("cannot write the fault log %s: %s; fault logging stopped", self.path, exc)
            self.close()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_fault_log(path: str | Path) -> list[dict[str, object]]:
    """All records of a fault log file."""
    records = []
    for line in Path(path).read_bytes().splitlines():
        if line.strip():
            records.append(orjson.loads(line))
    return records


def _line(record: dict[str, Any]) -> bytes:
    """One JSON line; the standard library for what orjson refuses (an id beyond 64 bits, a lone
    surrogate), so a fault injected is a fault logged."""
    try:
        return orjson.dumps(record, option=orjson.OPT_NON_STR_KEYS) + b"\n"
    except TypeError:
        return json.dumps(record, default=repr).encode() + b"\n"  # ASCII: surrogates escaped
