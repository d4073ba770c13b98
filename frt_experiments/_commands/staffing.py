"""``frt staffing``: Erlang headcount for live channels, desk simulation and staffing plans.

- ``frt staffing erlang``: the fewest agents for a service level (Erlang C, or Erlang A with
  ``--patience``).
- ``frt staffing desk``: simulate the desk with a given headcount or a dated roster on the
  conversations (arms from an assignments file, or one queue without it).
- ``frt staffing plan``: agents for everyone fast and for the rollout, the staffing curve, an
  optional headcount projection, and the decision when ``frt analyze`` results are given;
  without assignments, the headcount of the desk as one fast queue.
- ``frt staffing patience``: exponential patience and the Kaplan-Meier curve from abandonments.
- ``frt staffing calibrate``: the effective share of a dated roster that reproduces the
  observed waits.
- ``frt staffing analytics``: per-interval and per-day desk figures, observed and simulated
  side by side, in the desk's units.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from frt_experiments._commands._args import (
    add_calendar_options,
    check_input_file,
    check_output_dir,
    desk_calendar,
    seed,
)
from frt_experiments._commands._names import CONTROL_ARM, TREATMENT_ARM
from frt_experiments._commands.decide import check_results, read_results, source_named
from frt_experiments.errors import DataError, DataWarning, Problem

if TYPE_CHECKING:
    import pandas as pd

    from frt_experiments.calendar import BusinessCalendar
    from frt_experiments.staffing import (
        PatienceEstimate,
        Roster,
        ShiftRules,
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "staffing",
        help="agents needed: Erlang for live channels, desk simulation and staffing plans",
        description="Staffing for the FRT tradeoff: `erlang` sizes a live queue, `desk` "
        "simulates the desk on business hours with a given headcount or roster, `plan` finds "
        "the fewest agents for everyone fast and for the rollout and prices the difference, "
        "`patience` fits customers' patience from abandonments, `calibrate` finds the share "
        "of a roster that really answers, `analytics` reads the desk per interval and day, "
        "observed and simulated side by side.",
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

    d = cmds.add_parser("desk", help="simulate the desk with a given headcount or roster",
                        description="Simulate the desk on the conversations: fast arm first, "
                        "deferred arm by deadline (without --assignments: one queue, every "
                        "conversation fast), agents only in open hours. Writes "
                        "desk_summary.csv, backlog.csv and manifest.json under --out, made "
                        "visible together.")
    _tables(d)
    _calendar(d)
    _agents(d)
    _patience_option(d)
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

    pa = cmds.add_parser("patience", help="customers' patience from abandonments",
                         description="Fit exponential patience to the waits of the "
                         "conversations (an abandonment ends a wait as an event, an answer "
                         "censors it) with the Kaplan-Meier curve beside it. Waits in elapsed "
                         "seconds, or business seconds of the desk calendar when a calendar "
                         "option is given. Writes patience.csv, kaplan_meier.csv and "
                         "manifest.json under --out, made visible together.")
    pa.add_argument("--conversations", type=Path, required=True, metavar="FILE")
    pa.add_argument("--timezone", metavar="ZONE", help="IANA zone of naive timestamps in files")
    add_calendar_options(pa, purpose="in whose business seconds waits are measured (none "
                         "given: elapsed seconds)")
    pa.add_argument("--method", choices=("lr", "chi2"), default="lr",
                    help="interval of the rate: likelihood ratio (default) or exact chi-square")
    pa.add_argument("--confidence", type=float, default=0.95, metavar="LEVEL")
    pa.add_argument("--out", type=Path, required=True, metavar="DIR")
    pa.set_defaults(func=_cli_errors("patience", (("confidence", "--confidence"),))(
        _run_patience))

    ca = cmds.add_parser("calibrate", help="the share of a roster that really answers",
                         description="Find the multiplier on a dated roster under which the "
                         "desk replay of the conversations (common random numbers) matches an "
                         "observed statistic, with its interval; rostered, effective and busy "
                         "agents. No calendar option: the desk is open 24/7 (UTC) and the "
                         "roster says when agents work. Writes calibration.csv, "
                         "calibration_curve.csv, effective_roster.csv and manifest.json under "
                         "--out, made visible together.")
    _tables(ca)
    _calendar(ca, purpose_default="24/7 in UTC: the roster says when agents work")
    ca.add_argument("--roster", type=Path, required=True, metavar="FILE",
                    help="dated roster: a CSV of interval_start (with an offset, or naive "
                    "with --timezone) and agents")
    ca.add_argument("--statistic", choices=("mean_wait", "service_level", "p_abandon"),
                    default="mean_wait", help="what the replay must match (default mean_wait "
                    "of answered conversations)")
    ca.add_argument("--target", metavar="DURATION",
                    help="service-level target such as 20s (with --statistic service_level)")
    _patience_option(ca)
    ca.add_argument("--replications", type=int, default=20, metavar="N",
                    help="replications per multiplier (default 20)")
    ca.add_argument("--out", type=Path, required=True, metavar="DIR")
    ca.set_defaults(func=_cli_errors("calibrate", _CALIBRATE_OPTIONS)(_run_calibrate))

    an = cmds.add_parser("analytics", help="the desk per interval and day, observed and "
                         "simulated", description="Per-interval and per-day tables of offered, "
                         "answered, abandoned, P(wait), mean/median/p90 waits of answered "
                         "conversations (in the unit named in the columns), service level and "
                         "occupancy, for the conversations and, with --simulate, for the desk "
                         "simulation beside them; whole-window figures with bootstrap "
                         "intervals over days. Waits in elapsed time, or business time of the "
                         "desk calendar when a calendar option is given. Writes "
                         "desk_intervals.csv, desk_days.csv, desk_overall.csv, "
                         "desk_analytics.png and manifest.json under --out, made visible "
                         "together.")
    _tables(an)
    _calendar(an, purpose_default="none: waits in elapsed time, a simulation open 24/7 in UTC")
    an.add_argument("--interval", default="30min", metavar="DURATION",
                    help="interval of the per-interval table: 15min, 30min or 1h (default "
                    "30min)")
    an.add_argument("--unit", choices=("auto", "s", "min", "h"), default="auto",
                    help="unit of the waits (default auto: from the typical wait)")
    an.add_argument("--target", metavar="DURATION",
                    help="service-level target such as 20s or 4h (default: no service level)")
    an.add_argument("--simulate", action="store_true",
                    help="also simulate the desk (with --agents or --roster) and put it beside "
                    "the observed figures")
    _agents(an, required=False)
    _patience_option(an)
    an.add_argument("--replications", type=int, default=1, metavar="N",
                    help="simulation replications (default 1: replay the conversations)")
    an.add_argument("--resamples", type=int, default=999, metavar="N",
                    help="bootstrap resamples of the days (default 999; 0: no intervals)")
    an.add_argument("--out", type=Path, required=True, metavar="DIR")
    an.set_defaults(func=_cli_errors("analytics", _ANALYTICS_OPTIONS)(_run_analytics))


def _help(p: argparse.ArgumentParser) -> int:
    raise ValueError("frt staffing: choose an action: erlang, desk, plan, patience, calibrate "
                     "or analytics (see frt staffing --help)")


def _tables(p: argparse.ArgumentParser) -> None:
    p.add_argument("--conversations", type=Path, required=True, metavar="FILE")
    p.add_argument("--assignments", type=Path, metavar="FILE",
                   help="customer_id and arm: the arms' queues (default: no experiment, every "
                   "conversation in one fast queue)")
    p.add_argument("--timezone", metavar="ZONE", help="IANA zone of naive timestamps in files")
    p.add_argument("--seed", type=seed, default=2025)
    p.add_argument("--control", default=CONTROL_ARM, metavar="ARM",
                   help=f"the control arm, which gets the fast policy ({CONTROL_ARM})")
    p.add_argument("--treatment", default=TREATMENT_ARM, metavar="ARM",
                   help=f"the treatment arm, which gets the one-business-day policy "
                   f"({TREATMENT_ARM})")


def _calendar(p: argparse.ArgumentParser, *, purpose_default: str | None = None) -> None:
    purpose = "on which agents work and deadlines fall"
    if purpose_default is not None:
        purpose += f"; none given: {purpose_default}"
    add_calendar_options(p, purpose=purpose)
    p.add_argument("--fast-target-hours", type=float, metavar="H",
                   help="the fast arm's target in business hours (default 4)")
    p.add_argument("--fast-target", metavar="DURATION",
                   help="the fast arm's target as a duration such as 20s or 4h (instead of "
                   "--fast-target-hours)")


def _agents(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    what = "one of them is required" if required else "for occupancy and --simulate"
    p.add_argument("--agents", type=int, metavar="N",
                   help=f"agents on duty while the desk is open ({what})")
    p.add_argument("--roster", type=Path, metavar="FILE",
                   help="a dated roster instead of --agents: a CSV of interval_start (with an "
                   "offset, or naive with --timezone) and agents per interval, covering the "
                   "conversations (with --hours 24/7 the roster alone says when agents work)")


def _patience_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--patience", metavar="SECONDS|fit",
                   help="mean patience in business seconds (live channels), or 'fit': "
                   "estimated from the conversations' abandonments (default: nobody abandons "
                   "but those the data show abandoning, at their time)")


def _optional_calendar(args: argparse.Namespace) -> BusinessCalendar | None:
    """The desk calendar when a calendar option is given, else ``None`` (elapsed time)."""
    if all(getattr(args, o) is None for o in ("desk_timezone", "hours", "holidays")):
        args.desk_calendar_text = "none (elapsed time; simulations open 24/7 in UTC)"
        return None
    return _desk_calendar(args)


def _duration_seconds(text: str | None, option: str, command: str | None) -> float | None:
    import pandas as pd  # noqa: PLC0415 (heavy imports)
    if text is None:
        return None
    try:
        td = pd.Timedelta(text)
    except (TypeError, ValueError):
        td = pd.NaT
    if pd.isna(td) or td < pd.Timedelta(0) or not any(ch.isalpha() for ch in text):
        where = f"frt staffing {command}" if command else "frt staffing"
        raise ValueError(f"{where}: {option} must be a duration with a unit such as 20s, 5min "
                         f"or 4h, got {text!r}")
    return float(td.total_seconds())


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
_CALIBRATE_OPTIONS = (("patience_seconds", "--patience"), ("replications", "--replications"),
                      ("target_seconds", "--target"), ("agents", "--roster:"),
                      ("bounds", "--roster:"))
_ANALYTICS_OPTIONS = (("agents", "--agents"), ("patience_seconds", "--patience"),
                      ("replications", "--replications"), ("interval", "--interval"),
                      ("resamples", "--resamples"), ("target_seconds", "--target"),
                      ("unit", "--unit"))
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


def _read(args: argparse.Namespace) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The conversations and the assignments (``None`` without --assignments: one queue)."""
    from frt_experiments._outputs import require_manifest  # noqa: PLC0415 (heavy imports)
    from frt_experiments.schema import ARM, read_table  # noqa: PLC0415 (heavy imports)
    require_manifest([args.conversations, args.assignments])
    conv = read_table(args.conversations, "conversations", timezone=args.timezone)
    if args.assignments is None:
        return conv, None
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
    if args.fast_target is not None:
        if args.fast_target_hours is not None:
            raise ValueError("frt staffing: --fast-target and --fast-target-hours: give one")
        seconds = _duration_seconds(args.fast_target, "--fast-target", None)
        if not seconds:
            raise ValueError(f"frt staffing: --fast-target must be > 0, got "
                             f"{args.fast_target!r}")
        return dt.timedelta(seconds=seconds)
    h = 4.0 if args.fast_target_hours is None else args.fast_target_hours
    if not h > 0:
        raise ValueError(f"frt staffing: --fast-target-hours must be > 0, got {h}")
    return dt.timedelta(hours=h)


