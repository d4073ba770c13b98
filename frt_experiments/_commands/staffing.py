"""``frt staffing``: Erlang headcount for live channels, desk simulation and staffing plans.

- ``frt staffing erlang``: the fewest agents for a service level (Erlang C, or Erlang A with
  ``--patience``).
- ``frt staffing desk``: simulate the desk with a given headcount on the trial's conversations.
- ``frt staffing plan``: agents for everyone fast and for the rollout, the staffing curve, an
  optional headcount projection, and the decision when ``frt analyze`` results are given.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import re
import warnings
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from frt_experiments._commands._args import (
    add_calendar_options,
    check_output_dir,
    desk_calendar,
    seed,
)
from frt_experiments._commands.decide import check_results, read_results, source_named
from frt_experiments._outputs import output_set, require_manifest
from frt_experiments.calendar import BusinessCalendar
from frt_experiments.decision import decide, read_trust_record
from frt_experiments.errors import DataError, DataWarning, Problem
from frt_experiments.policy import default_policies
from frt_experiments.schema import ARM, CONTROL_ARM, TREATMENT_ARM, read_table, write_table
from frt_experiments.staffing import (
    ShiftRules,
    ShiftType,
    plan_staffing,
    project_headcount,
    required_agents,
    simulate_desk,
    staffing_curve,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "staffing",
        help="agents needed: Erlang for live channels, desk simulation and staffing plans",
        description="Staffing for the FRT tradeoff: `erlang` sizes a live queue, `desk` "
        "simulates the desk on business hours with a given headcount, `plan` finds the fewest "
        "agents for everyone fast and for the rollout and prices the difference.",
    )
    cmds = p.add_subparsers(dest="staffing_command", metavar="ACTION")
    p.set_defaults(func=lambda _args: _help(p))

    e = cmds.add_parser("erlang", help="fewest agents for a live channel's service level",
                        description="Erlang C (or Erlang A with --patience): the fewest agents "
                        "that answer --service-level of contacts within --target seconds.")
    e.add_argument("--arrivals-per-hour", type=float, required=True, metavar="RATE")
    e.add_argument("--aht", type=float, required=True, metavar="SECONDS",
                   help="average handle time in seconds")
    e.add_argument("--target", type=float, required=True, metavar="SECONDS",
                   help="answer within this many seconds")
    e.add_argument("--service-level", type=float, required=True, metavar="SHARE",
                   help="required share answered within --target, e.g. 0.8")
    e.add_argument("--max-occupancy", type=float, metavar="SHARE")
    e.add_argument("--shrinkage", type=float, default=0.0, metavar="SHARE")
    e.add_argument("--patience", type=float, metavar="SECONDS",
                   help="mean patience (Erlang A); default: nobody abandons (Erlang C)")
    e.set_defaults(func=_run_erlang)

    d = cmds.add_parser("desk", help="simulate the desk with a given headcount",
                        description="Simulate the desk on the trial's conversations: fast arm "
                        "first, deferred arm by deadline, agents only in open hours. Writes "
                        "desk_summary.csv, backlog.csv and manifest.json under --out, made "
                        "visible together.")
    _tables(d)
    _calendar(d)
    d.add_argument("--agents", type=int, required=True, metavar="N",
                   help="agents on duty while the desk is open")
    d.add_argument("--patience", type=float, metavar="SECONDS",
                   help="mean patience in business seconds (live channels)")
    d.add_argument("--warmup-hours", type=float, default=0.0, metavar="H")
    d.add_argument("--replications", type=int, default=1, metavar="N",
                   help="replications (default 1: replay the conversations as they came; "
                   "more: each a day bootstrap of them, with 95%% intervals)")
    d.add_argument("--out", type=Path, required=True, metavar="DIR")
    d.set_defaults(func=_cli_errors("desk", _DESK_OPTIONS)(_run_desk))

    pl = cmds.add_parser("plan", help="agents for everyone fast vs the rollout, and the value",
                         description="Fewest agents meeting every arm's FRT target for everyone "
                         "on the fast policy and for the rollout to low-spend customers, found by "
                         "desk simulation on arrivals drawn from the trial. Writes "
                         "staffing_plan.csv, staffing_curve.csv (and headcount.csv with "
                         "--months, decision.md with --results, the shift schedules with "
                         "--shifts) and manifest.json under --out, "
                         "made visible together; an earlier run's of those names that this "
                         "run does not write are removed.")
    _tables(pl)
    _calendar(pl)
    pl.add_argument("--service-level-fast", type=float, default=0.9, metavar="SHARE",
                    help="share of the fast arm within its target (default 0.9)")
    pl.add_argument("--service-level-deferred", type=float, default=0.95, metavar="SHARE",
                    help="share of the deferred arm within its deadline (default 0.95)")
    pl.add_argument("--cost-per-agent", type=float, default=65_000.0, metavar="AMOUNT",
                    help="loaded cost per year of one agent on duty through all open hours "
                    "(agents are counted on duty, before shrinkage; default 65000)")
    pl.add_argument("--weeks", type=float, default=4.0, help="simulated weeks (default 4)")
    pl.add_argument("--replications", type=int, default=1)
    pl.add_argument("--targets", default="1,2,4,8,24", metavar="H,H,...",
                    help="fast-policy targets (business hours) of the staffing curve")
    pl.add_argument("--months", type=int, metavar="N",
                    help="also project headcount over N months of growth")
    pl.add_argument("--monthly-growth", type=float, default=0.03, metavar="RATE")
    pl.add_argument("--results", type=Path, metavar="FILE",
                    help="results.csv of `frt analyze`: also decide")
    pl.add_argument("--revenue-per-year", type=float, metavar="AMOUNT",
                    help="annual revenue of the low-spend customers (with --results)")
    pl.add_argument("--csat-margin", type=float, metavar="REL",
                    help="CSAT relative non-inferiority margin for the decision, e.g. -0.02 "
                    "(with --results; needed when the analysis was one-sided 'greater'; "
                    "default: CSAT not significantly worse)")
    pl.add_argument("--shifts", metavar="LEN,LEN,...",
                    help="also plan both policies on their own best shift schedules, with "
                    "shifts of these lengths (e.g. 8h,6h; five days on, two off); writes "
                    "shift_schedule.csv, interval_staffing.csv and staffing_scheduled.csv")
    pl.add_argument("--interval", default="30min", metavar="DURATION",
                    help="interval of the shift schedules (default 30min; with --shifts)")
    pl.add_argument("--shift-starts", metavar="HH:MM-HH:MM",
                    help="allowed shift start times of day (default: any interval; with "
                    "--shifts)")
    pl.add_argument("--days-on", type=int, default=5, metavar="N",
                    help="consecutive working days per shift pattern (default 5; with --shifts)")
    pl.add_argument("--break", dest="break_length", metavar="DURATION",
                    help="a break of this length in each shift (e.g. 30min; with --shifts)")
    pl.add_argument("--shrinkage", type=float, default=0.0, metavar="SHARE",
                    help="share of paid time agents are unavailable (default 0; with --shifts)")
    pl.add_argument("--time-limit", type=float, default=60.0, metavar="SECONDS",
                    help="seconds the solver may spend per schedule (default 60; with --shifts)")
    pl.add_argument("--out", type=Path, required=True, metavar="DIR",
                    help="output directory; an earlier run's files of these names that this "
                    "run does not write (headcount.csv, decision.md, the schedule files) are "
                    "removed")
    pl.set_defaults(func=_cli_errors("plan", _PLAN_OPTIONS)(_run_plan))


def _help(p: argparse.ArgumentParser) -> int:
    raise ValueError("frt staffing: choose an action: erlang, desk or plan "
                     "(see frt staffing --help)")


def _tables(p: argparse.ArgumentParser) -> None:
    p.add_argument("--conversations", type=Path, required=True, metavar="FILE")
    p.add_argument("--assignments", type=Path, required=True, metavar="FILE")
    p.add_argument("--timezone", metavar="ZONE", help="IANA zone of naive timestamps in files")
    p.add_argument("--seed", type=seed, default=2025)
    p.add_argument("--control", default=CONTROL_ARM, metavar="ARM",
                   help=f"the control arm, which gets the fast policy ({CONTROL_ARM})")
    p.add_argument("--treatment", default=TREATMENT_ARM, metavar="ARM",
                   help=f"the treatment arm, which gets the one-business-day policy "
                   f"({TREATMENT_ARM})")


def _calendar(p: argparse.ArgumentParser) -> None:
    add_calendar_options(p, purpose="on which agents work and deadlines fall")
    p.add_argument("--fast-target-hours", type=float, default=4.0, metavar="H",
                   help="the fast arm's target in business hours (default 4)")


def _desk_calendar(args: argparse.Namespace) -> BusinessCalendar:
    cal, text = desk_calendar(args)
    args.desk_calendar_text = text
    return cal


def _arms(args: argparse.Namespace) -> tuple[str, str]:
    if args.control == args.treatment:
        raise ValueError(f"frt staffing: --control and --treatment must differ, both are "
                         f"{args.control!r}")
    return args.control, args.treatment


_DESK_OPTIONS = (("agents", "--agents"), ("patience_seconds", "--patience"),
                 ("warmup", "--warmup-hours"), ("replications", "--replications"))
_PLAN_OPTIONS = (("service_levels: '<control>'", "--service-level-fast"),
                 ("service_levels: '<treatment>'", "--service-level-deferred"),
                 ("cost_per_agent", "--cost-per-agent"), ("weeks", "--weeks"),
                 ("replications", "--replications"), ("targets_hours", "--targets"),
                 ("months", "--months"), ("monthly_growth", "--monthly-growth"),
                 ("low_spend_revenue_per_year", "--revenue-per-year"),
                 ("csat_margin", "--csat-margin"))


def _cli_errors(command: str, options: tuple[tuple[str, str], ...]
                ) -> Callable[[Callable[[argparse.Namespace], int]],
                              Callable[[argparse.Namespace], int]]:
    """Name the command-line option, not the Python argument, in a ValueError's message."""
    def wrap(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        @functools.wraps(func)
        def run(args: argparse.Namespace) -> int:
            try:
                return func(args)
            except DataError:
                raise
            except ValueError as exc:
                text = str(exc)
                roles = {"<control>": getattr(args, "control", CONTROL_ARM),
                         "<treatment>": getattr(args, "treatment", TREATMENT_ARM)}
                for arg, option in options:
                    for role, arm in roles.items():
                        arg = arg.replace(role, arm)  # noqa: PLW2901
                    text = re.sub(rf"^{re.escape(arg)}(?!\w):?", option, text)
                if text == str(exc):
                    raise
                raise ValueError(f"frt staffing {command}: {text}") from None
        return run
    return wrap


def _read(args: argparse.Namespace) -> tuple[pd.DataFrame, pd.DataFrame]:
    require_manifest([args.conversations, args.assignments])
    conv = read_table(args.conversations, "conversations", timezone=args.timezone)
    asg = read_table(args.assignments, "assignments", timezone=args.timezone)
    known = _arms(args)
    bad = ~asg[ARM].isin(known).to_numpy()
    if bad.any():
        name = args.assignments.name
        csv = args.assignments.suffix.lower() != ".parquet"
        first = tuple(int(i) + (2 if csv else 0) for i in bad.nonzero()[0][:5])
        others = ", ".join(sorted(set(asg.loc[bad, ARM].astype(str))))
        raise DataError([Problem(
            name, ARM, f"not an arm frt staffing knows ({others}; the arms are "
            f"{known[0]} and {known[1]}: --control and --treatment)", int(bad.sum()), first,
            "lines" if csv else "rows")])
    return conv, asg


def _fast_target(args: argparse.Namespace) -> dt.timedelta:
    h = args.fast_target_hours
    if not h > 0:
        raise ValueError(f"frt staffing: --fast-target-hours must be > 0, got {h}")
    return dt.timedelta(hours=h)


_ERLANG_OPTIONS = (("arrivals_per_hour", "--arrivals-per-hour"), ("aht_seconds", "--aht"),
                   ("target_seconds", "--target"), ("service_level", "--service-level"),
                   ("max_occupancy", "--max-occupancy"), ("shrinkage", "--shrinkage"),
                   ("patience_seconds", "--patience"))


def _run_erlang(args: argparse.Namespace) -> int:
    try:
        req = required_agents(args.arrivals_per_hour, args.aht, args.target,
                              args.service_level, max_occupancy=args.max_occupancy,
                              shrinkage=args.shrinkage, patience_seconds=args.patience)
    except ValueError as exc:  # name the command-line option, not the Python argument
        text = str(exc)
        for arg, option in _ERLANG_OPTIONS:
            text = text.replace(arg, option)
        raise ValueError(f"frt staffing erlang: {text}") from None
    print(req.summary())
    return 0


def _run_desk(args: argparse.Namespace) -> int:
    check_output_dir(args.out, "--out")
    cal = _desk_calendar(args)
    target = _fast_target(args)
    control, treatment = _arms(args)
    conv, asg = _read(args)
    res = simulate_desk(conv, asg, agents=args.agents, calendar=cal,
                        policies=default_policies(cal, fast_target=target, control=control,
                                                  treatment=treatment), fast_arms=(control,),
                        unassigned_arm=control,
                        patience_seconds=args.patience, warmup=args.warmup_hours,
                        replications=args.replications, rng=args.seed)
    backlog = res.backlog.rename_axis("time").reset_index()
    with output_set(args.out, command="frt staffing desk", names=_DESK_OUTPUTS) as outputs:
        write_table(res.to_pandas(), outputs.path("desk_summary.csv"))
        write_table(backlog, outputs.path("backlog.csv"))
    for note in outputs.notes:
        print(f"note: {note}")
    print(res.summary())
    print(f"desk calendar: {args.desk_calendar_text}")
    print("wrote " + ", ".join(str(p) for p in outputs.written))
    return 0


#: Every file frt staffing desk writes into --out (with manifest.json, made visible together).
_DESK_OUTPUTS = ("desk_summary.csv", "backlog.csv")


#: Every file frt staffing plan writes into --out (headcount.csv with --months, decision.md
#: with --results); an earlier run's that this one does not write are removed.
_PLAN_OUTPUTS = ("staffing_plan.csv", "staffing_curve.csv", "headcount.csv", "decision.md",
                 "staffing_scheduled.csv", "shift_schedule.csv", "interval_staffing.csv")
_SCHEDULE_FLAGS = (("interval", "30min", "--interval"), ("shift_starts", None, "--shift-starts"),
                   ("days_on", 5, "--days-on"), ("break_length", None, "--break"),
                   ("shrinkage", 0.0, "--shrinkage"), ("time_limit", 60.0, "--time-limit"))


def _shift_rules(args: argparse.Namespace) -> ShiftRules | None:
    """The --shifts options as ShiftRules (checked before anything is read or simulated)."""
    if args.shifts is None:
        for dest, default, flag in _SCHEDULE_FLAGS:
            if getattr(args, dest) != default:
                raise ValueError(f"frt staffing plan: {flag} needs --shifts")
        return None
    lengths = [x.strip() for x in args.shifts.split(",") if x.strip()]
    try:
        types = [ShiftType(x, starts=args.shift_starts, days_on=args.days_on,
                           break_length=args.break_length) for x in lengths]
        rules = ShiftRules(types, interval=args.interval, shrinkage=args.shrinkage,
                           time_limit=args.time_limit)
        for t in rules.shifts:
            if not t.start_times(rules.interval):
                raise ValueError(f"shifts: shift {t.label!r} has no allowed start time on the "
                                 f"{rules.interval} grid")
    except ValueError as exc:
        text = str(exc)
        for old, flag in (("shifts: days_on", "--days-on"), ("shifts: break_length", "--break"),
                          ("shifts: length", "--shifts"), ("shrinkage", "--shrinkage"),
                          ("time_limit", "--time-limit"), ("interval", "--interval"),
                          ("shifts:", "--shifts:")):
            if text.startswith(old):
                text = flag + text[len(old):]
                break
        raise ValueError(f"frt staffing plan: {text}") from None
    if not lengths:
        raise ValueError(f"frt staffing plan: --shifts must be lengths such as 8h,6h, got "
                         f"{args.shifts!r}")
    return rules


def _run_plan(args: argparse.Namespace) -> int:
    if args.results is not None and args.revenue_per_year is None:
        raise ValueError("frt staffing plan: --results needs --revenue-per-year")
    if args.revenue_per_year is not None and args.results is None:
        raise ValueError("frt staffing plan: --revenue-per-year needs --results")
    if args.csat_margin is not None and args.results is None:
        raise ValueError("frt staffing plan: --csat-margin needs --results")
    try:
        targets = [float(t) for t in args.targets.split(",") if t.strip()]
    except ValueError:
        raise ValueError(f"frt staffing plan: --targets must be numbers separated by commas, "
                         f"got {args.targets!r}") from None
    rules = _shift_rules(args)
    check_output_dir(args.out, "--out")
    cal = _desk_calendar(args)
    target = _fast_target(args)
    control, treatment = _arms(args)
    results = None
    if args.results is not None:
        results = read_results(args.results)
        check_results(results, args.results, revenue_per_year=args.revenue_per_year,
                      csat_margin=args.csat_margin)
    conv, asg = _read(args)
    levels = {control: args.service_level_fast, treatment: args.service_level_deferred}
    common = {"calendar": cal, "weeks": args.weeks, "replications": args.replications,
              "service_levels": levels, "rng": args.seed, "control": control,
              "treatment": treatment}
    plan = plan_staffing(conv, asg, fast_target=target, cost_per_agent=args.cost_per_agent,
                         schedule=rules, **common)
    curve = staffing_curve(conv, asg, targets_hours=targets, **common)
    # every computation (and its argument checks) before the first file is written
    proj = None if args.months is None else project_headcount(
        conv, asg, months=args.months, monthly_growth=args.monthly_growth, fast_target=target,
        cost_per_agent=args.cost_per_agent, **common)
    print(plan.summary())
    if proj is not None:
        print(proj.summary())
    calendar_line = f"desk calendar: {args.desk_calendar_text}"
    print(calendar_line)
    decision = None
    if results is not None:
        try:  # the path, so that the trust flags of its trust.json count
            decision = decide(args.results, low_spend_revenue_per_year=args.revenue_per_year,
                              annual_staffing_savings=plan.annual_savings,
                              csat_margin=args.csat_margin)
        except DataError as exc:
            raise DataError([source_named(p, args.results) for p in exc.problems]) from None
        print(decision.summary())
        analysed_on = (read_trust_record(args.results) or {}).get("desk_calendar")
        plain = args.desk_calendar_text.split(" (", 1)[0]
        if analysed_on is not None and analysed_on.split(" (", 1)[0] != plain:
            warnings.warn(f"the analysis measured FRT on the desk calendar {analysed_on}, "
                          f"the staffing plan on {args.desk_calendar_text}", DataWarning,
                          stacklevel=2)
    # every file (and manifest.json) becomes visible together; an earlier run's headcount.csv
    # or decision.md that this run does not write is removed by the same commit
    with output_set(args.out, command="frt staffing plan", names=_PLAN_OUTPUTS) as outputs:
        write_table(plan.to_pandas(), outputs.path("staffing_plan.csv"))
        write_table(curve, outputs.path("staffing_curve.csv"))
        if proj is not None:
            write_table(proj.to_pandas().merge(proj.savings, on="month"),
                        outputs.path("headcount.csv"))
        if plan.schedules:
            write_table(plan.scheduled, outputs.path("staffing_scheduled.csv"))
            write_table(pd.concat([sch.to_pandas().assign(policy=pol)
                                   for pol, sch in plan.schedules.items()], ignore_index=True),
                        outputs.path("shift_schedule.csv"))
            write_table(pd.concat([sch.coverage.rename_axis("interval_start").reset_index()
                                   .assign(policy=pol) for pol, sch in plan.schedules.items()],
                                  ignore_index=True), outputs.path("interval_staffing.csv"))
        if decision is not None:
            outputs.write_text("decision.md",
                               decision.to_markdown() + f"\nStaffing {calendar_line}.\n")
    for note in outputs.notes:
        print(f"note: {note}")
    print("wrote " + ", ".join(str(p) for p in outputs.written))
    for p in outputs.removed:
        print(f"removed {p} (an earlier run's, not written by this one)")
    return 0

