"""Targeting: does a rule (or the top level) apply to this message? Compiled once per config.

By default a matcher takes client requests (calls) only, and never the handshake
(``HANDSHAKE_METHODS``) unless ``methods`` names it exactly. Globs are compiled to regular
expressions up front; an empty glob list matches everything; the first-N and every-Nth
counters are kept per session, so they do not depend on how sessions interleave (or, with
``count_per: proxy``, on the matcher, for the whole proxy until the config changes).
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from mcpchaos.config.faults import HANDSHAKE_METHODS, MatchConfig, MessageClass
from mcpchaos.intercept.context import Context
from mcpchaos.protocol.messages import Direction, Kind, Message

_CLASS_OF = {
    (Direction.CLIENT_TO_SERVER, Kind.REQUEST): MessageClass.CLIENT_REQUEST,
    (Direction.CLIENT_TO_SERVER, Kind.NOTIFICATION): MessageClass.CLIENT_NOTIFICATION,
    (Direction.CLIENT_TO_SERVER, Kind.RESULT): MessageClass.CLIENT_RESPONSE,
    (Direction.CLIENT_TO_SERVER, Kind.ERROR): MessageClass.CLIENT_RESPONSE,
    (Direction.SERVER_TO_CLIENT, Kind.REQUEST): MessageClass.SERVER_REQUEST,
    (Direction.SERVER_TO_CLIENT, Kind.NOTIFICATION): MessageClass.SERVER_NOTIFICATION,
    (Direction.SERVER_TO_CLIENT, Kind.RESULT): MessageClass.SERVER_RESPONSE,
    (Direction.SERVER_TO_CLIENT, Kind.ERROR): MessageClass.SERVER_RESPONSE,
}


def _globs(patterns: list[str]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns))


class Matcher:
    """A compiled :class:`MatchConfig`."""

    __slots__ = (
        "_arguments",
        "_counter_key",
        "_every_nth",
        "_first_n",
        "_handshake",
        "_methods",
        "_proxy_counters",
        "_sessions",
        "_shapes",
        "_tools",
    )

    def __init__(self, config: MatchConfig, counter_key: str) -> None:
        classes = set(config.message_classes)
        if MessageClass.ALL in classes:
            classes |= set(_CLASS_OF.values())
        if MessageClass.NOTIFICATIONS in classes:
            classes |= {MessageClass.CLIENT_NOTIFICATION, MessageClass.SERVER_NOTIFICATION}
        self._shapes = frozenset(shape for shape, name in _CLASS_OF.items() if name in classes)
        """The (direction, kind) pairs taken."""
        self._handshake = HANDSHAKE_METHODS - set(config.methods)
        """The handshake methods left alone (those ``methods`` does not name exactly)."""
        self._methods = _globs(config.methods)
        self._tools = _globs(config.tools)
        self._sessions = _globs(config.sessions)
        self._arguments = [
            (name, re.compile(fnmatch.translate(value)) if isinstance(value, str) else None, value)
            for name, value in config.arguments.items()
        ]
        self._first_n = config.first_n
        self._every_nth = config.every_nth
        self._counter_key = counter_key
        self._proxy_counters: dict[str, int] | None = {} if config.count_per == "proxy" else None

    def matches(self, message: Message, ctx: Context, tool: str | None, arguments: Any) -> bool:
        """Whether this message is targeted. Counts it for first-N / every-Nth when it is
        otherwise targeted (so call it once per message)."""
        if (ctx.direction, message.kind) not in self._shapes:
            return False
        method = message.method or ctx.request_method
        if method in self._handshake:
            return False
        if self._methods is not None and (method is None or self._methods.match(method) is None):
            return False
        if self._tools is not None and (tool is None or self._tools.match(tool) is None):
            return False
        if self._sessions is not None and self._sessions.match(ctx.session.id) is None:
            return False
        if self._arguments and not self._arguments_match(arguments):
            return False
        if self._first_n is None and self._every_nth is None:
            return True
        counters = self._proxy_counters
        if counters is None:
            counters = ctx.session.attributes.setdefault("match-counters", {})
        seen = counters.get(self._counter_key, 0) + 1
        counters[self._counter_key] = seen
        if self._first_n is not None and seen > self._first_n:
            return False
        return self._every_nth is None or seen % self._every_nth == 0

    def _arguments_match(self, arguments: Any) -> bool:
        if not isinstance(arguments, dict):
            return False
        for name, pattern, expected in self._arguments:
            if name not in arguments:
                return False
            value = arguments[name]
            if pattern is not None:
                if not isinstance(value, str) or pattern.match(value) is None:
                    return False
            elif value != expected:
                return False
        return True