def _read_roster(path: Path, args: argparse.Namespace) -> Roster:
    """A dated roster from a CSV (or Parquet) file of interval_start and agents."""
    import pandas as pd  # noqa: PLC0415 (heavy imports)

    from frt_experiments._outputs import require_manifest  # noqa: PLC0415 (heavy imports)
    from frt_experiments.staffing import Roster  # noqa: PLC0415 (heavy imports)
    check_input_file(path, "--roster")
    require_manifest([path])
    csv = path.suffix.lower() != ".parquet"
    table = (pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""]) if csv
             else pd.read_parquet(path))
    try:
        return Roster.from_table(table, interval=_usual_step(table), timezone=args.timezone,
                                 source=path.name, csv_lines=csv)
    except DataError:
        raise
    except ValueError as exc:
        raise ValueError(f"--roster: {path.name}: {exc}") from None


def _usual_step(table: pd.DataFrame) -> pd.Timedelta | None:
    """The most common step between a roster's sorted starts (its interval length), so that
    a stray start is named as overlapping its interval rather than shrinking every interval
    to its offset (``None``: fewer than two readable starts; the roster names the problem)."""
    import pandas as pd  # noqa: PLC0415 (heavy imports)
    if "interval_start" not in table.columns:
        return None
    t = pd.to_datetime(table["interval_start"].astype("string"), utc=True, errors="coerce",
                       format="ISO8601").dropna()
    steps = pd.Series(t.sort_values().diff().dropna())
    steps = steps[steps > pd.Timedelta(0)]
    return None if steps.empty else pd.Timedelta(steps.mode().iloc[0])


