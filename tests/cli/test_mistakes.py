"""A new user's mistakes, made with the real command line: each gets one clear message and
exit 2, never a traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

MCPCHAOS = [sys.executable, "-m", "mcpchaos"]


def mcpchaos(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MCPCHAOS, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The single line a mistake prints, checked to be alone and to exit 2."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "Unclosed" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mcpchaos: error: ")
    return lines[0].removeprefix("mcpchaos: error: ")


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another process (this test) is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def closed_port() -> int:
    """A port nobody listens on (bound, then let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["proxy", "--listen", "127.0.0.1:{port}", "--upstream", "http://127.0.0.1:9/mcp"], "--listen"),
        (["proxy", "--listen", "{port}", "--", sys.executable, "-c", "pass"], "--listen"),
        (["proxy", "--control", "{port}", "--", sys.executable, "-c", "pass"], "--control"),
        (
            [
                "proxy",
                "--control",
                "{port}",
                "--listen",
                "127.0.0.1:0",
                "--upstream",
                "http://127.0.0.1:9/mcp",
            ],
            "--control",
        ),
        (["link", "--listen", "127.0.0.1:{port}", "--upstream", "127.0.0.1:9"], "--listen"),
        (["link", "--control", "{port}"], "--control"),
        (["demo-server", "--transport", "http", "--port", "{port}"], "--port"),
    ],
    ids=[
        "http-proxy",
        "http-to-stdio",
        "proxy-control",
        "http-proxy-control",
        "link",
        "link-control",
        "demo",
    ],
)
def test_a_port_in_use_is_one_line_naming_the_option_and_exit_2(
    args: list[str], option: str, taken_port: int
) -> None:
    result = mcpchaos(*(arg.format(port=taken_port) for arg in args))
    assert one_line_error(result) == (
        f"cannot listen on 127.0.0.1:{taken_port}: address already in use "
        f"(another process is using it; pick another port with {option})"
    )


def test_a_port_in_use_by_a_link_from_a_file_names_the_field_in_the_file(
    tmp_path: Path, taken_port: int
) -> None:
    config = tmp_path / "links.yaml"
    config.write_text(
        "links:\n"
        "  - {listen: '127.0.0.1:0', upstream: '127.0.0.1:9'}\n"
        f"  - {{listen: '127.0.0.1:{taken_port}', upstream: '127.0.0.1:9'}}\n"
    )
    result = mcpchaos("link", "--config", str(config))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"mcpchaos: error: cannot listen on 127.0.0.1:{taken_port}: address already in use "
        f"(another process is using it; pick another port with links.1.listen in {config})"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:8000"],
            "--upstream 127.0.0.1:8000 has no scheme; did you mean http://127.0.0.1:8000/mcp?",
        ),
        (
            ["proxy", "--upstream", "8000"],
            "--upstream 8000 has no scheme; did you mean http://127.0.0.1:8000/mcp?",
        ),
        (
            ["proxy", "--listen", "http://127.0.0.1:8080/mcp", "--", "cat"],
            "--listen takes HOST:PORT, not a URL; did you mean --listen 127.0.0.1:8080?",
        ),
        (
            ["link", "--listen", "0", "--upstream", "http://127.0.0.1:8000/mcp"],
            "--upstream takes HOST:PORT, not a URL; did you mean --upstream 127.0.0.1:8000?",
        ),
        (
            ["proxy", "--control", "127.0.0.1:control", "--", "cat"],
            "--control 127.0.0.1:control: the port must be a number from 0 to 65535, got 'control'",
        ),
        (
            ["demo-server", "--downstream", "127.0.0.1:8001"],
            "--downstream 127.0.0.1:8001 has no scheme; did you mean http://127.0.0.1:8001/mcp?",
        ),
    ],
    ids=[
        "upstream-no-scheme",
        "upstream-port-alone",
        "listen-url",
        "link-upstream-url",
        "control-port",
        "downstream",
    ],
)
def test_a_mistyped_address_says_what_was_probably_meant(args: list[str], message: str) -> None:
    assert one_line_error(mcpchaos(*args)) == message


def test_a_missing_config_file_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "links.yaml"
    assert one_line_error(mcpchaos("link", "--config", str(missing))) == (
        f"cannot read {missing}: No such file or directory"
    )


