"""Settings of the faults on what 2026-07-28 added as stateful features: multi-round-trip
requests (``input_required``), ``subscriptions/listen`` (``subscription``) and the tasks
extension (``task``).

Kept apart from :mod:`mcpchaos.config.faults` (which imports them into ``FaultSettings``,
``FaultConfig`` and ``Rule``) so each file reads in one screen. docs/faults.md has the table of
what a correct peer does for each mode.
"""

from __future__ import annotations

import enum
from typing import Self

from pydantic import Field, model_validator

from mcpchaos.config.addresses import http_url
from mcpchaos.config.model import StrictModel


class InputRequiredMode(enum.StrEnum):
    """How a multi-round-trip call (``tools/call``, ``prompts/get``, ``resources/read``) is
    disturbed."""

    EXTRA_ROUND = "extra_round"
    """A first call (no ``inputResponses``) is answered by the proxy with an ``input_required``
    result the server never sent: one elicitation the client must answer before retrying."""
    UNDECLARED_KIND = "undeclared_kind"
    """The same, but the input request is of a kind (sampling, elicitation, roots) the
    request's ``_meta`` client capabilities do not declare (fits only when one is missing)."""
    ENDLESS_LOOP = "endless_loop"
    """Every round is answered with another ``input_required``, counted in the proxy's own
    ``requestState``; after ``max_rounds`` the retry goes to the server (bounded)."""
    TAMPERED_STATE = "tampered_state"
    """A retry's ``requestState`` is altered on its way to the server."""
    EXPIRED_STATE = "expired_state"
    """A retry is held ``expire_delay_ms`` before it goes on, so its ``requestState`` is
    older than the server's TTL for it."""
    REPLICA_HOP = "replica_hop"
    """HTTP: a retry goes to ``replica_url`` (another process of the server: a replica behind
    a load balancer, or one restarted) instead of the proxy's upstream (fits only when
    ``replica_url`` is set)."""


class InputKind(enum.StrEnum):
    """What an injected input request asks the client for."""

    ELICITATION = "elicitation"
    SAMPLING = "sampling"
    ROOTS = "roots"


class InputRequiredConfig(StrictModel):
    """``input_required``: faults on multi-round-trip requests (2026-07-28)."""

    modes: list[InputRequiredMode] = Field(default_factory=lambda: list(InputRequiredMode))
    """Modes to choose from (uniformly, among those that fit the request)."""
    kind: InputKind = InputKind.ELICITATION
    """``extra_round`` and ``endless_loop``: the kind of input requested."""
    max_rounds: int = Field(20, ge=1, le=1000)
    """``endless_loop``: injected rounds per call before the retry is let through."""
    expire_delay_ms: float = Field(2000.0, ge=0, le=3_600_000)
    """``expired_state``: how long the retry is held."""
    replica_url: str | None = None
    """``replica_hop``: the Streamable HTTP URL of another process of the same server."""

    @model_validator(mode="after")
    def _some_mode(self) -> Self:
        if not self.modes:
            raise ValueError("modes must name at least one input_required mode")
        if self.replica_url is not None:
            http_url(self.replica_url, "replica_url")  # a ConfigError that says what was meant
        return self


class SubscriptionMode(enum.StrEnum):
    """How a ``subscriptions/listen`` stream is disturbed (server → client frames)."""

    CUT_STREAM = "cut_stream"
    """The stream ends abruptly at this event (HTTP: the response ends; stdio: the listen
    request fails with an error): the client must re-listen and refetch."""
    STARVE = "starve"
    """The event is swallowed and the stream stays open: a silent stream, no events and no
    keepalive reach the client."""
    UNKNOWN_ID = "unknown_id"
    """The event's ``subscriptionId`` is replaced by one no listen request used."""
    DROP_ACK = "drop_ack"
    """``notifications/subscriptions/acknowledged`` is swallowed."""


class SubscriptionConfig(StrictModel):
    """``subscription``: faults on ``subscriptions/listen`` streams (2026-07-28). Delay,
    duplicate and reorder of stream events are the ``delay``, ``duplicate`` and ``reorder``
    kinds targeted at ``server_notification``."""

    modes: list[SubscriptionMode] = Field(default_factory=lambda: list(SubscriptionMode))
    """Modes to choose from (uniformly, among those that fit the frame)."""

    @model_validator(mode="after")
    def _some_mode(self) -> Self:
        if not self.modes:
            raise ValueError("modes must name at least one subscription mode")
        return self


class TaskMode(enum.StrEnum):
    """How the tasks extension (``tasks/get``, ``tasks/cancel``) lies."""

    STUCK_WORKING = "stuck_working"
    """A ``tasks/get`` result for a finished task says ``working`` (its result removed)."""
    EXPIRED = "expired"
    """``tasks/get`` is answered by the proxy with "task not found", as if its TTL passed
    before it completed."""
    UNKNOWN_TASK = "unknown_task"
    """A ``tasks/get`` result names a task nobody created (its ``taskId`` replaced)."""
    CANCEL_IGNORED = "cancel_ignored"
    """``tasks/cancel`` is acknowledged by the proxy (status ``cancelled``) and never reaches
    the server: the task runs on."""


class TaskConfig(StrictModel):
    """``task``: faults on the tasks extension (2026-07-28)."""

    modes: list[TaskMode] = Field(default_factory=lambda: list(TaskMode))
    """Modes to choose from (uniformly, among those that fit the message)."""

    @model_validator(mode="after")
    def _some_mode(self) -> Self:
        if not self.modes:
            raise ValueError("modes must name at least one task mode")
        return self