def _staff(args: argparse.Namespace, command: str, *, required: bool = True
           ) -> int | Roster | None:
    """--agents or --roster (checked before anything is simulated)."""
    if args.agents is not None and args.roster is not None:
        raise ValueError(f"frt staffing {command}: --agents and --roster: give one, not both")
    if args.roster is not None:
        return _read_roster(args.roster, args)
    if args.agents is None and required:
        raise ValueError(f"frt staffing {command}: give --agents N or --roster FILE")
    return args.agents


def _patience(args: argparse.Namespace, conv: pd.DataFrame, cal: BusinessCalendar | None,
              command: str) -> float | PatienceEstimate | None:
    """--patience: a number of seconds, or 'fit' (estimated on the desk's clock)."""
    from frt_experiments.staffing import estimate_patience  # noqa: PLC0415 (heavy imports)
    text = args.patience
    if text is None:
        return None
    if text.strip().lower() == "fit":
        fit = estimate_patience(conv, calendar=cal, source=args.conversations.name)
        print(fit.summary())
        return fit
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"frt staffing {command}: --patience must be 'fit' or a number of "
                         f"seconds > 0, got {text!r}") from None


def _queues_line(asg: pd.DataFrame | None) -> str | None:
    if asg is None:
        return ("queues: one (no --assignments): every conversation on the fast policy, "
                "first come first served")
    return None


