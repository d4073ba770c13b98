"""``frt import zendesk|intercom|csv``: helpdesk exports to canonical tables."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from frt_experiments._commands._args import check_output_dir
from frt_experiments.ingest import import_csv, import_intercom, import_zendesk
from frt_experiments.ingest._common import BILLING_KEYS, ImportResult

#: Every importer: name, what it reads (printed by frt import --list).
IMPORTERS = (
    ("zendesk", "Zendesk tickets: API JSON (list, JSON lines, search results, one ticket), "
     "the UI/Explore CSV export, or Fivetran warehouse tables"),
    ("intercom", "Intercom conversations: API JSON (list, one conversation, a webhook "
     "notification), a CSV/Excel export, or Fivetran warehouse tables"),
    ("csv", "any one-row-per-conversation CSV or Excel sheet, through a column mapping "
     "(--map, --mapping)"),
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import",
        help="import a helpdesk export (Zendesk, Intercom, any CSV) as canonical tables",
        description="Import a helpdesk export; writes conversations.csv, and customers.csv "
        "when --billing is given, into --out.",
    )
    p.add_argument("--list", action="store_true", dest="list_importers",
                   help="name every importer and what it reads")
    helpdesks = p.add_subparsers(dest="helpdesk", metavar="HELPDESK",
                                 parser_class=type(p))
    z = helpdesks.add_parser(
        "zendesk", help="Zendesk tickets (API JSON or Fivetran warehouse tables)",
        description="PATH: a warehouse directory (ticket_data.csv, ...), a directory of API "
        "JSON files (tickets.json, ticket_metrics.json, ...) or a tickets JSON file.")
    z.add_argument("path", type=Path, metavar="PATH")
    z.add_argument("--ticket-metrics", type=Path, metavar="FILE")
    z.add_argument("--satisfaction-ratings", type=Path, metavar="FILE")
    z.add_argument("--users", type=Path, metavar="FILE")
    z.add_argument("--time-field", metavar="ID",
                   help="custom ticket field holding agent time in seconds")
    _common(z)
    z.set_defaults(func=_run_zendesk)
    i = helpdesks.add_parser(
        "intercom", help="Intercom conversations (API JSON, CSV export or warehouse tables)",
        description="PATH: a warehouse directory (conversation_history_data.csv, ...), an API "
        "JSON file or a CSV export.")
    i.add_argument("path", type=Path, metavar="PATH")
    i.add_argument("--contacts", type=Path, metavar="FILE",
                   help="contacts JSON (for --billing-key email with API JSON)")
    _common(i)
    i.set_defaults(func=_run_intercom)
    g = helpdesks.add_parser(
        "csv", help="any one-row-per-conversation CSV or Excel sheet, with a column mapping",
        description="FILE: a CSV (any delimiter, a BOM, UTF-16) or an .xlsx workbook, one row "
        "per conversation. Map canonical columns to the file's with --map (repeat) or a "
        "--mapping TOML ([columns] and [options]); canonical names present in the file need "
        "no mapping.")
    g.add_argument("path", type=Path, metavar="FILE")
    g.add_argument("--map", action="append", default=[], metavar="COLUMN=EXPORT_COLUMN",
                   dest="map", help="canonical column = the export's column, e.g. "
                   'created_at="Created at" (repeat)')
    g.add_argument("--mapping", type=Path, metavar="MAP.toml",
                   help="mapping TOML: [columns] canonical = export column; [options] "
                   "date_format, timezone, delimiter, csat_scale, sheet")
    g.add_argument("--date-format", metavar="FORMAT",
                   help="strftime layout of the timestamps, e.g. '%%d/%%m/%%Y %%H:%%M' "
                   "(default ISO 8601 or epoch seconds)")
    g.add_argument("--delimiter", metavar="CHAR",
                   help="CSV delimiter: a character or tab, comma, semicolon, pipe "
                   "(default detected)")
    g.add_argument("--sheet", metavar="NAME", help="workbook sheet (default the first)")
    g.add_argument("--csat-scale", choices=("1-5", "good-bad"),
                   help="scale of the csat column when the file has no csat_scale column")
    _common(g, timezone_default=None)
    g.set_defaults(func=_run_csv)
    p.set_defaults(func=_no_helpdesk)


def _common(p: argparse.ArgumentParser, *, timezone_default: str | None = "UTC") -> None:
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="directory for conversations.csv (and customers.csv)")
    p.add_argument("--billing", type=Path, metavar="FILE",
                   help="CSV of customer_id, monthly_spend, revenue_start, revenue_end")
    p.add_argument("--billing-key", choices=BILLING_KEYS, default="id",
                   help="what the billing customer_id holds (default: the helpdesk id)")
    p.add_argument("--timezone", default=timezone_default, metavar="ZONE",
                   help="IANA zone of naive timestamps in the export (default UTC)")


def _no_helpdesk(args: argparse.Namespace) -> int:
    if args.list_importers:
        width = max(len(name) for name, _ in IMPORTERS)
        for name, what in IMPORTERS:
            print(f"{name:<{width}}  {what}", file=sys.stdout)
        return 0
    raise ValueError("frt import: name the importer: "
                     f"{', '.join(name for name, _ in IMPORTERS)} (see frt import --list)")


def _run_csv(args: argparse.Namespace) -> int:
    check_output_dir(args.out, "--out")
    columns = {}
    for item in args.map:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"--map: expected COLUMN=EXPORT_COLUMN, got {item!r}")
        columns[key.strip()] = value.strip().strip('"')
    sheet: str | int | None = int(args.sheet) if args.sheet and args.sheet.isdigit() \
        else args.sheet
    result = import_csv(args.path, columns=columns, mapping=args.mapping,
                        date_format=args.date_format, timezone=args.timezone,
                        delimiter=args.delimiter, sheet=sheet, csat_scale=args.csat_scale,
                        billing=args.billing, billing_key=args.billing_key)
    return _write(result, args.out)


def _run_zendesk(args: argparse.Namespace) -> int:
    check_output_dir(args.out, "--out")
    result = import_zendesk(
        args.path, ticket_metrics=args.ticket_metrics,
        satisfaction_ratings=args.satisfaction_ratings, users=args.users,
        time_field=args.time_field, billing=args.billing, billing_key=args.billing_key,
        timezone=args.timezone)
    return _write(result, args.out)


def _run_intercom(args: argparse.Namespace) -> int:
    check_output_dir(args.out, "--out")
    result = import_intercom(args.path, contacts=args.contacts, billing=args.billing,
                             billing_key=args.billing_key, timezone=args.timezone)
    return _write(result, args.out)


def _write(result: ImportResult, out: Path) -> int:
    paths = result.write(out)
    print(result.summary(), file=sys.stdout)
    for path in paths:
        print(f"wrote {path}", file=sys.stdout)
    return 0
