"""``frt power``: plan an experiment (sample size, MDE, duration, sequential looks)."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from frt_experiments._commands._args import check_not_an_input, check_output_file
from frt_experiments._commands.analyze import parse_weights

if TYPE_CHECKING:
    import pandas as pd

    from frt_experiments.design import MetricVariance
    from frt_experiments.stats.dose_power import (
        DoseArm,
    )


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
    arms = p.add_argument_group(
        "dose-response trial with K arms",
        "Size a trial of a control and one or more slower FRT arms (give every arm, control "
        "first) for the precision of the dose-response slope (--slope-se, --slope-halfwidth) "
        "and/or each slow arm against control (--mde, adjusted across the arms by "
        "--multiplicity), and compare with the two-arm trial of control and the slowest arm. "
        "The dose is log(1 + business hours) of a first response (frt_experiments.dose); "
        "outcomes come from --metric, --proportion or the history.")
    arms.add_argument("--arm", dest="dose_arms", action="append", type=_tagged("hours"),
                      metavar="NAME=HOURS[:DOSE_SD]",
                      help="an arm (repeatable, control first): median business hours to "
                      "first response, mapped to the dose log(1 + HOURS), and the dose's "
                      "within-arm per-customer sd; e.g. fast=2:0.6")
    arms.add_argument("--arm-dose", dest="dose_arms", action="append", type=_tagged("dose"),
                      metavar="NAME=DOSE[:DOSE_SD]",
                      help="an arm given by its expected dose, the mean of log(1 + business "
                      "hours) over its answered conversations (repeatable)")
    arms.add_argument("--dose-sd", type=float, metavar="SD",
                      help="the dose's within-arm per-customer sd of arms that give none")
    arms.add_argument("--slope-se", action="append", default=[], metavar="METRIC=SE",
                      help="target standard error of the slope of METRIC per unit of dose")
    arms.add_argument("--slope-halfwidth", action="append", default=[], metavar="METRIC=H",
                      help="... or target half-width of its 1 - alpha interval")
    arms.add_argument("--slope", action="append", default=[], metavar="METRIC=B",
                      help="the true slope assumed for the variance (default 0)")
    arms.add_argument("--dose-corr", action="append", default=[], metavar="METRIC=RHO",
                      help="within-arm correlation of METRIC and the dose (default 0)")
    arms.add_argument("--multiplicity", choices=("dunnett", "bonferroni"),
                      help="adjustment of the slow arms' tests against control (default "
                      "dunnett; bonferroni is conservative, also for Holm)")
    arms.add_argument("--pair", metavar="ARM",
                      help="the slow arm of the two-arm design compared with (default the "
                      "largest dose)")
    p.set_defaults(func=run)


_ARM_FLAG = {"hours": "--arm", "dose": "--arm-dose"}
_ARM_ONLY = ("dose_sd", "slope_se", "slope_halfwidth", "slope", "dose_corr", "multiplicity",
             "pair")


def _tagged(kind: str) -> Callable[[str], tuple[str, str]]:
    """An argparse type that keeps which flag gave an arm, so --arm and --arm-dose share
    one ordered list."""
    def parse(text: str) -> tuple[str, str]:
        return kind, text
    return parse


def _parse_metric(text: str) -> MetricVariance:
    from frt_experiments.design import MetricVariance  # noqa: PLC0415 (heavy imports)
    parts = text.split(":")
    if len(parts) not in (3, 4):
        raise ValueError(f"--metric {text!r}: expected NAME:BASELINE:SD[:DEFF]")
    try:
        nums = [float(x) for x in parts[1:]]
    except ValueError:
        raise ValueError(f"--metric {text!r}: BASELINE, SD and DEFF must be numbers") from None
    return MetricVariance(parts[0], nums[0], nums[1], *(nums[2:]))


def _parse_proportion(text: str) -> MetricVariance:
    from frt_experiments.design import MetricVariance  # noqa: PLC0415 (heavy imports)
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
    import numpy as np  # noqa: PLC0415 (heavy imports)
    import pandas as pd  # noqa: PLC0415 (heavy imports)

    from frt_experiments import schema  # noqa: PLC0415 (heavy imports)
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


def _variances(args: argparse.Namespace) -> dict[str, MetricVariance]:
    """The metrics' baselines and sds: from the history, then --metric and --proportion."""
    from frt_experiments.design import estimate_variances  # noqa: PLC0415 (heavy imports)
    from frt_experiments.schema import read_table  # noqa: PLC0415 (heavy imports)
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
    return variances


