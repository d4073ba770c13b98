"""Benchmark: segment readouts and the heterogeneity test against the simulator's truth
(issue 19).

Run: ``python benchmarks/bench_segments.py [trials] [customers] [workers] [parts]`` (default
300 trials per scenario of 20,000 customers, two worker processes, parts ``1,2,3``). For every
seeded trial (:func:`frt_experiments.simulate.simulate`) :func:`frt_experiments.analyze` reads
every metric by ``segment``, ``spend_band`` and ``contact_tercile`` (Benjamini-Hochberg across
segments x metrics, Cochran's Q per dimension and metric), as ``frt analyze --by`` does:

1. **No effect anywhere** (``aa``): every segment readout is a null, so any discovery is false.
   The share of trials with at least one discovery after BH is its family-wise error (BH
   controls it at ``alpha`` when every hypothesis is null); Cochran's Q rejects at most
   ``alpha``, and the share of trials naming a difference between segments (any Q test
   significant after the adjustment across dimensions x metrics; unadjusted, twelve tests at
   5% would name one in far more trials) stays at most ``alpha``. Goal: each at most 5% + 2
   Monte Carlo SE.
2. **Homogeneous effects** (``hte-null``: the published average effects, the same for every
   customer): the heterogeneity test's rejection rate (goal at most 5% + 2 MC SE, per metric
   and over all dimension x metric tests), and the share of trials in which the report names
   a difference between segments (any Q test significant after the adjustment across
   dimensions x metrics: the false finding of this scenario; goal the same). A false segment
   readout needs a metric whose true effect is 0 in every segment
   (:func:`~frt_experiments.simulate.segment_truth`); ``hte-null`` has none (every metric
   moves, the same for everyone), so that check is part 1's, where every readout is a null.
3. **Known heterogeneity** (``hte``): the segment intervals (by ``segment``) cover the true
   segment effects (:func:`~frt_experiments.simulate.segment_truth`, the analysis' estimands)
   93-97% of the time, per metric and in all; the heterogeneity test's power is printed.
4. **The targeting policy** (``benchmarks/bench_targeting.py``, when present): its value
   interval's coverage of its true value, and its true value against the best possible.

Monte Carlo SE of a rate ``p`` over ``n`` trials: ``sqrt(p (1 - p) / n)``.

Measured (300 trials per scenario of 20,000 customers; docs/benchmarks.md): ``aa`` any false
discovery 4.67% (MC SE 1.22%), Q rejections 5.06% (0.37%), trials naming a difference after
the adjustment 6.67% (1.44%; unadjusted 44.67%); ``hte-null`` naming one 6.33% (1.41%;
unadjusted 48.33%), Q rejections 5.44%
over all tests (0.38%; questions 4.67%, CSAT 6.00%, NRR 5.11%, efficiency 6.00%), segment
coverage 94.41% (0.44%); ``hte`` segment coverage 94.52% (0.44%; CSAT 94.44%, questions
94.67%, NRR 94.44%), Fieller relative intervals 94.70%.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

import frt_experiments as frt
from frt_experiments.errors import FrtWarning
from frt_experiments.simulate import simulate

BY = ("segment", "spend_band", "contact_tercile")
OUTCOMES = ("csat", "questions", "nrr")
ALPHA = 0.05


def one_trial(scenario: str, customers: int, seed: int) -> dict[str, Any]:
    """One trial's readouts: the segment table and the heterogeneity tests, as records."""
    t = simulate(scenario, customers=customers, rng=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FrtWarning)  # a small segment is reported, not raised
        res = frt.analyze(t.customers, t.conversations, t.assignments, by=list(BY),
                          diagnostics=False, alpha=ALPHA)
    seg = res.by_segment
    keep = ["dimension", "level", "metric", "diff", "diff_ci_low", "diff_ci_high", "rel_diff",
            "rel_ci_low", "rel_ci_high", "p_value", "p_adjusted", "significant", "inference"]
    return {"seed": seed, "table": seg.table[keep].assign(seed=seed),
            "heterogeneity": seg.heterogeneity.assign(seed=seed),
            "not_analysed": len(seg.not_analysed)}


