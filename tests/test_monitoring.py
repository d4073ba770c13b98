"""Interim looks judged against Lan-DeMets boundaries (gsDesign reference values)."""

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from frt_experiments.monitoring import judge_interim, judge_interim_results, repeated_ci
from frt_experiments.plan import ExperimentPlan
from frt_experiments.stats.sequential import sequential_bounds


def test_judge_interim():
    plan = ExperimentPlan(name="x", looks=5)
    assert judge_interim(3.0, look=2, plan=plan).decision == "continue"
    assert judge_interim(-3.4, look=2, plan=plan).decision == "stop: efficacy"
    assert judge_interim(2.0, look=5, plan=plan).decision == "final: not significant"
    d = judge_interim(2.1, look=5, plan=plan)
    assert d.stop
    assert d.bound == pytest.approx(2.031, abs=6e-4)
    # observed information differs from the plan: boundaries are recomputed (Lan-DeMets)
    d = judge_interim(3.0, look=2, plan=plan, information=[0.25, 0.5])
    assert d.bound == pytest.approx(sequential_bounds([0.25, 0.5, 1.0]).bounds[1], abs=1e-9)
    with pytest.raises(ValueError, match="look must be"):
        judge_interim(1.0, look=6, plan=plan)


def test_judge_interim_final_look_spends_what_is_left():
    plan = ExperimentPlan(name="x", looks=3)
    d = judge_interim(2.0, look=3, plan=plan, information=[0.3, 0.6, 0.95])
    assert d.information == 0.95
    # spending time (0.3, 0.6, 1); information time relative to the 0.95 reached
    expected = sequential_bounds([0.3 / 0.95, 0.6 / 0.95, 1.0], spending_time=[0.3, 0.6, 1.0])
    assert d.bound == pytest.approx(expected.bounds[2], abs=1e-9)
    with pytest.raises(ValueError, match="information must"):
        judge_interim(2.0, look=2, plan=plan, information=[0.6, 0.3])


def test_judge_interim_results_table():
    plan = ExperimentPlan(name="x", looks=5)
    # z = -3.5 at look 2 (p = 2 * Phi(-3.5)) crosses 3.357; z = 2 does not
    results = pd.DataFrame({"metric": ["csat", "questions"], "diff": [-0.01, 0.05],
                            "p_value": [2 * stats.norm.sf(3.5), 2 * stats.norm.sf(2.0)]})
    out = judge_interim_results(results, look=2, plan=plan)
    assert out["z"].to_numpy() == pytest.approx([-3.5, 2.0])
    assert list(out["decision"]) == ["stop: efficacy", "continue"]
    with pytest.raises(ValueError, match="p_value"):
        judge_interim_results(results.assign(p_value=[1.5, 0.5]), look=2, plan=plan)
    # a p-value that underflowed to 0 (t > 38 on a million customers) is far past any bound
    under = judge_interim_results(results.assign(p_value=[0.0, 0.5]), look=2, plan=plan)
    assert under["decision"].tolist() == ["stop: efficacy", "continue"]
    assert under["z"].iloc[0] < -37
    with pytest.raises(TypeError, match="plan must be an ExperimentPlan"):
        judge_interim_results(results, look=2, plan=5)


@pytest.mark.parametrize("alternative", ["greater", "less"])
def test_one_sided_plans_read_one_sided_p_values(alternative):
    # under a one-sided plan analyze() reports one-sided p-values: p = Phi(-z) ("greater"),
    # Phi(z) ("less"); z = 2.2 crosses the last one-sided O'Brien-Fleming bound (about 2.04
    # at 0.025, 5 looks) only in the direction of the alternative
    plan = ExperimentPlan(name="x", looks=5, alpha=0.025, alternative=alternative)
    z = np.array([2.2, -2.2])
    p = stats.norm.sf(z) if alternative == "greater" else stats.norm.cdf(z)
    results = pd.DataFrame({"metric": ["a", "b"], "diff": z / 100, "p_value": p})
    out = judge_interim_results(results, look=5, plan=plan)
    assert out["z"].to_numpy() == pytest.approx(z)
    crossed = [True, False] if alternative == "greater" else [False, True]
    assert (out["decision"] == "stop: efficacy").tolist() == crossed


