"""A small document model for reports: sections of text, tables and figures.

Renders to one self-contained HTML file (figures embedded as base64 PNG) and to Markdown
(figures written as PNG files beside it). Writes are atomic.
"""

from __future__ import annotations

import base64
import html
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import pandas as pd
from matplotlib.figure import Figure

from frt_experiments._atomic import write_bytes_atomic, write_text_atomic
from frt_experiments._markdown import md_cell, md_text

__all__ = ["Document", "write_text_atomic"]

_CSS = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; max-width: 1000px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #1b6ca8; padding-bottom: .2em; }
h2 { margin-top: 1.8em; color: #1b6ca8; }
table { border-collapse: collapse; margin: .8em 0; font-size: .92em; max-width: 100%; }
table.wide { font-size: .8em; width: 100%; }
table.wide th, table.wide td { padding: .25em .4em; }
div.table { max-width: 100%; overflow-x: auto; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: right;
         overflow-wrap: break-word; }
th:first-child, td:first-child { text-align: left; }
th { background: #f2f5f8; }
table.facts th { text-align: left; font-weight: 600; width: 40%; }
table.facts td { text-align: left; }
img { max-width: 100%; height: auto; margin: .6em 0; }
.verdict { font-size: 1.15em; padding: .6em 1em; border-left: 6px solid #1b6ca8;
           background: #f2f5f8; }
.verdict.success { border-color: #1a7f37; background: #eef8f0; }
.verdict.failure { border-color: #b2182b; background: #fbeeee; }
.verdict.tradeoff { border-color: #b35806; background: #fdf6e3; }
.verdict.inconclusive { border-color: #666; background: #f1f1f1; }
.verdict.caution { border-color: #b35806; background: #fff4e0; font-size: 1em; }
.verdict b { letter-spacing: .02em; }
.note, ol.footnotes { color: #555; font-size: .9em; }
footer { margin-top: 2.5em; border-top: 1px solid #ccc; color: #555; font-size: .85em; }
footer table.facts { font-size: 1em; }
pre { background: #f7f7f7; padding: .6em 1em; overflow-x: auto; font-size: .88em;
      white-space: pre-wrap; overflow-wrap: anywhere; }
"""

def figure_png(fig: Figure, *, dpi: int = 110) -> bytes:
    """A figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


@dataclass
class _Block:
    kind: str  # "text", "note", "verdict", "pre", "bullets", "table", "facts", "figure"
    content: object
    name: str = ""
    alt: str = ""  # a figure's alt text; a verdict's tone
    footnotes: tuple[str, ...] = ()  # a table's numbered notes, shown below it
    view: pd.DataFrame | None = None  # a table's HTML arrangement, when not ``content``


#: A table with more columns than this, or wider than :data:`_WIDE_CHARACTERS` characters
#: (its columns' longest header or cell, summed), is drawn in a smaller font across the text
#: column. Headers break after their underscores (scheduled_hours_ / per_week), never
#: inside a number.
_WIDE_COLUMNS = 8
_WIDE_CHARACTERS = 100


def _is_wide(table: pd.DataFrame) -> bool:
    if len(table.columns) > _WIDE_COLUMNS:
        return True
    chars = 0
    for col in table.columns:
        cells = table[col].astype(str)
        chars += max(len(str(col)), int(cells.str.len().max()) if len(cells) else 0) + 3
    return chars > _WIDE_CHARACTERS
#: Tones of a verdict block (its CSS class).
#: ``tradeoff``: a success that trades a worse metric for money (amber, not green).
TONES = ("info", "success", "tradeoff", "failure", "inconclusive", "caution")


@dataclass
class Document:
    """An ordered list of titled sections, rendered to HTML or Markdown."""

    title: str
    sections: list[tuple[str, list[_Block]]] = field(default_factory=list)
    _footer: list[tuple[str, str]] = field(default_factory=list, repr=False)

    def section(self, title: str) -> Document:
        self.sections.append((title, []))
        return self

    def _add(self, block: _Block) -> Document:
        if not self.sections:
            self.section("")
        self.sections[-1][1].append(block)
        return self

    def text(self, text: str) -> Document:
        return self._add(_Block("text", text))

    def verdict(self, text: str, *, tone: str = "info", headline: str = "") -> Document:
        """A highlighted paragraph; ``tone`` (one of :data:`TONES`) colours it and
        ``headline`` is shown in bold before the text."""
        if tone not in TONES:
            raise ValueError(f"tone must be one of {', '.join(TONES)}, got {tone!r}")
        return self._add(_Block("verdict", text, name=headline, alt=tone))

    def note(self, text: str) -> Document:
        """A paragraph in small print (how a figure was computed, a caveat)."""
        return self._add(_Block("note", text))

    def facts(self, rows: list[tuple[str, str]]) -> Document:
        """A two-column table of labelled figures (label, value)."""
        return self._add(_Block("facts", list(rows)))

    def preformatted(self, text: str) -> Document:
        """Fixed-width text (aligned console output such as a ``summary()``)."""
        return self._add(_Block("pre", text))

    def bullets(self, items: list[str]) -> Document:
        return self._add(_Block("bullets", list(items)))

    def table(self, df: pd.DataFrame, *, footnotes: list[str] | tuple[str, ...] = (),
              html_view: pd.DataFrame | None = None) -> Document:
        """A table; ``footnotes`` are numbered notes shown below it (e.g. the methods its
        cells refer to as ``[1]``). ``html_view``: what the HTML shows instead of ``df`` (the
        same figures arranged to fit the page, e.g. transposed); the Markdown shows ``df``."""
        return self._add(_Block("table", df, footnotes=tuple(footnotes), view=html_view))

    def figure(self, fig: Figure, name: str, *, alt: str = "") -> Document:
        """A figure saved as ``figures/<name>.png``; ``alt`` describes what it shows (default
        its name)."""
        return self._add(_Block("figure", figure_png(fig), name, alt=alt or name))

    def footer(self, rows: list[tuple[str, str]]) -> Document:
        """The provenance footer (label, value): what made the document. Rendered last."""
        self._footer = list(rows)
        return self

    # ------------------------------------------------------------------ rendering
    def to_html(self) -> str:
        parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
                 "<meta name='viewport' content='width=device-width, initial-scale=1'><title>"
                 f"{html.escape(self.title)}</title><style>{_CSS}</style></head><body>",
                 f"<h1>{html.escape(self.title)}</h1>"]
        for title, blocks in self.sections:
            if title:
                parts.append(f"<h2>{html.escape(title)}</h2>")
            for b in blocks:
                if b.kind == "text":
                    parts.append(f"<p>{html.escape(str(b.content))}</p>")
                elif b.kind == "note":
                    parts.append(f"<p class='note'>{html.escape(str(b.content))}</p>")
                elif b.kind == "verdict":
                    head = f"<b>{html.escape(b.name)}</b> " if b.name else ""
                    parts.append(f"<p class='verdict {b.alt or 'info'}'>{head}"
                                 f"{html.escape(str(b.content))}</p>")
                elif b.kind == "facts":
                    parts.append(_facts_html(cast(list, b.content)))
                elif b.kind == "pre":
                    parts.append(f"<pre>{html.escape(str(b.content))}</pre>")
                elif b.kind == "bullets":
                    items = "".join(f"<li>{html.escape(str(i))}</li>"
                                    for i in cast(list, b.content))
                    parts.append(f"<ul>{items}</ul>")
                elif b.kind == "table":
                    table = cast(pd.DataFrame, b.content if b.view is None else b.view)
                    wide = _is_wide(table)
                    parts.append(_breakable_headers(table.to_html(
                        index=False, border=0, na_rep="", classes="wide" if wide else None)))
                    if b.footnotes:
                        items = "".join(f"<li>{html.escape(n)}</li>" for n in b.footnotes)
                        parts.append(f"<ol class='footnotes'>{items}</ol>")
                else:
                    data = base64.b64encode(cast(bytes, b.content)).decode("ascii")
                    parts.append(f"<img alt='{html.escape(b.alt or b.name)}' "
                                 f"src='data:image/png;base64,{data}'>")
        if self._footer:
            parts.append("<footer><h2>Provenance</h2>" + _facts_html(self._footer)
                         + "</footer>")
        parts.append("</body></html>")
        return "\n".join(parts)

    def to_markdown(self, image_dir: str | None = None) -> str:
        lines = [f"# {md_text(self.title)}", ""]
        for title, blocks in self.sections:
            if title:
                lines += [f"## {md_text(title)}", ""]
            for b in blocks:
                if b.kind in ("text", "note", "verdict"):
                    prefix = ""
                    if b.kind == "verdict":
                        prefix = f"**{md_text(b.name)}** " if b.name else "**Verdict:** "
                    lines += [prefix + md_text(b.content), ""]
                elif b.kind == "facts":
                    lines += [_facts_markdown(cast(list, b.content)), ""]
                elif b.kind == "pre":
                    lines += ["```", str(b.content), "```", ""]
                elif b.kind == "bullets":
                    lines += [*(f"- {md_text(i)}" for i in cast(list, b.content)), ""]
                elif b.kind == "table":
                    lines += [_markdown_table(cast(pd.DataFrame, b.content)), ""]
                    if b.footnotes:
                        lines += [*(f"{i}. {md_text(n)}" for i, n in enumerate(b.footnotes, 1)),
                                  ""]
                elif image_dir is not None:
                    alt = md_text(b.alt or b.name).replace("[", "(").replace("]", ")")
                    lines += [f"![{alt}]({image_dir}/{b.name}.png)", ""]
        if self._footer:
            lines += ["## Provenance", "", _facts_markdown(self._footer), ""]
        return "\n".join(lines)

    def write(self, out_dir: str | os.PathLike[str], *, stem: str = "report") -> dict[str, Path]:
        """Write ``<stem>.html``, ``<stem>.md`` and the figures as PNG under ``figures/``."""
        out = Path(out_dir)
        paths = {"html": write_text_atomic(out / f"{stem}.html", self.to_html()),
                 "markdown": write_text_atomic(out / f"{stem}.md",
                                               self.to_markdown("figures"))}
        for _, blocks in self.sections:
            for b in blocks:
                if b.kind == "figure":
                    write_bytes_atomic(out / "figures" / f"{b.name}.png",
                                        cast(bytes, b.content))
        return paths


def _breakable_headers(table_html: str) -> str:
    """A line-break opportunity (``<wbr>``) after each underscore of the cells (column names
    and identifiers such as two_business_days; numbers have none), and the table in a
    container that scrolls sideways should it still not fit (the page itself never does)."""
    cells = re.sub(r"<(th|td)>(.*?)</\1>",
                   lambda m: f"<{m.group(1)}>" + m.group(2).replace("_", "_<wbr>")
                   + f"</{m.group(1)}>", table_html, flags=re.S)
    return f"<div class='table'>{cells}</div>"


def _facts_html(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                   for k, v in rows)
    return f"<table class='facts'>{body}</table>"


def _facts_markdown(rows: list[tuple[str, str]]) -> str:
    return "\n".join(["| | |", "|---|---|",
                      *(f"| {md_cell(k)} | {md_cell(v)} |" for k, v in rows)])


def _markdown_table(df: pd.DataFrame) -> str:
    cols = [md_cell(c) for c in df.columns]
    rows = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    rows += ["| " + " | ".join("" if pd.isna(v) else md_cell(v) for v in rec) + " |"
             for rec in df.itertuples(index=False)]
    return "\n".join(rows)
