"""Generic importer: any one-row-per-conversation table (CSV in any dialect, or Excel) with a
column mapping, for the helpdesks and call-centre tools that have no importer of their own.

The mapping names, for each canonical column, the export's column that holds it::

    frt import csv tickets.csv --map conversation_id="Ticket ID" --map customer_id="Contact" \\
        --map created_at="Created at" --map first_response_at="First reply at" \\
        --date-format "%d/%m/%Y %H:%M" --timezone Europe/Berlin

or a mapping TOML (``--mapping map.toml``) with a ``[columns]`` table and, optionally, an
``[options]`` table (``date_format``, ``timezone``, ``delimiter``, ``csat_scale``, ``sheet``);
``--map`` and the other options override it. A canonical column whose own name is a column of
the file needs no mapping. ``conversation_id``, ``customer_id`` and ``created_at`` are required;
without ``handle_seconds`` handle time is 0 (noted); ``csat`` needs its scale: a
``csat_scale`` column, the ``csat_scale`` option, or values that are all on one scale.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from frt_experiments import schema
from frt_experiments._limits import read_toml
from frt_experiments.errors import DataError, Problem, ScenarioError, shorten, shown
from frt_experiments.ingest import _common as c

__all__ = ["MAPPABLE", "import_csv", "read_mapping"]

#: Canonical conversation columns a mapping may name.
MAPPABLE = tuple(n for n in schema.CONVERSATIONS.names)
_REQUIRED = (schema.CONVERSATION_ID, schema.CUSTOMER_ID, schema.CREATED_AT)
_TIMESTAMPS = tuple(col.name for col in schema.CONVERSATIONS.columns
                    if col.kind == "timestamp")
_OPTIONS = ("date_format", "timezone", "delimiter", "csat_scale", "sheet")


def read_mapping(path: str | Path) -> tuple[dict[str, str], dict[str, Any]]:
    """The ``[columns]`` and ``[options]`` of a mapping TOML (top-level keys are columns).

    Raises:
        ValueError: unreadable TOML (or not UTF-8, larger than 1 MB, nested deeper than 64
            levels: :mod:`frt_experiments._limits`), an unknown canonical column or option,
            naming the file.
    """
    p = Path(path)
    try:
        data = read_toml(p, what="column mapping")
    except ScenarioError as exc:  # not UTF-8, not TOML, too large or nested too deep
        raise ValueError(f"mapping {exc}") from None
    except OSError as exc:
        raise ValueError(f"mapping {p.name}: cannot be read: {exc}") from exc
    options = data.pop("options", {})
    columns = data.pop("columns", {})
    columns = {**{k: v for k, v in data.items() if not isinstance(v, dict)}, **columns}
    unknown = [k for k in options if k not in _OPTIONS]
    if unknown:
        raise ValueError(f"mapping {p.name}: unknown option {shown(unknown[0])} (options: "
                         f"{', '.join(_OPTIONS)})")
    bad = [k for k, v in columns.items() if not isinstance(v, str)]
    if bad:
        raise ValueError(f"mapping {p.name}: column {shown(bad[0])} must name an export column "
                         "as text")
    return dict(columns), dict(options)


def import_csv(
    path: str | Path,
    *,
    columns: Mapping[str, str] | None = None,
    mapping: str | Path | None = None,
    date_format: str | None = None,
    timezone: str | None = None,
    delimiter: str | None = None,
    sheet: str | int | None = None,
    csat_scale: str | None = None,
    billing: str | Path | pd.DataFrame | None = None,
    billing_key: str = "id",
) -> c.ImportResult:
    """Import a one-row-per-conversation table through a column mapping.

    Args:
        path: A CSV (any delimiter, BOM, UTF-16) or an Excel workbook.
        columns: Canonical column -> export column (e.g. ``{"created_at": "Created at"}``).
        mapping: A mapping TOML (``[columns]``, ``[options]``); ``columns`` and the other
            arguments override it.
        date_format: ``strftime`` layout of the timestamps (default ISO 8601 or epoch seconds).
        timezone: Zone of naive timestamps (default UTC, noted).
        delimiter: CSV delimiter (default detected).
        sheet: Workbook sheet (default the first).
        csat_scale: ``"1-5"`` or ``"good-bad"`` when the file has no ``csat_scale`` column.
        billing, billing_key: As for :func:`~frt_experiments.import_zendesk` (only ``"id"``).

    Returns:
        ImportResult with ``.conversations`` and ``.customers`` (``None`` without billing).

    Raises:
        DataError: the file, a mapped column or a value is missing or unreadable, naming the
            file, the column and the lines.
        ValueError: an unknown canonical column, option or scale.

    Examples:
        >>> from frt_experiments import import_csv
        >>> result = import_csv("tickets.csv", columns={"created_at": "Created at"})
        ... # doctest: +SKIP
    """
    file_columns: dict[str, str] = {}
    options: dict[str, Any] = {}
    if mapping is not None:
        file_columns, options = read_mapping(mapping)
    cols = {**file_columns, **(dict(columns) if columns else {})}
    unknown = [k for k in cols if k not in MAPPABLE]
    if unknown:
        raise ValueError(f"columns: {shown(unknown[0])} is not a canonical conversations column "
                         f"(one of {', '.join(MAPPABLE)})")
    date_format = date_format if date_format is not None else options.get("date_format")
    timezone = timezone if timezone is not None else options.get("timezone", "UTC")
    delimiter = delimiter if delimiter is not None else options.get("delimiter")
    sheet = sheet if sheet is not None else options.get("sheet")
    csat_scale = csat_scale if csat_scale is not None else options.get("csat_scale")
    if csat_scale is not None and csat_scale not in schema.CSAT_SCALES:
        raise ValueError(f"csat_scale: expected one of {', '.join(schema.CSAT_SCALES)}, got "
                         f"{shown(csat_scale)}")
    schema.check_timezone(str(timezone))
    tz = str(timezone)
    p = Path(path)
    with c.collecting_notes(tz) as extra:
        if not p.is_file():
            raise c.missing_file(p, "export")
        table = c._read.read_tabular(p, what="export", delimiter=delimiter, sheet=sheet)
        for text in table.notes:
            c.note(text)
        conv, notes = _convert(table.frame, p.name, cols, date_format=date_format,
                               timezone=tz, csat_scale=csat_scale)
    return c.finish(conv, origin=Path(path).name,
                    source=f"csv ({p.name})", notes=(*notes, *extra), billing=billing,
                    billing_key=billing_key, people=None)


def _convert(
    df: pd.DataFrame, name: str, cols: dict[str, str], *, date_format: str | None,
    timezone: str, csat_scale: str | None,
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    source = {canon: cols.get(canon, canon) for canon in MAPPABLE}
    missing_mapped = [(k, v) for k, v in cols.items() if v not in df.columns]
    if missing_mapped:
        listed = shorten(", ".join(repr(x) for x in list(df.columns)[:15]), 300)
        raise DataError([Problem(name, v, f"missing: mapped to {k} but not a column of the "
                                 f"file (columns: {listed})") for k, v in missing_mapped])
    lacking = [k for k in _REQUIRED if source[k] not in df.columns]
    if lacking:
        raise DataError([Problem(name, k, f"not mapped: give --map {k}=\"<column>\" (or a "
                                 "[columns] entry in --mapping)") for k in lacking])
    present = {k: v for k, v in source.items() if v in df.columns}
    out: dict[str, pd.Series] = {}
    for canon, col in present.items():
        s = df[col]
        if canon in _TIMESTAMPS:
            out[canon] = c.timestamps(s, source=name, name=col, timezone=timezone,
                                      date_format=date_format)
        elif canon in (schema.CONVERSATION_ID, schema.CUSTOMER_ID):
            out[canon] = c.ids(s)
        elif canon in (schema.HANDLE_SECONDS, schema.FIRST_RESPONSE_BUSINESS_SECONDS):
            out[canon] = c.numbers(s, source=name, name=col, what="numbers of seconds")
        else:
            out[canon] = s.astype("string").str.strip().replace("", pd.NA)
    notes: list[str] = []
    if schema.FIRST_RESPONSE_AT not in out:
        out[schema.FIRST_RESPONSE_AT] = pd.Series(pd.NaT, index=df.index,
                                                  dtype="datetime64[ns, UTC]")
        notes.append("no first_response_at column mapped: first_response_at is empty")
    if schema.HANDLE_SECONDS in out and out[schema.HANDLE_SECONDS].isna().any():
        n = int(out[schema.HANDLE_SECONDS].isna().sum())
        out[schema.HANDLE_SECONDS] = out[schema.HANDLE_SECONDS].fillna(0.0)
        notes.append(f"handle_seconds is 0 where {present[schema.HANDLE_SECONDS]!r} is empty "
                     f"({c._count(n, 'conversation')})")
    if schema.HANDLE_SECONDS not in out:
        out[schema.HANDLE_SECONDS] = pd.Series(0.0, index=df.index)
        notes.append("handle_seconds is 0: no handle time column mapped; the efficiency "
                     "metric needs one")
    rating = out.get(schema.CSAT, pd.Series(pd.NA, index=df.index, dtype="string"))
    out[schema.CSAT] = rating.str.lower()
    if schema.CSAT_SCALE not in out:
        scale = csat_scale or _infer_scale(out[schema.CSAT], name, present.get(schema.CSAT))
        out[schema.CSAT_SCALE] = pd.Series(scale, index=df.index, dtype="string").where(
            out[schema.CSAT].notna())
    return c.conversations_frame(**out), tuple(notes)


def _infer_scale(rating: pd.Series, name: str, column: str | None) -> str | None:
    values = rating.dropna()
    if values.empty:
        return None
    num = pd.to_numeric(values, errors="coerce")
    if num.notna().all() and np.isin(num, [1, 2, 3, 4, 5]).all():
        return schema.SCALE_1_5
    if values.isin(schema.RATINGS_GOOD_BAD).all():
        return schema.SCALE_GOOD_BAD
    raise DataError([Problem(name, column, "ratings on no known scale: map a csat_scale "
                             "column or give --csat-scale 1-5|good-bad (and recode the "
                             "ratings to 1-5 or good/bad)")])