_ERLANG_OPTIONS = (("arrivals_per_hour", "--arrivals-per-hour"), ("aht_seconds", "--aht"),
                   ("target_seconds", "--target"), ("service_level", "--service-level"),
                   ("max_occupancy", "--max-occupancy"), ("shrinkage", "--shrinkage"),
                   ("patience_seconds", "--patience"))


def _run_erlang(args: argparse.Namespace) -> int:
    from frt_experiments.staffing import required_agents  # noqa: PLC0415 (heavy imports)
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
    from frt_experiments._outputs import output_set  # noqa: PLC0415 (heavy imports)
    from frt_experiments.policy import default_policies  # noqa: PLC0415 (heavy imports)
    from frt_experiments.schema import write_table  # noqa: PLC0415 (heavy imports)
    from frt_experiments.staffing import Roster, simulate_desk  # noqa: PLC0415 (heavy imports)
    check_output_dir(args.out, "--out")
    cal = _desk_calendar(args)
    target = _fast_target(args)
    control, treatment = _arms(args)
    agents = _staff(args, "desk")
    if agents is None:  # _staff refuses it; for the type checker
        raise ValueError("frt staffing desk: give --agents N or --roster FILE")
    conv, asg = _read(args)
    patience = _patience(args, conv, cal, "desk")
    try:
        res = simulate_desk(conv, asg, agents=agents, calendar=cal,
                            policies=default_policies(cal, fast_target=target, control=control,
                                                      treatment=treatment),
                            fast_arms=(control,), unassigned_arm=control,
                            patience_seconds=patience, warmup=args.warmup_hours,
                            replications=args.replications, rng=args.seed)
    except ValueError as exc:
        if isinstance(agents, Roster) and str(exc).startswith("agents:"):
            raise ValueError(f"frt staffing desk: --roster{str(exc)[len('agents'):]}") from None
        raise
    backlog = res.backlog.rename_axis("time").reset_index()
    with output_set(args.out, command="frt staffing desk", names=_DESK_OUTPUTS) as outputs:
        write_table(res.to_pandas(), outputs.path("desk_summary.csv"))
        write_table(backlog, outputs.path("backlog.csv"))
    for note in outputs.notes:
        print(f"note: {note}")
    print(res.summary())
    queues = _queues_line(asg)
    if queues:
        print(queues)
    print(f"desk calendar: {args.desk_calendar_text}")
    print("wrote " + ", ".join(str(p) for p in outputs.written))
    return 0


