"""``--source``, ``--engine`` and ``--layout``: the canonical tables where the data live.

Without them, ``--customers``, ``--conversations`` and ``--assignments`` are files read into
memory (today's path). With ``--source URL`` they name tables of that engine (``table`` or
``schema.table``; a value naming an existing file is read from the file instead, so an
assignments ledger on disk can meet conversations in the warehouse); with ``--engine duckdb``
and no ``--source`` the files are read by an embedded DuckDB (Parquet directly, CSV through the
in-memory reader); with ``--layout`` the conversations (and, with ``--billing``, the
customers) are the canonical views over a helpdesk's Fivetran tables in ``--schema``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ENGINES = ("pandas", "duckdb")
_NAMES = ("customers", "conversations", "assignments")


def add_source_options(p: argparse.ArgumentParser) -> None:
    """The options naming where the tables live."""
    p.add_argument("--source", metavar="URL",
                   help="an engine holding the tables, which --customers, --conversations and "
                   "--assignments then name (table or schema.table; a path to an existing file "
                   "is read from the file): duckdb://trial.duckdb (relative; duckdb:///abs/path"
                   " for an absolute path), postgresql://USER@HOST/DB, "
                   "spark://local[2], spark://HOST:7077, sc://HOST:15002. The analysis runs "
                   "there; only per-customer and per-arm figures come back")
    p.add_argument("--engine", choices=ENGINES, default=None,
                   help="pandas (default for files): read the files into memory; duckdb: "
                   "let an embedded DuckDB read them (Parquet directly) and run the analysis "
                   "there (the default with --source or --layout)")
    p.add_argument("--layout", metavar="LAYOUT",
                   help="the conversations (and with --billing the customers) are the "
                   "canonical views over a helpdesk's warehouse tables in --schema: "
                   "zendesk-fivetran or intercom-fivetran (no export step)")
    p.add_argument("--schema", metavar="NAME",
                   help="the schema the helpdesk's connector writes to (with --layout)")
    p.add_argument("--billing", metavar="FILE|TABLE",
                   help="with --layout: billing per customer (customer_id, monthly_spend, "
                   "revenue_start, revenue_end), a CSV file or a table of --source; the "
                   "customers table is then built from it")
    p.add_argument("--billing-key", choices=("id", "email", "external_id"), default="id",
                   help="with --layout and --billing: what billing customer_id holds")


def wants_engine(args: argparse.Namespace) -> bool:
    """Whether the tables are to be read and analysed by an engine."""
    if args.engine == "pandas" and (args.source or args.layout):
        raise ValueError("--engine pandas: --source and --layout run in an engine; leave out "
                         "--engine or give --engine duckdb")
    for option in ("schema", "billing"):
        if getattr(args, option) is not None and not args.layout:
            raise ValueError(f"--{option.replace('_', '-')} needs --layout")
    return bool(args.source or args.layout or args.engine == "duckdb")


def engine_tables(args: argparse.Namespace, *, required: tuple[str, ...] = _NAMES
                  ) -> tuple[dict[str, Any], str]:
    """The tables named by the options as Ibis tables of one engine, and a description of
    where they are (for messages and the report).

    Raises:
        ValueError: A required table is not named, or options that do not go together.
        DataError: A table that does not exist (listing those that do), a layout's missing
            table or column, a file breaking its rules.
        EngineConnectionError: The engine cannot be reached.
    """
    from frt_experiments.engine.connect import connect, redact, table  # noqa: PLC0415

    if args.source:
        _existing_duckdb_file(args.source)
    con = connect(args.source) if args.source else connect("duckdb://")
    where = redact(args.source) if args.source else "an embedded DuckDB"
    if getattr(con, "name", "") == "duckdb" and sys.stdout.isatty() and sys.stderr.isatty():
        # DuckDB draws its own progress bar for queries longer than two seconds
        con.raw_sql("SET enable_progress_bar = true; SET enable_progress_bar_print = true")
    out: dict[str, Any] = {}
    if args.layout:
        from frt_experiments.engine.layouts import canonical_tables  # noqa: PLC0415

        if args.conversations is not None:
            raise ValueError("--layout gives the conversations: leave out --conversations")
        billing: Any = None
        if args.billing is not None:
            billing = (Path(args.billing) if Path(args.billing).is_file()
                       else table(con, args.billing))
            if getattr(args, "customers", None) is not None:
                raise ValueError("--billing builds the customers: leave out --customers")
        views = canonical_tables(con, args.layout, schema=args.schema,
                                 timezone=args.timezone or "UTC", billing=billing,
                                 billing_key=args.billing_key)
        out.update(views)
        where += f" ({args.layout} tables" + (f" in schema {args.schema})" if args.schema
                                              else ")")
    for name in _NAMES:
        value = getattr(args, name, None)
        if value is None or name in out:
            continue
        out[name] = _one_table(con, name, value, args, on_source=bool(args.source))
    missing = [n for n in required if n not in out]
    if missing:
        raise ValueError(f"give --{missing[0]} (a table of --source or a file)")
    return out, where


def _existing_duckdb_file(url: str) -> None:
    """Refuse a ``duckdb://`` URL naming a database file that does not exist (DuckDB would
    create an empty one, and the tables would be reported missing)."""
    if not url.startswith("duckdb://"):
        return
    rest = url[len("duckdb://"):].split("?", 1)[0]
    if rest and rest != ":memory:" and not Path(rest).is_file():
        raise ValueError(f"--source {url}: no DuckDB database file {rest} (duckdb://NAME is "
                         "relative to the working directory, duckdb:///PATH absolute)")


def _one_table(con: Any, name: str, value: Any, args: argparse.Namespace, *,
               on_source: bool) -> Any:
    """A table of ``con`` by name, or a file: Parquet read by DuckDB itself, CSV (and Parquet
    for other engines) read and checked in memory, then sent to the engine."""
    import ibis  # noqa: PLC0415

    from frt_experiments.engine.connect import table  # noqa: PLC0415
    from frt_experiments.schema import read_table  # noqa: PLC0415

    path = Path(value)
    if on_source and not path.is_file():
        if args.timezone is not None and name != "customers":
            raise ValueError("--timezone applies to files only: the timestamps of tables of "
                             "--source must carry their zone (TIMESTAMP WITH TIME ZONE, or "
                             "text with an offset)")
        return table(con, str(value))
    duckdb = getattr(con, "name", "") == "duckdb"
    if duckdb and path.suffix.lower() == ".parquet" and path.is_file() and args.timezone is None:
        return con.read_parquet(path)  # read by DuckDB itself (with --timezone: in memory)
    timezone = None if name == "customers" else args.timezone
    frame = read_table(path, name, **({} if timezone is None else {"timezone": timezone}))
    return ibis.memtable(frame)
