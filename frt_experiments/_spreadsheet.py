"""Cells a spreadsheet would evaluate, neutralised in files meant for people.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by
Excel, LibreOffice and Google Sheets as a formula (CSV formula injection: ``=HYPERLINK(...)``
in a customer id would run when a support manager opens the file). In files meant to be
opened by people (``frt assign --export-tags``), such a cell is written with a single quote
in front (``'=1+1``), which spreadsheets show as text. Cells that are numbers, negative ones
included (``-5``, ``+1.5e3``), are left as they are. The canonical tables (ledger,
customers, conversations) are data for programs and are never altered.

References:
    OWASP, "CSV Injection" (https://owasp.org/www-community/attacks/CSV_Injection).
"""

from __future__ import annotations

import pandas as pd

#: The first characters that make a spreadsheet evaluate a cell.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"


def neutralise(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with every text cell a spreadsheet would evaluate prefixed by ``'``."""
    out = df.copy()
    for name in out.columns:
        s = out[name]
        if not (pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)):
            continue  # numbers and timestamps are not formulas
        text = s.astype("string")
        risky = (text.str.startswith(FORMULA_STARTS) & ~text.str.fullmatch(_NUMBER)).fillna(
            False).to_numpy(dtype=bool)
        if risky.any():
            out[name] = text.where(~risky, "'" + text)
    return out
