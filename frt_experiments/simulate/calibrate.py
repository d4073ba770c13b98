"""Calibration printout: ``python -m frt_experiments.simulate.calibrate [scenario] [customers]``.

How the ``published`` preset is calibrated (targets for low-spend customers over five months,
slow arm vs fast arm; for a preset with more arms, such as ``dose``, the arm of
``csat.target_arm`` against the first):

- questions -4%: the slow arm's contact rate is multiplied by ``effects.questions = 0.96``
  (conversation counts are Poisson given the rate, so the mean count scales exactly);
- efficiency +20%: handle time is multiplied by ``effects.handle_time = 1/1.2``, so
  conversations per agent hour scale by 1.2 in expectation;
- NRR 0%: ``effects.churn = 1`` (revenue events do not depend on the arm);
- CSAT -1.25%: *not* an arm label. Satisfaction follows the FRT each conversation got,
  ``expit(intercept + u - slope log(1 + h))``; :func:`~frt_experiments.simulate.effects.
  calibrate_csat` solves ``intercept`` and ``slope`` so that the fast arm's expected CSAT is
  ``csat.target_fast`` and the slow/fast ratio is ``csat.target_ratio``, integrating over the
  arms' FRT distributions (the slow arm's: held to shortly before its one-business-day
  deadline, :mod:`~frt_experiments.simulate.first_response`) and the customer random effect
  by Gauss-Hermite and Gauss-Legendre quadrature.

This script prints the solved parameters, the closed-form expectations, and the relative
changes observed on a large seeded run (with their Monte Carlo standard errors, from the
delta method on per-customer sums).
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from frt_experiments import schema
from frt_experiments.simulate.effects import calibrate_csat, csat_by_arm, target_arm
from frt_experiments.simulate.first_response import frt_cdf, share_within_deadline
from frt_experiments.simulate.scenario import Frt, Scenario, load_scenario
from frt_experiments.simulate.trial import SimulatedTrial, simulate
from frt_experiments.simulate.truth import dose_truth

__all__ = ["arm_effects", "expected_effects", "main"]


def expected_effects(scenario: Scenario, *, treatment: str | None = None) -> dict[str, float]:
    """Relative changes (treatment/control - 1) the scenario implies in expectation.

    ``treatment``: an arm of ``effects.arms`` (default: the CSAT target arm, ``csat.target_arm``
    or the second arm). Questions, CSAT and NRR come from
    :func:`~frt_experiments.simulate.truth.dose_truth` (CSAT of the calibrated arm from
    :func:`~frt_experiments.simulate.effects.csat_by_arm`, the quadrature the calibration
    solved with); efficiency is the handle-time multiplier's."""
    e = scenario.effects
    arm = e.arms[target_arm(scenario)] if treatment is None else treatment
    truth = dose_truth(scenario)
    out = {o: truth.relative(o, arm) for o in ("questions", "csat", "nrr")}
    if arm == e.arms[target_arm(scenario)]:  # the calibration's own quadrature
        fast, slow = csat_by_arm(scenario, scenario.csat.intercept, scenario.csat.slope)
        out["csat"] = slow / fast - 1
    out["efficiency"] = (1 / e.handle_time - 1) if arm != e.arms[0] else 0.0
    return out


def _slow_median(frt: Frt, policy: str | None = None) -> float:
    """Median of an arm's business-hour FRT (default the slow arm's): root of its closed-form
    CDF minus 1/2."""
    p = frt.slow_policy if policy is None else policy
    return float(brentq(lambda x: float(frt_cdf(x, frt, p)) - 0.5, 1e-9, 1e4, xtol=1e-12))


