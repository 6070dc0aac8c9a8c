"""The FaultInjector: an interceptor that decides, per message, whether and how to fail it.

Which messages are drawn for at all is the matchers' business (by default: client requests
other than the handshake, so a probability is a chance per call). Per message: the first
rule whose match matches decides (else the top level); a uniform draw keyed by (seed,
session ordinal, direction, message ordinal) against its probability decides whether; a
generator keyed the same way picks the fault kind (by weight, among the enabled
kinds that fit the message) and its parameters. Every injected fault is announced to the
listeners as a :class:`FaultRecord` (the fault log and metrics subscribe).

The configuration is swapped whole by :meth:`FaultInjector.update_config`: a message being
decided keeps the configuration it started with; every later message sees the new one.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mcpchaos.config.faults import FaultConfig, FaultSettings, FaultType, Rule
from mcpchaos.faults.base import Fault, load_all
from mcpchaos.faults.match import Matcher
from mcpchaos.faults.rng import generator, message_key, uniform
from mcpchaos.intercept.context import Context
from mcpchaos.intercept.effects import Effect, Effects, Forward, Hold, Release
from mcpchaos.protocol.messages import Direction, Message

log = logging.getLogger("mcpchaos.faults")

_PENDING_REORDER = "reorder-pending"


@dataclass(frozen=True, slots=True)
class FaultRecord:
    """One injected fault, as the fault log writes it."""

    time: float
    session: str
    session_ordinal: int
    direction: str
    ordinal: int
    message_id: Any
    method: str | None
    tool: str | None
    fault: str
    rule: str
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "session": self.session,
            "session_ordinal": self.session_ordinal,
            "direction": self.direction,
            "ordinal": self.ordinal,
            "id": self.message_id,
            "method": self.method,
            "tool": self.tool,
            "fault": self.fault,
            "rule": self.rule,
            "params": self.params,
        }


@dataclass(frozen=True, slots=True)
class _Compiled:
    name: str
    matcher: Matcher
    probability: float
    kinds: tuple[FaultType, ...]
    weights: tuple[float, ...]
    settings: FaultSettings


@dataclass(frozen=True, slots=True)
class _CompiledConfig:
    config: FaultConfig
    seed: int
    rules: tuple[_Compiled, ...]
    top: _Compiled
    inert: bool
    """True when nothing can ever fire: the hot path returns at once."""


FaultListener = Callable[[FaultRecord], None]


def _compile(config: FaultConfig, running_seed: int | None = None) -> _CompiledConfig:
    # No seed given: keep the one already running (a run-time change must not silently
    # change every later decision), else draw one and log it.
    if config.seed is not None:
        seed = config.seed
    elif running_seed is not None:
        seed = running_seed
    else:
        seed = secrets.randbits(63)
    if config.seed is None and (config.fault_probability > 0 or config.rules):
        log.info("fault injection seed: %d (set seed: in the config to replay this run)", seed)

    def build(name: str, rule: Rule | None, match_config: Any, probability: float, enabled: Any) -> _Compiled:
        kinds = tuple(enabled.enabled())
        return _Compiled(
            name=name,
            matcher=Matcher(match_config, f"{'rule' if rule is not None else 'top'}:{name}"),
            probability=probability,
            kinds=kinds,
            weights=tuple(enabled.weight(kind) for kind in kinds),
            settings=config.settings_for(rule),
        )

    rules = tuple(
        build(rule.name or f"rule-{index}", rule, rule.match, rule.probability, rule.enabled_faults)
        for index, rule in enumerate(config.rules)
    )
    top = build("default", None, config.match, config.fault_probability, config.enabled_faults)
    inert = top.probability <= 0 and all(rule.probability <= 0 for rule in rules)
    return _CompiledConfig(config, seed, rules, top, inert)


class FaultInjector:
    """Injects the faults a :class:`FaultConfig` describes."""

    name = "faults"

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._faults: dict[FaultType, Fault] = load_all()
        self._compiled = _compile(config if config is not None else FaultConfig())
        self._listeners: list[FaultListener] = []
        self.injected = 0

    @property
    def config(self) -> FaultConfig:
        return self._compiled.config

    @property
    def seed(self) -> int:
        """The seed in force (drawn at random when the config names none)."""
        return self._compiled.seed

    def update_config(self, config: FaultConfig) -> None:
        """Swap the whole configuration at once; open sessions see it at their next message."""
        self._compiled = _compile(config, self._compiled.seed)
        log.info("fault configuration updated")

    def on_fault(self, listener: FaultListener) -> None:
        """Call ``listener(record)`` for every injected fault."""
        self._listeners.append(listener)

    def intercept(self, message: Message, ctx: Context) -> Effects | None:
        compiled = self._compiled  # one snapshot for the whole decision
        release = self._pending_releases(ctx)
        if compiled.inert:
            return self._with_release(None, message, release)
        chosen = self._choose_rule(compiled, message, ctx)
        if chosen is None or chosen.probability <= 0 or not chosen.kinds:
            return self._with_release(None, message, release)
        key = message_key(compiled.seed, ctx.session.ordinal, ctx.direction, ctx.ordinal)
        if uniform(key) >= chosen.probability:
            return self._with_release(None, message, release)
        rng = generator(key)
        fault = self._pick(chosen, message, ctx, rng)
        if fault is None:
            return self._with_release(None, message, release)
        effects, params = fault.decide(message, ctx, rng, chosen.settings)
        self._announce(fault.kind, chosen.name, message, ctx, params)
        for effect in effects:
            if isinstance(effect, Hold) and effect.key.startswith("reorder:"):
                ctx.session.attributes.setdefault(_PENDING_REORDER, {}).setdefault(ctx.direction, []).append(
                    effect.key
                )
        return self._with_release(effects, message, release)

    def _choose_rule(self, compiled: _CompiledConfig, message: Message, ctx: Context) -> _Compiled | None:
        tool = message.tool_name
        arguments = None
        if tool is None:
            tool = ctx.request_tool  # a response is targeted by the tool its request called
        else:
            params = message.params
            arguments = params.get("arguments") if isinstance(params, dict) else None
        for rule in compiled.rules:
            if rule.matcher.matches(message, ctx, tool, arguments):
                return rule
        if compiled.top.probability > 0 and compiled.top.matcher.matches(message, ctx, tool, arguments):
            return compiled.top
        return None

    def _pick(self, chosen: _Compiled, message: Message, ctx: Context, rng: random.Random) -> Fault | None:
        candidates = [
            (self._faults[kind], weight)
            for kind, weight in zip(chosen.kinds, chosen.weights, strict=True)
            if weight > 0 and self._faults[kind].applies(message, ctx, chosen.settings)
        ]
        if not candidates:
            return None
        if len(candidates) == 1:
            return candidates[0][0]
        picked: Fault = rng.choices([fault for fault, _ in candidates], weights=[w for _, w in candidates])[0]
        return picked

    @staticmethod
    def _pending_releases(ctx: Context) -> list[str]:
        pending: dict[Direction, list[str]] | None = ctx.session.attributes.get(_PENDING_REORDER)
        if not pending:
            return []
        keys = pending.pop(ctx.direction, [])
        return keys

    @staticmethod
    def _with_release(effects: list[Effect] | None, message: Message, release: list[str]) -> Effects | None:
        """Held (reordered) messages of this direction go out right after this message."""
        if not release:
            return effects
        out: list[Effect] = list(effects) if effects is not None else [Forward(message)]
        out.extend(Release(key) for key in release)
        return out

    def _announce(
        self, kind: FaultType, rule: str, message: Message, ctx: Context, params: dict[str, Any]
    ) -> None:
        self.injected += 1
        record = FaultRecord(
            time=time.time(),
            session=ctx.session.id,
            session_ordinal=ctx.session.ordinal,
            direction=ctx.direction.value,
            ordinal=ctx.ordinal,
            message_id=message.id,
            method=message.method or ctx.request_method,
            tool=message.tool_name,
            fault=kind.value,
            rule=rule,
            params=params,
        )
        log.debug("injected %s (%s) on %r in session %s", kind.value, rule, message, ctx.session.id)
        for listener in self._listeners:
            try:
                listener(record)
            except Exception:
                log.exception("fault listener failed")
