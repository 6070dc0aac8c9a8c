"""HTTP plumbing for the Streamable HTTP proxy: header rules and the upstream client.

aiohttp on both sides: measured here at 85 µs per client request against 665 µs for httpx,
and its server streams responses without buffering. Foreign exceptions (aiohttp's, asyncio's
timeouts) are translated to :mod:`mcpchaos.errors` here, at the boundary.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from mcpchaos.deadlines import Deadlines
from mcpchaos.errors import UpstreamTimeoutError, UpstreamTooLargeError, UpstreamUnavailableError
from mcpchaos.protocol.messages import Invalid, Message, parse
from mcpchaos.protocol.ndjson import OversizedLine
from mcpchaos.protocol.sse import OversizedEvent, SseEvent, SseParser

# RFC 9110 §7.6.1 connection-specific fields, plus the ones aiohttp recomputes per hop.
HOP_BY_HOP = frozenset(
    name.lower()
    for name in (
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Proxy-Connection",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
        "Host",
        "Content-Length",
    )
)
# Asked of the upstream: identity encoding, so bodies can be parsed as they stream.
_REQUEST_DROP = HOP_BY_HOP | {"accept-encoding"}
_RESPONSE_DROP = HOP_BY_HOP | {"content-encoding"}


def _connection_listed(headers: CIMultiDictProxy[str] | CIMultiDict[str]) -> set[str]:
    """Header names listed in Connection: hop-by-hop too (RFC 9110 §7.6.1)."""
    listed: set[str] = set()
    for value in headers.getall("Connection", []):
        listed.update(token.strip().lower() for token in value.split(",") if token.strip())
    return listed


def request_headers(incoming: CIMultiDictProxy[str] | CIMultiDict[str]) -> CIMultiDict[str]:
    """Headers to send upstream: everything the client sent but hop-by-hop ones."""
    # The set union only when a Connection header lists more (rare): it runs for every request.
    drop = _REQUEST_DROP | _connection_listed(incoming) if "Connection" in incoming else _REQUEST_DROP
    return CIMultiDict([(name, value) for name, value in incoming.items() if name.lower() not in drop])


def response_headers(incoming: CIMultiDictProxy[str] | CIMultiDict[str]) -> CIMultiDict[str]:
    """Headers to send to the client: everything the upstream sent but hop-by-hop ones."""
    drop = _RESPONSE_DROP | _connection_listed(incoming) if "Connection" in incoming else _RESPONSE_DROP
    return CIMultiDict([(name, value) for name, value in incoming.items() if name.lower() not in drop])


class UpstreamClient:
    """A pooled aiohttp client toward one upstream origin."""

    def __init__(self, connect_timeout: float = 5.0, max_connections: int = 0) -> None:
        self._connect_timeout = connect_timeout
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        # Response-head timeouts on shared timers, not an asyncio.timeout per request.
        self._deadlines: dict[float, Deadlines] = {}

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=self._max_connections, enable_cleanup_closed=True)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None, connect=self._connect_timeout),
            auto_decompress=False,
            skip_auto_headers=("Accept-Encoding", "User-Agent", "Content-Type"),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @asynccontextmanager
    async def request(
        self,
        method: str,
        url: str | URL,
        headers: CIMultiDict[str],
        body: bytes | None,
        headers_timeout: float,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Send a request; yield the response once its headers arrived (within
        ``headers_timeout`` seconds). Leaving the block releases the connection (closing it
        if the body was not read to its end: the upstream sees the client go away)."""
        assert self._session is not None, "UpstreamClient.start() was not called"
        deadlines = self._deadlines.get(headers_timeout)
        if deadlines is None:  # one timer per timeout length (a FIFO needs one length)
            deadlines = self._deadlines[headers_timeout] = Deadlines(headers_timeout)
        deadline = deadlines.enter()
        try:
            response = await self._session.request(
                method, url, headers=headers, data=body, allow_redirects=False
            )
        except asyncio.CancelledError as exc:
            if not deadline.cancelled_it():
                raise
            raise UpstreamTimeoutError(f"no response from {url} within {headers_timeout:g}s") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise UpstreamUnavailableError(f"cannot reach {url}: {exc}") from exc
        finally:
            deadlines.leave(deadline)
        try:
            yield response
        finally:
            response.close()


async def read_body(response: aiohttp.ClientResponse, limit: int, within: float) -> bytes:
    """The whole body, at most ``limit`` bytes, within ``within`` seconds."""
    chunks: list[bytes] = []
    size = 0
    try:
        if response.content.is_eof():
            # The whole body came with the head (a small JSON answer): nothing to wait for, so
            # no timeout to arm (an asyncio.timeout costs a timer and a context per call).
            chunks.append(await response.content.read())
            size = len(chunks[0])
        else:
            async with asyncio.timeout(within):
                async for chunk in response.content.iter_any():
                    size += len(chunk)
                    if size > limit:
                        break
                    chunks.append(chunk)
    except TimeoutError as exc:
        raise UpstreamTimeoutError(f"upstream body not complete within {within:g}s") from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise UpstreamUnavailableError(f"upstream connection failed mid-body: {exc}") from exc
    if size > limit:
        raise UpstreamTooLargeError(f"upstream response body exceeds the limit of {limit} bytes")
    return b"".join(chunks)


async def iter_chunks(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """The body as it arrives; a broken connection ends it with UpstreamUnavailableError."""
    try:
        async for chunk in response.content.iter_any():
            yield chunk
    except (aiohttp.ClientError, OSError) as exc:
        raise UpstreamUnavailableError(f"upstream stream broke: {exc}") from exc


SseFrame = Message | Invalid | OversizedLine | SseEvent
"""What an SSE response yields: a message event's data parsed (a Message tagged with its event
id, or Invalid), OversizedLine for an event over the limit, any other event (comment, ping,
priming event) as the SseEvent itself."""


async def sse_frames(response: aiohttp.ClientResponse, max_event_bytes: int) -> AsyncIterator[list[SseFrame]]:
    """The frames of an SSE body as they arrive, one list per network chunk (so a caller can
    apply backpressure between chunks)."""
    parser = SseParser(max_event_bytes)
    async for chunk in iter_chunks(response):
        parser.feed(chunk)
        frames: list[SseFrame] = []
        while True:
            event = parser.next_event()
            if isinstance(event, SseEvent):
                if event.is_message and event.data is not None:
                    item = parse(event.data.encode())
                    frames.append(item.with_event_id(event.id) if isinstance(item, Message) else item)
                else:
                    frames.append(event)
            elif isinstance(event, OversizedEvent):
                frames.append(OversizedLine(event.size, event.limit, None, complete=True))
            else:
                break
        yield frames
