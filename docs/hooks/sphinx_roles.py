"""MkDocs hook: the docstrings' Sphinx cross-reference roles as links in the API reference.

The docstrings are Google style but cross-reference with Sphinx roles (``:func:`analyze```,
``:mod:`~frt_experiments.staffing.erlang```), which mkdocstrings leaves as text
(``:mod:`` followed by the code). This hook turns each into the code alone -- ``~`` shows only
the last part of the dotted name, as Sphinx does -- wrapped in an optional cross-reference
that mkdocs-autorefs resolves to the object's anchor where the name is a full path of a
rendered object or a name the package exports, and leaves as plain code otherwise.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import frt_experiments

ROLE = re.compile(r":(?:py:)?(?:mod|func|class|meth|attr|data|exc|obj|const):"
                  r"<code>([^<]*)</code>")
#: ``title <target>``, Sphinx's explicit title (escaped in the HTML)
TITLED = re.compile(r"(.*?)\s*&lt;(~?[\w.]+)&gt;", re.DOTALL)
NAME = re.compile(r"(~?)([\w.]+)(\(.*\))?", re.DOTALL)


@functools.cache
def _exported() -> dict[str, str]:
    """The package's exported names with the dotted path of the module defining each
    (``analyze`` -> ``frt_experiments.analysis.analyze``), for roles that give a bare name."""
    out = {}
    for name in frt_experiments.__all__:
        module = getattr(getattr(frt_experiments, name, None), "__module__", None)
        if isinstance(module, str) and module.startswith("frt_experiments"):
            out[name] = f"{module}.{name}"
    return out


def _replace(match: re.Match[str]) -> str:
    text = " ".join(match.group(1).split())
    if m := TITLED.fullmatch(text):
        shown, name = m.group(1), m.group(2).lstrip("~")
    elif m := NAME.fullmatch(text):
        name = m.group(2)
        shown = (name.rsplit(".", 1)[-1] if m.group(1) else name) + (m.group(3) or "")
    else:
        return f"<code>{match.group(1)}</code>"
    target = name if "." in name else _exported().get(name, name)
    return f'<autoref identifier="{target}" optional><code>{shown}</code></autoref>'


def convert(html: str) -> str:
    """The page's HTML with every role-prefixed code span turned into a cross-reference."""
    return ROLE.sub(_replace, html)


def on_page_content(html: str, page: Any, **_: Any) -> str:
    return convert(html)