def _ratio_se(y: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """Ratio of sums and its delta-method standard error (Deng et al. 2018)."""
    n = y.size
    my, mx = y.mean(), x.mean()
    r = my / mx
    cov = np.cov(y, x)
    var = (cov[0, 0] - 2 * r * cov[0, 1] + r * r * cov[1, 1]) / (n * mx * mx)
    return float(r), float(np.sqrt(var))


def arm_effects(trial: SimulatedTrial, *, treatment: str | None = None) -> pd.DataFrame:
    """Per-metric control and treatment values, relative change and its standard error.

    The control is the first arm; ``treatment`` an arm of ``effects.arms`` (default: the CSAT
    target arm, the second unless ``csat.target_arm`` names another).

    Ratio metrics are ratios of per-customer sums with delta-method standard errors; the
    relative change's SE is ``sqrt(se_t^2/t^2 + se_c^2/c^2) x (t/c)``.

    References:
        Deng, A., Knoblich, U. and Lu, J. (2018). Applying the delta method in metric
        analytics. KDD '18.
    """
    conv = trial.conversations
    per = pd.DataFrame({
        schema.CUSTOMER_ID: conv[schema.CUSTOMER_ID],
        "n": 1.0,
        "rated": conv[schema.CSAT].notna().astype(float),
        "sat": schema.satisfied(conv).fillna(0.0),
        "hours": conv[schema.HANDLE_SECONDS] / 3600,
    }).groupby(schema.CUSTOMER_ID).sum()
    rows = trial.assignments[[schema.CUSTOMER_ID, schema.ARM]].merge(
        trial.customers[[schema.CUSTOMER_ID, schema.REVENUE_START, schema.REVENUE_END]],
        on=schema.CUSTOMER_ID)
    rows = rows.join(per, on=schema.CUSTOMER_ID).fillna({"n": 0, "rated": 0, "sat": 0, "hours": 0})
    arms = trial.scenario.effects.arms
    control = arms[0]
    if treatment is None:
        treatment = arms[target_arm(trial.scenario)]
    out = []
    for metric, num, den in (("questions", "n", None), ("csat", "sat", "rated"),
                             ("nrr", schema.REVENUE_END, schema.REVENUE_START),
                             ("efficiency", "n", "hours")):
        vals = {}
        for arm in (control, treatment):
            g = rows[rows[schema.ARM] == arm]
            y = g[num].to_numpy(float)
            x = np.ones_like(y) if den is None else g[den].to_numpy(float)
            vals[arm] = _ratio_se(y, x)
        (c, sc), (t, st) = vals[control], vals[treatment]
        rel = t / c - 1
        se = (t / c) * np.sqrt((sc / c) ** 2 + (st / t) ** 2)
        out.append({"metric": metric, "control": c, "treatment": t, "rel_diff": rel,
                    "rel_se": se})
    return pd.DataFrame(out).set_index("metric")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    name = args[0] if args else "published"
    n = int(args[1]) if len(args) > 1 else 1_000_000
    sc = load_scenario(name)
    cal = calibrate_csat(sc)
    print(f"scenario {sc.name}: CSAT dose-response solved by quadrature + Brent")
    print(f"  targets: fast CSAT {sc.csat.target_fast}, ratio {sc.csat.target_ratio}")
    print(f"  solved:  {cal!r}")
    print(f"  in file: intercept={sc.csat.intercept:.6f} slope={sc.csat.slope:.6f}")
    f = sc.frt
    arm = sc.effects.arms[target_arm(sc)]
    policy = f.arm_policies()[target_arm(sc)]
    deadline = f.policy_hours(policy)
    if deadline is not None:
        print(f"  {arm} arm FRT ({policy}): median {_slow_median(f, policy):.3f} business "
              f"hours, {share_within_deadline(f, policy):.4f} within the {deadline:g}-business-"
              "hour deadline (closed form)")
    exp = expected_effects(sc)
    trial = simulate(sc, customers=n, rng=20250106)
    obs = arm_effects(trial)
    obs["expected"] = pd.Series(exp)
    obs["z"] = (obs["rel_diff"] - obs["expected"]) / obs["rel_se"]
    print(f"large run: {trial!r}")
    conv = trial.conversations.merge(trial.assignments[[schema.CUSTOMER_ID, schema.ARM]],
                                     on=schema.CUSTOMER_ID)
    slow_h = conv.loc[conv[schema.ARM] == arm,
                      schema.FIRST_RESPONSE_BUSINESS_SECONDS].to_numpy(float) / 3600
    if deadline is not None:
        within = np.mean(slow_h <= deadline)
        print(f"  {arm} arm FRT: median {np.median(slow_h):.3f} business hours, {within:.4f} "
              f"within the deadline (binomial SE "
              f"{np.sqrt(within * (1 - within) / slow_h.size):.4f}, n = {slow_h.size:,})")
    with pd.option_context("display.float_format", "{:.5f}".format, "display.width", 120):
        print(obs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
