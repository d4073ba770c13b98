"""``frt import zendesk|intercom``: helpdesk exports to canonical tables."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from frt_experiments._commands._args import check_output_dir
from frt_experiments.ingest import import_intercom, import_zendesk
from frt_experiments.ingest._common import BILLING_KEYS, ImportResult


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import",
        help="import a Zendesk or Intercom export as canonical tables",
        description="Import a helpdesk export; writes conversations.csv, and customers.csv "
        "when --billing is given, into --out.",
    )
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
    p.set_defaults(func=_no_helpdesk)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="directory for conversations.csv (and customers.csv)")
    p.add_argument("--billing", type=Path, metavar="FILE",
                   help="CSV of customer_id, monthly_spend, revenue_start, revenue_end")
    p.add_argument("--billing-key", choices=BILLING_KEYS, default="id",
                   help="what the billing customer_id holds (default: the helpdesk id)")
    p.add_argument("--timezone", default="UTC", metavar="ZONE",
                   help="IANA zone of naive timestamps in the export (default UTC)")


def _no_helpdesk(_args: argparse.Namespace) -> int:
    raise ValueError("frt import: name the helpdesk: zendesk or intercom "
                     "(see frt import --help)")


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
