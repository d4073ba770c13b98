"""Shift scheduling by integer programming (HiGHS through scipy.optimize.milp).

Run: python benchmarks/bench_shifts.py [--time-limit 60]

1. A small case checked against brute force: two days of 3-hour intervals, single 6- and
   9-hour shifts, 20 random requirements; the MILP optimum equals the enumerated optimum in
   every case (and the LP bound is below it).
2. A week of 30-minute intervals (336) with a realistic pattern -- a morning and an afternoon
   peak on weekdays, weekends at 45% -- from Erlang C per interval (required_agents over the
   336 arrival rates, 80% within 20 s), 30% shrinkage; 8-hour tours (five days on, two off)
   starting on the hour: time to optimality, the objective and the LP-relaxation bound.
3. The same requirement with a 30-minute break in each shift, between 3 and 4.5 hours after
   the start (each placement a column): time, status and gap within --time-limit.
4. 8- and 6-hour tours starting on any half hour, with breaks: the harder case, status and
   gap at --time-limit.
5. ``plan_staffing(schedule=...)`` on notebook 03's email desk (``published``, 30,000
   customers, rng 3) and on the ``published-desk`` preset (20,000 customers, rng 1), New York
   09:00-17:00 with US holidays, 8-hour shifts from 09:00 and 4-hour ones from 09:00 or
   13:00: both policies' paid hours a week *before* (one margin for both queues in 10% steps,
   the search plan_staffing used until the per-queue margins; reproduced here) and *after*
   (the planner as it is), with where the time goes (MILPs, LP bounds, desk simulations,
   the constant-headcount search; the rest is building the fluid week and the setups).
"""

from __future__ import annotations

import argparse
import itertools
import time
from typing import Any

import numpy as np
import pandas as pd

import frt_experiments as frt
from frt_experiments.diagnostics import default_calendar
from frt_experiments.staffing import ShiftRules, ShiftType, required_agents, solve_shifts
from frt_experiments.staffing import plan as _plan

HOURLY = [f"{h:02d}:00" for h in range(24)]


def weekly_requirement() -> pd.Series:
    idx = pd.date_range("2025-01-06", periods=336, freq="30min", name="interval_start")
    h = idx.hour + idx.minute / 60
    day = np.exp(-0.5 * ((h - 11) / 3) ** 2) + 0.7 * np.exp(-0.5 * ((h - 15.5) / 2.5) ** 2)
    week = np.where(idx.day_of_week < 5, 1.0, 0.45)
    arrivals = pd.Series(20 + 400 * day * week, index=idx)  # contacts an hour
    return required_agents(arrivals, 240, 20, 0.8).requirement


def brute_force_case(trials: int) -> None:
    agree, worst = 0, 0.0
    start = time.perf_counter()
    for seed in range(trials):
        req = np.random.default_rng(seed).integers(0, 3, 16)
        rules = ShiftRules([ShiftType("6h", starts=["00:00", "06:00", "12:00", "18:00"],
                                      days_on=None),
                            ShiftType("9h", starts=["06:00", "15:00"], days_on=None)],
                           interval="3h")
        s = solve_shifts(req, rules)
        cols, cost = [], []
        for day in range(2):
            for first, steps in [(0, 2), (2, 2), (4, 2), (6, 2), (2, 3), (5, 3)]:
                a = np.zeros(16)
                a[(day * 8 + first + np.arange(steps)) % 16] = 1
                cols.append(a)
                cost.append(3.0 * steps)
        grid = np.array(list(itertools.product(range(3), repeat=12)))
        ok = ((grid @ np.array(cols)) >= req).all(axis=1)
        best = float((grid[ok] @ np.array(cost)).min())
        agree += abs(best - s.objective) < 1e-9 and s.lp_bound <= s.objective + 1e-9
        worst = max(worst, s.solve_seconds)
    print(f"1. brute force: MILP optimum equals the enumerated one (3^12 = 531,441 vectors) in "
          f"{agree} of {trials} cases; slowest MILP {worst * 1e3:.0f} ms "
          f"({time.perf_counter() - start:.1f} s in all)")


def report(label: str, req: pd.Series, rules: ShiftRules) -> None:
    s = solve_shifts(req, rules)
    lp_gap = (s.objective - s.lp_bound) / s.objective
    print(f"{label}: {s.status} in {s.solve_seconds:.2f} s; {s.agents} agents, "
          f"{s.paid_hours_per_week:,.0f} paid h/week ({s.fte:.1f} FTE), cost "
          f"{s.objective:,.0f}, LP bound {s.lp_bound:,.1f} ({lp_gap:.2%} below), MIP gap "
          f"{s.mip_gap:.2%}; coverage >= needed everywhere: "
          f"{bool((s.coverage['scheduled'] >= s.coverage['needed']).all())}, surplus "
          f"{int(s.coverage['surplus'].sum()):,} agent-intervals")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--brute-force-cases", type=int, default=20)
    parser.add_argument("--plan-only", action="store_true",
                        help="only section 5 (plan_staffing before and after)")
    args = parser.parse_args()
    if args.plan_only:
        plan_before_after()
        return
    brute_force_case(args.brute_force_cases)
    req = weekly_requirement()
    print(f"   weekly requirement: {len(req)} half hours, peak {int(req.max())} agents, "
          f"{req.sum() / 2:,.0f} agent hours on the floor a week")
    limit = args.time_limit
    report("2. 8h tours on the hour, no breaks",
           req, ShiftRules([ShiftType("8h", starts=HOURLY)], shrinkage=0.3, time_limit=limit))
    report(f"3. with a 30-minute break (time limit {limit:g} s)", req,
           ShiftRules([ShiftType("8h", starts=HOURLY, break_length="30min",
                                 break_window=("3h", "4h30min"))], shrinkage=0.3,
                      time_limit=limit))
    report(f"4. 8h and 6h tours on any half hour, with breaks (time limit {limit:g} s)", req,
           ShiftRules([ShiftType("8h", break_length="30min", break_window=("3h", "4h30min")),
                       ShiftType("6h", break_length="30min", break_window=("2h", "3h30min"))],
                      shrinkage=0.3, time_limit=limit))
    plan_before_after()