def run(args: argparse.Namespace) -> int:
    from frt_experiments.design import plan_experiment  # noqa: PLC0415 (heavy imports)
    from frt_experiments.plan import write_plan  # noqa: PLC0415 (heavy imports)
    from frt_experiments.stats.power import (  # noqa: PLC0415 (heavy imports)
        proportion_power,
        proportion_sample_size,
    )
    if args.dose_arms:
        return _run_arms(args)
    for name in _ARM_ONLY:
        if getattr(args, name) not in (None, []):
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"frt power: {flag} sizes a trial with K arms: give the arms with "
                             "--arm NAME=HOURS[:DOSE_SD], control first")
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
    variances = _variances(args)
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


# --------------------------------------------------------------------------- K arms

def _parse_arm(kind: str, text: str, dose_sd: float | None) -> DoseArm:
    from frt_experiments.stats.dose_power import DoseArm  # noqa: PLC0415 (heavy imports)
    flag = _ARM_FLAG[kind]
    what = "HOURS" if kind == "hours" else "DOSE"
    name, sep, rest = text.partition("=")
    name = name.strip()
    parts = rest.split(":")
    try:
        nums = [float(x) for x in parts] if sep and rest else []
    except ValueError:
        nums = []
    if not name or not nums or len(nums) > 2:
        raise ValueError(f"{flag} {text!r}: expected NAME={what}[:DOSE_SD] (the arm's "
                         f"{'median business hours' if kind == 'hours' else 'dose'}), e.g. "
                         f"{'four_hours=4:0.6' if kind == 'hours' else 'four_hours=1.6:0.6'}")
    sd = nums[1] if len(nums) == 2 else dose_sd
    if sd is None:
        raise ValueError(f"{flag} {text!r}: no sd of the dose; give NAME={what}:DOSE_SD or "
                         "--dose-sd")
    try:
        if kind == "hours":
            return DoseArm.from_hours(name, nums[0], dose_sd=sd)
        return DoseArm(name, nums[0], sd)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{flag} {text!r}: {exc}") from None


def _per_metric(flag: str, items: list[str], metrics: dict[str, MetricVariance]
                ) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            out[name] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name or not math.isfinite(out[name]):
            raise ValueError(f"{flag} {item!r}: expected METRIC=NUMBER, e.g. csat=0.005")
        if name not in metrics:
            raise ValueError(f"{flag} {item!r}: no metric {name!r}; the metrics are "
                             f"{', '.join(metrics) or 'none'} (--metric, --proportion or the "
                             "history)")
    return out


def _arm_weights(args: argparse.Namespace, names: list[str]) -> dict[str, float] | None:
    if args.weights is None:
        return None
    weights = parse_weights(args.weights)
    unknown = [a for a in weights if a not in names]
    if unknown:
        raise ValueError(f"--weights {args.weights!r}: arm {unknown[0]!r} is not among the arms "
                         f"given by --arm ({', '.join(names)})")
    missing = [a for a in names if a not in weights]
    if missing:
        raise ValueError(f"--weights {args.weights!r}: no share for arm {missing[0]!r}")
    if next(iter(weights)) != names[0]:
        raise ValueError(f"--weights {args.weights!r}: control first: the first arm is "
                         f"{names[0]!r} (the first --arm)")
    return weights


