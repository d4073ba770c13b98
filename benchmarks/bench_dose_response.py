"""Dose-response against the truth: bias and coverage of the instrumented slope and of each arm's
effect over seeded `dose` trials, the naive regression on realized FRT beside it, and the A/A
false-positive rate of the slope.

Issue 16. For ``--trials`` seeded trials of the ``dose`` preset (four arms: fast, held to four
business hours, to one and to two business days; CSAT, questions and churn respond to each
conversation's realized FRT, and a per-conversation difficulty slows the answer and lowers
satisfaction) it runs :func:`frt_experiments.dose_response` and scores, per outcome (CSAT,
questions per customer, NRR):

- the 2SLS slope on the dose (log(1 + business hours) per answered conversation): its mean,
  bias against the true slope of :func:`frt_experiments.simulate.dose_truth` (the population
  2SLS line through the arms' expected points, weights the arms' shares), the empirical sd
  against the mean reported SE, and the coverage of its 95% interval;
- each slow arm's effect against control (difference of the outcome): coverage of its 95%
  interval against the true difference;
- the share of trials in which Hansen's J test rejects a straight line at 5% (the preset's
  true points lie almost on one: informative, not scored);
- the naive regression: least squares of the outcome on the realized dose, CSAT conversation
  by conversation over the rated ones (satisfied on ``log(1 + business hours)``), questions and
  NRR customer by customer on the customer's mean dose over answered conversations (customers
  without one left out) -- its mean and bias against the same true slope.

Then ``--aa-trials`` trials of the ``aa`` preset (two arms, both fast: no arm moves the dose)
give the share in which the slope is called significant (by the Anderson-Rubin test when the
first stage is weak, as :func:`frt_experiments.dose_response` does).

Monte Carlo standard errors are ``sqrt(p (1 - p) / trials)`` for shares and ``sd /
sqrt(trials)`` for means. PASS/FAIL: coverage in 93-97% (the issue's band) and the A/A rate at
most 5% + 2 SE at the nominal rate.

Run::

    python benchmarks/bench_dose_response.py                  # 300 + 300 trials, about 4 min
    python benchmarks/bench_dose_response.py --trials 50 --aa-trials 50 --customers 10000
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from frt_experiments import schema
from frt_experiments.diagnostics import default_calendar
from frt_experiments.dose import ANSWERED, DOSE_SUM, customer_doses
from frt_experiments.dose_response import dose_response
from frt_experiments.metrics import customer_rows
from frt_experiments.simulate import dose_truth, simulate

OUTCOMES = ("csat", "questions", "nrr")


@dataclass
class Trial:
    """One trial's estimates: per outcome the slope (estimate, se, interval), each slow arm's
    effect interval, the naive slope, and whether the slope was called significant."""

    slope: dict[str, tuple[float, float, float, float]]
    arms: dict[tuple[str, str], tuple[float, float, float]]
    naive: dict[str, float]
    significant: dict[str, bool]
    weak: bool
    linearity_p: dict[str, float]


def _ols_slope(x: np.ndarray, y: np.ndarray) -> float:
    xc = x - x.mean()
    return float(xc @ (y - y.mean()) / (xc @ xc))


def naive_slopes(tables: dict[str, pd.DataFrame]) -> dict[str, float]:
    """Least squares of each outcome on the realized dose (see the module docstring)."""
    conv, asg, cust = tables["conversations"], tables["assignments"], tables["customers"]
    cal = default_calendar()
    answered = conv[schema.FIRST_RESPONSE_AT].notna()
    rated = conv[schema.CSAT].notna() & answered
    c = conv[rated]
    hours = cal.business_duration(c[schema.CREATED_AT], c[schema.FIRST_RESPONSE_AT])
    dose = np.log1p(hours.dt.total_seconds().to_numpy() / 3600)
    sat = schema.satisfied(c).to_numpy(float)
    out = {"csat": _ols_slope(dose, sat)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = customer_rows(cust, conv, asg, validate=False)
    d = customer_doses(conv, asg, calendar=cal)
    has = d[ANSWERED].to_numpy() > 0
    mean_dose = d[DOSE_SUM].to_numpy()[has] / d[ANSWERED].to_numpy()[has]
    out["questions"] = _ols_slope(mean_dose, rows["conversations"].to_numpy()[has])
    start = rows[schema.REVENUE_START].to_numpy()[has]
    ratio = rows[schema.REVENUE_END].to_numpy()[has] / start
    # NRR is revenue-weighted: weighted least squares with the starting revenue as weight
    w = start / start.sum()
    xm, ym = w @ mean_dose, w @ ratio
    out["nrr"] = float(w @ ((mean_dose - xm) * (ratio - ym)) / (w @ (mean_dose - xm) ** 2))
    return out


def run_trial(scenario: str, seed: int, customers: int | None, naive: bool = True) -> Trial:
    tables = simulate(scenario, customers=customers, rng=seed).to_pandas()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # weak first stages of A/A trials are expected
        res = dose_response(tables["customers"], tables["conversations"],
                            tables["assignments"], calendar=default_calendar(),
                            validate=False)
    slope, arms, sig, lin = {}, {}, {}, {}
    weak = False
    for name, o in res.outcomes.items():
        s = o.slope
        slope[name] = (s.effect, s.se, s.ci_low, s.ci_high)
        sig[name] = o.significant
        lin[name] = o.linearity.p_value if o.linearity is not None else math.nan
        weak |= s.weak
        for _, a in o.arms.iloc[1:].iterrows():
            arms[(name, str(a["arm"]))] = (a["effect"], a["effect_ci_low"], a["effect_ci_high"])
    return Trial(slope, arms, naive_slopes(tables) if naive else {}, sig, weak, lin)


def _share(hits: np.ndarray) -> tuple[float, float]:
    p = float(np.mean(hits))
    return p, math.sqrt(p * (1 - p) / len(hits))


def score(trials: list[Trial], truth) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per outcome: slope bias, sd vs mean SE, coverage; naive slope and its bias. Per outcome
    and slow arm: coverage of the effect's interval."""
    slopes, arms = [], []
    n = len(trials)
    for name in OUTCOMES:
        true = truth.slopes[name]
        est = np.array([t.slope[name] for t in trials])
        cover = (est[:, 2] <= true) & (true <= est[:, 3])
        cov, cov_se = _share(cover)
        nav = np.array([t.naive[name] for t in trials]) if trials[0].naive else np.full(n, np.nan)
        lin = np.array([t.linearity_p[name] for t in trials])
        slopes.append({
            "outcome": name, "true_slope": true, "mean": est[:, 0].mean(),
            "bias": est[:, 0].mean() - true, "bias_se": est[:, 0].std(ddof=1) / math.sqrt(n),
            "sd": est[:, 0].std(ddof=1), "mean_se": est[:, 1].mean(), "coverage": cov,
            "coverage_mc_se": cov_se, "naive_mean": nav.mean(), "naive_bias": nav.mean() - true,
            "naive_bias_se": nav.std(ddof=1) / math.sqrt(n),
            "linearity_rejects": float(np.mean(lin < 0.05))})
        for arm in (a.arm for a in truth.arms[1:]):
            true_eff = truth.effect(name, arm)
            e = np.array([t.arms[(name, arm)] for t in trials])
            c, c_se = _share((e[:, 1] <= true_eff) & (true_eff <= e[:, 2]))
            arms.append({"outcome": name, "arm": arm, "true_effect": true_eff,
                         "bias": e[:, 0].mean() - true_eff, "coverage": c, "coverage_mc_se": c_se})
    return pd.DataFrame(slopes), pd.DataFrame(arms)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--aa-trials", type=int, default=300)
    ap.add_argument("--customers", type=int, default=None,
                    help="customers per trial (default the preset's: dose 40,000, aa 20,000)")
    ap.add_argument("--seed", type=int, default=20261202)
    args = ap.parse_args(argv)
    truth = dose_truth("dose")
    print(truth.summary())
    t0 = time.perf_counter()
    trials = []
    for i in range(args.trials):
        trials.append(run_trial("dose", args.seed + i, args.customers))
        if (i + 1) % 50 == 0:
            print(f"  {i + 1}/{args.trials} dose trials, {time.perf_counter() - t0:.0f} s",
                  file=sys.stderr)
    slopes, arms = score(trials, truth)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 30)
    print(f"\n{args.trials} `dose` trials ({time.perf_counter() - t0:.0f} s): the 2SLS slope "
          "per unit of log(1 + business hours), and the naive regression on realized FRT")
    print(slopes.to_string(index=False, float_format=lambda v: f"{v:.5g}"))
    print("\neach slow arm's effect against control (difference), 95% interval coverage")
    print(arms.to_string(index=False, float_format=lambda v: f"{v:.5g}"))
    ok = True
    for _, r in pd.concat([slopes, arms]).iterrows():
        good = 0.93 <= r["coverage"] <= 0.97
        ok &= good
    t1 = time.perf_counter()
    aa = [run_trial("aa", args.seed + 100_000 + i, args.customers, naive=False)
          for i in range(args.aa_trials)]
    se = math.sqrt(0.05 * 0.95 / len(aa))
    print(f"\n{len(aa)} `aa` trials ({time.perf_counter() - t1:.0f} s; no arm moves the dose; "
          f"weak first stage in {np.mean([t.weak for t in aa]):.0%}): slope called significant")
    for name in OUTCOMES:
        rate, rate_se = _share(np.array([t.significant[name] for t in aa]))
        good = rate <= 0.05 + 2 * se
        ok &= good
        print(f"  {name:9s} {rate:.3f} (MC SE {rate_se:.3f}; limit {0.05 + 2 * se:.3f}) "
              f"{'PASS' if good else 'FAIL'}")
    print(f"\ncoverage within 93-97% for every slope and arm effect, A/A rate within limits: "
          f"{'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
