"""The tape format, redaction, replay matching and the bounded tape writer, in memory."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson

from mcpchaos.history import tape as tapes
from mcpchaos.history.record import Entry, SessionHistory
from mcpchaos.history.redact import REDACTED, Redactor
from mcpchaos.history.replay import Answers, Recorded
from mcpchaos.observe.tape_writer import TapeWriter
from mcpchaos.protocol import codes
from mcpchaos.protocol.messages import Direction, Kind

C2S, S2C = Direction.CLIENT_TO_SERVER, Direction.SERVER_TO_CLIENT


def echo(text: str, answer: str, delay: float = 0.0) -> Recorded:
    params = {"name": "echo", "arguments": {"text": text, "mode": "plain"}}
    return Recorded("tools/call", params, {"result": {"content": [{"type": "text", "text": answer}]}}, delay)


def text_of(answers: Answers, arguments: dict[str, Any]) -> tuple[str, str]:
    answer = answers.answer("tools/call", {"name": "echo", "arguments": arguments, "_meta": {"x": 1}})
    return answer.reply["result"]["content"][0]["text"], answer.match


def test_exact_arguments_replay_their_recordings_in_order_then_keep_the_last() -> None:
    answers = Answers([echo("a", "first a"), echo("b", "b"), echo("a", "second a")])
    args = {"mode": "plain", "text": "a"}  # key order does not matter; _meta is ignored
    assert [text_of(answers, args) for _ in range(3)] == [
        ("first a", "exact"),
        ("second a", "exact"),
        ("second a", "exact"),
    ]


def test_the_nearest_recording_shares_the_most_arguments() -> None:
    only_c = {"result": {"content": [{"type": "text", "text": "c only"}]}}
    answers = Answers(
        [echo("a", "a"), Recorded("tools/call", {"name": "echo", "arguments": {"text": "c"}}, only_c, 0)]
    )
    assert text_of(answers, {"text": "z", "mode": "plain"}) == ("a", "nearest")
    assert text_of(answers, {"text": "c", "mode": "other"}) == ("c only", "nearest")


def test_no_recording_is_a_clear_error_and_an_unknown_method_is_method_not_found() -> None:
    answers = Answers([echo("a", "a", delay=0.25)])
    tool = answers.answer("tools/call", {"name": "delete_everything", "arguments": {}})
    assert tool.reply["error"]["code"] == codes.NO_RECORDING
    assert "no recording of tools/call 'delete_everything'" in tool.reply["error"]["message"]
    assert answers.answer("server/discover", {}).reply["error"]["code"] == codes.METHOD_NOT_FOUND
    assert answers.answer("ping", None).reply == {"result": {}}
    assert (
        answers.answer("tools/call", {"name": "echo", "arguments": {"text": "a", "mode": "plain"}}).delay
        == 0.25
    )


def test_redaction_replaces_credential_headers_and_named_fields_at_any_depth() -> None:
    redactor = Redactor(["password"])
    meta = {"headers": {"Authorization": "Bearer x", "mcp-method": "tools/call"}}
    assert redactor.meta(meta) == {"headers": {"Authorization": REDACTED, "mcp-method": "tools/call"}}
    message = {"params": {"arguments": {"user": "u", "nested": [{"Password": "p"}]}}}
    assert redactor.message(message) == {
        "params": {"arguments": {"user": "u", "nested": [{"Password": REDACTED}]}}
    }
    assert Redactor(["password"], enabled=False).meta(meta) is meta


def history_with(count: int) -> tuple[SessionHistory, list[Entry]]:
    history = SessionHistory("s", 1, "stdio")
    entries = []
    for i in range(count):
        raw = orjson.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/list"})
        entries.append(Entry(i, float(i), "client", False, C2S, Kind.REQUEST, i, "tools/list", raw))
    return history, entries


def test_a_full_disk_stops_the_tape_counts_the_loss_and_never_raises() -> None:
    writer = TapeWriter("/dev/full", "stdio", Redactor())
    history, entries = history_with(50)
    for entry in entries:
        writer(history, entry)  # the event loop's side: never blocks, never raises
    writer.close()
    assert writer.dropped > 0
    assert writer.lines == 0


def test_a_slow_disk_drops_lines_past_the_buffer_instead_of_blocking(tmp_path: Path) -> None:
    writer = TapeWriter(tmp_path / "slow.tape", "stdio", Redactor(), max_buffered=2_000)
    history, entries = history_with(2_000)
    with writer._lock:  # the disk is stuck: the thread cannot take the buffer (the lock is reentrant)
        started = time.monotonic()
        for entry in entries:
            writer(history, entry)
        assert time.monotonic() - started < 2.0
    writer.close()
    tape = tapes.read(str(tmp_path / "slow.tape"))
    assert writer.dropped > 0
    assert len(tape.lines) + writer.dropped == 2_000  # every message written or counted
    assert tape.end == {"end": True, "dropped": writer.dropped}


def test_a_response_line_names_its_request_and_a_read_names_the_faults_decided_on_it(tmp_path: Path) -> None:
    path = tmp_path / "t.tape"
    writer = TapeWriter(path, "stdio", Redactor())
    history = SessionHistory("s", 1, "stdio")
    request = orjson.dumps({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "echo"}})
    reply = orjson.dumps({"jsonrpc": "2.0", "id": 7, "result": {}})
    writer(history, Entry(0, 1.0, "client", False, C2S, Kind.REQUEST, 7, "tools/call", request))
    history.faults[0] = ["delay"]  # the injector decides just after the read
    writer(history, Entry(1, 1.5, "client", True, S2C, Kind.RESULT, 7, None, reply))
    writer.close()
    tape = tapes.read(str(path))
    assert tape.header["era"] == tapes.SESSIONLESS_ERA
    assert [line.get("faults") for line in tape.lines] == [["delay"], None]
    assert tape.lines[1]["reply_to"] == 0
    assert tape.lines[1]["time"] == 0.5


def test_a_field_name_spelled_with_a_unicode_escape_is_redacted_too() -> None:
    raw = b'{"params": {"pa\\u0073sword": "p", "other": "o"}}'
    assert Redactor(["password"]).message(orjson.loads(raw), raw) == {
        "params": {"password": REDACTED, "other": "o"}
    }
    plain = b'{"params": {"other": "o"}}'
    value = orjson.loads(plain)
    assert Redactor(["password"]).message(value, plain) is value  # nothing to redact: no walk, no copy


def test_live_histories_read_as_a_tape_on_the_proxy_clock() -> None:
    """``GET /history?format=tape``: the same lines as a recorded tape, with ``t0`` to place them."""
    request = orjson.dumps({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "echo"}})
    reply = orjson.dumps({"jsonrpc": "2.0", "id": 7, "result": {}})
    first = SessionHistory.of(
        "a",
        [
            Entry(0, 10.0, "client", False, C2S, Kind.REQUEST, 7, "tools/call", request),
            Entry(1, 10.25, "client", True, S2C, Kind.RESULT, 7, None, reply),
        ],
        ordinal=1,
    )
    second = SessionHistory.of(
        "b", [Entry(0, 11.0, "client", False, C2S, Kind.REQUEST, 1, "ping", b'{"id":1}')], ordinal=2
    )
    empty = SessionHistory("c", 3, "http")
    raw = b"".join(tapes.from_histories([first, second, empty], "live", "0", "now", Redactor()))
    tape = tapes.parse(raw.splitlines())
    assert tape.header["t0"] == 10.0
    assert [(line["session"], line["time"]) for line in tape.lines] == [(1, 0.0), (1, 0.25), (2, 1.0)]
    assert tape.lines[1]["reply_to"] == 0
    assert [e.method for e in tape.entries(2, "client")] == ["ping"]
    assert list(tapes.from_histories([empty], "live", "0", "now", Redactor())) == []
