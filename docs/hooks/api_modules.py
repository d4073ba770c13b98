"""MkDocs hook: the API reference's "Other modules" page lists every public module that no
other ``docs/api`` page renders.

``docs/api/other.md`` holds the marker ``<!-- frt-api-other-modules -->``; this hook replaces
it with a ``::: module`` line (rendered by mkdocstrings) per public module of
``frt_experiments`` -- one whose dotted name has no part starting with ``_`` -- that no other
page of ``docs/api`` names, so a new module is in the reference the day it is added, until a
topical page takes it.
"""

from __future__ import annotations

import pkgutil
import re
from pathlib import Path
from typing import Any

import frt_experiments

MARKER = "<!-- frt-api-other-modules -->"
API = Path(__file__).resolve().parents[1] / "api"


def public_modules() -> list[str]:
    """Every public module of the package, sorted."""
    return sorted(m.name for m in pkgutil.walk_packages(frt_experiments.__path__,
                                                        "frt_experiments.")
                  if not any(part.startswith("_") for part in m.name.split(".")))


def placed_modules() -> set[str]:
    """The modules the topical API pages render (``::: name`` lines)."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in API.glob("*.md")
                     if p.name != "other.md")
    return set(re.findall(r"^::: (\S+)", text, flags=re.MULTILINE))


def other_modules() -> list[str]:
    placed = placed_modules()
    return [m for m in public_modules() if m not in placed]


def render() -> str:
    rest = other_modules()
    if not rest:
        return "Every module is on one of the topical pages."
    return "\n\n".join(f"::: {m}" for m in rest) + "\n"


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    if MARKER in markdown:
        return markdown.replace(MARKER, render())
    return markdown
