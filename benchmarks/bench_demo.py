"""Benchmark: ``frt demo`` end to end, and whether its table is centred on the scenario's truth.

Run: ``python benchmarks/bench_demo.py [replications] [customers]``.

1. Runs :func:`frt_experiments.demo.run_demo` with its defaults (200,000 customers, seed 2025)
   into a temporary directory and prints the seconds each stage took (goal: under a minute).
2. Simulates and analyses ``replications`` further trials of the ``published`` scenario
   (default 12 of 100,000 customers, seeds 1000, 1001, ...) and prints, per metric, the mean
   relative change with its Monte Carlo standard error against the change the scenario
   implies, and how many of the runs' 95% intervals cover it (expect about 95%).
"""

from __future__ import annotations

import sys
import tempfile
import time
import warnings

import numpy as np
import pandas as pd

from frt_experiments import analyze, simulate
from frt_experiments.demo import run_demo
from frt_experiments.errors import FrtWarning
from frt_experiments.simulate.calibrate import expected_effects


def main() -> None:
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    customers = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FrtWarning)
            out = run_demo(tmp, progress=False)
        total = time.perf_counter() - t0
    print("frt demo (200,000 customers, seed 2025)")
    for stage, seconds in out.timings.items():
        print(f"  {stage:<10} {seconds:6.1f} s")
    print(f"  {'total':<10} {total:6.1f} s  (goal: under 60 s)")
    print(out.table_text)

    rows = []
    truth: dict[str, float] = {}
    t0 = time.perf_counter()
    for i in range(reps):
        trial = simulate("published", customers=customers, rng=1000 + i)
        truth = expected_effects(trial.scenario)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FrtWarning)
            res = analyze(trial.customers, trial.conversations, trial.assignments)
        rows.append(res.to_pandas().assign(replication=i))
    runs = pd.concat(rows, ignore_index=True)
    runs["truth"] = runs["metric"].map(truth)
    runs["covers"] = (runs["rel_ci_low"] <= runs["truth"]) & (runs["truth"] <= runs["rel_ci_high"])
    g = runs.groupby("metric", sort=False)
    summary = pd.DataFrame({
        "truth": g["truth"].first() * 100,
        "mean": g["rel_diff"].mean() * 100,
        "mc_se": g["rel_diff"].std() / np.sqrt(reps) * 100,
        "covered": g["covers"].sum().astype(int),
    })
    summary["z"] = (summary["mean"] - summary["truth"]) / summary["mc_se"]
    print(f"\n{reps} trials of {customers:,} customers (seeds 1000-{999 + reps}), "
          f"{time.perf_counter() - t0:.0f} s; relative changes in %")
    print(summary.round({"truth": 2, "mean": 3, "mc_se": 3, "z": 2}).to_string())


if __name__ == "__main__":
    main()
