"""``frt validate``: check canonical tables and their cross-references."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from frt_experiments._outputs import check_manifest
from frt_experiments._stream import Scan, scan_table, unknown
from frt_experiments.errors import DataError, Problem
from frt_experiments.schema import CUSTOMER_ID, UNKNOWN_CUSTOMERS_RULE, _Collector


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
