"""Benchmark: diagnostics speed on a simulated trial, and calibration of the response-rate test.

1. Time :func:`frt_experiments.diagnose` on a simulated ``published`` trial (default 200,000
   customers).
2. A/A calibration of the CSAT response-rate test: both arms share one data-generating process
   in which customers differ in how often they write (gamma-Poisson) and how willing they are to
   rate (beta). The customer-clustered test (delta method) should reject about 5% at
   alpha 0.05; the two-proportion z test, which treats conversations as independent, rejects
   more often because ratings cluster within customers.

Run: ``python benchmarks/bench_diagnostics.py [--customers N] [--reps R]``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from frt_experiments import diagnose, simulate
from frt_experiments.diagnostics import _response_rates
from frt_experiments.errors import FrtWarning


def _aa_rates(rng: np.random.Generator, n: int) -> tuple[float, float]:
    contacts = rng.poisson(rng.gamma(1.5, 2.0, n))
    propensity = rng.beta(0.6, 1.4, n)
    rated = rng.binomial(contacts, propensity)
    owner = np.repeat(np.arange(n), contacts)
    # The first `rated` conversations of each customer are the rated ones.
    first = np.r_[0, np.cumsum(contacts)[:-1]]
    pos = np.arange(owner.size) - np.repeat(first, contacts)
    is_rated = pos < np.repeat(rated, contacts)
    ids = pd.Series(np.char.add("C", np.arange(n).astype(str)))
    conv = pd.DataFrame({"customer_id": ids.to_numpy()[owner],
                         "csat": pd.Series(np.where(is_rated, "good", None), dtype="string")})
    arm_of = pd.Series(np.where(np.arange(n) < n // 2, "fast", "one_business_day"),
                       index=ids.to_numpy())
    rr = _response_rates(conv, arm_of, "fast", "one_business_day")
    return float(rr["p_value"].iloc[0]), float(rr["ztest_p_value"].iloc[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--reps", type=int, default=1_000)
    args = parser.parse_args()

    t = time.perf_counter()
    trial = simulate("published", customers=args.customers, rng=7)
    t_sim = time.perf_counter() - t
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FrtWarning)
        t = time.perf_counter()
        d = diagnose(trial.customers, trial.conversations, trial.assignments)
        t_diag = time.perf_counter() - t
    print(f"simulate {args.customers:,} customers: {t_sim:.2f} s "
          f"({len(trial.conversations):,} conversations)")
    print(f"diagnose: {t_diag:.2f} s; treatment delivered: {d.treatment_delivered}; "
          f"SRM p = {d.srm.p_value:.3f}")

    rng = np.random.default_rng(2026)
    p = np.array([_aa_rates(rng, 4_000) for _ in range(args.reps)])
    se = np.sqrt(0.05 * 0.95 / args.reps)
    clustered, naive = (p < 0.05).mean(axis=0)
    print(f"A/A response-rate test, {args.reps} replications of 4,000 customers "
          f"(alpha 0.05, Monte Carlo se {se:.3f}):")
    print(f"  by customer (delta method): {clustered:.3f} rejected")
    print(f"  two-proportion z test:      {naive:.3f} rejected "
          f"({naive / clustered:.1f}x the clustered rate)")


if __name__ == "__main__":
    main()
