import itertools

from hypothesis import given
from hypothesis import strategies as st

from mcpchaos.protocol.ndjson import NEED_DATA, NdjsonFramer, OversizedLine, recover_leading_id


def drain(framer: NdjsonFramer) -> list[bytes | OversizedLine]:
    frames: list[bytes | OversizedLine] = []
    while True:
        frame = framer.next_frame()
        if isinstance(frame, bytes | OversizedLine):
            frames.append(frame)
        else:
            return frames
    return frames


def test_a_partial_line_waits_for_the_rest() -> None:
    framer = NdjsonFramer()
    framer.feed(b'{"a":')
    assert framer.next_frame() is NEED_DATA
    framer.feed(b"1}\n")
    assert drain(framer) == [b'{"a":1}']


def test_many_messages_in_one_chunk_come_out_in_order() -> None:
    framer = NdjsonFramer()
    framer.feed(b"1\n2\n3\n4")
    assert drain(framer) == [b"1", b"2", b"3"]
    framer.feed(b"\n")
    assert drain(framer) == [b"4"]


def test_crlf_line_endings_are_stripped_and_blank_lines_skipped() -> None:
    framer = NdjsonFramer()
    framer.feed(b"a\r\n\r\n\nb\r\n")
    assert drain(framer) == [b"a", b"b"]


def test_a_line_over_the_limit_is_discarded_and_reported_once_with_its_id() -> None:
    framer = NdjsonFramer(max_line_bytes=100)
    framer.feed(b'{"jsonrpc":"2.0","id":42,"method":"x","params":{"p":"')
    assert framer.next_frame() is NEED_DATA
    for _ in range(50):
        framer.feed(b"y" * 1000)
        assert framer.next_frame() is NEED_DATA
        assert framer.buffered <= 1100
    framer.feed(b'"}}\n{"ok":1}\n')
    frames = drain(framer)
    assert len(frames) == 2
    oversized = frames[0]
    assert isinstance(oversized, OversizedLine)
    assert oversized.id == 42
    assert oversized.limit == 100
    assert oversized.size > 50_000
    assert oversized.complete
    assert frames[1] == b'{"ok":1}'


def test_a_line_exactly_at_the_limit_passes() -> None:
    framer = NdjsonFramer(max_line_bytes=10)
    framer.feed(b"0123456789\n01234567890\n")
    frames = drain(framer)
    assert frames[0] == b"0123456789"
    assert isinstance(frames[1], OversizedLine)


def test_close_returns_a_last_unterminated_line() -> None:
    framer = NdjsonFramer()
    framer.feed(b"tail")
    assert framer.next_frame() is NEED_DATA
    assert framer.close() == b"tail"
    assert framer.close() is NEED_DATA


def test_close_during_an_oversized_line_reports_it_cut() -> None:
    framer = NdjsonFramer(max_line_bytes=5)
    framer.feed(b'{"id":"k","x":1234567')
    assert framer.next_frame() is NEED_DATA
    last = framer.close()
    assert isinstance(last, OversizedLine)
    assert not last.complete
    assert last.id == "k"


def test_leading_id_recovery_is_best_effort() -> None:
    assert recover_leading_id(b'{"jsonrpc":"2.0","id":"x-1","method":') == "x-1"
    assert recover_leading_id(b' { "id" : -3 , "jsonrpc"') == -3
    assert recover_leading_id(b'{"method":"a","id":3}') is None
    assert recover_leading_id(b"garbage") is None


@given(
    lines=st.lists(st.binary(min_size=1, max_size=40).map(lambda b: b.replace(b"\n", b"_")), max_size=20),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=30),
)
def test_any_chunking_gives_the_same_lines(lines: list[bytes], cuts: list[int]) -> None:
    data = b"".join(line + b"\n" for line in lines)
    expected = [line.removesuffix(b"\r") for line in lines if line.removesuffix(b"\r").strip()]
    framer = NdjsonFramer()
    frames: list[bytes | OversizedLine] = []
    positions = sorted({min(cut, len(data)) for cut in cuts} | {0, len(data)})
    for start, end in itertools.pairwise(positions):
        framer.feed(data[start:end])
        frames.extend(drain(framer))
    assert frames == expected
