"""``frt rollout``: the rollout's predicted effect over slow-arm targets and the target that pays
most -> rollout_frontier.csv, rollout_frontier.md and rollout_frontier.png."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from frt_experiments._commands._args import (
    add_calendar_options,
    check_input_file,
    check_output_dir,
    desk_calendar,
    seed,
    write_table_set,
)
from frt_experiments._commands._names import CONTROL_ARM
from frt_experiments.errors import DataError

#: Every file frt rollout writes into --out.
OUTPUTS = ("rollout_frontier.csv", "rollout_frontier.md", "rollout_frontier.png")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rollout",
        help="the rollout's predicted effect at each slow-arm target, and the target that "
        "pays most",
        description="Predict the rollout's change of CSAT, questions and NRR at each slow-arm "
        "target: the trial's dose-response (CSAT, questions and NRR per unit of log(1 + "
        "business hours), instrumented by the arms) times the low-spend customers' dose change "
        "between everyone fast and the rollout, both simulated on the desk from the trial's "
        "arrivals at their headcounts (planned by the staffing model at each target, or given). "
        "Net benefit = staffing savings minus revenue at risk (predicted NRR relative change x "
        "--revenue-per-year); the recommended target is the one of largest net benefit among "
        "those where CSAT passes --csat-margin: by default at its estimate (the best target in "
        "expectation), with a caution when non-inferiority is not shown there (the lower 95% "
        "bound at or below the margin); --csat-basis ci_bound recommends only targets where it "
        "is shown. Writes rollout_frontier.csv, "
        "rollout_frontier.md, rollout_frontier.png and manifest.json to --out, all made "
        "visible together.",
    )
    p.add_argument("--customers", type=Path, required=True, metavar="FILE")
    p.add_argument("--conversations", type=Path, required=True, metavar="FILE")
    p.add_argument("--assignments", type=Path, required=True, metavar="FILE")
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help=f"output directory ({', '.join(OUTPUTS)}, manifest.json)")
    p.add_argument("--revenue-per-year", type=float, required=True, metavar="AMOUNT",
                   help="annual recurring revenue of the low-spend customers")
    p.add_argument("--targets", default="4h,8h,16h,one_business_day,two_business_days",
                   metavar="T,T,...", help="slow-arm targets: policy names such as 8h or "
                   "one_business_day (default 4h,8h,16h,one_business_day,two_business_days)")
    p.add_argument("--cost-per-agent", type=float, default=65_000.0, metavar="AMOUNT",
                   help="loaded annual cost of an agent on duty through the open hours "
                   "(default 65000)")
    p.add_argument("--csat-margin", type=float, default=-0.02, metavar="REL",
                   help="relative non-inferiority margin of CSAT (default -0.02)")
    p.add_argument("--csat-basis", choices=("estimate", "ci_bound"), default="estimate",
                   help="CSAT passes when the estimate (default: the best target in "
                   "expectation; a caution says when non-inferiority is not shown at the "
                   "recommended target) or the lower 95%% bound (ci_bound: the conservative "
                   "choice, a non-inferiority test) of its predicted relative change lies above "
                   "the margin")
    p.add_argument("--headcount", type=int, metavar="N",
                   help="agents of everyone fast (with --rollout-headcounts; default planned)")
    p.add_argument("--rollout-headcounts", metavar="T=N,...",
                   help="agents of the rollout at each target, e.g. 8h=26,16h=22")
    p.add_argument("--policy", action="append", default=[], metavar="ARM=NAME",
                   help="an arm's FRT policy (default fast=4h, one_business_day="
                   "one_business_day)")
    p.add_argument("--control", default=CONTROL_ARM, metavar="ARM")
    p.add_argument("--treatment", metavar="ARM",
                   help="the arm whose policy is rolled out (default the only slow arm)")
    p.add_argument("--dose-response", type=Path, metavar="FILE",
                   help="dose_response.csv of frt dose-response on these tables: checked to "
                   "be on this desk's calendar (the estimates are recomputed from the tables)")
    p.add_argument("--replications", type=int, default=20, metavar="N",
                   help="desk replications per world (default 20)")
    p.add_argument("--weeks", type=float, default=4.0,
                   help="simulated weeks per staffing plan (default 4)")
    p.add_argument("--seed", type=seed, default=0, metavar="N")
    p.add_argument("--timezone", metavar="ZONE",
                   help="time zone of naive timestamps in the files (default: refuse them)")
    add_calendar_options(p, purpose="on which the dose and the desk run")
    p.set_defaults(func=run)


def _pairs(text: str, flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"{flag} {text!r}: expected NAME=VALUE,..., e.g. 8h=26,16h=22")
        out[key.strip()] = value.strip()
    return out


def _headcounts(text: str | None) -> dict[str, int] | None:
    if text is None:
        return None
    out = {}
    for key, value in _pairs(text, "--rollout-headcounts").items():
        try:
            out[key] = int(value)
        except ValueError:
            raise ValueError(f"--rollout-headcounts: {key}={value!r} is not a whole number of "
                             "agents") from None
    return out


def _check_dose_file(path: Path, result: object) -> None:
    """The arm doses of --dose-response must be these tables' on this calendar."""
    import pandas as pd  # noqa: PLC0415 (heavy imports)
    table = pd.read_csv(path)
    if not {"row", "arm", "dose"} <= set(table.columns):
        raise ValueError(f"--dose-response: {path.name} is not a dose_response.csv of frt "
                         "dose-response (columns row, arm, dose)")
    theirs = table[table["row"] == "arm"].drop_duplicates("arm").set_index("arm")["dose"]
    first = next(iter(result.outcomes.values()))  # type: ignore[attr-defined]
    mine = first.arms.set_index("arm")["dose"]
    for arm, dose in mine.items():
        if arm not in theirs.index or abs(float(theirs[arm]) - float(dose)) > 1e-6 * max(
                1.0, abs(float(dose))):
            shown = f"{float(theirs[arm]):.6g}" if arm in theirs.index else "no row"
            raise ValueError(f"--dose-response: arm {arm!r} has dose {shown} in {path.name} "
                             f"but {float(dose):.6g} in these tables on this desk's calendar: "
                             "it was estimated on another calendar (or other tables); run frt "
                             "dose-response with the same calendar options")


