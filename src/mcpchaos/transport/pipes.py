"""Asynchronous byte pipes over file descriptors (our stdin/stdout, a child's pipes).

The event loop's pipe transports are used for pipes and sockets only; when stdin or stdout is
a regular file (``mcpchaos proxy ... < requests.jsonl``), a terminal or /dev/null we fall
back to blocking reads in a worker thread and blocking writes, which is correct for those.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from typing import Protocol

READ_CHUNK = 256 * 1024


class ByteSource(Protocol):
    """Where bytes come from."""

    async def read(self) -> bytes:
        """The next chunk; ``b""`` at end of stream."""
        ...

    def close(self) -> None:
        """Stop reading and release the underlying transport; idempotent."""
        ...


class ByteSink(Protocol):
    """Where bytes go."""

    def write(self, data: bytes) -> None:
        """Queue ``data``; never blocks."""
        ...

    async def drain(self) -> None:
        """Wait until the queue is below its high-water mark (backpressure)."""
        ...

    def close(self) -> None:
        """Close after queued data is flushed; idempotent."""
        ...

    def abort(self) -> None:
        """Close now, discarding queued data; idempotent."""
        ...

    @property
    def closing(self) -> bool:
        """True once closed, or once the peer went away."""
        ...


class StreamSource:
    """A :class:`ByteSource` over an asyncio StreamReader."""

    def __init__(self, reader: asyncio.StreamReader, transport: asyncio.BaseTransport | None = None) -> None:
        self._reader = reader
        self._transport = transport

    async def read(self) -> bytes:
        try:
            return await self._reader.read(READ_CHUNK)
        except (ConnectionError, OSError):
            return b""

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class StreamSink:
    """A :class:`ByteSink` over an asyncio StreamWriter."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    def write(self, data: bytes) -> None:
        if not self._writer.is_closing():
            self._writer.write(data)

    async def drain(self) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.drain()

    def close(self) -> None:
        if not self._writer.is_closing():
            self._writer.close()

    def abort(self) -> None:
        # asyncio's pipe transport fails when aborted after it has closed: check first.
        if not self._writer.is_closing():
            self._writer.transport.abort()

    @property
    def closing(self) -> bool:
        return self._writer.is_closing()


class FileSource:
    """A :class:`ByteSource` for a regular file: blocking reads in a worker thread."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    async def read(self) -> bytes:
        return await asyncio.get_running_loop().run_in_executor(None, os.read, self._fd, READ_CHUNK)

    def close(self) -> None:
        return None


class FileSink:
    """A :class:`ByteSink` for a regular file: writes go straight to the file."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._closed = False

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view and not self._closed:
            written = os.write(self._fd, view)
            view = view[written:]

    async def drain(self) -> None:
        return None

    def close(self) -> None:
        self._closed = True

    def abort(self) -> None:
        self._closed = True

    @property
    def closing(self) -> bool:
        return self._closed


def _is_regular_file(fd: int) -> bool:
    """True unless ``fd`` is a pipe or a socket: only those go to the event loop's pipe
    transports. Checked up front because uvloop aborts the process (a libuv assertion) where
    asyncio raises ValueError when handed a regular file or a device such as /dev/null."""
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode))


async def open_source(fd: int) -> ByteSource:
    """Read from ``fd`` (not closed when done: the caller owns it)."""
    if _is_regular_file(fd):
        return FileSource(fd)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=READ_CHUNK)
    pipe = open(fd, "rb", buffering=0, closefd=False)  # noqa: SIM115, ASYNC230 - an fd: no blocking
    try:
        transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    except ValueError:  # a regular file: epoll cannot watch it
        pipe.close()
        return FileSource(fd)
    return StreamSource(reader, transport)


async def open_sink(fd: int) -> ByteSink:
    """Write to ``fd`` (not closed when done: the caller owns it)."""
    if _is_regular_file(fd):
        return FileSink(fd)
    loop = asyncio.get_running_loop()
    pipe = open(fd, "wb", buffering=0, closefd=False)  # noqa: SIM115, ASYNC230 - an fd: no blocking
    try:
        transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, pipe)
    except ValueError:
        pipe.close()
        return FileSink(fd)
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    return StreamSink(writer)