def run(scenario: str, trials: int, customers: int, *, seed: int = 0, workers: int = 2
        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The readouts and heterogeneity tests of ``trials`` seeded trials of ``scenario``."""
    seeds = [seed + i for i in range(trials)]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            out = list(pool.map(one_trial, [scenario] * trials, [customers] * trials, seeds))
    else:
        out = [one_trial(scenario, customers, s) for s in seeds]
    return (pd.concat([o["table"] for o in out], ignore_index=True),
            pd.concat([o["heterogeneity"] for o in out], ignore_index=True))


def _rate(x: pd.Series) -> tuple[float, float]:
    p, n = float(x.mean()), len(x)
    return p, math.sqrt(max(p * (1 - p), 1e-12) / n)


def _line(label: str, p: float, se: float, goal: str) -> str:
    return f"  {label:<46} {100 * p:6.2f}%  (MC SE {100 * se:.2f}%)  {goal}"


def null_figures(table: pd.DataFrame, het: pd.DataFrame, null_metrics: set[str]
                 ) -> dict[str, Any]:
    """Family-wise false discoveries over the null metrics and the heterogeneity rejections."""
    trials = table["seed"].nunique()
    nulls = table.loc[table["metric"].isin(null_metrics)]
    any_false = nulls.groupby("seed")["significant"].any().reindex(
        table["seed"].unique(), fill_value=False)
    het_reject = het["p_value"] < ALPHA
    per_metric = {m: _rate(het_reject[het["metric"] == m]) for m in het["metric"].unique()}
    any_het = het.assign(r=het_reject).groupby("seed")["r"].any()
    named = het.assign(r=het["p_adjusted"] < ALPHA).groupby("seed")["r"].any()
    return {"trials": trials, "any_false": _rate(any_false), "het": _rate(het_reject),
            "het_per_metric": per_metric, "any_het": _rate(any_het),
            "any_het_named": _rate(named),
            "tests_per_trial": len(het) / max(trials, 1)}


def coverage_figures(table: pd.DataFrame, truth: pd.DataFrame) -> dict[str, Any]:
    """Coverage of the true segment effects by the segment intervals (``segment`` levels)."""
    seg = table.loc[(table["dimension"] == "segment") & table["metric"].isin(OUTCOMES)]
    t = truth.rename(columns={"segment": "level", "diff": "true_diff",
                              "rel_diff": "true_rel"})[["level", "metric", "true_diff",
                                                        "true_rel"]]
    m = seg.merge(t, on=["level", "metric"], how="inner", validate="many_to_one")
    m["covered"] = (m["diff_ci_low"] <= m["true_diff"]) & (m["true_diff"] <= m["diff_ci_high"])
    m["covered_rel"] = ((m["rel_ci_low"] <= m["true_rel"])
                        & (m["true_rel"] <= m["rel_ci_high"]))
    out = {"all": _rate(m["covered"]), "all_rel": _rate(m["covered_rel"])}
    for metric in OUTCOMES:
        sub = m.loc[m["metric"] == metric]
        out[metric] = _rate(sub["covered"])
        out[metric + "_bias"] = float((sub["diff"] - sub["true_diff"]).mean())
    out["cells"] = len(m)
    return out


def main(argv: list[str]) -> int:
    trials = int(argv[0]) if argv else 300
    customers = int(argv[1]) if len(argv) > 1 else 20_000
    workers = int(argv[2]) if len(argv) > 2 else 2
    parts = {int(x) for x in argv[3].split(",")} if len(argv) > 3 else {1, 2, 3}
    from frt_experiments.simulate import segment_truth  # the hte presets' truth

    print(f"Segment readouts by {', '.join(BY)}: {trials} trials per scenario, {customers:,} "
          f"customers, alpha {ALPHA}, Benjamini-Hochberg across segments x metrics")
    start = time.perf_counter()
    ok = True

    if 1 in parts:
        ok &= _part_aa(trials, customers, workers)
    if 2 in parts:
        ok &= _part_null(trials, customers, workers, segment_truth("hte-null", by="segment"))
    if 3 in parts:
        ok &= _part_hte(trials, customers, workers, segment_truth("hte", by="segment"))
    targeting = Path(__file__).with_name("bench_targeting.py")
    if targeting.exists():
        print("\n4. the targeting policy: python benchmarks/bench_targeting.py "
              f"{trials} (run separately; it prints its coverage and value)")
    print(f"\n{time.perf_counter() - start:.0f} s; {'all goals met' if ok else 'A GOAL IS MISSED'}")
    return 0 if ok else 1


def _part_aa(trials: int, customers: int, workers: int) -> bool:
    table, het = run("aa", trials, customers, seed=10_000, workers=workers)
    f = null_figures(table, het, set(table["metric"]))
    bound = ALPHA + 2 * f["any_false"][1]
    print(f"\n1. aa (no effect anywhere; {f['tests_per_trial']:.0f} heterogeneity tests and "
          f"{len(table) / f['trials']:.0f} readouts per trial)")
    print(_line("trials with any (false) discovery after BH", *f["any_false"],
                f"goal <= {100 * bound:.2f}%"))
    print(_line("Cochran's Q rejections (all tests)", *f["het"],
                f"goal <= {100 * (ALPHA + 2 * f['het'][1]):.2f}%"))
    named_bound = ALPHA + 2 * f["any_het_named"][1]
    print(_line("trials with any Q p < 5%, unadjusted", *f["any_het"], "(not used)"))
    print(_line("trials naming a difference (adjusted Q)", *f["any_het_named"],
                f"goal <= {100 * named_bound:.2f}%"))
    return bool(f["any_false"][0] <= bound and f["het"][0] <= ALPHA + 2 * f["het"][1]
                and f["any_het_named"][0] <= named_bound)


def _part_null(trials: int, customers: int, workers: int, truth_null: pd.DataFrame) -> bool:
    ok = True
    null_metrics = {m for m, g in truth_null.groupby("metric") if (g["diff"].abs() < 1e-12).all()}
    table, het = run("hte-null", trials, customers, seed=20_000, workers=workers)
    f = null_figures(table, het, null_metrics)
    print(f"\n2. hte-null (homogeneous effects; metrics with no true effect: "
          f"{', '.join(sorted(null_metrics)) or 'none'})")
    for metric, (p, se) in f["het_per_metric"].items():
        print(_line(f"Cochran's Q rejections, {metric}", p, se,
                    f"goal <= {100 * (ALPHA + 2 * se):.2f}%"))
        ok &= p <= ALPHA + 2 * se
    print(_line("Cochran's Q rejections (all tests)", *f["het"],
                f"goal <= {100 * (ALPHA + 2 * f['het'][1]):.2f}%"))
    ok &= f["het"][0] <= ALPHA + 2 * f["het"][1]
    named_bound = ALPHA + 2 * f["any_het_named"][1]
    print(_line("trials with any Q p < 5%, unadjusted", *f["any_het"], "(not used)"))
    print(_line("trials naming a difference (adjusted Q)", *f["any_het_named"],
                f"goal <= {100 * named_bound:.2f}%"))
    ok &= f["any_het_named"][0] <= named_bound
    rates = het.assign(r=het["p_value"] < ALPHA).groupby(["dimension", "metric"])["r"].mean()
    print("  by dimension x metric: " + ", ".join(f"{d}/{m} {100 * r:.1f}%"
                                                  for (d, m), r in rates.items()))
    if null_metrics:
        print(_line("trials with a false discovery (null metrics)", *f["any_false"],
                    f"goal <= {100 * (ALPHA + 2 * f['any_false'][1]):.2f}%"))
        ok &= f["any_false"][0] <= ALPHA + 2 * f["any_false"][1]
    cov = coverage_figures(table, truth_null)
    print(_line("segment intervals covering the truth", *cov["all"], "goal 93-97%"))
    return ok


def _part_hte(trials: int, customers: int, workers: int, truth: pd.DataFrame) -> bool:
    table, het = run("hte", trials, customers, seed=30_000, workers=workers)
    cov = coverage_figures(table, truth)
    print(f"\n3. hte (known heterogeneity): coverage of the true segment effects by the 95% "
          f"intervals ({cov['cells']:,} segment x metric intervals)")
    for metric in OUTCOMES:
        print(_line(f"{metric} (bias {cov[metric + '_bias']:+.5f})", *cov[metric],
                    "goal 93-97%"))
    print(_line("all, difference", *cov["all"], "goal 93-97%"))
    print(_line("all, relative change (Fieller)", *cov["all_rel"], "goal 93-97%"))
    ok = 0.93 <= cov["all"][0] <= 0.97
    power = het.assign(r=het["p_value"] < ALPHA).groupby(["dimension", "metric"])["r"].mean()
    print("  heterogeneity test's power (share of trials rejecting), by dimension x metric:")
    for (dim, metric), p in power.items():
        print(f"    {dim:<16} {metric:<11} {100 * p:6.1f}%")
    return bool(ok)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
