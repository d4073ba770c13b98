"""``frt decide``: the published success criterion applied to ``frt analyze`` results."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from frt_experiments._commands._args import (
    check_input_file,
    check_not_an_input,
    check_output_file,
)
from frt_experiments._commands._names import TRUST_FILE
from frt_experiments.errors import DataError, Problem

if TYPE_CHECKING:
    import pandas as pd


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "decide",
        help="verdict of the success criterion from results.csv, revenue and staffing savings",
        description="Success if CSAT is not significantly worse (or is non-inferior with a "
        "margin), or if the annual revenue at risk (NRR's relative change and its pessimistic "
        "confidence bound applied to the low-spend revenue) is smaller than the annual staffing "
        "savings. Prints the verdict, the reason and the break-even NRR drop.",
    )
    p.add_argument("--results", type=Path, required=True, metavar="FILE",
                   help=f"results.csv written by `frt analyze`; the {TRUST_FILE} beside it "
                   "carries the diagnostics' trust flags (a sample ratio mismatch or an "
                   "undelivered treatment makes the verdict inconclusive)")
    p.add_argument("--revenue-per-year", type=float, required=True, metavar="AMOUNT",
                   help="annual recurring revenue of the low-spend customers the policy covers")
    p.add_argument("--staffing-savings", type=float, required=True, metavar="AMOUNT",
                   help="annual staffing savings of the slower policy (negative when its "
                   "rollout needs more agents)")
    p.add_argument("--csat-margin", type=float, metavar="REL",
                   help="CSAT relative non-inferiority margin, e.g. -0.02 (default: from --plan, "
                   "else 'not significantly worse')")
    p.add_argument("--plan", type=Path, metavar="FILE", help="experiment plan TOML (margins)")
    p.add_argument("--basis", choices=("ci_bound", "estimate"), default="ci_bound",
                   help="compare savings with the revenue at risk at NRR's pessimistic "
                   "confidence bound (default) or at its estimate")
    p.add_argument("--out", type=Path, metavar="FILE",
                   help="also write the decision as Markdown to FILE")
    p.set_defaults(func=run)


def read_results(path: Path) -> pd.DataFrame:
    """``results.csv`` of ``frt analyze``, or a :class:`DataError` naming the file."""
    import pandas as pd  # noqa: PLC0415 (heavy imports)

    from frt_experiments._outputs import require_manifest  # noqa: PLC0415 (heavy imports)
    name = path.name
    if not path.exists():
        raise DataError([Problem(name, None, f"file not found ({path})")])
    if path.is_dir():
        raise DataError([Problem(name, None, f"is a directory, not a file ({path})")])
    if path.stat().st_size == 0:
        raise DataError([Problem(name, None, "file is empty (expected results.csv of "
                                 "`frt analyze`)")])
    require_manifest([path])  # the results of the set frt analyze wrote beside it
    try:
        table = pd.read_csv(path)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError([Problem(name, None, f"cannot be read as CSV: {msg}")]) from None
    if table.empty:
        raise DataError([Problem(name, None, "file has no rows (expected results.csv of "
                                 "`frt analyze`)")])
    return table


def source_named(problem: Problem, path: Path) -> Problem:
    """A problem of the decision's input (``result``) named after the results file."""
    if problem.source == "result":
        return dataclasses.replace(problem, source=path.name)
    return problem


def check_results(table: pd.DataFrame, path: Path, *, revenue_per_year: float,
                  csat_margin: float | None = None) -> None:
    """Fail early (before a long staffing search) if the results (``table``, read from
    ``path``) or the trust.json beside them cannot be decided on."""
    from frt_experiments.decision import decide  # noqa: PLC0415 (heavy imports)
    try:
        decide(path, low_spend_revenue_per_year=revenue_per_year, annual_staffing_savings=0.0,
               csat_margin=csat_margin)
    except DataError as exc:
        raise DataError([source_named(p, path) for p in exc.problems]) from None


def run(args: argparse.Namespace) -> int:
    from frt_experiments._atomic import write_text_atomic  # noqa: PLC0415 (heavy imports)
    from frt_experiments.decision import decide  # noqa: PLC0415 (heavy imports)
    from frt_experiments.plan import read_plan  # noqa: PLC0415 (heavy imports)
    if args.out is not None:
        check_output_file(args.out, "--out")
        check_not_an_input(args.out, "--out", {"--results": args.results, "--plan": args.plan})
    if args.plan is not None:
        check_input_file(args.plan, "--plan")
    plan = read_plan(args.plan) if args.plan is not None else None
    read_results(args.results)  # errors naming the file
    try:  # the path, so that the trust flags of its trust.json count
        decision = decide(args.results, low_spend_revenue_per_year=args.revenue_per_year,
                          annual_staffing_savings=args.staffing_savings,
                          csat_margin=args.csat_margin, plan=plan, basis=args.basis)
    except DataError as exc:
        raise DataError([source_named(p, args.results) for p in exc.problems]) from None
    except ValueError as exc:
        # name the command-line option rather than the Python argument
        text = str(exc)
        for arg, option in (("low_spend_revenue_per_year", "--revenue-per-year"),
                            ("annual_staffing_savings", "--staffing-savings"),
                            ("csat_margin", "--csat-margin")):
            text = text.replace(arg, option)
        raise ValueError(f"frt decide: {text}") from None
    print(decision.summary())
    if args.out is not None:
        write_text_atomic(args.out, decision.to_markdown())
        print(f"wrote {args.out}")
    return 0

