"""A/A calibration through the whole pipeline: simulator -> canonical tables -> analyze().

:mod:`bench_calibration` checks the statistics on per-customer rows drawn directly. This script
checks everything a user's trial goes through: ``frt_experiments.simulate("aa", ...)`` (both
arms under the same policy, no effect: every metric's true relative change is 0), then
``frt_experiments.analyze(..., diagnostics=False)`` on the canonical tables it returns
(validation, per-customer rows, sufficient statistics, delta method, CUPED, Welch).

For each metric, with and without CUPED, it prints

- the false positive rate at alpha 0.05 (nominal 0.05) with its Monte Carlo SE
  ``sqrt(0.05 * 0.95 / reps)`` and the z score of the departure;
- the ratio of the empirical standard deviation of ``diff`` across trials to the mean
  standard error the analysis reported (1 when the standard errors are right; its own Monte
  Carlo SE is about ``1 / sqrt(2 (reps - 1))``), a sharper check of the variance than the
  false positive rate.

Run: ``python benchmarks/bench_aa_pipeline.py [--reps 200] [--customers 4000] [--seed 0]``
(trial ``i`` uses ``rng = seed + i``).
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from frt_experiments import analyze, simulate
from frt_experiments.analysis import METRICS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--customers", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    reps, k = args.reps, len(METRICS)
    reject = {use: np.zeros((reps, k), bool) for use in (True, False)}
    diff = {use: np.zeros((reps, k)) for use in (True, False)}
    se = {use: np.zeros((reps, k)) for use in (True, False)}
    assigned = np.zeros(reps)
    t0 = time.perf_counter()
    for i in range(reps):
        trial = simulate("aa", customers=args.customers, rng=args.seed + i)
        assigned[i] = len(trial.assignments)
        for use in (True, False):
            r = analyze(trial.customers, trial.conversations, trial.assignments, cuped=use,
                        diagnostics=False)
            reject[use][i] = [m.p_value < 0.05 for m in r.metrics]
            diff[use][i] = [m.diff for m in r.metrics]
            se[use][i] = [m.se for m in r.metrics]
    elapsed = time.perf_counter() - t0
    mcse = math.sqrt(0.05 * 0.95 / reps)
    sd_mcse = 1 / math.sqrt(2 * (reps - 1))
    print(f"{reps:,} A/A trials simulate('aa', customers={args.customers:,}, rng={args.seed}.."
          f"{args.seed + reps - 1}) -> analyze(diagnostics=False), with and without CUPED; "
          f"{assigned.mean():,.0f} assigned customers per trial on average; {elapsed:.1f} s")
    print(f"Monte Carlo SE: false positive rate {mcse:.4f}; sd/se ratio {sd_mcse:.3f}\n")
    head = (f"{'metric':<11} {'CUPED':<5} {'FPR (nominal 0.05)':>19} {'MC SE':>7} {'z':>6}  "
            f"{'sd(diff) / mean se':>19} {'z':>6}")
    print(head)
    print("-" * len(head))
    flagged = []
    for use in (True, False):
        fpr = reject[use].mean(axis=0)
        ratio = diff[use].std(axis=0, ddof=1) / se[use].mean(axis=0)
        for j, m in enumerate(METRICS):
            z = (fpr[j] - 0.05) / mcse
            zr = (ratio[j] - 1) / sd_mcse
            if abs(z) > 3:
                flagged.append(f"{m} (CUPED {'yes' if use else 'no'})")
            print(f"{m:<11} {'yes' if use else 'no':<5} {fpr[j]:>19.4f} {mcse:>7.4f} "
                  f"{z:>6.2f}  {ratio[j]:>19.3f} {zr:>6.2f}")
    print("\nfalse positive rates off nominal by more than 3 Monte Carlo SE: "
          + (", ".join(flagged) if flagged else "none"))


if __name__ == "__main__":
    main()
