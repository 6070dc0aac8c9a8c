"""``FaultConfig``: what to inject, where, how often. The names follow the original
specification (``fault_probability``, ``enabled_faults``, ``delay_ms``, ``error_config``,
``corruption_config``, ``resource_exhaustion``), so profiles written for it keep working.

``FaultConfig()`` injects nothing. What a probability applies to, by default: a client's
request (a call), once per call; the handshake (``initialize``, ``notifications/initialized``,
``server/discover``) only when ``match.methods`` names it; responses, notifications and
server→client messages only when ``match.message_classes`` names them (docs/faults.md has
the table). Validation is strict: unknown fields, out-of-range values
and contradictions (``min_ms > max_ms``, error enabled with no error types) are rejected with
the field path named.
"""

from __future__ import annotations

import itertools
from typing import Any, Literal, Self

from pydantic import Field, model_validator

# The vocabulary (plain enums, no pydantic) lives apart so the command line can offer it without
# building these models; it is re-exported here, where the faults' modules look for it.
from mcpchaos.config.fault_kinds import HANDSHAKE_METHODS as HANDSHAKE_METHODS
from mcpchaos.config.fault_kinds import SPEC_CORRUPTION_MODES as SPEC_CORRUPTION_MODES
from mcpchaos.config.fault_kinds import CorruptionMode as CorruptionMode
from mcpchaos.config.fault_kinds import ErrorType as ErrorType
from mcpchaos.config.fault_kinds import FaultType as FaultType
from mcpchaos.config.fault_kinds import MessageClass as MessageClass
from mcpchaos.config.feature_faults import InputRequiredConfig, SubscriptionConfig, TaskConfig
from mcpchaos.config.model import StrictModel
from mcpchaos.config.protocol_faults import (
    EraDowngradeConfig,
    HeaderMismatchConfig,
    MissingCapabilityConfig,
    ResultShapeConfig,
    SessionExpiryConfig,
)


class EnabledFaults(StrictModel):
    """Which fault kinds may be chosen, and how likely each is relative to the others."""

    delay: bool = False
    error: bool = False
    corruption: bool = False
    drop: bool = False
    duplicate: bool = False
    reorder: bool = False
    resource_exhaustion: bool = False
    era_downgrade: bool = False
    header_mismatch: bool = False
    missing_capability: bool = False
    result_shape: bool = False
    session_expiry: bool = False
    list_changed: bool = False
    input_required: bool = False
    subscription: bool = False
    task: bool = False
    weights: dict[FaultType, float] = Field(default_factory=dict)
    """Relative weight per fault kind (1.0 for any not listed)."""

    @model_validator(mode="after")
    def _weights_are_positive(self) -> Self:
        for fault, weight in self.weights.items():
            if weight < 0:
                raise ValueError(f"weights.{fault.value} must be zero or more, got {weight}")
        return self

    def enabled(self) -> list[FaultType]:
        """The enabled kinds, in a fixed order."""
        return [fault for fault in FaultType if getattr(self, fault.value)]

    def weight(self, fault: FaultType) -> float:
        return self.weights.get(fault, 1.0)


class DelayConfig(StrictModel):
    """How long a delayed message waits."""

    min_ms: float = Field(100.0, ge=0, le=3_600_000)
    """Shortest delay, milliseconds."""
    max_ms: float = Field(1000.0, ge=0, le=3_600_000)
    """Longest delay, milliseconds."""
    jitter: bool = True
    """True: each delay is drawn uniformly from min_ms..max_ms. False: every delay is max_ms."""

    @model_validator(mode="after")
    def _min_not_above_max(self) -> Self:
        if self.min_ms > self.max_ms:
            raise ValueError(f"min_ms ({self.min_ms}) must not be greater than max_ms ({self.max_ms})")
        return self


