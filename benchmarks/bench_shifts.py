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
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
import pandas as pd

from frt_experiments.staffing import ShiftRules, ShiftType, required_agents, solve_shifts

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
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
