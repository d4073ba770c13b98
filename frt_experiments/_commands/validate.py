"""``frt validate``: check canonical tables and their cross-references."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from frt_experiments.errors import DataError, Problem
from frt_experiments.schema import CUSTOMER_ID, check_tables, read_table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate",
        help="check canonical tables (CSV or Parquet) and their cross-references",
        description="Check any of the canonical tables and their cross-references. Prints every "
        "problem found; exits 0 when the tables are valid, 2 when not.",
    )
    p.add_argument("--customers", type=Path, metavar="FILE")
    p.add_argument("--conversations", type=Path, metavar="FILE")
    p.add_argument("--assignments", type=Path, metavar="FILE")
    p.add_argument("--timezone", metavar="ZONE",
                   help="IANA zone of naive timestamps (default: naive timestamps are errors)")
    p.add_argument("--window-start", metavar="TIMESTAMP",
                   help="start of the analysis window (ISO 8601 with offset): warn about "
                   "conversations created before it")
    p.add_argument("--window-end", metavar="TIMESTAMP",
                   help="end of the analysis window (ISO 8601 with offset): warn about "
                   "conversations created at or after it")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    paths = {k: getattr(args, k) for k in ("customers", "conversations", "assignments")}
    if not any(paths.values()):
        raise ValueError("frt validate: give at least one of --customers, --conversations, "
                         "--assignments")
    window = _window(args.window_start, args.window_end)
    problems: list[Problem] = []
    tables = {}
    for table, path in paths.items():
        if path is None:
            continue
        try:
            tables[table] = read_table(path, table, timezone=args.timezone)
        except DataError as exc:
            problems.extend(exc.problems)
            ids = _raw_ids(path)
            if ids is not None:
                tables[table] = ids
    names = {k: v.name for k, v in paths.items() if v is not None}
    problems.extend(check_tables(tables.get("customers"), tables.get("conversations"),
                                 tables.get("assignments"), names=names,
                                 window=window if "conversations" in tables else None))
    if problems:
        raise DataError(problems)
    for table, df in tables.items():  # all valid here
        print(f"{names[table]}: {len(df):,} {table} ok", file=sys.stdout)
    return 0


def _window(start: str | None, end: str | None) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The analysis window from --window-start/--window-end (an open end is unbounded)."""
    if start is None and end is None:
        return None
    bounds = []
    for option, text, default in (("--window-start", start, pd.Timestamp.min),
                                  ("--window-end", end, pd.Timestamp.max)):
        if text is None:
            bounds.append(default.tz_localize("UTC"))
            continue
        try:
            ts = pd.Timestamp(text)
        except ValueError:
            raise ValueError(f"{option}: cannot read {text!r} as an ISO 8601 timestamp") from None
        if ts.tzinfo is None:
            raise ValueError(f"{option}: {text!r} has no UTC offset (e.g. "
                             "2025-01-06T00:00:00+00:00)")
        bounds.append(ts)
    if not bounds[0] < bounds[1]:
        raise ValueError(f"--window-start ({start}) must be before --window-end ({end})")
    return bounds[0], bounds[1]


def _raw_ids(path: Path) -> pd.DataFrame | None:
    """The raw customer_id column of a table that failed validation, for cross-checks."""
    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path, columns=[CUSTOMER_ID]).astype({CUSTOMER_ID: "string"})
        return pd.read_csv(path, usecols=[CUSTOMER_ID], dtype="string", keep_default_na=False)
    except (ValueError, OSError, KeyError):
        return None