def _old_search(setup: Any, rules: ShiftRules, levels: dict[str, float]) -> float:
    """Paid hours of the search before the per-queue margins: one margin for both queues,
    from 1 down by 10% while the desk passes, or up by 10% until it does."""
    week = _plan._fluid_week(setup, rules.interval, 4.0)

    def paid_if_ok(m: float) -> float | None:
        sched = _plan._fluid_schedule(week, rules, m)
        ok = _plan._meets(_plan._simulated_shares(sched, setup, rules), levels)
        return sched.paid_hours_per_week if ok else None

    m, best = 1.0, paid_if_ok(1.0)
    if best is not None:
        while m * 0.9 >= 0.5 and (p := paid_if_ok(round(m * 0.9, 6))) is not None:
            m, best = round(m * 0.9, 6), p
        return best
    while best is None and m < 2.86:
        m = round(m * 1.1, 6)
        best = paid_if_ok(m)
    return float("nan") if best is None else best


def plan_before_after() -> None:
    calendar = default_calendar()
    rules = ShiftRules([ShiftType("8h", starts="09:00"),
                        ShiftType("4h", starts=["09:00", "13:00"])], interval="1h",
                       time_limit=20)
    desks = {"notebook 03 (published, 30,000 customers, rng 3)":
             lambda: frt.simulate("published", customers=30_000, rng=3),
             "published-desk (20,000 customers, rng 1)":
             lambda: frt.simulate("published-desk", customers=20_000, rng=1)}
    spent = {"MILP": 0.0, "LP bounds": 0.0, "simulation": 0.0, "constant headcount": 0.0}
    originals = (_plan._fluid_schedule, _plan._fluid_lp_bound, _plan._simulated_shares,
                 _plan._min_agents)

    def timed(key: str, f):
        def run(*a, **k):
            t0 = time.perf_counter()
            try:
                return f(*a, **k)
            finally:
                spent[key] += time.perf_counter() - t0
        return run

    print("5. plan_staffing(schedule=...): paid hours a week, before -> after")
    for label, make in desks.items():
        trial = make()
        setups = _plan_setups(trial, calendar)
        levels = {"fast": 0.9, "one_business_day": 0.95}
        before = {name: _old_search(setups[name], rules,
                                    {a: v for a, v in levels.items() if a in setups[name].arms})
                  for name in _plan.POLICIES}
        for k in spent:
            spent[k] = 0.0
        _plan._fluid_schedule = timed("MILP", originals[0])
        _plan._fluid_lp_bound = timed("LP bounds", originals[1])
        _plan._simulated_shares = timed("simulation", originals[2])
        _plan._min_agents = timed("constant headcount", originals[3])
        try:
            t0 = time.perf_counter()
            plan = frt.plan_staffing(trial.conversations, trial.assignments,
                                     calendar=calendar, schedule=rules, rng=1)
            total = time.perf_counter() - t0
        finally:
            (_plan._fluid_schedule, _plan._fluid_lp_bound, _plan._simulated_shares,
             _plan._min_agents) = originals
        after = plan.scheduled.set_index("policy")
        print(f"   {label}:")
        for name in _plan.POLICIES:
            r = after.loc[name]
            m_d = "" if np.isnan(r["deferred_margin"]) else f", deferred {r['deferred_margin']:.3f}"
            print(f"     {name:14s} {before[name]:7,.0f} -> {r['paid_hours_per_week']:7,.0f} "
                  f"(margin fast {r['fast_margin']:.3f}{m_d}; schedule {r['schedule_from']}; "
                  f"constant headcount {r['constant_hours_per_week']:,.0f} h)")
        print(f"     saved on schedules: {before['everyone_fast'] - before['rollout']:,.0f} -> "
              f"{plan.scheduled_hours_saved_per_week:,.0f} paid h/week; plan_staffing "
              f"{total:.1f} s ({plan.simulations} desk simulations): "
              + ", ".join(f"{k} {v:.1f} s" for k, v in spent.items()))


def _plan_setups(trial: Any, calendar: Any) -> dict[str, Any]:
    pols = _plan._policies(calendar, None, _plan._dt.timedelta(hours=4), "fast",
                           "one_business_day")
    sc = _plan._scenario(trial.conversations, trial.assignments, calendar=calendar,
                         control="fast", treatment="one_business_day")
    seed = _plan._seeds(np.random.default_rng(1))[0]
    return {name: _plan._with_fast_target(
        _plan._setup(sc.profiles[name], calendar=calendar, policies=pols, start=sc.start,
                     weeks=4.0, warmup_days=4.0, replications=1,
                     rng=np.random.default_rng(seed), control="fast"), "fast", 4 * 3600.0)
        for name in _plan.POLICIES}


if __name__ == "__main__":
    main()
