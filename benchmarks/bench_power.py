"""Power planning: analytic answer vs Monte Carlo, sequential calibration, speed.

Run: python benchmarks/bench_power.py [--reps 2000]

1. Monte Carlo power on sufficient statistics vs the analytic power of
   frt_experiments.design.metric_power, per metric, side by side (with the simulation's SE).
   Data come from the parametric customer-level generator frt_experiments._parametric (same
   metric definitions as DESIGN section 4).
1b. The same comparison on the scenario simulator (frt_experiments.simulate.simulate), when
   it is installed: seeded trials, per-customer sums, delta-method z tests.
2. Type I error of the Lan-DeMets boundaries (O'Brien-Fleming and Pocock type, 5 looks) by
   simulated Brownian motion, vs the nominal 0.05.
2b. The same for judge_interim when the looks fall off the planned schedule (late, short of
   the planned information, or overrunning it).
3. Speed: sequential_bounds and the power solvers, vs statsmodels' solve_power.
"""

from __future__ import annotations

import argparse
import importlib
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.power import NormalIndPower, zt_ind_solve_power

from frt_experiments import schema
from frt_experiments._parametric import (
    ParametricModel,
    arm_sums,
    estimate_and_var,
    history_tables,
    z_statistics,
)
from frt_experiments.design import estimate_variances, metric_power, plan_experiment
from frt_experiments.errors import DataWarning
from frt_experiments.monitoring import judge_interim
from frt_experiments.plan import ExperimentPlan
from frt_experiments.stats.power import proportion_sample_size, solve_power
from frt_experiments.stats.sequential import sequential_bounds


