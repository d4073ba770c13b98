"""``frt power``: plan an experiment (sample size, MDE, duration, sequential looks)."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from frt_experiments import schema
from frt_experiments._commands._args import check_not_an_input, check_output_file
from frt_experiments._commands.analyze import parse_weights
from frt_experiments.design import MetricVariance, estimate_variances, plan_experiment
from frt_experiments.plan import write_plan
from frt_experiments.schema import read_table
from frt_experiments.stats.power import proportion_power, proportion_sample_size


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "power",
        help="plan an experiment: sample size, MDE, duration and interim looks",
        description="Size an FRT experiment per metric from historical tables (--customers, "
        "--conversations) or metrics given directly (--metric), name the binding metric, and "
        "optionally write the plan TOML that `frt analyze --plan` reads. With --p1/--p2 it "
        "answers the two-proportion question as R's power.prop.test.",
    )
    src = p.add_argument_group("metric variances")
    src.add_argument("--customers", type=Path, metavar="FILE", help="historical customers")
    src.add_argument("--conversations", type=Path, metavar="FILE",
                     help="historical conversations")
    src.add_argument("--timezone", metavar="ZONE", help="zone of naive timestamps")
    spend = src.add_mutually_exclusive_group()
    spend.add_argument("--max-spend", type=float, metavar="X",
                       help="estimate from the history's eligible customers only: "
                       "monthly_spend at most X (as frt assign screens them)")
    spend.add_argument("--spend-quantile", type=float, metavar="Q",
                       help="... or monthly_spend at most its Q quantile in the history")
    src.add_argument("--metric", action="append", default=[], metavar="NAME:BASELINE:SD[:DEFF]",
                     help="a metric given directly (repeatable): SD is the per-customer sd of "
                     "its estimator (an arm of n customers has se SD/sqrt(n), clustering "
                     "included), DEFF is only reported; e.g. questions:1.2:1.7")
    src.add_argument("--proportion", action="append", default=[],
                     metavar="NAME:P:UNITS[:DEFF]",
                     help="a ratio of 0/1 outcomes given directly (repeatable): proportion P, "
                     "rated conversations per customer UNITS and design effect DEFF, "
                     "SD = sqrt(P (1 - P) DEFF / UNITS); e.g. csat:0.85:0.3:1.2")
    tgt = p.add_argument_group("targets")
    tgt.add_argument("--mde", action="append", default=[], metavar="METRIC=REL",
                     help="relative change to detect (repeatable), e.g. questions=-0.04")
    tgt.add_argument("--csat-margin", type=float, help="CSAT non-inferiority margin, e.g. -0.02")
    tgt.add_argument("--nrr-margin", type=float, help="NRR equivalence margin, e.g. 0.01")
    tgt.add_argument("--power", type=float, default=0.8)
    tgt.add_argument("--alpha", type=float, default=0.05)
    tgt.add_argument("--ratio", type=float, default=None,
                     help="treatment/control customers (default 1, or from --weights)")
    tgt.add_argument("--weights", metavar="ARM=SHARE,...",
                     help="the designed allocation, control first, e.g. "
                     "fast=0.9,one_business_day=0.1: sizes the arms in that ratio and is "
                     "written to the plan, against which frt analyze tests the sample ratio")
    tgt.add_argument("--alternative", default="two-sided",
                     choices=("two-sided", "greater", "less"))
    size = p.add_argument_group("trial size")
    size.add_argument("--eligible-per-month", type=float, metavar="N",
                      help="eligible customers entering per month (both arms)")
    size.add_argument("--months", type=float, help="fixed duration: report MDE and power")
    size.add_argument("--n-per-arm", type=float, help="fixed control-arm size")
    seq = p.add_argument_group("monitoring")
    seq.add_argument("--looks", type=int, help="number of analyses including the final one")
    seq.add_argument("--information", metavar="F,F,...",
                     help="information fractions of the looks when not equally spaced, "
                     "increasing and ending at 1 (e.g. 0.25,0.5,0.8,1)")
    seq.add_argument("--spending", default="obrien-fleming",
                     choices=("obrien-fleming", "pocock"))
    p.add_argument("--name", default="frt-experiment", help="experiment name in the plan")
    p.add_argument("--write-plan", type=Path, metavar="FILE", help="write the plan TOML here")
    prop = p.add_argument_group("two proportions (as R power.prop.test)")
    prop.add_argument("--p1", type=float)
    prop.add_argument("--p2", type=float)
    prop.add_argument("--n", type=float, help="units per group: report power instead of n")
    p.set_defaults(func=run)


def _parse_metric(text: str) -> MetricVariance:
    parts = text.split(":")
    if len(parts) not in (3, 4):
        raise ValueError(f"--metric {text!r}: expected NAME:BASELINE:SD[:DEFF]")
    try:
        nums = [float(x) for x in parts[1:]]
    except ValueError:
        raise ValueError(f"--metric {text!r}: BASELINE, SD and DEFF must be numbers") from None
    return MetricVariance(parts[0], nums[0], nums[1], *(nums[2:]))


def _parse_proportion(text: str) -> MetricVariance:
    parts = text.split(":")
    if len(parts) not in (3, 4):
        raise ValueError(f"--proportion {text!r}: expected NAME:P:UNITS[:DEFF]")
    try:
        p, units, *deff = (float(x) for x in parts[1:])
    except ValueError:
        raise ValueError(f"--proportion {text!r}: P, UNITS and DEFF must be numbers") from None
    if not (units > 0 and all(d > 0 for d in deff)):
        raise ValueError(f"--proportion {text!r}: UNITS and DEFF must be positive")
    try:
        return MetricVariance.proportion(parts[0], p, units_per_customer=units,
                                         design_effect=deff[0] if deff else 1.0)
    except ValueError as exc:
        raise ValueError(f"--proportion {text!r}: {exc}") from None


def _eligible(customers: pd.DataFrame, conversations: pd.DataFrame,
              args: argparse.Namespace) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The history's customers below the spend ceiling, and their conversations."""
    if args.max_spend is None and args.spend_quantile is None:
        return customers, conversations
    spend = pd.to_numeric(customers[schema.MONTHLY_SPEND], errors="coerce")
    if args.max_spend is not None:
        if not (math.isfinite(args.max_spend) and args.max_spend >= 0):
            raise ValueError(f"--max-spend must be a finite number >= 0, got {args.max_spend}")
        ceiling, rule = args.max_spend, f"monthly_spend <= {args.max_spend:g}"
    else:
        q = args.spend_quantile
        if not 0 < q <= 1:
            raise ValueError(f"--spend-quantile must be in (0, 1], got {q}")
        ceiling = float(np.nanquantile(spend.to_numpy(dtype=float), q))
        rule = f"monthly_spend <= {ceiling:g}, its {q:g} quantile"
    keep = (spend <= ceiling).to_numpy()
    if keep.sum() < 3:
        raise ValueError(f"--customers {args.customers.name}: {int(keep.sum())} customers have "
                         f"{rule}; too few to estimate variances")
    eligible = customers[keep]
    print(f"history: {int(keep.sum()):,} of {len(customers):,} customers eligible ({rule})")
    ids = eligible[schema.CUSTOMER_ID]
    return (eligible.reset_index(drop=True),
            conversations[conversations[schema.CUSTOMER_ID].isin(ids)].reset_index(drop=True))


