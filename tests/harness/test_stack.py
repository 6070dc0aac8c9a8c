"""The system under test's plumbing: ports and targets."""

from __future__ import annotations

import pytest

from mcpchaos.errors import ConfigError
from mcpchaos.harness.stack import TargetSpec, free_port, last_lines


def test_ports_asked_for_at_once_are_all_different() -> None:
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)


def test_a_target_is_the_demo_a_url_a_command_or_an_attached_proxy() -> None:
    assert TargetSpec.parse(None).kind == "demo"
    assert TargetSpec.parse("demo --fragile leak-fds").demo_args == ("--fragile", "leak-fds")
    assert TargetSpec.parse("http://127.0.0.1:8000/mcp").kind == "url"
    command = TargetSpec.parse("python -m 'my server'")
    assert command.kind == "command"
    assert command.command == ("python", "-m", "my server")
    attached = TargetSpec.parse(None, attach="http://127.0.0.1:1/mcp,http://127.0.0.1:2")
    assert (attached.kind, attached.url, attached.control_url) == (
        "attach",
        "http://127.0.0.1:1/mcp",
        "http://127.0.0.1:2",
    )


def test_a_malformed_attach_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="MCP_URL,CONTROL_URL"):
        TargetSpec.parse(None, attach="http://127.0.0.1:1/mcp")


def test_the_tail_of_a_process_output_starts_at_a_line_and_is_said_once() -> None:
    output = b"".join(f"line {i}\n".encode() for i in range(1000))
    tail = last_lines(output, 100)
    assert len(tail) <= 100
    assert tail.splitlines()[0].startswith("line ")
    assert tail.splitlines()[-1] == "line 999"
    assert all(line.count("line") == 1 for line in tail.splitlines())


def test_one_line_longer_than_the_tail_is_cut_at_a_word_and_marked() -> None:
    output = " ".join(f"word{i}" for i in range(600)).encode()
    tail = last_lines(output, 100)
    assert tail.startswith("…word")
    assert tail.endswith("word599")
    assert len(tail) <= 101


def test_short_output_is_shown_whole() -> None:
    assert last_lines(b"  fatal: no API key\n") == "fatal: no API key"
