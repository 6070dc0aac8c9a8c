"""subscription: the decision, and what the official SDK client makes of each fault on a
``subscriptions/listen`` stream through the real proxy (2026-07-28; every mode on HTTP, the
cut and the dropped acknowledgement on stdio too, where the cut takes another form)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.subscriptions import ResourceUpdated, SubscriptionLost

from mcpchaos.config.faults import FaultConfig
from mcpchaos.config.load import validate
from mcpchaos.faults.injector import FaultInjector
from mcpchaos.faults.subscription import ACKNOWLEDGED, SUBSCRIPTION
from mcpchaos.history.rules import SUBSCRIPTION_ID_META_KEY
from mcpchaos.intercept.chain import InterceptorChain
from mcpchaos.intercept.effects import Drop, Emit, EndStream, Forward
from mcpchaos.protocol.messages import Direction, Kind, Message, notification
from mcpchaos.proxy.http import HttpProxy
from tests.faults.helpers import ctx, rng, settings
from tests.faults.live import on_http, on_stdio

URI = "demo://counter"
UPDATED = "notifications/resources/updated"


def event(method: str = UPDATED) -> Message:
    return notification(method, {"uri": URI, "_meta": {SUBSCRIPTION_ID_META_KEY: "listen-1"}})


def decide(message: Message, mode: str, transport: str = "http") -> tuple[list[Any], dict[str, Any]]:
    context = ctx(Direction.SERVER_TO_CLIENT, transport)
    chosen = settings(subscription={"modes": [mode]})
    assert SUBSCRIPTION.applies(message, context, chosen)
    effects, params = SUBSCRIPTION.decide(message, context, rng(), chosen)
    return list(effects), params


def test_a_cut_ends_the_http_stream_and_fails_the_listen_request_on_stdio() -> None:
    [end], params = decide(event(), "cut_stream")
    assert isinstance(end, EndStream)
    assert params == {"mode": "cut_stream", "subscription_id": "listen-1"}
    [drop, emit], _ = decide(event(), "cut_stream", transport="stdio")
    assert isinstance(drop, Drop)
    assert isinstance(emit, Emit)
    assert emit.message.kind is Kind.ERROR
    assert emit.message.id == "listen-1"


def test_unknown_id_retags_the_event_and_keeps_the_rest() -> None:
    [forward], params = decide(event(), "unknown_id")
    assert isinstance(forward, Forward)
    assert forward.message.params["uri"] == URI
    assert forward.message.params["_meta"][SUBSCRIPTION_ID_META_KEY] == params["unknown_id"] != "listen-1"


def test_only_the_ack_can_lose_its_ack_and_frames_outside_a_stream_are_left_alone() -> None:
    context = ctx(Direction.SERVER_TO_CLIENT)
    drop_ack = settings(subscription={"modes": ["drop_ack"]})
    assert not SUBSCRIPTION.applies(event(), context, drop_ack)
    assert SUBSCRIPTION.applies(event(ACKNOWLEDGED), context, drop_ack)
    untagged = notification(UPDATED, {"uri": URI})
    assert not SUBSCRIPTION.applies(untagged, context, settings())


# ---- through the real proxy, the SDK client and server on 2026-07-28 --------------------------


def on_events(mode: str | None, first_n: int | None = None, kind: str = "subscription") -> dict[str, Any]:
    match: dict[str, Any] = {
        "message_classes": ["server_notification"],
        "methods": [ACKNOWLEDGED if mode == "drop_ack" else UPDATED],
    }
    if first_n is not None:
        match["first_n"] = first_n
    faults: dict[str, Any] = {"seed": 1, "rules": [{"match": match, "enabled_faults": {kind: True}}]}
    if mode is not None:
        faults["rules"][0]["subscription"] = {"modes": [mode]}
    return faults


class Tee:
    """The notifications the client's message handler saw (the SDK tees stream frames there)."""

    def __init__(self) -> None:
        self.seen: list[Any] = []
        self.arrived = anyio.Event()

    async def __call__(self, message: Any) -> None:
        if getattr(message, "method", None) == UPDATED:
            self.seen.append(message)
            self.arrived.set()


async def cut_then_relisten(client: Client, heal: Callable[[], None]) -> tuple[str, Any]:
    async with client.listen(resource_subscriptions=[URI]) as sub:
        await client.call_tool("bump")
        with anyio.fail_after(10):
            try:
                outcome = f"event {await sub.__anext__()}"
            except SubscriptionLost:
                outcome = "lost"
            except StopAsyncIteration:
                outcome = "graceful end"
    heal()
    async with client.listen(resource_subscriptions=[URI]) as again:  # re-listen, then refetch
        await client.call_tool("bump")
        with anyio.fail_after(10):
            return outcome, await again.__anext__()