def _run_arms(args: argparse.Namespace) -> int:
    """``frt power --arm ...``: the K-arm trial for the slope and for each arm vs control."""
    from frt_experiments.stats.dose_power import (  # noqa: PLC0415 (heavy imports)
        dose_slope_sample_size,
        many_to_one_sample_size,
    )
    if args.write_plan is not None:
        raise ValueError("frt power: --write-plan writes two-arm plans only; it does not "
                         "combine with --arm/--arm-dose")
    unsupported = {"--p1": args.p1, "--p2": args.p2, "--n": args.n, "--ratio": args.ratio,
                   "--months": args.months, "--n-per-arm": args.n_per_arm,
                   "--looks": args.looks, "--information": args.information,
                   "--csat-margin": args.csat_margin, "--nrr-margin": args.nrr_margin}
    for flag, value in unsupported.items():
        if value is not None:
            raise ValueError(f"frt power: {flag} does not combine with --arm (K-arm designs "
                             "are sized for --slope-se, --slope-halfwidth or --mde)")
    if args.dose_sd is not None and not (math.isfinite(args.dose_sd) and args.dose_sd >= 0):
        raise ValueError(f"--dose-sd must be a finite number >= 0, got {args.dose_sd}")
    arms = [_parse_arm(kind, text, args.dose_sd) for kind, text in args.dose_arms]
    names = [a.name for a in arms]
    seen: set[str] = set()
    for kind, text in args.dose_arms:
        name = text.partition("=")[0].strip()
        if name in seen:
            raise ValueError(f"{_ARM_FLAG[kind]} {text!r}: arm {name!r} is given twice")
        seen.add(name)
    if len(arms) < 2:
        raise ValueError(f"--arm: a K-arm design needs at least two arms, control first; got "
                         f"{names[0]!r} only")
    if len({a.dose for a in arms}) == 1:
        raise ValueError(f"--arm: the arms' doses do not differ (all {arms[0].dose:.4g}): the "
                         "arms do not move the first response, so the slope is undefined")
    if args.pair is not None and args.pair not in names[1:]:
        raise ValueError(f"--pair {args.pair!r}: not a slow arm ({', '.join(names[1:])})")
    weights = _arm_weights(args, names)
    variances = _variances(args)
    if not variances:
        raise ValueError("frt power: --arm needs the outcomes: give --metric or --proportion, "
                         "or --customers and --conversations")
    se = _per_metric("--slope-se", args.slope_se, variances)
    half = _per_metric("--slope-halfwidth", args.slope_halfwidth, variances)
    both = sorted(set(se) & set(half))
    if both:
        raise ValueError(f"--slope-se and --slope-halfwidth both give {both[0]!r}: give one")
    slopes = _per_metric("--slope", args.slope, variances)
    corrs = _per_metric("--dose-corr", args.dose_corr, variances)
    mdes = _parse_mde(args.mde)
    for metric in mdes:
        if metric not in variances:
            raise ValueError(f"--mde {metric}: no metric {metric!r}; the metrics are "
                             f"{', '.join(variances)}")
    if not (se or half or mdes):
        raise ValueError("frt power: --arm needs a target: --slope-se, --slope-halfwidth or "
                         "--mde METRIC=REL (each slow arm against control)")
    pair = args.pair or max(names[1:], key=lambda a: abs(arms[names.index(a)].dose
                                                           - arms[0].dose))
    if args.eligible_per_month is not None and not (
            math.isfinite(args.eligible_per_month) and args.eligible_per_month > 0):
        raise ValueError(f"--eligible-per-month must be positive, got "
                         f"{args.eligible_per_month}")
    lines = [f"K-arm design: {len(arms)} arms, control {names[0]}; alpha {args.alpha:g}"]
    sizes: list[tuple[str, int]] = []
    for metric in (m for m in variances if m in se or m in half):
        v = variances[metric]
        try:
            result = dose_slope_sample_size(
                arms, outcome_sd=v.sd, se=se.get(metric), halfwidth=half.get(metric),
                weights=weights, dose_corr=corrs.get(metric, 0.0),
                slope=slopes.get(metric, 0.0), alpha=args.alpha, pair=pair)
        except ValueError as exc:
            flag = "--slope-se" if metric in se else "--slope-halfwidth"
            raise ValueError(f"{flag} {metric}: {exc}") from None
        lines.append(f"{metric}: {result.summary()}")
        sizes.append((f"{metric} slope", result.n_total))
    for metric, rel in mdes.items():
        v = variances[metric]
        try:
            comparisons = many_to_one_sample_size(
                dict(zip(names, [1.0] * len(names), strict=True)) if weights is None
                else weights, sd=v.sd, mde=rel * v.baseline, power=args.power,
                alpha=args.alpha, alternative=args.alternative,
                multiplicity=args.multiplicity or "dunnett", pair=pair)
        except ValueError as exc:
            raise ValueError(f"--mde {metric}={rel:g}: {exc}") from None
        lines.append(f"{metric} ({rel:+.2%} = {rel * v.baseline:+.4g}): "
                     f"{comparisons.summary()}")
        sizes.append((f"{metric} per arm", comparisons.n_total))
    what, n = max(sizes, key=lambda t: t[1])
    line = f"binding target: {what}, {n:,} customers"
    if args.eligible_per_month is not None:
        line += (f" = {n / args.eligible_per_month:.1f} months at "
                 f"{args.eligible_per_month:,.0f} eligible customers per month")
    lines.append(line)
    print("\n".join(lines))
    return 0