class ErrorConfig(StrictModel):
    """Which errors to inject and how they look."""

    types: list[ErrorType] = Field(default_factory=lambda: list(ErrorType))
    """Error kinds to choose from (uniformly)."""
    custom_messages: dict[ErrorType, str] = Field(default_factory=dict)
    """Replacement message text per error kind."""
    timeout_ms: float = Field(5000.0, ge=0, le=3_600_000)
    """``timeout``: how long the request is held before the timeout error (or silence)."""
    timeout_answers: bool = True
    """``timeout``: answer with the timeout error after ``timeout_ms`` (True) or never (False)."""
    retry_after_s: int = Field(1, ge=0, le=86_400)
    """``rate_limited``: the Retry-After value (HTTP header and error data)."""


class CorruptionConfig(StrictModel):
    """Which corruption modes to choose from (uniformly among those that fit the message)."""

    modes: list[CorruptionMode] = Field(default_factory=lambda: list(SPEC_CORRUPTION_MODES))
    """Default: the four modes of the original specification."""

    @model_validator(mode="after")
    def _some_mode(self) -> Self:
        if not self.modes:
            raise ValueError("modes must name at least one corruption mode")
        return self


class ReorderConfig(StrictModel):
    """How long a message may be held back for reordering."""

    max_hold_ms: float = Field(1000.0, ge=0, le=60_000)
    """A held message is released after the next one in its direction, or after this long."""


MAX_MEMORY_SPIKE_MB = 1024
MAX_CPU_SPIKE_MS = 5000


class ResourceExhaustionConfig(StrictModel):
    """Memory and CPU spikes, with hard caps so a typo cannot take the host down."""

    memory_spike: bool = True
    memory_spike_mb: int = Field(64, ge=1, le=MAX_MEMORY_SPIKE_MB)
    """Megabytes allocated and touched per spike (at most 1024)."""
    memory_hold_ms: float = Field(1000.0, ge=0, le=60_000)
    """How long the memory stays allocated."""
    cpu_spike: bool = True
    cpu_spike_ms: float = Field(100.0, ge=0, le=MAX_CPU_SPIKE_MS)
    """Milliseconds of CPU burnt per spike (at most 5000)."""
    cpu_mode: Literal["event_loop", "thread"] = "event_loop"
    """``event_loop`` stalls the proxy itself (every session waits, like a stalled server);
    ``thread`` burns a worker thread (contention without the stall)."""

    @model_validator(mode="after")
    def _some_spike(self) -> Self:
        if not (self.memory_spike or self.cpu_spike):
            raise ValueError("enable memory_spike or cpu_spike (or disable resource_exhaustion)")
        return self


class MatchConfig(StrictModel):
    """Which messages a rule (or the top-level config) applies to. By default: client
    requests (calls) other than the handshake. The other lists, empty, match all."""

    message_classes: list[MessageClass] = Field(default_factory=lambda: [MessageClass.CLIENT_REQUEST])
    """What kinds of message, which way: ``client_request`` (the default: each call is drawn
    for once), or add ``server_response``, ``notifications``, ``server_request``... (``all``:
    every message both ways; a call then has a draw for its request and one for its answer)."""
    methods: list[str] = Field(default_factory=list)
    """Method globs, e.g. ``tools/call`` or ``resources/*``. A response matches by the method
    of the request it answers. The handshake methods are reached only when named exactly
    (``methods: [initialize]``)."""
    tools: list[str] = Field(default_factory=list)
    """Tool name globs (``tools/call`` requests and their responses)."""
    arguments: dict[str, Any] = Field(default_factory=dict)
    """``tools/call`` argument predicates: a string value is a glob, anything else must be equal."""
    sessions: list[str] = Field(default_factory=list)
    """Session id globs (the Mcp-Session-Id on HTTP; ``stdio-1``... on stdio)."""
    first_n: int | None = Field(None, ge=1)
    """Only the first N matching messages of each session."""
    every_nth: int | None = Field(None, ge=1)
    """Only every Nth matching message of each session (the Nth, 2Nth...)."""
    count_per: Literal["session", "proxy"] = "session"
    """What ``first_n`` and ``every_nth`` count in: each session apart (the default: the same
    faults whatever the interleaving), or the whole proxy (``first_n: 1`` is then one fault in
    all, however many sessions a client opens, e.g. a session expiry that must not follow the
    client into the session it opens again; counting starts anew when the config changes)."""

    @model_validator(mode="after")
    def _some_class(self) -> Self:
        if not self.message_classes:
            raise ValueError(
                "message_classes must name at least one class "
                "(default: [client_request]; every message: [all])"
            )
        return self