def _parse_mde(items: list[str]) -> dict[str, float]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            out[name] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name:
            raise ValueError(f"--mde {item!r}: expected METRIC=REL, e.g. csat=-0.0125")
    return out


def _looks(looks: int | None, information: str | None) -> int | list[float] | None:
    if information is None:
        return looks
    try:
        fractions = [float(x) for x in information.split(",")]
    except ValueError:
        raise ValueError(f"--information {information!r}: expected comma-separated fractions, "
                         "e.g. 0.25,0.5,0.8,1") from None
    if looks is not None and looks != len(fractions):
        raise ValueError(f"--information gives {len(fractions)} fractions but --looks is "
                         f"{looks}")
    return fractions


def _ratio(args: argparse.Namespace) -> tuple[float, dict[str, float] | None]:
    """Treatment/control customers from --ratio and --weights, and the weights."""
    if args.weights is None:
        return (1.0 if args.ratio is None else args.ratio), None
    weights = parse_weights(args.weights)
    if len(weights) != 2:
        raise ValueError(f"--weights {args.weights!r}: frt power sizes two arms, control then "
                         f"treatment, got {len(weights)}")
    (control, w_c), (treatment, w_t) = weights.items()
    implied = w_t / w_c
    if args.ratio is not None and not math.isclose(args.ratio, implied, rel_tol=1e-9):
        raise ValueError(f"--ratio {args.ratio:g} disagrees with --weights ({treatment}/"
                         f"{control} = {implied:.6g}); give one of them")
    return implied, weights