@pytest.mark.parametrize("spending", ["obrien-fleming", "pocock"])
@pytest.mark.parametrize("actual", [[0.3, 0.6, 0.8], [0.3, 0.6, 1.3], [0.5, 0.9, 0.92]])
def test_final_look_off_plan_keeps_alpha(spending, actual):
    # A trial that ends short of (or beyond) its planned information: the interims spent
    # alpha(I_j / I_planned), the final look spends what is left with the correlations of the
    # information actually reached, corr(Z_i, Z_j) = sqrt(I_i / I_j) (Lan and DeMets 1983;
    # gsDesign's spending time 'usTime'). Type I error by an independent computation
    # (SciPy's multivariate normal, Genz's algorithm, error ~1e-5) is then alpha; treating the
    # final fraction as 1.0 gave 0.0487 (ending at 0.8) and 0.0522 (overrunning to 1.3).
    plan = ExperimentPlan(name="x", looks=3, spending=spending)
    c = np.array([judge_interim(0.0, look=k, plan=plan, information=actual[:k]).bound
                  for k in (1, 2, 3)])
    t = np.array(actual)
    cov = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    size = 1 - stats.multivariate_normal(np.zeros(3), cov).cdf(c, lower_limit=-c)
    assert size == pytest.approx(0.05, abs=2e-4)
    # the interim boundaries are those of the planned spending at the observed fractions
    assert c[:2] == pytest.approx(sequential_bounds(actual[:2], spending=spending).bounds,
                                  abs=1e-9)


def test_repeated_ci_with_one_look_is_the_normal_interval():
    """A one-look plan's boundary is z_{0.975}, so the repeated interval is the usual one."""
    c = sequential_bounds([1.0]).bounds[0]
    lo, hi = repeated_ci([0.3, -1.0], [0.1, 0.5], c)
    q = stats.norm.isf(0.025)
    np.testing.assert_allclose(lo, [0.3 - q * 0.1, -1.0 - q * 0.5], rtol=1e-9)
    np.testing.assert_allclose(hi, [0.3 + q * 0.1, -1.0 + q * 0.5], rtol=1e-9)
    lo, hi = repeated_ci(0.3, 0.1, -1.645, alternative="less")
    assert lo == -np.inf
    assert hi == pytest.approx(0.3 + 1.645 * 0.1)
    with pytest.raises(ValueError, match="alternative"):
        repeated_ci(0.3, 0.1, 1.96, alternative="two_sided")


def _brownian_estimates(rng, theta, fractions, reps):
    """Estimates and standard errors at each look from the canonical joint distribution:
    score S_k = theta I_k + W(I_k), estimate S_k / I_k, se 1 / sqrt(I_k) (Jennison and
    Turnbull 2000, section 3.1), with total information 100."""
    info = 100.0 * np.asarray(fractions)
    steps = rng.normal(0.0, np.sqrt(np.diff(info, prepend=0.0)), size=(reps, len(info)))
    score = theta * info + np.cumsum(steps, axis=1)
    return score / info, 1.0 / np.sqrt(info)


@pytest.mark.parametrize("spending", ["obrien-fleming", "pocock"])
def test_repeated_cis_cover_simultaneously_at_the_nominal_rate(spending):
    """Over 20,000 simulated trials with five looks, the repeated intervals of all looks cover
    the true effect together in 95% of trials (Jennison and Turnbull 1989); reading the
    fixed-sample 95% interval at every look covers far less often. Tolerance: 4 Monte Carlo
    standard errors (sqrt(0.95 x 0.05 / 20,000) = 0.0015)."""
    reps, theta = 20_000, 0.3
    fractions = [0.2, 0.4, 0.6, 0.8, 1.0]
    est, se = _brownian_estimates(np.random.default_rng(11), theta, fractions, reps)
    bounds = np.array(sequential_bounds(fractions, spending=spending).bounds)
    lo, hi = repeated_ci(est, se, bounds)
    covered = ((lo <= theta) & (theta <= hi)).all(axis=1).mean()
    tol = 4 * np.sqrt(0.95 * 0.05 / reps)
    assert covered == pytest.approx(0.95, abs=tol)
    lo, hi = repeated_ci(est, se, stats.norm.isf(0.025))
    naive = ((lo <= theta) & (theta <= hi)).all(axis=1).mean()
    assert naive < 0.95 - 10 * tol