class FaultSettings(StrictModel):
    """Per-kind settings shared by the top level and rules (a rule inherits what it omits)."""

    delay_ms: DelayConfig = Field(default_factory=DelayConfig)
    error_config: ErrorConfig = Field(default_factory=ErrorConfig)
    corruption_config: CorruptionConfig = Field(default_factory=CorruptionConfig)
    reorder: ReorderConfig = Field(default_factory=ReorderConfig)
    resource_exhaustion: ResourceExhaustionConfig = Field(default_factory=ResourceExhaustionConfig)
    era_downgrade: EraDowngradeConfig = Field(default_factory=EraDowngradeConfig)
    header_mismatch: HeaderMismatchConfig = Field(default_factory=HeaderMismatchConfig)
    missing_capability: MissingCapabilityConfig = Field(default_factory=MissingCapabilityConfig)
    result_shape: ResultShapeConfig = Field(default_factory=ResultShapeConfig)
    session_expiry: SessionExpiryConfig = Field(default_factory=SessionExpiryConfig)
    input_required: InputRequiredConfig = Field(default_factory=InputRequiredConfig)
    subscription: SubscriptionConfig = Field(default_factory=SubscriptionConfig)
    task: TaskConfig = Field(default_factory=TaskConfig)


def _error_types_needed(enabled: EnabledFaults, settings: ErrorConfig | None, where: str) -> None:
    if enabled.error and settings is not None and not settings.types:
        raise ValueError(
            f"{where}error is enabled but error_config.types is empty: name at least one error type"
        )


class Rule(StrictModel):
    """A targeted rule: when ``match`` matches, inject with ``probability``."""

    name: str | None = None
    """Shown in the fault log and metrics (default: ``rule-<index>``)."""
    match: MatchConfig = Field(default_factory=MatchConfig)
    probability: float = Field(1.0, ge=0.0, le=1.0)
    """Chance that a matching message (by default: a matching call) gets a fault. It wins over
    the top-level ``fault_probability`` for what the rule matches (replaces it, is not
    multiplied with it); 0 shields what the rule matches."""
    enabled_faults: EnabledFaults = Field(default_factory=EnabledFaults)
    delay_ms: DelayConfig | None = None
    error_config: ErrorConfig | None = None
    corruption_config: CorruptionConfig | None = None
    reorder: ReorderConfig | None = None
    resource_exhaustion: ResourceExhaustionConfig | None = None
    era_downgrade: EraDowngradeConfig | None = None
    header_mismatch: HeaderMismatchConfig | None = None
    missing_capability: MissingCapabilityConfig | None = None
    result_shape: ResultShapeConfig | None = None
    session_expiry: SessionExpiryConfig | None = None
    input_required: InputRequiredConfig | None = None
    subscription: SubscriptionConfig | None = None
    task: TaskConfig | None = None

    @model_validator(mode="after")
    def _checks(self) -> Self:
        _error_types_needed(self.enabled_faults, self.error_config, "")
        if self.probability > 0 and not self.enabled_faults.enabled():
            raise ValueError("the rule has a probability but no enabled_faults: enable at least one fault")
        return self