def test_a_fault_file_that_is_not_yaml_says_where_it_stops_being_yaml(tmp_path: Path) -> None:
    faults = tmp_path / "faults.yaml"
    faults.write_text("fault_probability: 0.3\n  enabled_faults: {delay: true}\n")
    assert one_line_error(mcpchaos("proxy", "--faults", str(faults), "--", "cat")) == (
        f"{faults}: not valid YAML/JSON at line 2, column 17: mapping values are not allowed here"
    )


def test_a_fault_file_with_a_wrong_field_names_the_field(tmp_path: Path) -> None:
    faults = tmp_path / "faults.yaml"
    faults.write_text("fault_probabilty: 0.3\n")
    result = mcpchaos("proxy", "--faults", str(faults), "--", "cat")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "fault_probabilty: unknown field" in result.stderr


def test_params_that_are_not_json_or_yaml_stop_before_anything_runs(tmp_path: Path) -> None:
    params = tmp_path / "params.json"
    params.write_text('{"steps": 3,')
    out = tmp_path / "out"
    message = one_line_error(
        mcpchaos("run", "gradual_degradation", "--params", str(params), "--out", str(out))
    )
    assert message.startswith(f"{params}: not valid YAML/JSON at line 1, column 13: ")
    assert not out.exists()


# ---- the target of a run is checked before any scenario --------------------------------------------


def test_a_target_command_that_does_not_exist_fails_before_any_scenario(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = mcpchaos("run", "suite", "--quick", "--target", "no-such-mcp-server --stdio", "--out", str(out))
    assert one_line_error(result) == (
        "--target no-such-mcp-server --stdio: cannot start no-such-mcp-server: command not found "
        "(check the spelling, or give its full path)"
    )
    assert not out.exists()


def test_a_target_that_exits_at_once_shows_its_own_stderr_once(tmp_path: Path) -> None:
    server = tmp_path / "server.py"
    server.write_text(
        "import sys\n"
        "print('loading the configuration', file=sys.stderr)\n"
        "sys.exit('fatal: MY_API_KEY is not set')\n"
    )
    out = tmp_path / "out"
    target = f"{sys.executable} {server}"
    result = mcpchaos("run", "sudden_failure", "--quick", "--target", target, "--out", str(out))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"mcpchaos: error: --target {target}: the server exited before answering initialize; "
        "its stderr ends with:",
        "  loading the configuration",
        "  fatal: MY_API_KEY is not set",
    ]
    assert not out.exists()


def test_a_url_target_nobody_listens_on_fails_before_any_scenario(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/mcp"
    out = tmp_path / "out"
    result = mcpchaos("run", "sudden_failure", "--quick", "--target", url, "--out", str(out))
    assert one_line_error(result) == (
        f"--target {url}: nothing is listening there (connection refused); start the server, "
        "or check the host and port"
    )
    assert not out.exists()


NOT_A_TAPE = "{not_a_tape}: not an mcpchaos tape (no tape header on line 1)"
TAPE_MISTAKES = {
    "replay-no-tape": (["replay"], "replay needs a tape: mcpchaos replay --as-server FILE.tape"),
    "replay-missing": (
        ["replay", "--as-server", "{missing}"],
        "cannot read the tape {missing}: No such file or directory",
    ),
    "replay-not-a-tape": (["replay", "--as-server", "{not_a_tape}"], NOT_A_TAPE),
    "tape-no-action": (["tape"], "tape needs an action: show, stats, redact or diff (mcpchaos tape --help)"),
    "diff-not-a-tape": (["tape", "diff", "{not_a_tape}", "{missing}"], NOT_A_TAPE),
    "redact-no-output": (
        ["tape", "redact", "{not_a_tape}"],
        "tape redact writes a copy: give -o FILE (it may be the tape itself)",
    ),
    "redact-without-record": (
        ["proxy", "--redact", "password", "--", "cat"],
        "--redact and --no-redact choose what a tape keeps: give --record FILE.tape",
    ),
    "record-unwritable": (
        ["proxy", "--record", "{missing}/x.tape", "--", "cat"],
        "--record: cannot open {missing}/x.tape: No such file or directory",
    ),
}


@pytest.mark.parametrize(("args", "message"), TAPE_MISTAKES.values(), ids=TAPE_MISTAKES.keys())
def test_a_tape_mistake_is_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    not_a_tape = tmp_path / "notes.txt"
    not_a_tape.write_text('{"hello": "world"}\n')
    names = {"missing": str(tmp_path / "missing"), "not_a_tape": str(not_a_tape)}
    argv = [arg.format(**names) for arg in args]
    assert one_line_error(mcpchaos(*argv)) == message.format(**names)
