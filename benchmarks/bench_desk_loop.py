"""Benchmark: the simulator with the desk in the loop (issue 17).

Run: ``python benchmarks/bench_desk_loop.py [customers] [replications]``. Prints

1. the time of a five-month ``published-desk`` trial with the desk in the loop (default
   200,000 customers, 280 agents: the preset's 28 per 20,000) through
   :func:`frt_experiments.simulate.simulate`, split into what dominates: the potential draws,
   the desk runs (``simulate_desk``, one per fixed-point iteration of the follow-ups) and the
   tables; goal under 60 s on two cores;
2. the three worlds (:func:`~frt_experiments.simulate.simulate_worlds`) at the preset's size
   (20,000 customers, 28 agents, 24 in the rollout): each world's true effects and the
   interference (the control arm's FRT in the status quo and in the trial: the issue's
   "88.6% within 4 business hours when everyone is fast, about 100% in the 50/50 trial");
3. :func:`~frt_experiments.simulate.desk_truth` over ``replications`` (default 20) seeds,
   shared desk and split pools: the bias of the trial's contrast against the rollout's
   effect with its Monte Carlo SE, and what split pools cost (agents, and the sd of the plain
   A/B contrast across seeds: its precision).
"""

from __future__ import annotations

import sys
import time
from unittest import mock

import pandas as pd

from frt_experiments.simulate import desk_loop, desk_truth, simulate, simulate_worlds


def timed_trial(customers: int) -> None:
    spent = {"draws": 0.0, "desk": 0.0, "runs": 0}
    real_draw = desk_loop.draw_potential
    from frt_experiments import staffing

    real_run = staffing.simulate_desk

    def draw(*a, **k):
        t = time.perf_counter()
        out = real_draw(*a, **k)
        spent["draws"] += time.perf_counter() - t
        return out

    def desk(*a, **k):
        t = time.perf_counter()
        out = real_run(*a, **k)
        spent["desk"] += time.perf_counter() - t
        spent["runs"] += 1
        return out

    t0 = time.perf_counter()
    with mock.patch.object(desk_loop, "draw_potential", draw), \
            mock.patch.object(staffing, "simulate_desk", desk):
        trial = simulate("published-desk", customers=customers, rng=2025)
    total = time.perf_counter() - t0
    other = total - spent["draws"] - spent["desk"]
    print(f"published-desk trial, {customers:,} customers, five months, "
          f"{trial.scenario.desk.agents} agents: {len(trial.conversations):,} conversations")
    print(f"  total               {total:8.2f} s   (goal < 60 s)")
    print(f"  potential draws     {spent['draws']:8.2f} s")
    print(f"  desk runs           {spent['desk']:8.2f} s   ({spent['runs']} runs of "
          f"simulate_desk: the fixed point of the follow-ups)")
    print(f"  rest (FRT -> ratings, churn, calendar, tables) {other:8.2f} s")


def worlds() -> None:
    t0 = time.perf_counter()
    w = simulate_worlds("published-desk", rng=2025)
    print(f"\n{w.summary()}\n({time.perf_counter() - t0:.1f} s)")


def truth(replications: int) -> None:
    rows = []
    for pools in ("shared", "split"):
        t0 = time.perf_counter()
        t = desk_truth("published-desk", replications=replications, rng=7, pools=pools)
        contrast = t.per_replication.query("effect == 'contrast'").groupby("outcome")["value"]
        for o in ("csat", "questions", "nrr"):
            r, r_se = t.effect(o, "rollout")
            tr, tr_se = t.effect(o, "trial")
            b, b_se = t.effect(o, "bias")
            rows.append({"pools": pools, "outcome": o, "rollout": r, "rollout_se": r_se,
                         "trial": tr, "trial_se": tr_se, "bias": b, "bias_se": b_se,
                         "bias_z": b / b_se, "contrast_sd": float(contrast.std().loc[o])})
        inter = t.interference
        print(f"\ndesk_truth, {pools} pools, {replications} replications "
              f"({time.perf_counter() - t0:.1f} s): FRT per arm and world")
        with pd.option_context("display.float_format", "{:.4g}".format, "display.width", 160):
            print(inter[["mean_business_hours", "mean_business_hours_se",
                         "median_business_hours", "share_within_target",
                         "share_within_target_se"]].to_string())
    table = pd.DataFrame(rows).set_index(["outcome", "pools"]).sort_index()
    with pd.option_context("display.float_format", "{:.3g}".format, "display.width", 160):
        print("\ntrue effects (mean over replications, Monte Carlo SE); bias = trial - rollout;"
              " contrast_sd = sd of the plain A/B contrast across seeds (precision)")
        print(table.to_string())
    print("agents: shared pools 28 in the trial; split pools 14 (fast pool: half the status "
          "quo's 28) + 12 (slow pool: half the rollout's 24) = 26")


def main() -> None:
    customers = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    replications = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    timed_trial(customers)
    worlds()
    truth(replications)


if __name__ == "__main__":
    main()