class FaultConfig(StrictModel):
    """The whole fault-injection configuration. ``FaultConfig()`` injects nothing.

    Rules are tried in order; the first whose ``match`` matches decides for the message, with
    its own probability. A message no rule matches falls to the top level
    (``fault_probability``, ``enabled_faults``, ``match``).
    """

    fault_probability: float = Field(0.0, ge=0.0, le=1.0)
    """Chance that a client's request (a call) matching ``match`` gets a fault: one draw per
    call, so at most one fault per call (a delay delays it once, an error fails it once)."""
    enabled_faults: EnabledFaults = Field(default_factory=EnabledFaults)
    delay_ms: DelayConfig = Field(default_factory=DelayConfig)
    error_config: ErrorConfig = Field(default_factory=ErrorConfig)
    corruption_config: CorruptionConfig = Field(default_factory=CorruptionConfig)
    reorder: ReorderConfig = Field(default_factory=ReorderConfig)
    resource_exhaustion: ResourceExhaustionConfig = Field(default_factory=ResourceExhaustionConfig)
    era_downgrade: EraDowngradeConfig = Field(default_factory=EraDowngradeConfig)
    header_mismatch: HeaderMismatchConfig = Field(default_factory=HeaderMismatchConfig)
    missing_capability: MissingCapabilityConfig = Field(default_factory=MissingCapabilityConfig)
    result_shape: ResultShapeConfig = Field(default_factory=ResultShapeConfig)
    session_expiry: SessionExpiryConfig = Field(default_factory=SessionExpiryConfig)
    input_required: InputRequiredConfig = Field(default_factory=InputRequiredConfig)
    subscription: SubscriptionConfig = Field(default_factory=SubscriptionConfig)
    task: TaskConfig = Field(default_factory=TaskConfig)
    match: MatchConfig = Field(default_factory=MatchConfig)
    rules: list[Rule] = Field(default_factory=list)
    seed: int | None = None
    """Same seed + same traffic → same faults. None: a random seed, logged at start."""

    @model_validator(mode="after")
    def _checks(self) -> Self:
        _error_types_needed(self.enabled_faults, self.error_config, "")
        if self.fault_probability > 0 and not self.enabled_faults.enabled():
            raise ValueError(
                "fault_probability is above 0 but no fault is enabled: set enabled_faults (e.g. delay: true)"
            )
        for index, rule in enumerate(self.rules):
            if rule.error_config is None:
                _error_types_needed(rule.enabled_faults, self.error_config, f"rules.{index}: ")
        return self

    def rule_names(self) -> list[str]:
        """Each rule's name as the fault log shows it (``rule-<index>`` for an unnamed one)."""
        return [rule.name or f"rule-{index}" for index, rule in enumerate(self.rules)]

    def with_rule(self, rule: Rule) -> FaultConfig:
        """This configuration with ``rule`` tried first, before the rules already there (so a
        rule added at run time is not shadowed by an older, broader one). A rule without a
        name gets ``<kind>-<n>``; check a given name against :meth:`rule_names` first.
        Validated again as a whole (pydantic's ValidationError)."""
        if rule.name is None:
            names = set(self.rule_names())
            kind = "-".join(fault.value for fault in rule.enabled_faults.enabled()) or "rule"
            number = next(n for n in itertools.count(1) if f"{kind}-{n}" not in names)
            rule = rule.model_copy(update={"name": f"{kind}-{number}"})
        rules = [rule, *self.rules]
        return type(self).model_validate({**self.model_dump(), "rules": [r.model_dump() for r in rules]})

    def without_rule(self, name: str) -> FaultConfig:
        """This configuration without the rule called ``name``. KeyError when there is none."""
        names = self.rule_names()
        if name not in names:
            raise KeyError(name)
        kept = [rule for rule, rule_name in zip(self.rules, names, strict=True) if rule_name != name]
        return self.model_copy(update={"rules": kept})

    def settings_for(self, rule: Rule | None) -> FaultSettings:
        """The per-kind settings in force for ``rule`` (its own, else the top level's). Every
        ``FaultSettings`` field is a field of the same name here and (optional) on ``Rule``."""
        names = FaultSettings.model_fields
        if rule is None:
            return FaultSettings(**{name: getattr(self, name) for name in names})
        return FaultSettings(**{name: getattr(rule, name) or getattr(self, name) for name in names})
