"""Sans-IO protocol layer: JSON-RPC/MCP envelopes, error codes, framers, the session tracker.

Nothing here touches a socket, sleeps or needs an event loop; malformed input becomes a
value (:class:`Invalid`), never an exception that escapes a reader.
"""

from mcpchaos.protocol.messages import (
    Direction,
    Invalid,
    Kind,
    Message,
    MessageId,
    error_response,
    parse,
)
from mcpchaos.protocol.ndjson import NEED_DATA, NdjsonFramer, OversizedLine

__all__ = [
    "NEED_DATA",
    "Direction",
    "Invalid",
    "Kind",
    "Message",
    "MessageId",
    "NdjsonFramer",
    "OversizedLine",
    "error_response",
    "parse",
]