@pytest.fixture(params=["stdio", "http"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def run(transport: str, config: dict[str, Any], scenario: Any, tmp_path: Path, **client: Any) -> Any:
    if transport == "stdio":
        return await on_stdio(config, scenario, tmp_path, "auto", **client)
    return await on_http(config, scenario, client.pop("upstream"), "auto", **client)


async def test_a_cut_stream_is_lost_to_the_sdk_client_which_can_listen_again(
    transport: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    config = on_events("cut_stream", first_n=1)
    if transport == "stdio":  # one session: first_n spares the second stream
        result = await on_stdio(config, lambda c: cut_then_relisten(c, lambda: None), tmp_path, "auto")
    else:
        # 2026-07-28 HTTP is sessionless: every request is a proxy session of its own, so
        # first_n counts per stream; the fault is switched off between the streams instead.
        injector = FaultInjector(validate(FaultConfig, config))
        records: list[dict[str, Any]] = []
        injector.on_fault(lambda record: records.append(record.as_dict()))
        proxy = HttpProxy(request.getfixturevalue("stateful_url"), InterceptorChain([injector]))
        await proxy.start("127.0.0.1", 0)
        try:
            with anyio.fail_after(30):
                async with Client(f"http://127.0.0.1:{proxy.port}/mcp", mode="auto") as client:
                    outcome = await cut_then_relisten(client, lambda: injector.update_config(FaultConfig()))
        finally:
            await proxy.stop()
        result = (outcome, records)
    (outcome, event_after), records = result
    assert outcome == "lost"  # SubscriptionLost: not a graceful end, not a silent hang
    assert event_after == ResourceUpdated(uri=URI)
    assert [r["params"]["mode"] for r in records] == ["cut_stream"]


async def test_a_dropped_ack_fails_the_sdk_listen_at_its_read_timeout(
    transport: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    extra = {} if transport == "stdio" else {"upstream": request.getfixturevalue("stateful_url")}

    async def scenario(client: Client) -> float:
        started = anyio.current_time()
        with pytest.raises(TimeoutError):
            async with client.listen(resource_subscriptions=[URI]):
                pass
        return anyio.current_time() - started

    waited, records = await run(
        transport, on_events("drop_ack"), scenario, tmp_path, read_timeout_seconds=1.0, **extra
    )
    assert 0.9 <= waited < 5  # the SDK waits its read timeout; without one it would wait forever
    assert [r["params"]["mode"] for r in records] == ["drop_ack"]


async def test_a_starved_stream_stays_open_and_silent(stateful_url: str) -> None:
    async def scenario(client: Client) -> bool:
        async with client.listen(resource_subscriptions=[URI]) as sub:
            await client.call_tool("bump")
            with anyio.move_on_after(0.5) as silent:  # bounded: absence can only be waited for
                await sub.__anext__()
            return silent.cancelled_caught

    silent, records = await on_http(on_events("starve"), scenario, stateful_url, "auto")
    assert silent  # no event, no end: the SDK has no liveness bound on a listen stream
    assert [r["params"]["mode"] for r in records] == ["starve"]


async def test_an_event_for_an_unknown_subscription_reaches_the_handler_not_the_stream(
    stateful_url: str,
) -> None:
    tee = Tee()

    async def scenario(client: Client) -> tuple[Any, bool]:
        async with client.listen(resource_subscriptions=[URI]) as sub:
            await client.call_tool("bump")
            with anyio.fail_after(10):
                await tee.arrived.wait()
            # The demux ran before the tee: an event for this stream would be pending now.
            with anyio.move_on_after(0.1) as nothing:
                await sub.__anext__()
            return tee.seen[0], nothing.cancelled_caught

    (seen, nothing_on_stream), records = await on_http(
        on_events("unknown_id"), scenario, stateful_url, "auto", message_handler=tee
    )
    assert nothing_on_stream
    assert seen.params.meta[SUBSCRIPTION_ID_META_KEY] == records[0]["params"]["unknown_id"]


async def test_a_duplicated_event_reaches_the_client_twice_and_the_stream_once(stateful_url: str) -> None:
    # duplicate (the existing kind) on the stream's events; the SDK folds equal pending events.
    tee = Tee()

    async def scenario(client: Client) -> tuple[int, Any]:
        async with client.listen(resource_subscriptions=[URI]) as sub:
            await client.call_tool("bump")
            with anyio.fail_after(10):
                while len(tee.seen) < 2:
                    await tee.arrived.wait()
                    tee.arrived = anyio.Event()
                first = await sub.__anext__()
            with anyio.move_on_after(0.1) as folded:
                await sub.__anext__()
            return int(folded.cancelled_caught), first

    (folded, first), records = await on_http(
        on_events(None, kind="duplicate"), scenario, stateful_url, "auto", message_handler=tee
    )
    assert first == ResourceUpdated(uri=URI)
    assert folded == 1  # two copies on the wire, one event: level-triggered, deduplicated
    assert [r["fault"] for r in records] == ["duplicate"]
