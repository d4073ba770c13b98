"""``frt dose-response``: what each extra hour of first response costs, instrumented by the arms
-> dose_response.csv, dose_response.md and dose_response.png."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from frt_experiments._commands._args import (
    add_calendar_options,
    check_output_dir,
    desk_calendar,
    write_table_set,
)
from frt_experiments._commands._args import window_end as parse_window_end
from frt_experiments._commands._names import CONTROL_ARM, TREATMENT_ARM
from frt_experiments.errors import DataError

#: Every file frt dose-response writes into --out.
OUTPUTS = ("dose_response.csv", "dose_response.md", "dose_response.png")

#: Policies of the default two arms when neither --policy nor the plan names them.
DEFAULT_POLICIES = {CONTROL_ARM: "4h", TREATMENT_ARM: "one_business_day"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dose-response",
        help="the effect of each extra hour of first response, instrumented by the arms",
        description="Estimate how CSAT, questions per customer and NRR change with the "
        "first-response time customers got (the dose: log(1 + business hours) per answered "
        "conversation), with the randomized arms as instruments: two-stage least squares with "
        "customer-level robust errors (the Wald ratio with two arms), the first-stage F, the "
        "Anderson-Rubin test, each arm's point and, with three arms or more, the test of a "
        "straight line. Every arm needs an FRT policy (--policy or the plan's [arms]; fast "
        "and one_business_day default to 4h and one_business_day). Writes dose_response.csv, "
        "dose_response.md, dose_response.png and manifest.json to --out, all made visible "
        "together.",
    )
    p.add_argument("--customers", type=Path, required=True, metavar="FILE")
    p.add_argument("--conversations", type=Path, required=True, metavar="FILE")
    p.add_argument("--assignments", type=Path, required=True, metavar="FILE")
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help=f"output directory ({', '.join(OUTPUTS)}, manifest.json)")
    p.add_argument("--plan", type=Path, metavar="PLAN.toml",
                   help="the experiment plan: its alpha and its [arms] policies")
    p.add_argument("--policy", action="append", default=[], metavar="ARM=NAME",
                   help="an arm's FRT policy, e.g. four_hours=4h or slow=two_business_days "
                   "(repeatable; overrides the plan's)")
    p.add_argument("--control", default=None, metavar="ARM",
                   help="the control (fast) arm (default the plan's first arm, else fast)")
    p.add_argument("--arms", metavar="ARM,ARM,...",
                   help="the arms to use (default every assigned arm), control among them")
    p.add_argument("--outcomes", metavar="NAME,...",
                   help="among csat, questions, nrr (default those the tables give)")
    p.add_argument("--alpha", type=float, default=None, metavar="A",
                   help="level of the intervals (default the plan's, else 0.05)")
    p.add_argument("--window-end", metavar="TIMESTAMP",
                   help="end of the outcome window, ISO 8601 with offset (default the latest "
                   "conversation)")
    p.add_argument("--timezone", metavar="ZONE",
                   help="time zone of naive timestamps in the files (default: refuse them)")
    add_calendar_options(p, purpose="on which the dose is measured in business hours")
    p.set_defaults(func=run)


def _policy_items(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        arm, sep, name = item.partition("=")
        if not sep or not arm.strip() or not name.strip():
            raise ValueError(f"--policy {item!r}: expected ARM=NAME, e.g. four_hours=4h or "
                             "slow=two_business_days")
        if arm.strip() in out:
            raise ValueError(f"--policy: arm {arm.strip()!r} is given twice")
        out[arm.strip()] = name.strip()
    return out


def _arm_list(text: str | None, flag: str) -> list[str] | None:
    if text is None:
        return None
    arms = [a.strip() for a in text.split(",")]
    if any(not a for a in arms):
        raise ValueError(f"{flag} {text!r}: expected comma-separated names, e.g. "
                         "fast,four_hours,one_business_day")
    if flag == "--arms" and len(set(arms)) < 2:
        raise ValueError(f"--arms {text!r}: the dose-response needs at least two arms")
    return arms


def run(args: argparse.Namespace) -> int:
    import pandas as pd  # noqa: PLC0415 (heavy imports)

    from frt_experiments import schema  # noqa: PLC0415 (heavy imports)
    from frt_experiments._outputs import require_manifest  # noqa: PLC0415 (heavy imports)
    from frt_experiments.dose_response import dose_response  # noqa: PLC0415 (heavy imports)
    from frt_experiments.plan import read_plan  # noqa: PLC0415
    from frt_experiments.schema import check_tables, read_table  # noqa: PLC0415
    from frt_experiments.stats.iv import WEAK_INSTRUMENT_F  # noqa: PLC0415

    check_output_dir(args.out, "--out")
    plan = read_plan(args.plan) if args.plan is not None else None
    if plan is not None and args.alpha is not None and args.alpha != plan.alpha:
        raise ValueError(f"--alpha {args.alpha:g} disagrees with the plan's alpha "
                         f"{plan.alpha:g} ({args.plan.name}); give one of them")
    alpha = args.alpha if args.alpha is not None else (plan.alpha if plan else 0.05)
    arms = _arm_list(args.arms, "--arms")
    outcomes = _arm_list(args.outcomes, "--outcomes")
    policies = dict(getattr(plan, "arms", None) or {}) | _policy_items(args.policy)
    window_end = parse_window_end(args.window_end)
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
    planned = list(getattr(plan, "arms", None) or {})
    control = args.control or (planned[0] if planned else schema.CONTROL_ARM)
    for flag, names_ in (("--arms", arms or []), (f"--plan {args.plan}'s [arms]", planned)):
        for arm in names_:
            if arm not in present:
                raise ValueError(f"{flag}: arm {arm!r} is not in the assignments "
                                 f"({args.assignments.name}: arms {', '.join(present)})")
    use = arms if arms is not None else present
    for arm in use:
        if arm not in policies:
            if arm not in DEFAULT_POLICIES:
                raise ValueError(f"arm {arm!r} has no FRT policy: give --policy {arm}=NAME "
                                 "(e.g. 4h, one_business_day, two_business_days) or name it "
                                 "in the plan's [arms]")
            policies[arm] = DEFAULT_POLICIES[arm]
    stray = [a for a in policies if a not in present]
    if stray and args.policy and any(a in _policy_items(args.policy) for a in stray):
        raise ValueError(f"--policy: arm {stray[0]!r} is not in the assignments (arms: "
                         f"{', '.join(present)})")
    calendar, desk = desk_calendar(args)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        result = dose_response(customers, conversations, assignments, calendar=calendar,
                               policies={a: policies[a] for a in use}, control=control,
                               arms=arms, outcomes=outcomes, alpha=alpha,
                               window_end=window_end, validate=False)
    weak = [o.slope for o in result.outcomes.values() if o.slope.weak]
    if weak:
        raise ValueError(f"the arms {', '.join(result.arms)} do not move the first-response "
                         f"time enough for a dose-response (first-stage F = "
                         f"{weak[0].f_statistic:.2f} < {WEAK_INSTRUMENT_F:g}): their doses "
                         "barely differ; check each arm's policy was delivered (frt analyze's "
                         "diagnostics), or use frt.dose_response in Python for the "
                         "Anderson-Rubin test")
    for w in seen:
        print(f"warning: {w.message}", file=sys.stderr)
    table = result.to_pandas()
    policy_line = ", ".join(f"{a} = {p}" for a, p in (result.policies or {}).items())
    return write_table_set(
        args.out, command="frt dose-response", stem="dose_response", names=OUTPUTS,
        table=table, text=result.text(), summary=result.summary(), figure=result.plot(),
        markdown_head=f"# Dose-response\n\n{result.text()}\n\nPolicies: {policy_line}. "
                      f"Desk calendar: {desk}.\n\n")
