"""MkDocs hook: the benchmarks page's table of every script in ``benchmarks/``.

``docs/benchmarks.md`` holds the marker ``<!-- frt-benchmark-scripts -->``; this hook replaces
it with one row per ``benchmarks/bench_*.py``: the command that runs it and the first paragraph
of its docstring (what it measures). A script added to ``benchmarks/`` is listed the day it is
added, with no figures until someone records a run on the page.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

MARKER = "<!-- frt-benchmark-scripts -->"
BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def scripts() -> list[tuple[str, str]]:
    """(file name, first paragraph of its docstring) per benchmark script, sorted by name."""
    out = []
    for path in sorted(BENCHMARKS.glob("bench_*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        first = " ".join(doc.split("\n\n")[0].split())
        out.append((path.name, first.replace("|", "\\|")))
    return out


def render() -> str:
    rows = [f"| `python benchmarks/{name}` | {what} |" for name, what in scripts()]
    return "\n".join(["| command | what it measures |", "|---|---|", *rows]) + "\n"


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    if MARKER in markdown:
        return markdown.replace(MARKER, render())
    return markdown