#: Every file frt staffing desk writes into --out (with manifest.json, made visible together).
_DESK_OUTPUTS = ("desk_summary.csv", "backlog.csv")
_PATIENCE_OUTPUTS = ("patience.csv", "kaplan_meier.csv")
_CALIBRATE_OUTPUTS = ("calibration.csv", "calibration_curve.csv", "effective_roster.csv")
_ANALYTICS_OUTPUTS = ("desk_intervals.csv", "desk_days.csv", "desk_overall.csv",
                      "desk_analytics.png")


def _finish(outputs: object) -> None:
    for note in getattr(outputs, "notes", []):
        print(f"note: {note}")
    print("wrote " + ", ".join(str(p) for p in getattr(outputs, "written", [])))


def _run_patience(args: argparse.Namespace) -> int:
    from frt_experiments._outputs import (  # noqa: PLC0415 (heavy imports)
        output_set,
        require_manifest,
    )
    from frt_experiments.schema import read_table, write_table  # noqa: PLC0415 (heavy imports)
    from frt_experiments.staffing import estimate_patience  # noqa: PLC0415 (heavy imports)
    check_output_dir(args.out, "--out")
    cal = _optional_calendar(args)
    require_manifest([args.conversations])
    conv = read_table(args.conversations, "conversations", timezone=args.timezone)
    fit = estimate_patience(conv, calendar=cal, method=args.method,
                            confidence=args.confidence, source=args.conversations.name)
    with output_set(args.out, command="frt staffing patience",
                    names=_PATIENCE_OUTPUTS) as outputs:
        write_table(fit.to_pandas().assign(business=fit.business),
                    outputs.path("patience.csv"))
        write_table(fit.km.rename(columns={"time": "seconds"}), outputs.path("kaplan_meier.csv"))
    print(fit.summary())
    print(f"desk calendar: {args.desk_calendar_text}")
    _finish(outputs)
    return 0