def monte_carlo(reps: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    model = ParametricModel()
    customers, conversations = history_tables(model, 200_000, rng)
    v = estimate_variances(customers, conversations)
    # the published effects (questions -4%, CSAT -1.25%, NRR 0%, efficiency +20%) at the
    # size where CSAT (binding) has 80% power; NRR shown at a 1% change instead of 0
    effects = {"questions": -0.04, "csat": -0.0125, "nrr": 0.01, "efficiency": 0.20}
    design = plan_experiment(v, rel_mde={"csat": -0.0125})
    n = design.n_control
    print(f"1. Monte Carlo vs analytic power, n = {n:,} customers per arm, {reps} replications")
    print("   (analytic: sds estimated from a 200,000-customer history, as a user would plan;"
          "\n    at mc sd: the same formula with the sd pooled over the simulated control arms)")
    print(f"   {'metric':<11}{'effect':>8}{'analytic':>10}{'at mc sd':>10}{'monte carlo':>13}"
          f"{'mc se':>8}{'|diff|/se':>10}{'(at mc sd)':>11}")
    batch = max(1, min(reps, 20_000_000 // (n * 6)))
    z: dict[str, list[np.ndarray]] = {m: [] for m in effects}
    unit_var: dict[str, list[np.ndarray]] = {m: [] for m in effects}
    t0 = time.perf_counter()
    done = 0
    while done < reps:
        b = min(batch, reps - done)
        c = arm_sums(model, n, b, rng)
        t = arm_sums(model, n, b, rng, effects)
        for m in effects:
            z[m].append(z_statistics(c, t, m))
            unit_var[m].append(estimate_and_var(c, m)[1] * n)
        done += b
    elapsed = time.perf_counter() - t0
    crit = stats.norm.isf(0.025)
    for m, e in effects.items():
        analytic = metric_power(v[m], n_per_arm=n, rel_mde=e, power=None).power
        pooled = replace(v[m], sd=math.sqrt(float(np.mean(np.concatenate(unit_var[m])))))
        at_mc_sd = metric_power(pooled, n_per_arm=n, rel_mde=e, power=None).power
        mc = float(np.mean(np.abs(np.concatenate(z[m])) >= crit))
        se = math.sqrt(max(mc * (1 - mc), 1e-12) / reps)
        print(f"   {m:<11}{e:>+8.2%}{analytic:>10.3f}{at_mc_sd:>10.3f}{mc:>13.3f}{se:>8.3f}"
              f"{abs(mc - analytic) / se:>10.2f}{abs(mc - at_mc_sd) / se:>11.2f}")
    print(f"   ({elapsed:.1f} s for {2 * reps:,} simulated arms of {n:,} customers)")


#: The published relative changes (DESIGN section 1), slow arm vs fast arm.
PUBLISHED_EFFECTS = {"questions": -0.04, "csat": -0.0125, "nrr": 0.0, "efficiency": 0.20}


def _split(trial: object) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Per-arm (customers, conversations) of a SimulatedTrial (agreed API of issue 5)."""
    customers = trial.customers  # type: ignore[attr-defined]
    conversations = trial.conversations  # type: ignore[attr-defined]
    assignments = trial.assignments  # type: ignore[attr-defined]
    arm_of = assignments.set_index(schema.CUSTOMER_ID)[schema.ARM]
    out = {}
    for arm in (schema.CONTROL_ARM, schema.TREATMENT_ARM):
        ids = arm_of.index[arm_of == arm]
        out[arm] = (customers[customers[schema.CUSTOMER_ID].isin(ids)].reset_index(drop=True),
                    conversations[conversations[schema.CUSTOMER_ID].isin(ids)]
                    .reset_index(drop=True))
    return out


def simulator_check(simulate: Callable[..., object], *, customers: int, reps: int,
                    seed: int, scenario: str = "published") -> None:
    """Analytic power vs Monte Carlo power of the scenario simulator, per metric.

    The analytic side takes baselines and sds from one large simulated trial, and the effects
    of the published table (which the ``published`` preset reproduces in expectation; other
    scenarios use the large trial's estimates). The Monte Carlo side runs ``reps`` seeded
    trials of ``customers`` customers and tests each metric with the delta-method z test on
    per-customer sums.
    """
    big = _split(simulate(scenario, customers=20 * customers, rng=seed))
    var_c = estimate_variances(*big[schema.CONTROL_ARM], source="control")
    var_t = estimate_variances(*big[schema.TREATMENT_ARM], source="treatment")
    estimated = {m: var_t[m].baseline / var_c[m].baseline - 1 for m in var_c if m in var_t}
    effects = ({m: PUBLISHED_EFFECTS[m] for m in estimated} if scenario == "published"
               else estimated)
    crit = stats.norm.isf(0.025)
    rejected = dict.fromkeys(effects, 0)
    sizes = []
    t0 = time.perf_counter()
    for r in range(reps):
        arms = _split(simulate(scenario, customers=customers, rng=seed + 1 + r))
        a = estimate_variances(*arms[schema.CONTROL_ARM], source="control")
        b = estimate_variances(*arms[schema.TREATMENT_ARM], source="treatment")
        na, nb = len(arms[schema.CONTROL_ARM][0]), len(arms[schema.TREATMENT_ARM][0])
        sizes.append((na, nb))
        for m in effects:
            z = (b[m].baseline - a[m].baseline) / math.sqrt(a[m].sd**2 / na + b[m].sd**2 / nb)
            rejected[m] += abs(z) >= crit
    elapsed = time.perf_counter() - t0
    na, nb = np.mean(sizes, axis=0)
    print(f"1b. Scenario simulator {scenario!r}: analytic vs Monte Carlo power, "
          f"{na:,.0f} + {nb:,.0f} customers per trial, {reps} trials ({elapsed:.0f} s)")
    print(f"   {'metric':<11}{'effect':>8}{'(large run)':>12}{'analytic':>10}{'monte carlo':>13}"
          f"{'mc se':>8}")
    for m, e in effects.items():
        analytic = metric_power(var_c[m], n_per_arm=na, ratio=nb / na, rel_mde=e,
                                power=None).power
        mc = rejected[m] / reps
        se = math.sqrt(max(mc * (1 - mc), 1e-12) / reps)
        print(f"   {m:<11}{e:>+8.2%}{estimated[m]:>+12.2%}{analytic:>10.3f}{mc:>13.3f}"
              f"{se:>8.3f}")


def sequential_calibration(reps: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    print(f"2. Type I error of 5-look Lan-DeMets plans, alpha 0.05 two-sided, {reps:,} paths")
    for spending in ("obrien-fleming", "pocock"):
        b = sequential_bounds(5, spending=spending)
        info = np.array(b.information)
        s = np.cumsum(rng.normal(size=(reps, 5)) * np.sqrt(np.diff(info, prepend=0.0)),
                      axis=1)
        rate = float(np.mean(np.any(np.abs(s / np.sqrt(info)) >= np.array(b.bounds), axis=1)))
        naive = float(np.mean(np.any(np.abs(s / np.sqrt(info)) >= 1.959964, axis=1)))
        se = math.sqrt(0.05 * 0.95 / reps)
        print(f"   {spending:<15} bounds {', '.join(f'{x:.3f}' for x in b.bounds)}: "
              f"rejection {rate:.4f} (se {se:.4f}); unadjusted 1.96 at every look: {naive:.4f}; "
              f"max-n inflation at 80% power x{b.inflation(0.8):.3f}")


def judge_calibration(reps: int, seed: int) -> None:
    """Type I error of judge_interim when the looks fall off the plan's schedule.

    Brownian paths under H0 at the information actually reached (fractions of the planned
    maximum); each look judged by :func:`frt_experiments.judge_interim` with that information.
    """
    rng = np.random.default_rng(seed)
    schedules = {"as planned": [0.2, 0.4, 0.6, 0.8, 1.0],
                 "late and short": [0.27, 0.38, 0.66, 0.71, 0.83],
                 "overrun": [0.15, 0.45, 0.7, 0.95, 1.25]}
    print(f"2b. Type I error of judge_interim at off-plan information (5-look plan, alpha 0.05 "
          f"two-sided, {reps:,} paths per schedule)")
    for spending in ("obrien-fleming", "pocock"):
        plan = ExperimentPlan(name="bench", looks=5, spending=spending)
        for label, info in schedules.items():
            bounds = np.array([judge_interim(0.0, look=k, plan=plan, information=info[:k]).bound
                               for k in range(1, 6)])
            t = np.array(info)
            s = np.cumsum(rng.normal(size=(reps, 5)) * np.sqrt(np.diff(t, prepend=0.0)), axis=1)
            rate = float(np.mean(np.any(np.abs(s / np.sqrt(t)) >= bounds, axis=1)))
            se = math.sqrt(0.05 * 0.95 / reps)
            print(f"   {spending:<15}{label:<15} information {', '.join(f'{x:.2f}' for x in info)}"
                  f": rejection {rate:.4f} (se {se:.4f})")


def speed() -> None:
    def per_call(f, k: int) -> float:
        t0 = time.perf_counter()
        for _ in range(k):
            f()
        return (time.perf_counter() - t0) / k

    print("3. Speed (per call)")
    t_seq = per_call(lambda: sequential_bounds(5), 5)
    t_seq10 = per_call(lambda: sequential_bounds(10, spending="pocock"), 2)
    print(f"   sequential_bounds(5): {t_seq * 1e3:.1f} ms; 10 looks Pocock: "
          f"{t_seq10 * 1e3:.1f} ms (R gsDesign/rpact have no Python counterpart here)")
    ours = per_call(lambda: solve_power(effect_size=0.05, power=0.8), 50)
    sm = per_call(lambda: zt_ind_solve_power(effect_size=0.05, alpha=0.05, power=0.8), 50)
    n_ours = solve_power(effect_size=0.05, power=0.8)
    n_sm = zt_ind_solve_power(effect_size=0.05, alpha=0.05, power=0.8)
    print(f"   solve n (z test, d = 0.05): ours {ours * 1e3:.2f} ms, statsmodels "
          f"{sm * 1e3:.2f} ms (ratio {sm / ours:.1f}x); n {n_ours:.3f} vs {n_sm:.3f}; power at "
          f"statsmodels' n {NormalIndPower().power(0.05, n_sm, 0.05):.7f}")
    p = per_call(lambda: proportion_sample_size(0.85, 0.839375), 200)
    print(f"   proportion_sample_size (closed form): {p * 1e6:.1f} us")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=20261123)
    ap.add_argument("--sim-customers", type=int, default=20_000,
                    help="customers per simulated trial for the scenario-simulator check")
    ap.add_argument("--sim-reps", type=int, default=300)
    args = ap.parse_args()
    monte_carlo(args.reps, args.seed)
    warnings.simplefilter("ignore", DataWarning)  # simulated customers with zero spend
    try:
        sim = getattr(importlib.import_module("frt_experiments.simulate"), "simulate", None)
    except ImportError:
        sim = None
    if sim is None:
        print("1b. Scenario simulator not available (frt_experiments.simulate.simulate): "
              "skipped")
    else:
        simulator_check(sim, customers=args.sim_customers, reps=args.sim_reps, seed=args.seed)
    sequential_calibration(200_000, args.seed + 1)
    judge_calibration(200_000, args.seed + 2)
    speed()


if __name__ == "__main__":
    main()
