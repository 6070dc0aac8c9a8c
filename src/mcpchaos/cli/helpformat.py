"""How every ``mcpchaos`` command lays out its ``--help``.

* At most :data:`MAX_WIDTH` columns (narrower on a narrower terminal), wrapped at spaces only.
* In a description or an epilog, plain lines are joined and wrapped as a paragraph, while a line
  that starts with a space (an example, a row of a list) is kept as written; a blank line
  separates paragraphs.
* An option with a default shows it, ``(default: VALUE)``, unless its help already says what its
  default is (e.g. ``16MiB`` for a size the parser holds as bytes). Options whose default is
  "not given" (None, False, an empty list) show nothing.
"""

from __future__ import annotations

import argparse
import shutil
import textwrap

MAX_WIDTH = 100


class HelpFormatter(argparse.HelpFormatter):
    """See the module docstring; pass as ``formatter_class``."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 30) -> None:
        width = min(shutil.get_terminal_size().columns - 2, MAX_WIDTH)
        super().__init__(prog, indent_increment, max_help_position, width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        out: list[str] = []
        words: list[str] = []

        def flush() -> None:
            if words:
                out.extend(_wrap(" ".join(words), width, indent))
                words.clear()

        for line in text.splitlines():
            if not line.strip():
                flush()
                out.append("")
            elif line.startswith(" "):
                flush()
                out.append(indent + line.rstrip())
            else:
                words.append(line.strip())
        flush()
        return "\n".join(out)

    def _split_lines(self, text: str, width: int) -> list[str]:
        return _wrap(" ".join(text.split()), width)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        help_text = action.help or ""
        default = action.default
        # "Not given" is no default to show (identity: 0 is a default, False is not).
        shown = not any(default is unset for unset in (None, False, argparse.SUPPRESS)) and default not in (
            "",
            [],
        )
        if shown and action.option_strings and "default" not in help_text:
            help_text += " (default: %(default)s)"
        return help_text


def _wrap(text: str, width: int, indent: str = "") -> list[str]:
    """Wrap at spaces only: an option name or a path is never cut at a hyphen."""
    return textwrap.wrap(
        text,
        width,
        initial_indent=indent,
        subsequent_indent=indent,
        break_on_hyphens=False,
        break_long_words=False,
    )
