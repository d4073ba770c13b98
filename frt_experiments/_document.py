"""A small document model for reports: sections of text, tables and figures.

Renders to one self-contained HTML file (figures embedded as base64 PNG) and to Markdown
(figures written as PNG files beside it). Writes are atomic.
"""

from __future__ import annotations

import base64
import html
import io
import os
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
table { border-collapse: collapse; margin: .8em 0; font-size: .92em; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f2f5f8; }
img { max-width: 100%; margin: .6em 0; }
.verdict { font-size: 1.15em; padding: .6em 1em; border-left: 5px solid #1b6ca8;
           background: #f2f5f8; }
.note { color: #555; font-size: .9em; }
pre { background: #f7f7f7; padding: .6em 1em; overflow-x: auto; font-size: .88em; }
"""


def figure_png(fig: Figure, *, dpi: int = 110) -> bytes:
    """A figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


@dataclass
class _Block:
    kind: str  # "text", "verdict", "pre", "bullets", "table", "figure"
    content: object
    name: str = ""


@dataclass
class Document:
    """An ordered list of titled sections, rendered to HTML or Markdown."""

    title: str
    sections: list[tuple[str, list[_Block]]] = field(default_factory=list)

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

    def verdict(self, text: str) -> Document:
        return self._add(_Block("verdict", text))

    def preformatted(self, text: str) -> Document:
        """Fixed-width text (aligned console output such as a ``summary()``)."""
        return self._add(_Block("pre", text))

    def bullets(self, items: list[str]) -> Document:
        return self._add(_Block("bullets", list(items)))

    def table(self, df: pd.DataFrame) -> Document:
        return self._add(_Block("table", df))

    def figure(self, fig: Figure, name: str) -> Document:
        return self._add(_Block("figure", figure_png(fig), name))

    # ------------------------------------------------------------------ rendering
    def to_html(self) -> str:
        parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>"
                 f"{html.escape(self.title)}</title><style>{_CSS}</style></head><body>",
                 f"<h1>{html.escape(self.title)}</h1>"]
        for title, blocks in self.sections:
            if title:
                parts.append(f"<h2>{html.escape(title)}</h2>")
            for b in blocks:
                if b.kind == "text":
                    parts.append(f"<p>{html.escape(str(b.content))}</p>")
                elif b.kind == "verdict":
                    parts.append(f"<p class='verdict'>{html.escape(str(b.content))}</p>")
                elif b.kind == "pre":
                    parts.append(f"<pre>{html.escape(str(b.content))}</pre>")
                elif b.kind == "bullets":
                    items = "".join(f"<li>{html.escape(str(i))}</li>"
                                    for i in cast(list, b.content))
                    parts.append(f"<ul>{items}</ul>")
                elif b.kind == "table":
                    table = cast(pd.DataFrame, b.content)
                    parts.append(table.to_html(index=False, border=0, na_rep=""))
                else:
                    data = base64.b64encode(cast(bytes, b.content)).decode("ascii")
                    parts.append(f"<img alt='{html.escape(b.name)}' "
                                 f"src='data:image/png;base64,{data}'>")
        parts.append("</body></html>")
        return "\n".join(parts)

    def to_markdown(self, image_dir: str | None = None) -> str:
        lines = [f"# {md_text(self.title)}", ""]
        for title, blocks in self.sections:
            if title:
                lines += [f"## {md_text(title)}", ""]
            for b in blocks:
                if b.kind in ("text", "verdict"):
                    prefix = "**Verdict:** " if b.kind == "verdict" else ""
                    lines += [prefix + md_text(b.content), ""]
                elif b.kind == "pre":
                    lines += ["```", str(b.content), "```", ""]
                elif b.kind == "bullets":
                    lines += [*(f"- {md_text(i)}" for i in cast(list, b.content)), ""]
                elif b.kind == "table":
                    lines += [_markdown_table(cast(pd.DataFrame, b.content)), ""]
                elif image_dir is not None:
                    lines += [f"![{b.name}]({image_dir}/{b.name}.png)", ""]
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


def _markdown_table(df: pd.DataFrame) -> str:
    cols = [md_cell(c) for c in df.columns]
    rows = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    rows += ["| " + " | ".join("" if pd.isna(v) else md_cell(v) for v in rec) + " |"
             for rec in df.itertuples(index=False)]
    return "\n".join(rows)
