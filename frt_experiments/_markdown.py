"""Text made safe for the Markdown files people open (summary.md, report.md, decision.md).

Arm, metric and scenario names come from data and files: a name such as ``<b>x</b>|y`` must
show as written, not become HTML in a Markdown viewer or break a table. Markup characters are
HTML-escaped (``&``, ``<``, ``>``) and a table cell's pipe is escaped.
"""

from __future__ import annotations

import html

__all__ = ["md_cell", "md_text"]


def md_text(text: object) -> str:
    """``text`` with ``&``, ``<`` and ``>`` escaped, so no name renders as HTML.

    Examples:
        >>> md_text("<b>fast</b>")
        '&lt;b&gt;fast&lt;/b&gt;'
    """
    return html.escape(str(text), quote=False)


def md_cell(text: object) -> str:
    """:func:`md_text` for a table cell: its pipes escaped too, and no line breaks.

    Examples:
        >>> md_cell("a|b")
        'a\\\\|b'
    """
    return md_text(text).replace("|", "\\|").replace("\r", " ").replace("\n", " ")
