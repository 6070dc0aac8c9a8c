"""One long-lived ``mcpchaos proxy --listen ... --upstream ...`` in front of ``bench.echo_http``,
driven with raw HTTP/1.1 over real sockets (keep-alive, pipelining, reconnecting when the
proxy closes), each answer checked against what its request was owed."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from tests.fuzz.checks import ROOT, Resources, StderrWatch, Tally, decode, proxy_env, resources
from tests.fuzz.messages import id_key
from tests.fuzz.requests import HttpCase
from tests.http.servers import free_port, wait_for_port


class ClosedError(Exception):
    """The connection ended before a whole response."""


class GarbledError(Exception):
    """What came is no HTTP response (e.g. the body of an earlier one read as a head)."""


@dataclass
class Response:
    status: int
    headers: dict[bytes, bytes]
    body: bytes
    closes: bool


class RawHttp:
    """One client connection: write raw bytes, read whole responses (bounded by ``timeout``)."""

    def __init__(self, port: int, timeout: float) -> None:
        self.port = port
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buffer = b""

    def connect(self) -> None:
        self.close()
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
        self.buffer = b""

    def close(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
            self.sock = None

    def send(self, data: bytes) -> None:
        if self.sock is None:
            self.connect()
        assert self.sock is not None
        self.sock.sendall(data)

    def _more(self) -> bool:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        self.buffer += chunk
        return True

    def _until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            if not self._more():
                raise ClosedError(f"closed before {marker!r} ({len(self.buffer)} bytes buffered)")
        part, self.buffer = self.buffer.split(marker, 1)
        return part

    def _exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not self._more():
                raise ClosedError(f"closed {size - len(self.buffer)} bytes before the end of a body")
        part, self.buffer = self.buffer[:size], self.buffer[size:]
        return part

    def read(self, head_request: bool = False) -> Response:
        """The next final response (1xx ones skipped). Raises Closed or TimeoutError."""
        if self.sock is None:
            raise ClosedError("not connected")
        while True:
            head = self._until(b"\r\n\r\n")
            status_line, *lines = head.split(b"\r\n")
            version, _, rest = status_line.partition(b" ")
            status = rest[:3]
            if version not in (b"HTTP/1.1", b"HTTP/1.0") or not status.isdigit():
                raise GarbledError(f"no status line: {head[:200]!r}")
            headers: dict[bytes, bytes] = {}
            for line in lines:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            code = int(status)
            if 100 <= code < 200:
                continue
            closes = headers.get(b"connection", b"").lower() == b"close" or version == b"HTTP/1.0"
            if head_request or code in (204, 304):
                body = b""
            elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
                body = self._chunks()
            elif b"content-length" in headers:
                body = self._exactly(int(headers[b"content-length"]))
            else:
                while self._more():
                    pass
                body, self.buffer, closes = self.buffer, b"", True
            if closes:
                self.close()
            return Response(code, headers, body, closes)

    def _chunks(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int(self._until(b"\r\n").split(b";")[0], 16)
            if size == 0:
                while self._until(b"\r\n"):  # trailers, then the empty line
                    pass
                return b"".join(parts)
            parts.append(self._exactly(size))
            self._exactly(2)


class HttpPeer:
    """The echo upstream and the proxy in front of it, and one client connection."""

    def __init__(self, limit: int, proxy_args: Sequence[str] = (), timeout: float = 20.0) -> None:
        self.limit = limit
        self.upstream_port = free_port()
        self.port = free_port()
        env = proxy_env()
        self.upstream = subprocess.Popen(
            [sys.executable, "-m", "bench.echo_http", str(self.upstream_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=ROOT,
        )
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mcpchaos",
                "proxy",
                "--listen",
                f"127.0.0.1:{self.port}",
                "--upstream",
                f"http://127.0.0.1:{self.upstream_port}/mcp",
                "--max-body-bytes",
                str(limit),
                *proxy_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            cwd=ROOT,
        )
        self.serials: Iterator[int] = iter(range(1, sys.maxsize))
        self.client = RawHttp(self.port, timeout)
        assert self.process.stderr is not None
        self.stderr = StderrWatch(self.process.stderr)

    def start(self, within: float = 30.0) -> None:
        wait_for_port(self.upstream_port, self.upstream, within)
        wait_for_port(self.port, self.process, within)

    @property
    def tracebacks(self) -> int:
        return self.stderr.tracebacks

    @property
    def pid(self) -> int:
        return self.process.pid

    def resources(self) -> Resources:
        return resources(self.pid)

    def stop(self) -> int | None:
        """SIGTERM the proxy and wait (bounded); the upstream too. Returns the proxy's status."""
        self.client.close()
        status: int | None = None
        for process in (self.process, self.upstream):
            process.terminate()
            try:
                code = process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                code = process.wait()
            if process is self.process:
                status = code
        self.stderr.join(5.0)
        return status

    # ---- checking ----------------------------------------------------------------------------

    def check(self, batch: Sequence[tuple[Any, bool]], tally: Tally) -> None:
        """Send every request of ``batch`` (pipelining the flagged ones behind the one before
        when both keep the connection) and check each answer."""
        if self.process.poll() is not None:
            tally.problem("crashes", f"the proxy is gone (status {self.process.returncode})")
            return
        cases = [shape.render(self.serials, self.port, self.limit) for shape, _ in batch]
        index = 0
        while index < len(cases):
            group = [cases[index]]
            while (
                index + len(group) < len(cases)
                and batch[index + len(group)][1]
                and group[-1].keeps_alive
                and cases[index + len(group)].keeps_alive
            ):
                group.append(cases[index + len(group)])
            self._exchange(group, tally)
            index += len(group)

    def _exchange(self, group: list[HttpCase], tally: Tally) -> None:
        tally.messages += len(group)
        try:
            self.client.send(b"".join(case.raw for case in group))
        except OSError:  # the proxy closed a kept-alive connection meanwhile: once more, fresh
            self.client.connect()
            self.client.send(b"".join(case.raw for case in group))
        for number, case in enumerate(group):
            try:
                response = self.client.read(case.head)
            except TimeoutError:
                tally.problem(
                    "hangs", f"{case.label}: no answer within {self.client.timeout} s: {case.raw[:300]!r}"
                )
                self.client.close()
                return
            except (ClosedError, OSError) as exc:
                tally.problem("lost", f"{case.label} (#{number} of {len(group)}): {exc}: {case.raw[:300]!r}")
                self.client.close()
                return
            except GarbledError as exc:
                tally.problem("wrong", f"{case.label} (#{number} of {len(group)}): {exc}: {case.raw[:300]!r}")
                self.client.close()
                return
            self.verify(case, response, tally)
        if self.process.poll() is not None:
            tally.problem("crashes", f"the proxy exited with {self.process.returncode}")

    def verify(self, case: HttpCase, response: Response, tally: Tally) -> None:
        owed = case.owed
        where = f"{case.label}: {case.raw[:400]!r}"
        if response.status != owed.status:
            tally.problem(
                "wrong", f"status {response.status} ({response.body[:200]!r}), owed {owed.status}: {where}"
            )
            return
        if not (owed.echo or owed.error):
            tally.quiet_checked += 1
            return
        message = decode(response.body)
        if not isinstance(message, dict):
            tally.problem("wrong", f"a body that is no JSON object: {response.body[:200]!r}: {where}")
            return
        if id_key(message.get("id")) != id_key(owed.id):
            tally.problem("wrong", f"id {message.get('id')!r}, owed {owed.id!r}: {where}")
        elif owed.echo:
            try:
                text = message["result"]["content"][0]["text"]
            except (KeyError, IndexError, TypeError):
                text = None
            if text != owed.text:
                tally.problem("wrong", f"echoed {text!r:.80}, owed {owed.text!r:.80}: {where}")
            else:
                tally.valid_checked += 1
        else:
            error = message.get("error")
            code = error.get("code") if isinstance(error, dict) else None
            if not isinstance(error, dict) or not isinstance(error.get("message"), str):
                tally.problem("wrong", f"owed a JSON-RPC error, got {message!r:.200}: {where}")
            elif owed.code is not None and code != owed.code:
                tally.problem("wrong", f"error {code}, owed {owed.code}: {where}")
            elif owed.code is None and code not in (-32700, -32600):
                tally.problem("wrong", f"error {code}, owed -32700 or -32600: {where}")
            else:
                tally.errors_checked += 1

    def finish(self, tally: Tally) -> None:
        """Close the client connection; count tracebacks."""
        self.client.close()
        time.sleep(0.2)
        tally.tracebacks = self.tracebacks
