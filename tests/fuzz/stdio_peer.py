"""One long-lived ``mcpchaos proxy -- python -m bench.echo_stdio`` driven over real pipes.

A thread reads the proxy's stdout line by line (decoded exactly: big integers stay integers,
lone surrogates are read), another its stderr (counting tracebacks). :meth:`StdioPeer.check`
writes a batch of lines and then a sentinel request; because the proxy answers what it refuses
at once and forwards the rest in order to a server that answers in order, every answer the
batch is owed is in by the time the sentinel's is (a little grace covers the rest). Every id is
unique over the run, so an answer that comes twice, late, or to the wrong line is always seen.
"""

from __future__ import annotations

import collections
import contextlib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from mcpchaos.protocol import codes
from tests.fuzz.checks import ROOT, Resources, StderrWatch, Tally, decode, proxy_env, resources
from tests.fuzz.lines import LineShape, Owed
from tests.fuzz.messages import id_key

NULL_CODES = (codes.PARSE_ERROR, codes.INVALID_REQUEST)
_INITIALIZE = (
    b'{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-11-25",'
    b'"capabilities":{},"clientInfo":{"name":"fuzz","version":"0"}}}\n'
    b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n'
)


class Garbled:
    """A line on the proxy's stdout that is not JSON at all."""

    def __init__(self, line: bytes) -> None:
        self.line = line