def test_one_sided_repeated_cis_cover_simultaneously():
    reps, theta = 20_000, -0.2
    fractions = [1 / 3, 2 / 3, 1.0]
    est, se = _brownian_estimates(np.random.default_rng(5), theta, fractions, reps)
    bounds = np.array(sequential_bounds(fractions, alpha=0.05, alternative="greater").bounds)
    lo, hi = repeated_ci(est, se, bounds, alternative="greater")
    assert np.isinf(hi).all()
    covered = (lo <= theta).all(axis=1).mean()
    assert covered == pytest.approx(0.95, abs=4 * np.sqrt(0.95 * 0.05 / reps))


def _two_look_final_bound(t1, t2):
    """Two-sided 0.05 O'Brien-Fleming-type (Lan-DeMets) boundary of the second and last look,
    with alpha spent at t1 of the plan by look 1 and correlation sqrt(t1 / t2) between the two
    z statistics; by SciPy's bivariate normal (Genz), independently of the package's grid:
    c1 = Phi^-1(1 - a), a = 2 - 2 Phi(z_0.9875 / sqrt(t1)) per side, and c2 solves
    P(|Z1| < c1) - P(|Z1| < c1, |Z2| < c2) = 0.05 - 2a."""
    a = 2 - 2 * stats.norm.cdf(stats.norm.isf(0.0125) / np.sqrt(t1))
    c1 = stats.norm.isf(a)
    r = np.sqrt(t1 / t2)
    mvn = stats.multivariate_normal([0, 0], [[1, r], [r, 1]], abseps=1e-12, releps=1e-12)

    def excess(c2):
        return (1 - 2 * a) - mvn.cdf([c1, c2], lower_limit=[-c1, -c2]) - (0.05 - 2 * a)

    return optimize.brentq(excess, 1.0, 4.0, xtol=1e-12)


@pytest.mark.parametrize("plan", [ExperimentPlan(name="x", looks=3), sequential_bounds(3)])
def test_look_reaching_the_planned_information_early_is_the_final_analysis(plan):
    # A 3-look O'Brien-Fleming plan whose second look reaches the planned information is
    # a 2-look design with timing (0.5, 1): the second look spends all the alpha left.
    # rpact 3.3.4: getDesignGroupSequential(kMax = 2, alpha = 0.05, sided = 2,
    #   typeOfDesign = "asOF", informationRates = c(0.5, 1))$criticalValues
    #   2.962588043 1.968595646
    d = judge_interim(1.9, look=2, plan=plan, information=[0.5, 1.0])
    assert d.bound == pytest.approx(1.968595646, abs=2e-8)
    assert d.bound == pytest.approx(_two_look_final_bound(0.5, 1.0), abs=2e-8)
    assert d.decision == "final: not significant"
    assert d.stop
    assert judge_interim(-2.0, look=2, plan=plan, information=[0.5, 1.0]).decision == (
        "stop: efficacy")
    # overrunning the plan at look 2: alpha spent at 0.5 by look 1, the rest at look 2, with
    # correlation sqrt(0.5 / 1.05). rpact 3.3.4: getDesignGroupSequential(kMax = 2,
    #   alpha = 0.05, sided = 2, typeOfDesign = "asUser", informationRates = c(0.5 / 1.05, 1),
    #   userAlphaSpending = c(0.003050645516, 0.05))$criticalValues  2.962588043 1.969418280
    #   (0.003050645516: the asOF alphaSpent at 0.5 above)
    d = judge_interim(1.9, look=2, plan=plan, information=[0.5, 1.05])
    assert d.bound == pytest.approx(1.969418280, abs=2e-8)
    assert d.bound == pytest.approx(_two_look_final_bound(0.5, 1.05), abs=2e-8)
    assert (d.information, d.decision) == (1.05, "final: not significant")
    # the look after a final analysis is refused
    with pytest.raises(ValueError, match="look 2 reached the planned information"):
        judge_interim(1.9, look=3, plan=plan, information=[0.5, 1.0, 1.1])
