"""The tape writer (``--record FILE.tape``): a listener on the history recorder that streams
each entry to a tape (:mod:`mcpchaos.history.tape`), pairing and redacting as it goes.

Bounded writes: the event loop only serialises a line and appends it to an in-memory buffer
(under a lock a writer thread holds just long enough to take the buffer); the thread writes and
flushes. So a slow disk never blocks the proxy: past ``max_buffered`` bytes waiting, new lines
are dropped and counted. A full disk (or any write error) stops the tape, logs one error and
counts what it could not write; the proxy goes on. The end line (written by :meth:`close`)
says how many lines were written and dropped.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from pathlib import Path
from typing import IO, Final

from mcpchaos import __version__
from mcpchaos.errors import ConfigError
from mcpchaos.history import tape
from mcpchaos.history.pairing import Pairer
from mcpchaos.history.record import Entry, SessionHistory
from mcpchaos.history.redact import Redactor

log = logging.getLogger("mcpchaos.tape")

MAX_BUFFERED: Final = 16 * 1024 * 1024
"""Bytes waiting for the disk at most before lines are dropped."""
REMEMBER: Final = 4096
"""Requests per (session, wire) kept for pairing late and duplicate responses."""


class TapeWriter:
    """Streams recorded entries to a tape file."""

    def __init__(
        self, path: str | Path, shape: str, redactor: Redactor, max_buffered: int = MAX_BUFFERED
    ) -> None:
        self.path = Path(path)
        try:
            self._file: IO[bytes] | None = self.path.open("wb")
        except OSError as exc:
            raise ConfigError(f"--record: cannot open {self.path}: {exc.strerror or exc}") from None
        self.shape = shape
        self.redactor = redactor
        self.max_buffered = max_buffered
        self.lines = 0
        """Lines handed to the disk."""
        self.dropped = 0
        """Lines lost: the buffer was full (a slow disk) or the file failed (a full disk)."""
        self._t0: float | None = None
        self._pending: tuple[SessionHistory, Entry] | None = None
        self._pairers: dict[tuple[int, str], Pairer] = {}
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._failed = False
        self._closing = False
        self._lock = threading.Condition()
        self._thread = threading.Thread(target=self._drain, name="mcpchaos-tape", daemon=True)
        self._thread.start()

    def __call__(self, history: SessionHistory, entry: Entry) -> None:
        """A new entry (a :attr:`HistoryRecorder.listeners` callback, on the event loop).

        A message read is written one entry late: the injector decides its faults just after
        the pump records the read, and the line must name them."""
        if self._pending is not None:
            self._write(*self._pending)
            self._pending = None
        if entry.written:
            self._write(history, entry)
        else:
            self._pending = (history, entry)

    def _write(self, history: SessionHistory, entry: Entry) -> None:
        entry.faults = history.faults.get(entry.seq)
        if self._t0 is None:
            self._t0 = entry.time
            started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            self._put(
                tape.dumps(tape.header(self.shape, tape.era_of(entry), __version__, started, self.redactor))
            )
        key = (history.ordinal, entry.wire)
        pairer = self._pairers.get(key)
        if pairer is None:
            pairer = self._pairers[key] = Pairer(remember=REMEMBER, keep_calls=False)
        call = pairer.add(entry)
        reply_to = call.request.seq if call is not None else None
        self._put(tape.dumps(tape.line(history, entry, entry.time - self._t0, reply_to, self.redactor)))

    def close(self, timeout: float = 5.0) -> None:
        """Write the end line and wait (at most ``timeout``) for the disk."""
        if self._pending is not None:
            self._write(*self._pending)
            self._pending = None
        if self._t0 is not None:
            self._put(tape.dumps({"end": True, "dropped": self.dropped}))
        with self._lock:
            self._closing = True
            self._lock.notify()
        self._thread.join(timeout)
        if self.dropped:
            log.warning("the tape %s lost %d lines (a slow or full disk)", self.path, self.dropped)

    def _put(self, data: bytes) -> None:
        with self._lock:
            if self._failed or self._closing or self._buffered + len(data) > self.max_buffered:
                self.dropped += 1
                return
            self._buffer.append(data)
            self._buffered += len(data)
            if len(self._buffer) == 1:  # the thread waits only on an empty buffer
                self._lock.notify()

    def _drain(self) -> None:
        """The writer thread: take what is buffered, write it, flush; until closed."""
        while True:
            with self._lock:
                while not self._buffer and not self._closing:
                    self._lock.wait()
                batch, self._buffer, self._buffered = self._buffer, [], 0
                closing = self._closing
            if batch and self._file is not None:
                try:
                    self._file.write(b"".join(batch))
                    self._file.flush()
                    self.lines += len(batch)
                except OSError as exc:
                    log.error("cannot write the tape %s: %s; recording stopped", self.path, exc)
                    with self._lock:
                        self._failed = True
                        self.dropped += len(batch)
                    self._close_file()
            if closing:
                self._close_file()
                return

    def _close_file(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
