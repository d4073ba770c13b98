"""``frt validate``: check canonical tables and their cross-references."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from frt_experiments._commands._source import add_source_options, engine_tables, wants_engine
from frt_experiments.errors import DataError, Problem

if TYPE_CHECKING:
    import pandas as pd

    from frt_experiments._stream import Scan


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate",
        help="check canonical tables (CSV or Parquet) and their cross-references",
        description="Check any of the canonical tables and their cross-references. Prints every "
        "problem found; exits 0 when the tables are valid, 2 when not.",
    )
    p.add_argument("--customers", type=Path, metavar="FILE|TABLE")
    p.add_argument("--conversations", type=Path, metavar="FILE|TABLE")
    p.add_argument("--assignments", type=Path, metavar="FILE|TABLE")
    add_source_options(p)
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
    from frt_experiments._outputs import check_manifest  # noqa: PLC0415 (heavy imports)
    from frt_experiments._stream import scan_table, unknown  # noqa: PLC0415 (heavy imports)
    from frt_experiments.schema import (  # noqa: PLC0415 (heavy imports)
        CUSTOMER_ID,
        UNKNOWN_CUSTOMERS_RULE,
        _Collector,
    )
    paths = {k: getattr(args, k) for k in ("customers", "conversations", "assignments")}
    if not any(paths.values()) and not args.layout:
        raise ValueError("frt validate: give at least one of --customers, --conversations, "
                         "--assignments")
    window = _window(args.window_start, args.window_end)
    if wants_engine(args):
        return _run_in_engine(args, window)
    # files of an output set (frt simulate's) must be the set its manifest lists
    problems: list[Problem] = list(check_manifest(paths.values()))
    scans: dict[str, Scan] = {}
    for table, path in paths.items():
        if path is None:
            continue
        try:  # batch by batch: memory bounded whatever the file's size
            scan = scan_table(path, table, timezone=args.timezone,
                              window=window if table == "conversations" else None)
        except DataError as exc:
            problems.extend(exc.problems)
            continue
        scans[table] = scan
        problems.extend(scan.problems)
    names = {k: v.name for k, v in paths.items() if v is not None}
    known = scans["customers"].customer_ids if "customers" in scans else None
    if known is not None:
        for table in ("conversations", "assignments"):
            ids = scans[table].customer_ids if table in scans else None
            if ids is None:
                continue
            bag = _Collector(names[table], csv_lines=scans[table].csv)
            bag.rows(CUSTOMER_ID, unknown(ids, known),
                     UNKNOWN_CUSTOMERS_RULE.format(customers=names["customers"]))
            problems.extend(bag.problems)
    if problems:
        raise DataError(problems)
    for table, scan in scans.items():  # all valid here
        print(f"{names[table]}: {scan.rows:,} {table} ok", file=sys.stdout)
    return 0


def _run_in_engine(args: argparse.Namespace,
                   window: tuple[pd.Timestamp, pd.Timestamp] | None) -> int:
    """The tables' rules counted where the tables live (engine.checks): one query per table,
    a few more naming offending rows by their ids."""
    from frt_experiments._outputs import check_manifest  # noqa: PLC0415 (heavy imports)
    from frt_experiments.engine import execute  # noqa: PLC0415
    from frt_experiments.engine.checks import check_tables  # noqa: PLC0415

    if window is not None:
        raise ValueError("--window-start/--window-end: not checked in an engine yet; run "
                         "frt validate on the files")
    problems: list[Problem] = list(check_manifest(
        [p for p in (args.customers, args.conversations, args.assignments)
         if p is not None and p.is_file()]))
    tables, where = engine_tables(args, required=())
    try:
        check_tables(**tables)
    except DataError as exc:
        problems.extend(exc.problems)
    if problems:
        raise DataError(problems)
    for table, t in tables.items():
        print(f"{table} ({where}): {int(execute(t.count())):,} rows ok", file=sys.stdout)
    return 0


def _window(start: str | None, end: str | None) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The analysis window from --window-start/--window-end (an open end is unbounded)."""
    import pandas as pd  # noqa: PLC0415 (heavy imports)
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