def _run_calibrate(args: argparse.Namespace) -> int:
    from frt_experiments._outputs import output_set  # noqa: PLC0415 (heavy imports)
    from frt_experiments.calendar import BusinessCalendar  # noqa: PLC0415 (heavy imports)
    from frt_experiments.policy import default_policies  # noqa: PLC0415 (heavy imports)
    from frt_experiments.schema import write_table  # noqa: PLC0415 (heavy imports)
    from frt_experiments.staffing import calibrate_capacity  # noqa: PLC0415 (heavy imports)
    check_output_dir(args.out, "--out")
    target = _duration_seconds(args.target, "--target", "calibrate")
    if args.statistic == "service_level" and target is None:
        raise ValueError("frt staffing calibrate: --statistic service_level needs --target "
                         "(e.g. 20s)")
    if target is not None and args.statistic != "service_level":
        raise ValueError("frt staffing calibrate: --target applies to --statistic "
                         "service_level")
    cal = _optional_calendar(args) or BusinessCalendar("UTC", hours="24/7")
    fast = _fast_target(args)
    control, treatment = _arms(args)
    roster = _read_roster(args.roster, args)
    conv, asg = _read(args)
    patience = _patience(args, conv, cal, "calibrate")
    calib = calibrate_capacity(
        conv, roster, asg, statistic=args.statistic, target_seconds=target,
        patience_seconds=patience, calendar=cal,
        policies=default_policies(cal, fast_target=fast, control=control, treatment=treatment),
        fast_arms=(control,), unassigned_arm=control, replications=args.replications,
        rng=args.seed)
    with output_set(args.out, command="frt staffing calibrate",
                    names=_CALIBRATE_OUTPUTS) as outputs:
        write_table(calib.to_pandas().assign(target_seconds=calib.target_seconds),
                    outputs.path("calibration.csv"))
        write_table(calib.curve, outputs.path("calibration_curve.csv"))
        write_table(calib.effective_roster.to_pandas(), outputs.path("effective_roster.csv"))
    print(calib.summary())
    queues = _queues_line(asg)
    if queues:
        print(queues)
    print(f"desk calendar: {args.desk_calendar_text}")
    _finish(outputs)
    return 0


def _run_analytics(args: argparse.Namespace) -> int:
    from frt_experiments._outputs import output_set  # noqa: PLC0415 (heavy imports)
    from frt_experiments.calendar import BusinessCalendar  # noqa: PLC0415 (heavy imports)
    from frt_experiments.policy import default_policies  # noqa: PLC0415 (heavy imports)
    from frt_experiments.schema import write_table  # noqa: PLC0415 (heavy imports)
    from frt_experiments.staffing import (  # noqa: PLC0415 (heavy imports)
        Roster,
        desk_analytics,
        simulate_desk,
    )
    check_output_dir(args.out, "--out")
    target = _duration_seconds(args.target, "--target", "analytics")
    cal = _optional_calendar(args)
    control, treatment = _arms(args)
    staff = _staff(args, "analytics", required=args.simulate)
    if not args.simulate:
        for flag, given in (("--patience", args.patience is not None),
                            ("--replications", args.replications != 1),
                            ("--fast-target", args.fast_target is not None),
                            ("--fast-target-hours", args.fast_target_hours is not None)):
            if given:
                raise ValueError(f"frt staffing analytics: {flag} needs --simulate")
    fast = _fast_target(args)
    conv, asg = _read(args)
    sim = None
    if args.simulate:
        if staff is None:  # _staff refuses it; for the type checker
            raise ValueError("frt staffing analytics: --simulate needs --agents or --roster")
        desk_cal = cal or BusinessCalendar("UTC", hours="24/7")
        patience = _patience(args, conv, desk_cal, "analytics")
        try:
            sim = simulate_desk(conv, asg, agents=staff, calendar=desk_cal,
                                policies=default_policies(desk_cal, fast_target=fast,
                                                          control=control, treatment=treatment),
                                fast_arms=(control,), unassigned_arm=control,
                                patience_seconds=patience, replications=args.replications,
                                rng=args.seed)
        except ValueError as exc:
            if isinstance(staff, Roster) and str(exc).startswith("agents:"):
                raise ValueError(f"frt staffing analytics: --roster"
                                 f"{str(exc)[len('agents'):]}") from None
            raise
    res = desk_analytics(conv, sim, interval=args.interval, unit=args.unit,
                         target_seconds=target, agents=staff, calendar=cal,
                         resamples=args.resamples, rng=args.seed,
                         source=args.conversations.name)
    fig = res.plot(("offered", "mean_wait", "p_wait", *(
        ("service_level",) if target is not None else ()), *(
        ("occupancy",) if staff is not None else ())))
    with output_set(args.out, command="frt staffing analytics",
                    names=_ANALYTICS_OUTPUTS) as outputs:
        write_table(res.to_pandas("interval"), outputs.path("desk_intervals.csv"))
        write_table(res.to_pandas("day").astype({"date": "string"}),
                    outputs.path("desk_days.csv"))
        write_table(res.to_pandas("overall"), outputs.path("desk_overall.csv"))
        fig.savefig(outputs.path("desk_analytics.png"), format="png", dpi=110)
    print(res.summary())
    queues = _queues_line(asg)
    if queues and sim is not None:
        print(queues)
    print(f"desk calendar: {args.desk_calendar_text}")
    _finish(outputs)
    return 0


