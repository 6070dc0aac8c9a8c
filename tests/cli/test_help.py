"""``--help`` teaches: the proxy's four shapes first, every default shown, at most 100 columns."""

from __future__ import annotations

import argparse
import itertools
import os
import re
import subprocess
import sys

import pytest

from mcpchaos.cli import proxy_command
from mcpchaos.cli.main import build_parser

# ``ctl`` has its own owner and layout; every other command goes through cli/helpformat.py.
COMMANDS = ["proxy", "run", "link", "scenarios", "report", "demo-server", "demo", "tape", "replay", "judge"]
SHAPES = {"stdio → stdio": "stdio", "HTTP → HTTP": "http", "HTTP → stdio": "http-to-stdio"}
SHAPES["stdio → HTTP"] = "stdio-to-http"


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {"": parser, **{name: action.choices[name] for name in COMMANDS}}


def option_entries(help_text: str) -> dict[str, str]:
    """Each option's entry in a help text (its first line and the lines indented under it)."""
    entries: dict[str, str] = {}
    current: str | None = None
    for line in help_text.splitlines():
        found = re.match(r"  (-[-\w]+)", line)
        if found:
            current = found.group(1)
            entries[current] = line
        elif current is not None and line.startswith("      "):
            entries[current] += " " + line.strip()
        else:
            current = None
    return entries


def test_proxy_help_opens_with_the_four_shapes_each_with_an_example_that_makes_that_shape() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mcpchaos", "proxy", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, "COLUMNS": "100"},
    )
    lines = result.stdout.splitlines()
    first_option = lines.index("options:")
    examples: dict[str, str] = {}
    for label, example in itertools.pairwise(lines[:first_option]):
        shape = next((SHAPES[s] for s in SHAPES if label.strip().startswith(s)), None)
        if shape is not None:
            examples[shape] = example.strip()
    assert sorted(examples) == sorted(SHAPES.values()), lines[:first_option]
    parser = build_parser()
    for shape, example in examples.items():
        argv = example.split()
        assert argv[:2] == ["mcpchaos", "proxy"]
        args = parser.parse_args(argv[1:])
        command = [word for word in args.server_command if word != "--"]
        assert proxy_command._shape(args, command) == shape, example


@pytest.mark.parametrize("columns", ["80", "200"])
def test_every_help_line_fits_in_100_columns(columns: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    for name, parser in subparsers().items():
        too_long = [line for line in parser.format_help().splitlines() if len(line) > 100]
        assert not too_long, (name, too_long)


def test_every_option_with_a_default_shows_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    for name, parser in subparsers().items():
        entries = option_entries(parser.format_help())
        for action in parser._actions:
            unset = any(action.default is value for value in (None, False, argparse.SUPPRESS))
            if unset or action.default == [] or not action.option_strings:
                continue
            entry = entries[action.option_strings[-1]]
            assert "default" in entry, (name, entry)


def test_a_default_the_help_did_not_spell_out_is_added_with_its_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    parsers = subparsers()
    assert "(default: 0)" in option_entries(parsers["proxy"].format_help())["--max-connections"]
    assert "(default: chaos-report)" in option_entries(parsers["run"].format_help())["--out"]
    assert "(default: stdio)" in option_entries(parsers["demo-server"].format_help())["--transport"]


def test_the_top_level_help_gives_each_command_one_line_and_shows_examples(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    text = build_parser().format_help()
    listing = text.split("COMMAND\n", 1)[1].split("\n\n", 1)[0].splitlines()
    names = [line.split()[0] for line in listing]
    assert names == [
        "proxy", "demo-server", "link", "ctl", "run", "scenarios", "judge", "report", "tape", "replay",
        "demo",
    ]  # fmt: skip
    examples = [line for line in text.splitlines() if line.startswith("  mcpchaos ")]
    assert 3 <= len(examples) <= 5
