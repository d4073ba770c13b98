"""Calibration of the analysis: A/A false positive rates and interval coverage under an effect.

Each simulated experiment draws per-customer rows (the input of
:func:`frt_experiments.analysis.analyze_rows`) with what makes support data hard:

- uneven conversations per customer: gamma-Poisson counts (over-dispersed, many zeros), with a
  pre-period count from the same customer rate (the CUPED covariate);
- ratings on a random quarter of conversations, satisfaction from a customer random effect
  (beta), so ratings are clustered within customers;
- handle time log-normal per conversation;
- heavy-tailed revenue: log-normal with sigma 1.5 at the start; churn 3%, otherwise a
  log-normal change.

A/A: both arms from the same model; a metric's false positive rate should be 5% within its
Monte Carlo SE ``sqrt(.05 * .95 / reps)``. Known effect: the treatment's contact rate x 0.96,
satisfaction probability x 0.9875, revenue at the end x 0.99 and handle time per conversation
/ 1.2; the true relative changes are then exactly -4%, -1.25%, -1% and +20% (ratios of
expectations), and the 95% intervals of the relative change should cover them 95% of the time.

Run: ``python benchmarks/bench_calibration.py [--reps 2000] [--customers 4000] [--seed 1]``.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import pandas as pd

from frt_experiments.analysis import METRICS, analyze_rows

TRUE_REL = {"questions": -0.04, "csat": -0.0125, "nrr": -0.01, "efficiency": 0.20}


def draw_rows(rng: np.random.Generator, n: int, *, effect: bool) -> pd.DataFrame:
    arm = np.where(rng.random(n) < 0.5, "fast", "one_business_day")
    treated = arm == "one_business_day"
    rate = rng.gamma(0.7, 3.5 / 0.7, n)                     # conversations per window
    pre = rng.poisson(rate).astype(float)
    conv = rng.poisson(rate * np.where(treated & effect, 0.96, 1.0)).astype(float)
    rated = rng.binomial(conv.astype(np.int64), 0.25).astype(float)
    p_sat = rng.beta(6, 1.1, n) * np.where(treated & effect, 0.9875, 1.0)
    satisfied = rng.binomial(rated.astype(np.int64), p_sat).astype(float)
    pre_rated = rng.binomial(pre.astype(np.int64), 0.25).astype(float)
    pre_satisfied = rng.binomial(pre_rated.astype(np.int64), rng.beta(6, 1.1, n)).astype(float)
    # sum of conv log-normal handle times ~ conv * per-customer mean handle time (gamma-mixed)
    base_handle = rng.lognormal(np.log(900), 0.6, n)        # customer's seconds per conversation
    per_conv = base_handle * np.where(treated & effect, 1 / 1.2, 1.0)
    handle_hours = rng.gamma(np.maximum(conv, 1e-9) * 4, per_conv / 4) * (conv > 0) / 3600
    pre_handle = rng.gamma(np.maximum(pre, 1e-9) * 4, base_handle / 4) * (pre > 0)
    start = rng.lognormal(np.log(60), 1.5, n)
    churn = rng.random(n) < 0.03
    end = np.where(churn, 0.0, start * rng.lognormal(0, 0.15, n) / math.exp(0.15**2 / 2))
    end *= np.where(treated & effect, 0.99, 1.0)
    return pd.DataFrame({"arm": arm, "conversations": conv, "rated": rated,
                         "satisfied": satisfied, "handle_hours": handle_hours,
                         "revenue_start": start, "revenue_end": end,
                         "pre_conversations": pre, "pre_rated": pre_rated,
                         "pre_satisfied": pre_satisfied, "pre_handle_seconds": pre_handle})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--customers", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    reps = args.reps
    fp = {c: np.zeros(len(METRICS)) for c in (True, False)}
    cover = {c: np.zeros(len(METRICS)) for c in (True, False)}
    width = {c: np.zeros(len(METRICS)) for c in (True, False)}
    truth = np.array([TRUE_REL[m] for m in METRICS])
    t0 = time.perf_counter()
    for _ in range(reps):
        aa = draw_rows(rng, args.customers, effect=False)
        ab = draw_rows(rng, args.customers, effect=True)
        for use in (True, False):
            r = analyze_rows(aa, cuped=use).to_pandas()
            fp[use] += r["p_value"].to_numpy() < 0.05
            e = analyze_rows(ab, cuped=use).to_pandas()
            lo, hi = e["rel_ci_low"].to_numpy(), e["rel_ci_high"].to_numpy()
            cover[use] += (lo <= truth) & (truth <= hi)
            width[use] += hi - lo
    elapsed = time.perf_counter() - t0
    se_fp = math.sqrt(0.05 * 0.95 / reps)
    se_cov = math.sqrt(0.95 * 0.05 / reps)
    print(f"{reps:,} A/A and {reps:,} known-effect experiments of {args.customers:,} customers "
          f"each (seed {args.seed}), {elapsed:.1f} s for {4 * reps:,} analyses "
          f"({1e3 * elapsed / (4 * reps):.1f} ms each)")
    print(f"Monte Carlo SE: false positive rate {se_fp:.4f}, coverage {se_cov:.4f}\n")
    header = (f"{'metric':<11} {'CUPED':<5} {'FPR (nominal 0.05)':>19} {'z':>6}  "
              f"{'coverage (nominal 0.95)':>24} {'z':>6}  {'mean CI width':>13}")
    print(header)
    print("-" * len(header))
    for use in (True, False):
        for j, m in enumerate(METRICS):
            f = fp[use][j] / reps
            c = cover[use][j] / reps
            print(f"{m:<11} {'yes' if use else 'no':<5} {f:>19.4f} {(f - 0.05) / se_fp:>6.2f}  "
                  f"{c:>24.4f} {(c - 0.95) / se_cov:>6.2f}  {width[use][j] / reps:>13.4%}")
    ratio = width[True] / width[False]
    print("\nCI width with CUPED / without: "
          + ", ".join(f"{m} {r:.3f}" for m, r in zip(METRICS, ratio, strict=True)))


if __name__ == "__main__":
    main()
