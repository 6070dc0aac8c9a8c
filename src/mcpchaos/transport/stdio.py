"""The stdio transport: newline-delimited JSON over pipes, and the child server process."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence

from mcpchaos.errors import UpstreamStartError
from mcpchaos.protocol.messages import Invalid, Message, parse
from mcpchaos.protocol.ndjson import NEED_DATA, NdjsonFramer, OversizedLine
from mcpchaos.transport.pipes import ByteSink, ByteSource, StreamSink, StreamSource

log = logging.getLogger("mcpchaos.stdio")

Frame = Message | Invalid | OversizedLine


class NdjsonEndpoint:
    """A pump endpoint that writes each message as one line to a :class:`ByteSink`."""

    def __init__(self, sink: ByteSink, name: str) -> None:
        self.sink = sink
        self.name = name

    def send(self, message: Message) -> bool:
        if self.sink.closing:
            return False
        try:
            self.sink.write(message.wire + b"\n")
        except (ConnectionError, OSError) as exc:
            log.debug("write to %s failed: %s", self.name, exc)
            return False
        return True

    def close(self) -> None:
        self.sink.close()


async def read_frames(
    source: ByteSource,
    framer: NdjsonFramer,
    deliver: Callable[[Frame], None],
    after_chunk: Callable[[], object] | None = None,
) -> None:
    """Read ``source`` to its end, handing every frame to ``deliver``.

    ``after_chunk`` is awaited (when it returns an awaitable) after each chunk: the place
    for backpressure, e.g. draining the sink the frames are forwarded to.
    """
    while True:
        chunk = await source.read()
        if not chunk:
            break
        framer.feed(chunk)
        while (frame := framer.next_frame()) is not NEED_DATA:
            deliver(frame if isinstance(frame, OversizedLine) else parse(frame))  # type: ignore[arg-type]
        if after_chunk is not None:
            pending = after_chunk()
            if asyncio.iscoroutine(pending) or isinstance(pending, asyncio.Future):
                await pending
    last = framer.close()
    if last is not NEED_DATA:
        deliver(last if isinstance(last, OversizedLine) else parse(last))  # type: ignore[arg-type]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGTERM the child if the proxy dies (even by SIGKILL): no orphans."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def exit_status(returncode: int) -> int:
    """A process's return code as a shell exit status (death by signal N → 128 + N)."""
    return returncode if returncode >= 0 else 128 - returncode


class ChildProcess:
    """The real MCP server, spawned with pipes for stdin/stdout; stderr is inherited."""

    def __init__(self, process: asyncio.subprocess.Process, command: Sequence[str]) -> None:
        self.process = process
        self.command = list(command)
        assert process.stdout is not None
        assert process.stdin is not None
        self.source: ByteSource = StreamSource(process.stdout)
        self.sink: ByteSink = StreamSink(process.stdin)

    @classmethod
    async def spawn(cls, command: Sequence[str], env: dict[str, str] | None = None) -> ChildProcess:
        """Start ``command``; raises :class:`UpstreamStartError` with a clear reason."""
        if not command:
            raise UpstreamStartError("no server command given (put it after --)")
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=None,
                env=env,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                # Its own process group, so stopping it also stops what it started
                # (launchers such as npx or uv run keep the real server as a grandchild).
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            raise UpstreamStartError(f"cannot start server command {command[0]!r}: not found", 127) from exc
        except PermissionError as exc:
            raise UpstreamStartError(
                f"cannot start server command {command[0]!r}: permission denied", 126
            ) from exc
        except OSError as exc:
            raise UpstreamStartError(f"cannot start server command {command[0]!r}: {exc}", 126) from exc
        return cls(process, command)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    async def wait_exit(self) -> None:
        """Return when the process has exited, even if something still holds its pipes
        open (asyncio's ``wait()`` also waits for the pipes). Uses a pidfd on Linux."""
        if self.process.returncode is not None:
            return
        try:
            pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            await self.process.wait()
            return
        loop = asyncio.get_running_loop()
        exited: asyncio.Future[None] = loop.create_future()

        def on_exit() -> None:
            if not exited.done():
                exited.set_result(None)

        loop.add_reader(pidfd, on_exit)
        try:
            await exited
        finally:
            loop.remove_reader(pidfd)
            os.close(pidfd)

    async def reap(self, wait_seconds: float = 1.0) -> int | None:
        """Collect the exit code once the process has exited (closing our pipe ends so
        asyncio stops waiting for them). None if it has not exited within ``wait_seconds``."""
        self.sink.abort()
        transport = self.process._transport  # type: ignore[attr-defined]
        pipe = transport.get_pipe_transport(1) if transport is not None else None
        if pipe is not None:
            pipe.close()
        try:
            async with asyncio.timeout(wait_seconds):
                code = await self.process.wait()
        except TimeoutError:
            return None
        # Whatever it started and left behind in its process group goes with it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGTERM)
        return code

    async def stop(self, grace: float, kill_after: float) -> None:
        """Stop the server as the MCP specification describes for stdio: close its stdin,
        wait ``grace`` seconds, SIGTERM, wait ``kill_after`` seconds, SIGKILL. Returns once it
        has exited; its stdout may still hold output to read before :meth:`reap`."""
        self.sink.close()
        for step, wait in (("close stdin", grace), ("SIGTERM", kill_after), ("SIGKILL", 5.0)):
            if step == "SIGTERM":
                self.signal(signal.SIGTERM)
            elif step == "SIGKILL":
                self.signal(signal.SIGKILL)
            try:
                async with asyncio.timeout(wait):
                    await self.wait_exit()
                break
            except TimeoutError:
                log.info("server %s did not exit %.1fs after %s", self.pid, wait, step)

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the server's process group (it and what it started), unless
        it is already gone."""
        if self.process.returncode is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signum)  # grandchildren may outlive it
            return
        try:
            os.killpg(self.pid, signum)
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signum)
