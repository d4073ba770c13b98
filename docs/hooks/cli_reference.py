"""MkDocs hook: the CLI reference page generated from ``frt``'s argparse parser.

``docs/cli.md`` holds the marker ``<!-- frt-cli-reference -->``; this hook replaces it with
one section per command and subcommand (``frt``, ``frt analyze``, ``frt staffing plan``, ...),
each the command's own ``--help`` text, so the page cannot drift from the parser. The walk
is :func:`cli_commands`, which ``tests/test_docs.py`` uses to check that every subcommand is
on the page.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from frt_experiments.cli import build_parser

MARKER = "<!-- frt-cli-reference -->"
#: The width ``--help`` is wrapped at on the page (argparse reads ``COLUMNS``).
WIDTH = "100"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def cli_commands() -> list[tuple[str, argparse.ArgumentParser]]:
    """Every command of ``frt`` as (``"frt staffing plan"``, its parser), depth first."""
    out: list[tuple[str, argparse.ArgumentParser]] = []

    def walk(name: str, parser: argparse.ArgumentParser) -> None:
        out.append((name, parser))
        for sub, child in _subparsers(parser).items():
            walk(f"{name} {sub}", child)

    walk("frt", build_parser())
    return out


def render() -> str:
    """The CLI reference as Markdown: a heading and the help text per command."""
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        blocks = []
        for name, parser in cli_commands():
            level = "#" * min(2 + name.count(" "), 4)
            text = parser.format_help().rstrip()
            blocks.append(f"{level} `{name}`\n\n```text\n{text}\n```\n")
        return "\n".join(blocks)
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    if MARKER in markdown:
        return markdown.replace(MARKER, render())
    return markdown
