"""``frt import zendesk|intercom|freshdesk|helpscout|calls|csv``: helpdesk exports and call
logs to canonical tables."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from frt_experiments._commands._args import check_output_dir
from frt_experiments._commands._names import BILLING_KEYS, CALL_FIELD_NAMES

if TYPE_CHECKING:
    from frt_experiments.ingest._common import ImportResult

#: Every importer: name, what it reads (printed by frt import --list).
IMPORTERS = (
    ("zendesk", "Zendesk tickets: API JSON (list, JSON lines, search results, one ticket), "
     "the UI/Explore CSV export, or Fivetran warehouse tables"),
    ("intercom", "Intercom conversations: API JSON (list, one conversation, a webhook "
     "notification), a CSV/Excel export, or Fivetran warehouse tables"),
    ("freshdesk", "Freshdesk tickets: API JSON (with stats), optionally conversations and "
     "satisfaction ratings"),
    ("helpscout", "Help Scout conversations: API JSON (with threads), optionally threads and "
     "happiness ratings"),
    ("calls", "a call or chat log, one row per contact: queue entry, answer, hang-up "
     "(abandoned contacts kept as abandoned), talk time"),
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
    f = helpdesks.add_parser(
        "freshdesk", help="Freshdesk tickets (API JSON)",
        description="PATH: a tickets JSON file (GET /api/v2/tickets?include=stats,requester) "
        "or a directory holding tickets.json, conversations.json and "
        "satisfaction_ratings.json.")
    f.add_argument("path", type=Path, metavar="PATH")
    f.add_argument("--conversations", type=Path, metavar="FILE",
                   help="conversations JSON (first replies of tickets without stats)")
    f.add_argument("--satisfaction-ratings", type=Path, metavar="FILE",
                   help="satisfaction ratings JSON (GET /api/v2/surveys/satisfaction_ratings)")
    _common(f)
    f.set_defaults(func=_run_freshdesk)
    h = helpdesks.add_parser(
        "helpscout", help="Help Scout conversations (API JSON)",
        description="PATH: a conversations JSON file (GET /v2/conversations, embed=threads) "
        "or a directory holding conversations.json, conversation_threads.json and "
        "happiness_ratings.json.")
    h.add_argument("path", type=Path, metavar="PATH")
    h.add_argument("--threads", type=Path, metavar="FILE",
                   help="threads JSON with conversation_id (the first staff reply)")
    h.add_argument("--happiness-ratings", type=Path, metavar="FILE",
                   help="happiness ratings JSON (GET /v2/reports/happiness/ratings)")
    _common(h)
    h.set_defaults(func=_run_helpscout)
    k = helpdesks.add_parser(
        "calls", help="a call or chat log (queue entry, answer, hang-up per contact)",
        description="FILE: a CSV (any delimiter, a BOM, UTF-16) or an .xlsx workbook, one row "
        "per call or chat. Columns are found by name (call_id, caller_id, queue_entry, "
        "answered, hung_up, talk_time, ...) or given with --map FIELD=COLUMN. A contact that "
        "hung up before an answer is kept as abandoned (abandoned_at), not as a response.")
    k.add_argument("path", type=Path, metavar="FILE")
    k.add_argument("--map", action="append", default=[], metavar="FIELD=COLUMN", dest="map",
                   help=f"a call log field ({', '.join(CALL_FIELD_NAMES)}) = the log's column, "
                   'e.g. queued_at="Queue Entry" (repeat)')
    k.add_argument("--date-format", metavar="FORMAT",
                   help="strftime layout of the times (default ISO 8601 or epoch seconds)")
    k.add_argument("--delimiter", metavar="CHAR",
                   help="CSV delimiter: a character or tab, comma, semicolon, pipe "
                   "(default detected)")
    k.add_argument("--sheet", metavar="NAME", help="workbook sheet (default the first)")
    _common(k)
    k.set_defaults(func=_run_calls)
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


def _pairs(items: list[str], expected: str) -> dict[str, str]:
    columns = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"--map: expected {expected}, got {item!r}")
        columns[key.strip()] = value.strip().strip('"')
    return columns


def _sheet(sheet: str | None) -> str | int | None:
    return int(sheet) if sheet and sheet.isdigit() else sheet


def _run_csv(args: argparse.Namespace) -> int:
    from frt_experiments.ingest import import_csv  # noqa: PLC0415 (heavy imports)
    check_output_dir(args.out, "--out")
    columns = _pairs(args.map, "COLUMN=EXPORT_COLUMN")
    sheet = _sheet(args.sheet)
    result = import_csv(args.path, columns=columns, mapping=args.mapping,
                        date_format=args.date_format, timezone=args.timezone,
                        delimiter=args.delimiter, sheet=sheet, csat_scale=args.csat_scale,
                        billing=args.billing, billing_key=args.billing_key)
    return _write(result, args.out)


def _run_zendesk(args: argparse.Namespace) -> int:
    from frt_experiments.ingest import import_zendesk  # noqa: PLC0415 (heavy imports)
    check_output_dir(args.out, "--out")
    result = import_zendesk(
        args.path, ticket_metrics=args.ticket_metrics,
        satisfaction_ratings=args.satisfaction_ratings, users=args.users,
        time_field=args.time_field, billing=args.billing, billing_key=args.billing_key,
        timezone=args.timezone)
    return _write(result, args.out)


def _run_intercom(args: argparse.Namespace) -> int:
    from frt_experiments.ingest import import_intercom  # noqa: PLC0415 (heavy imports)
    check_output_dir(args.out, "--out")
    result = import_intercom(args.path, contacts=args.contacts, billing=args.billing,
                             billing_key=args.billing_key, timezone=args.timezone)
    return _write(result, args.out)


def _run_freshdesk(args: argparse.Namespace) -> int:
    from frt_experiments.ingest import import_freshdesk  # noqa: PLC0415 (heavy imports)
    check_output_dir(args.out, "--out")
    result = import_freshdesk(args.path, conversations=args.conversations,
                              satisfaction_ratings=args.satisfaction_ratings,
                              billing=args.billing, billing_key=args.billing_key,
                              timezone=args.timezone)
    return _write(result, args.out)


def _run_helpscout(args: argparse.Namespace) -> int:
    from frt_experiments.ingest import import_helpscout  # noqa: PLC0415 (heavy imports)
    check_output_dir(args.out, "--out")
    result = import_helpscout(args.path, threads=args.threads,
                              happiness_ratings=args.happiness_ratings, billing=args.billing,
                              billing_key=args.billing_key, timezone=args.timezone)
    return _write(result, args.out)


def _run_calls(args: argparse.Namespace) -> int:
    from frt_experiments.ingest import import_calls  # noqa: PLC0415 (heavy imports)
    check_output_dir(args.out, "--out")
    result = import_calls(args.path, columns=_pairs(args.map, "FIELD=COLUMN"),
                          date_format=args.date_format, timezone=args.timezone,
                          delimiter=args.delimiter, sheet=_sheet(args.sheet),
                          billing=args.billing, billing_key=args.billing_key)
    return _write(result, args.out)


def _write(result: ImportResult, out: Path) -> int:
    paths = result.write(out)
    print(result.summary(), file=sys.stdout)
    for path in paths:
        print(f"wrote {path}", file=sys.stdout)
    return 0
