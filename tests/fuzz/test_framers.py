"""The sans-IO pieces every byte from a peer meets first, fuzzed in memory: the NDJSON framer,
the SSE parser and ``parse`` never raise, keep memory bounded, and what they hand out does not
depend on how the bytes were cut into chunks (a pipe or a socket cuts them anywhere).

``atheris_framers.py`` drives the same properties coverage-guided (optional, not in CI)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpchaos.protocol import codes
from mcpchaos.protocol.messages import Invalid, Message, parse
from tests.fuzz.framing import cut, ndjson_frames, sse_events
from tests.fuzz.messages import fragments

FAST = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

streams = st.lists(
    st.one_of(
        st.binary(max_size=80),
        st.sampled_from([b"\n", b"\r\n", b"\r", b"\n\n", b"data: x\n", b": c\n", b'{"id":7,']),
        st.integers(1, 3000).map(lambda size: b"y" * size),
    ),
    max_size=30,
).map(b"".join)


@FAST
@given(data=streams, cuts=st.lists(st.integers(0, 10**6), max_size=12), limit=st.integers(1024, 4096))
def test_ndjson_lines_do_not_depend_on_where_the_bytes_are_cut(
    data: bytes, cuts: list[int], limit: int
) -> None:
    assert ndjson_frames(cut(data, cuts), limit) == ndjson_frames([data], limit)


@FAST
@given(data=streams, cuts=st.lists(st.integers(0, 10**6), max_size=12), spare=st.integers(1, 4096))
def test_sse_events_within_the_limit_do_not_depend_on_where_the_bytes_are_cut(
    data: bytes, cuts: list[int], spare: int
) -> None:
    limit = len(data) + spare  # over the limit: see the test of an oversized event below
    assert sse_events(cut(data, cuts), limit) == sse_events([data], limit)


def test_an_oversized_sse_event_is_discarded_whole_wherever_the_read_ends() -> None:
    stream = b'event: message\ndata: %s\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n' % (b"y" * 3000)
    at = stream.index(b"y\n") + 1  # the first read ends just before the long line's newline
    assert sse_events([stream], 1024) == ["oversized"]
    assert sse_events([stream[:at], stream[at:]], 1024) == ["oversized"]
    # today: ['oversized', ('{"jsonrpc":"2.0","id":1,"result":{}}', None, None, None, [])]


@FAST
@given(data=st.one_of(st.binary(max_size=300), fragments, st.text(max_size=100).map(str.encode)))
def test_parse_never_raises_and_keeps_the_bytes_it_was_given(data: bytes) -> None:
    item = parse(data)
    if isinstance(item, Message):
        assert item.wire == data
    else:
        assert isinstance(item, Invalid)
        assert item.raw == data
        assert item.code in (codes.PARSE_ERROR, codes.INVALID_REQUEST)