def run(args: argparse.Namespace) -> int:
    if args.write_plan is not None:
        check_output_file(args.write_plan, "--write-plan")
        check_not_an_input(args.write_plan, "--write-plan", {
            "--customers": args.customers, "--conversations": args.conversations})
    args.ratio, weights = _ratio(args)
    if args.p1 is not None or args.p2 is not None:
        if args.p1 is None or args.p2 is None:
            raise ValueError("frt power: give both --p1 and --p2")
        if args.n is not None:
            pw = proportion_power(args.p1, args.p2, args.n, alpha=args.alpha, ratio=args.ratio,
                                  alternative=args.alternative)
            print(f"power = {pw:.4f} with n = {args.n:g} per group (p1 {args.p1:g}, "
                  f"p2 {args.p2:g}, alpha {args.alpha:g}, {args.alternative})")
        else:
            n = proportion_sample_size(args.p1, args.p2, power=args.power, alpha=args.alpha,
                                       ratio=args.ratio, alternative=args.alternative)
            print(f"n = {n:.2f} per group (control; treatment x {args.ratio:g}) for power "
                  f"{args.power:g} (p1 {args.p1:g}, p2 {args.p2:g}, alpha {args.alpha:g}, "
                  f"{args.alternative})")
        return 0
    variances: dict[str, MetricVariance] = {}
    if args.customers is not None or args.conversations is not None:
        if args.customers is None or args.conversations is None:
            raise ValueError("frt power: history needs both --customers and --conversations")
        customers = read_table(args.customers, "customers", timezone=args.timezone)
        conversations = read_table(args.conversations, "conversations",
                                   timezone=args.timezone)
        customers, conversations = _eligible(customers, conversations, args)
        variances.update(estimate_variances(customers, conversations, source="history"))
    elif args.max_spend is not None or args.spend_quantile is not None:
        raise ValueError("frt power: --max-spend/--spend-quantile screen the history: give "
                         "--customers and --conversations")
    for text in args.metric:
        v = _parse_metric(text)
        variances[v.metric] = v
    for text in args.proportion:
        v = _parse_proportion(text)
        variances[v.metric] = v
    if not variances:
        raise ValueError("frt power: give --customers and --conversations, or --metric or "
                         "--proportion, or --p1 and --p2")
    design = plan_experiment(
        variances, eligible_per_month=args.eligible_per_month, rel_mde=_parse_mde(args.mde),
        n_per_arm=args.n_per_arm, months=args.months, power=args.power, alpha=args.alpha,
        ratio=args.ratio, alternative=args.alternative, csat_margin=args.csat_margin,
        nrr_margin=args.nrr_margin, looks=_looks(args.looks, args.information),
        spending=args.spending, name=args.name, weights=weights)
    print(design.summary())
    if args.write_plan is not None:
        path = write_plan(design.plan, args.write_plan)
        print(f"plan written to {path}", file=sys.stdout)
    return 0
