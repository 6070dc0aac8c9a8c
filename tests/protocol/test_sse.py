import itertools

from hypothesis import given
from hypothesis import strategies as st

from mcpchaos.protocol.sse import OversizedEvent, SseEvent, SseParser, encode_event


def events_of(parser: SseParser) -> list[SseEvent | OversizedEvent]:
    out: list[SseEvent | OversizedEvent] = []
    while True:
        event = parser.next_event()
        if isinstance(event, SseEvent | OversizedEvent):
            out.append(event)
        else:
            return out


def test_a_message_event_with_an_id() -> None:
    parser = SseParser()
    parser.feed(b'event: message\r\nid: 42\r\ndata: {"jsonrpc":"2.0"}\r\n\r\n')
    [event] = events_of(parser)
    assert isinstance(event, SseEvent)
    assert event.is_message
    assert event.id == "42"
    assert event.data == '{"jsonrpc":"2.0"}'
    assert parser.last_event_id == "42"


def test_comments_priming_events_and_retry_are_kept() -> None:
    parser = SseParser()
    parser.feed(b": ping\n\nid: 7\nretry: 3000\ndata:\n\n")
    ping, priming = events_of(parser)
    assert isinstance(ping, SseEvent)
    assert isinstance(priming, SseEvent)
    assert ping.comments == [" ping"]
    assert not ping.is_message
    assert priming.id == "7"
    assert priming.retry == 3000
    assert priming.data == ""
    assert not priming.is_message


def test_multiline_data_is_joined_with_newlines() -> None:
    parser = SseParser()
    parser.feed(b"data: a\ndata: b\n\n")
    [event] = events_of(parser)
    assert isinstance(event, SseEvent)
    assert event.data == "a\nb"


def test_lone_cr_line_endings_split_across_chunks() -> None:
    parser = SseParser()
    parser.feed(b"data: x\r")
    assert events_of(parser) == []
    parser.feed(b"\r")
    parser.feed(b"data: y\r\n\r\n")
    assert [e.data for e in events_of(parser) if isinstance(e, SseEvent)] == ["x", "y"]


def test_an_event_over_the_limit_is_discarded_and_reported() -> None:
    parser = SseParser(max_event_bytes=50)
    parser.feed(b"data: " + b"z" * 200)
    assert events_of(parser) == []
    parser.feed(b"z" * 200 + b"\n\ndata: ok\n\n")
    oversized, ok = events_of(parser)
    assert isinstance(oversized, OversizedEvent)
    assert isinstance(ok, SseEvent)
    assert ok.data == "ok"


def test_encode_round_trips() -> None:
    raw = encode_event('{"a":1}', event_id="5", event="message", retry=10, comments=[" hi"])
    parser = SseParser()
    parser.feed(raw)
    [event] = events_of(parser)
    assert isinstance(event, SseEvent)
    assert (event.data, event.id, event.event, event.retry, event.comments) == (
        '{"a":1}',
        "5",
        "message",
        10,
        [" hi"],
    )
    assert event.encode() == raw


@given(
    datas=st.lists(
        st.text(alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=["Cs"]), min_size=1),
        max_size=10,
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=500), max_size=20),
)
def test_any_chunking_gives_the_same_events(datas: list[str], cuts: list[int]) -> None:
    stream = b"".join(encode_event(data, event_id=str(i)) for i, data in enumerate(datas))
    parser = SseParser()
    got: list[SseEvent | OversizedEvent] = []
    positions = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
    for start, end in itertools.pairwise(positions):
        parser.feed(stream[start:end])
        got.extend(events_of(parser))
    assert [(e.data, e.id) for e in got if isinstance(e, SseEvent)] == [
        (d, str(i)) for i, d in enumerate(datas)
    ]