#: Every file frt staffing plan writes into --out (headcount.csv with --months, decision.md
#: with --results); an earlier run's that this one does not write are removed.
_PLAN_OUTPUTS = ("staffing_plan.csv", "staffing_curve.csv", "headcount.csv", "decision.md",
                 "staffing_scheduled.csv", "shift_schedule.csv", "interval_staffing.csv")
_SCHEDULE_FLAGS = (("interval", "30min", "--interval"), ("shift_starts", None, "--shift-starts"),
                   ("days_on", 5, "--days-on"), ("break_length", None, "--break"),
                   ("shrinkage", 0.0, "--shrinkage"), ("time_limit", 60.0, "--time-limit"))


def _shift_rules(args: argparse.Namespace) -> ShiftRules | None:
    """The --shifts options as ShiftRules (checked before anything is read or simulated)."""
    from frt_experiments.staffing import ShiftRules, ShiftType  # noqa: PLC0415 (heavy imports)
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
    import pandas as pd  # noqa: PLC0415 (heavy imports)

    from frt_experiments._outputs import output_set  # noqa: PLC0415 (heavy imports)
    from frt_experiments.decision import decide, read_trust_record  # noqa: PLC0415 (heavy imports)
    from frt_experiments.schema import write_table  # noqa: PLC0415 (heavy imports)
    from frt_experiments.staffing import (  # noqa: PLC0415 (heavy imports)
        plan_staffing,
        project_headcount,
        staffing_curve,
    )
    from frt_experiments.staffing.plan import (  # noqa: PLC0415 (heavy imports)
        EVERYONE_FAST,
        POLICIES,
    )
    if args.results is not None and args.revenue_per_year is None:
        raise ValueError("frt staffing plan: --results needs --revenue-per-year")
    if args.revenue_per_year is not None and args.results is None:
        raise ValueError("frt staffing plan: --revenue-per-year needs --results")
    if args.csat_margin is not None and args.results is None:
        raise ValueError("frt staffing plan: --csat-margin needs --results")
    if args.results is not None and args.assignments is None:
        raise ValueError("frt staffing plan: --results needs --assignments (a decision prices "
                         "the rollout of an experiment)")
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
    queues = _queues_line(asg)
    if queues:
        print(queues)
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
    # without an experiment the rollout repeats everyone fast: its rows are left out
    policies = POLICIES if plan.experiment else (EVERYONE_FAST,)

    def only(table: pd.DataFrame) -> pd.DataFrame:
        return table[table["policy"].isin(policies)].reset_index(drop=True)

    with output_set(args.out, command="frt staffing plan", names=_PLAN_OUTPUTS) as outputs:
        write_table(only(plan.to_pandas()), outputs.path("staffing_plan.csv"))
        write_table(only(curve), outputs.path("staffing_curve.csv"))
        if proj is not None:
            write_table(only(proj.to_pandas()).merge(proj.savings, on="month"),
                        outputs.path("headcount.csv"))
        if plan.schedules:
            write_table(only(plan.scheduled), outputs.path("staffing_scheduled.csv"))
            write_table(pd.concat([sch.to_pandas().assign(policy=pol)
                                   for pol, sch in plan.schedules.items() if pol in policies],
                                  ignore_index=True), outputs.path("shift_schedule.csv"))
            write_table(pd.concat([sch.coverage.rename_axis("interval_start").reset_index()
                                   .assign(policy=pol) for pol, sch in plan.schedules.items()
                                   if pol in policies],
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