class StdioPeer:
    """The proxy process, its reader threads and the bookkeeping of what is owed."""

    def __init__(self, limit: int, proxy_args: Sequence[str] = (), answer_wait: float = 20.0) -> None:
        self.limit = limit
        self.answer_wait = answer_wait
        command = [
            sys.executable,
            "-m",
            "mcpchaos",
            "proxy",
            "--max-message-bytes",
            str(limit),
            *proxy_args,
            "--",
            sys.executable,
            "-m",
            "bench.echo_stdio",
        ]
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=proxy_env(),
            cwd=ROOT,
        )
        self.serials: Iterator[int] = iter(range(1, sys.maxsize))
        self._arrived: collections.deque[dict[str, Any] | Garbled] = collections.deque()
        self._cond = threading.Condition()
        self._owed: dict[tuple[str, Any], Owed] = {}
        self._seen: collections.Counter[tuple[str, Any]] = collections.Counter()
        self._sentinels: set[tuple[str, Any]] = set()
        assert self.process.stderr is not None
        self.stderr = StderrWatch(self.process.stderr)
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()

    # ---- the process -------------------------------------------------------------------------

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            message = decode(line)
            item = message if isinstance(message, dict) else Garbled(line)
            with self._cond:
                self._arrived.append(item)
                self._cond.notify_all()

    @property
    def tracebacks(self) -> int:
        return self.stderr.tracebacks

    @property
    def pid(self) -> int:
        return self.process.pid

    def resources(self) -> Resources:
        return resources(self.pid)

    def write(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def take(self, within: float) -> list[dict[str, Any] | Garbled]:
        """What the proxy wrote since the last take; waits up to ``within`` for something."""
        deadline = time.monotonic() + within
        with self._cond:
            while not self._arrived:
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    break
                self._cond.wait(min(left, 0.5))
            items = list(self._arrived)
            self._arrived.clear()
        return items

    @property
    def stdout_closed(self) -> bool:
        return not self._reader.is_alive()

    def start(self, tally: Tally) -> None:
        """The handshake, then a first batch of plain requests (warm-up)."""
        self.write(_INITIALIZE)
        self._owed[id_key("init")] = Owed("initialize")
        self._settle_on(id_key("init"), tally)
        self._arrived.clear()
        self._seen.clear()

    def close(self, within: float = 15.0) -> int | None:
        """Close stdin and wait (bounded) for the exit status; None if it did not exit."""
        assert self.process.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self.process.stdin.close()
        try:
            status = self.process.wait(within)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None
        self._reader.join(5.0)
        self.stderr.join(5.0)
        return status

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    # ---- checking ----------------------------------------------------------------------------

    def check(self, batch: Sequence[LineShape], tally: Tally) -> None:
        """Send ``batch`` and a sentinel; account for every answer (into ``tally``)."""
        if self.process.poll() is not None:
            tally.problem("crashes", f"the proxy is gone (status {self.process.returncode})")
            return
        chunks: list[bytes] = []
        batch_keys: list[tuple[str, Any]] = []
        nulls: list[int | None] = []
        for shape in batch:
            data, _body, owed = shape.render(self.serials, self.limit)
            chunks.append(data)
            tally.messages += 1
            for silent in owed.silent:
                self._owed[id_key(silent)] = Owed("nothing")
            if owed.what in ("answer", "error"):
                key = id_key(owed.id)
                self._owed[key] = owed
                batch_keys.append(key)
            elif owed.what == "null-error":
                nulls.append(owed.code)
            else:
                tally.quiet_checked += 1  # unless something answers it: then "unexpected" below
        sentinel = next(self.serials)
        key = id_key(sentinel)
        self._owed[key] = Owed("answer", sentinel, "sentinel")
        self._sentinels.add(key)
        chunks.append(
            b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo",'
            b'"arguments":{"text":"sentinel"}}}\n' % sentinel
        )
        try:
            self.write(b"".join(chunks))
        except (BrokenPipeError, OSError) as exc:
            tally.problem("crashes", f"writing to the proxy failed: {exc!r}")
            return
        null_codes = self._settle_on(key, tally)
        if self._seen[key] == 0:
            return  # a hang, counted
        self._account(batch_keys, nulls, null_codes, tally, grace=True)

    def _settle_on(self, key: tuple[str, Any], tally: Tally) -> list[int]:
        """Take answers until the one for ``key`` came (bounded); returns the codes of the
        ``"id": null`` errors taken meanwhile."""
        deadline = time.monotonic() + self.answer_wait
        null_codes: list[int] = []
        while self._seen[key] == 0:
            items = self.take(max(0.0, deadline - time.monotonic()))
            if not items:
                if self.process.poll() is not None:
                    tally.problem("crashes", f"the proxy exited with {self.process.returncode}")
                else:
                    tally.problem("hangs", f"no answer to request {key[1]!r} within {self.answer_wait} s")
                return null_codes
            for item in items:
                self._take(item, null_codes, tally)
        return null_codes

    def _take(self, item: dict[str, Any] | Garbled, null_codes: list[int], tally: Tally) -> None:
        if isinstance(item, Garbled):
            tally.problem("wrong", f"the proxy wrote a line that is not JSON: {item.line[:200]!r}")
            return
        if "method" in item:
            tally.problem("unexpected", f"the proxy sent a request or notification: {item!r:.200}")
            return
        if item.get("id") is None:
            error = item.get("error")
            if "id" in item and isinstance(error, dict) and "result" not in item:
                null_codes.append(error.get("code"))  # type: ignore[arg-type]
            else:
                tally.problem("wrong", f"an answer without an id that is not an error: {item!r:.200}")
            return
        key = id_key(item["id"])
        owed = self._owed.get(key)
        self._seen[key] += 1
        if owed is None or owed.what == "nothing":
            tally.problem("unexpected", f"an answer to an id never owed one: {item!r:.200}")
        elif self._seen[key] > 1:
            tally.problem("duplicated", f"a second answer for id {item['id']!r}: {item!r:.200}")
        elif owed.what == "answer":
            self._check_answer(owed, item, tally)
        elif owed.what == "error":
            self._check_error(owed, item, tally)

    def _check_answer(self, owed: Owed, item: dict[str, Any], tally: Tally) -> None:
        try:
            text = item["result"]["content"][0]["text"]
        except (KeyError, IndexError, TypeError):
            tally.problem(
                "wrong", f"request {owed.id!r} was owed the echo of {owed.text!r:.80}, got {item!r:.300}"
            )
            return
        if text != owed.text or item.get("jsonrpc") != "2.0":
            tally.problem("wrong", f"request {owed.id!r}: echoed {text!r:.80}, owed {owed.text!r:.80}")
        elif id_key(owed.id) not in self._sentinels:
            tally.valid_checked += 1

    def _check_error(self, owed: Owed, item: dict[str, Any], tally: Tally) -> None:
        error = item.get("error")
        if not isinstance(error, dict) or "result" in item or not isinstance(error.get("message"), str):
            tally.problem("wrong", f"id {owed.id!r} was owed an error, got {item!r:.300}")
        elif owed.code is not None and error.get("code") != owed.code:
            tally.problem("wrong", f"id {owed.id!r} was owed error {owed.code}, got {item!r:.300}")
        else:
            tally.errors_checked += 1

    def _account(
        self,
        batch_keys: list[tuple[str, Any]],
        nulls: list[int | None],
        null_codes: list[int],
        tally: Tally,
        grace: bool,
    ) -> None:
        """Every owed answer of the batch came once; the null-id errors match in number and code."""
        missing = [key for key in batch_keys if self._seen[key] == 0]
        if (missing or len(null_codes) < len(nulls)) and grace:
            time.sleep(1.0)  # answers that came after the sentinel, out of order
            for item in self.take(0.0):
                self._take(item, null_codes, tally)
            missing = [key for key in batch_keys if self._seen[key] == 0]
        for key in missing:
            owed = self._owed[key]
            tally.problem(
                "lost", f"no answer for id {key[1]!r} (owed {owed.what} {owed.text or owed.code!r:.80})"
            )
        if len(null_codes) < len(nulls):
            tally.problem("lost", f"{len(nulls)} null-id errors owed, {len(null_codes)} came")
        elif len(null_codes) > len(nulls):
            tally.problem("duplicated", f"{len(nulls)} null-id errors owed, {len(null_codes)} came")
        else:
            wanted = collections.Counter(code for code in nulls if code is not None)
            free = sum(code is None for code in nulls)
            for code in null_codes:
                if wanted[code] > 0:
                    wanted[code] -= 1
                elif free > 0 and code in NULL_CODES:
                    free -= 1
                else:
                    tally.problem("wrong", f"a null-id error with code {code!r}; owed {nulls}")
                    return
            tally.errors_checked += len(nulls)

    def finish(self, tally: Tally) -> None:
        """A last sentinel: anything that came after the batches is counted."""
        before = len(self._sentinels)
        self.check([], tally)
        assert len(self._sentinels) == before + 1
        tally.tracebacks = self.tracebacks