def run(args: argparse.Namespace) -> int:
    import pandas as pd  # noqa: PLC0415 (heavy imports)

    from frt_experiments import schema  # noqa: PLC0415 (heavy imports)
    from frt_experiments._outputs import require_manifest  # noqa: PLC0415 (heavy imports)
    from frt_experiments.dose_response import dose_response  # noqa: PLC0415 (heavy imports)
    from frt_experiments.rollout import rollout_frontier  # noqa: PLC0415
    from frt_experiments.schema import check_tables, read_table  # noqa: PLC0415

    check_output_dir(args.out, "--out")
    if args.dose_response is not None:
        check_input_file(args.dose_response, "--dose-response")
    if (args.headcount is None) != (args.rollout_headcounts is None):
        raise ValueError("--headcount: give both --headcount and --rollout-headcounts, or "
                         "neither (then both are planned)")
    targets = [t.strip() for t in args.targets.split(",")]
    if any(not t for t in targets):
        raise ValueError(f"--targets {args.targets!r}: expected comma-separated targets, e.g. "
                         "4h,8h,one_business_day")
    policies = {schema.CONTROL_ARM: "4h", schema.TREATMENT_ARM: "one_business_day"}
    policies |= {k: v for item in args.policy for k, v in _pairs(item, "--policy").items()}
    given = [args.customers, args.conversations, args.assignments]
    require_manifest(given)
    customers = read_table(args.customers, "customers")
    conversations = read_table(args.conversations, "conversations", timezone=args.timezone)
    assignments = read_table(args.assignments, "assignments", timezone=args.timezone)
    names = {"customers": args.customers.name, "conversations": args.conversations.name,
             "assignments": args.assignments.name}
    problems = check_tables(customers, conversations, assignments, names=names)
    if problems:
        raise DataError(problems)
    present = [str(a) for a in pd.unique(assignments[schema.ARM].dropna())]
    calendar, desk = desk_calendar(args)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        dr = dose_response(customers, conversations, assignments, calendar=calendar,
                           policies={a: policies[a] for a in present if a in policies}
                           if all(a in policies for a in present) else None,
                           control=args.control, validate=False)
        if args.dose_response is not None:
            _check_dose_file(args.dose_response, dr)
        frontier = rollout_frontier(
            conversations, assignments, dr, calendar=calendar,
            revenue_per_year=args.revenue_per_year, targets=targets,
            cost_per_agent=args.cost_per_agent, csat_margin=args.csat_margin,
            csat_basis=args.csat_basis, headcount=args.headcount,
            rollout_headcounts=_headcounts(args.rollout_headcounts), policies=policies,
            control=args.control, treatment=args.treatment, weeks=args.weeks,
            replications=args.replications, rng=args.seed)
    for w in seen:
        print(f"warning: {w.message}", file=sys.stderr)
    text = markdown = frontier.text()
    caution = frontier.caution
    if caution is not None:  # on a line of its own: the recommendation is not yet shown safe
        text = f"{text.removesuffix(' ' + caution)}\ncaution: {caution}"
        markdown = f"{markdown.removesuffix(' ' + caution)}\n\n**Caution:** {caution}"
    return write_table_set(
        args.out, command="frt rollout", stem="rollout_frontier", names=OUTPUTS,
        table=frontier.to_pandas(), text=text, summary=frontier.summary(),
        figure=frontier.plot(),
        markdown_head=f"# Rollout frontier\n\n{markdown}\n\nDesk calendar: {desk}.\n\n")
