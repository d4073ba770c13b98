"""K-arm planning: the 2SLS slope's variance against closed forms, the 2SLS estimator itself and
simulated trials; Dunnett's critical value against the published tables; per-arm power with the
multiplicity adjustment against simulated trials."""

import math
import re

import numpy as np
import pytest
from scipy import stats

from frt_experiments.metrics import ArmStatistics
from frt_experiments.stats.dose_power import (
    DoseArm,
    dose_slope_sample_size,
    dunnett_critical_value,
    many_to_one_power,
    many_to_one_sample_size,
    slope_se,
)
from frt_experiments.stats.iv import two_stage_least_squares, wald_ratio

Z975 = 1.959963984540054  # qnorm(0.975)
Z80 = 0.8416212335729143  # qnorm(0.8)


# --------------------------------------------------------------------------- the slope

def test_slope_variance_hand_case():
    # doses 0, 1, 3 with shares 1/2, 1/4, 1/4: dbar = 1, deviations -1, 0, 2,
    # sum w (d - dbar)^2 = 1/2 + 0 + 1 = 3/2; s_y = 1, s_d = 0.5, rho = -0.3, beta = 0.2:
    # s2_u = 1 - 2 (0.2)(-0.3)(1)(0.5) + 0.2^2 0.5^2 = 1.07, so N Var = 1.07 / 1.5.
    arms = [DoseArm("fast", 0.0, 0.5), DoseArm("mid", 1.0, 0.5), DoseArm("slow", 3.0, 0.5)]
    kw = {"outcome_sd": 1.0, "dose_corr": -0.3, "slope": 0.2}
    assert slope_se(arms, [400, 200, 200], **kw) == pytest.approx(
        math.sqrt(1.07 / 1.5 / 800), rel=1e-13)
    r = dose_slope_sample_size(arms, se=0.01, weights={"fast": 2, "mid": 1, "slow": 1}, **kw)
    n_star = 1.07 / 1.5 / 0.01**2  # 7133.33
    assert r.n_per_arm == (math.ceil(n_star / 2), math.ceil(n_star / 4), math.ceil(n_star / 4))
    assert r.n_total == 3567 + 1784 + 1784
    assert r.se <= 0.01
    assert r.se == pytest.approx(0.01, rel=1e-3)
    assert r.halfwidth == pytest.approx(Z975 * r.se)
    # the two-arm design (fast + slow, shares 2/3 and 1/3): sum w (d - dbar)^2 = (2/9) 9 = 2
    s2_u = 1.07
    assert r.pair == ("fast", "slow")
    assert r.pair_n_total == pytest.approx(s2_u / 2 / 0.01**2, abs=2)
    assert r.extra_customers == r.n_total - r.pair_n_total
    # a half-width is a standard error times z
    assert dose_slope_sample_size(arms, halfwidth=Z975 * 0.01, weights={
        "fast": 2, "mid": 1, "slow": 1}, **kw).n_per_arm == r.n_per_arm


def test_slope_variance_heteroskedastic_arms():
    # per-arm dose sds 0.2 and 1.0, beta = 0.5, rho = 0: s2_u = 1 + 0.25 s_d^2 per arm;
    # two arms of 100 and 300 at doses 0 and 2: dbar = 1.5, n (d - dbar)^2 = 225 and 75,
    # Var = (225 (1.01) + 75 (1.25)) / 300^2
    arms = [DoseArm("fast", 0.0, 0.2), DoseArm("slow", 2.0, 1.0)]
    got = slope_se(arms, {"fast": 100, "slow": 300}, outcome_sd=1.0, slope=0.5)
    assert got == pytest.approx(math.sqrt((225 * 1.01 + 75 * 1.25) / 300**2), rel=1e-13)
    # two arms: the Wald ratio's delta-method variance, (s2_u1/n1 + s2_u0/n0) / (d1 - d0)^2
    assert got == pytest.approx(math.sqrt(1.01 / 100 + 1.25 / 300) / 2, rel=1e-13)


def _arm_stats(name, n, mean_y, mean_d, cov):
    """ArmStatistics of columns (y, d) with these means and sample covariance."""
    return ArmStatistics(name, n, ("y", "d"), n * np.array([mean_y, mean_d]),
                         (n - 1) * np.asarray(cov, dtype=float))


def test_slope_se_is_the_2sls_delta_se_at_the_design_moments():
    # arms whose means lie on y = 0.3 + beta d, with the planned within-arm moments:
    # two_stage_least_squares (variance="delta") gives exactly the planned standard error
    beta, sy, rho = -0.04, 0.7, 0.25
    arms = [DoseArm("fast", 1.1, 0.6), DoseArm("four_hours", 1.6, 0.5),
            DoseArm("one_day", 2.3, 0.8)]
    n = [5000, 2500, 2500]
    st = {a.name: _arm_stats(a.name, k, 0.3 + beta * a.dose, a.dose,
                             [[sy**2, rho * sy * a.dose_sd], [rho * sy * a.dose_sd, a.dose_sd**2]])
          for a, k in zip(arms, n, strict=True)}
    iv = two_stage_least_squares(st, outcome="y", dose="d")
    assert iv.effect == pytest.approx(beta, rel=1e-12)
    assert slope_se(arms, n, outcome_sd=sy, dose_corr=rho, slope=beta) == pytest.approx(
        iv.se, rel=1e-10)
    two = {k: st[k] for k in ("fast", "one_day")}
    wald = wald_ratio(two["fast"], two["one_day"], outcome="y", dose="d")
    assert slope_se([arms[0], arms[2]], [5000, 2500], outcome_sd=sy, dose_corr=rho,
                    slope=beta) == pytest.approx(wald.se, rel=1e-10)


def test_three_equal_arms_cost_half_again_for_the_slope():
    # equally spaced doses, equal shares: sum w (d - dbar)^2 = D^2 / 6 against D^2 / 4 for the
    # two extreme arms alone, so the middle arm costs 50% more customers for the same slope
    arms = [DoseArm("a", 1.0, 0.5), DoseArm("b", 2.0, 0.5), DoseArm("c", 3.0, 0.5)]
    r = dose_slope_sample_size(arms, outcome_sd=2.0, se=0.01)
    assert r.n_total == 3 * math.ceil(4 * 6 / 4 / 0.01**2 / 3)
    assert r.pair_n_total == 2 * math.ceil(4 * 4 / 4 / 0.01**2 / 2)
    assert r.cost_ratio == pytest.approx(1.5, rel=1e-3)
    assert list(r.to_pandas()["two_arm_customers"]) == [20_000, 0, 20_000]
    assert "the other arms cost 20,000 customers (x1.50)" in r.summary()


def _simulated_slopes(arms, n, *, sy, rho, beta, reps, rng, skewed=False):
    """2SLS slopes of ``reps`` simulated trials, per-customer (outcome, dose) drawn within
    each arm with sds (sy, dose_sd) and correlation rho, and E[y] = 0.5 + beta d."""
    stats_by_rep = [{} for _ in range(reps)]
    for a, k in zip(arms, n, strict=True):
        z1 = rng.standard_normal((reps, k))
        if skewed:  # a standardized gamma(2) dose: skewness 1.4
            z1 = (rng.gamma(2.0, 1.0, (reps, k)) - 2.0) / math.sqrt(2.0)
        z2 = rng.standard_normal((reps, k))
        d = a.dose + a.dose_sd * z1
        # y = 0.5 + beta d + e, e built so that sd(y) = sy and corr(y, d) = rho
        c = rho * sy / a.dose_sd - beta  # slope of e on (d - dose) within the arm
        e_sd = math.sqrt(sy**2 - (rho * sy) ** 2)
        y = 0.5 + beta * d + c * (d - a.dose) + e_sd * z2
        sums = np.stack([y.sum(1), d.sum(1)], axis=1)
        yc, dc = y - y.mean(1, keepdims=True), d - d.mean(1, keepdims=True)
        cross = np.stack([np.stack([(yc * yc).sum(1), (yc * dc).sum(1)], 1),
                          np.stack([(yc * dc).sum(1), (dc * dc).sum(1)], 1)], 1)
        for r in range(reps):
            stats_by_rep[r][a.name] = ArmStatistics(a.name, k, ("y", "d"), sums[r], cross[r])
    return np.array([two_stage_least_squares(s, outcome="y", dose="d").effect
                     for s in stats_by_rep])


def _check_sd(slopes, target):
    # the sd of R normal draws has standard error sd / sqrt(2 (R - 1)); allow 3 of them
    reps = len(slopes)
    tol = 3 * target / math.sqrt(2 * (reps - 1))
    assert abs(slopes.std(ddof=1) - target) < tol, (slopes.std(ddof=1), target, tol)


def test_slope_sd_matches_simulated_trials():
    arms = [DoseArm.from_hours("fast", 2, dose_sd=0.6), DoseArm.from_hours("four", 4,
            dose_sd=0.6), DoseArm.from_hours("day", 9, dose_sd=0.7)]
    sy, rho, beta = 0.7, -0.3, -0.05
    r = dose_slope_sample_size(arms, outcome_sd=sy, se=0.03, dose_corr=rho, slope=beta,
                               weights={"fast": 0.5, "four": 0.25, "day": 0.25})
    assert 400 < r.n_total < 3000  # small enough to simulate quickly
    slopes = _simulated_slopes(arms, r.n_per_arm, sy=sy, rho=rho, beta=beta, reps=1500,
                               rng=np.random.default_rng(20240516))
    assert abs(slopes.mean() - beta) < 3 * r.se / math.sqrt(len(slopes))
    _check_sd(slopes, r.se)


@pytest.mark.slow
def test_slope_sd_matches_simulated_trials_skewed_dose_four_arms():
    arms = [DoseArm.from_hours("fast", 2, dose_sd=0.5), DoseArm.from_hours("four", 4,
            dose_sd=0.5), DoseArm.from_hours("day", 9, dose_sd=0.5),
            DoseArm.from_hours("two_days", 18, dose_sd=0.5)]
    sy, rho, beta = 1.0, 0.4, 0.3
    r = dose_slope_sample_size(arms, outcome_sd=sy, halfwidth=0.08, dose_corr=rho, slope=beta)
    slopes = _simulated_slopes(arms, r.n_per_arm, sy=sy, rho=rho, beta=beta, reps=8000,
                               rng=np.random.default_rng(7), skewed=True)
    assert abs(slopes.mean() - beta) < 3 * r.se / math.sqrt(len(slopes))
    _check_sd(slopes, r.se)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"arms": [DoseArm("a", 1.0, 0.5)], "se": 0.1}, "at least two arms"),
    ({"arms": [DoseArm("a", 1.0, 0.5), DoseArm("b", 1.0, 0.5)], "se": 0.1}, "do not differ"),
    ({"se": 0.1, "weights": {"a": 1, "x": 1}}, "['x'] not among the arms"),
    ({"se": 0.1, "weights": {"a": 1}}, "no weight for the arm(s) ['b']"),
    ({}, "give one of se and halfwidth"),
    ({"se": 0.1, "halfwidth": 0.2}, "give one of se and halfwidth"),
    ({"se": 0.1, "pair": "a"}, "pair must name a slow arm"),
    ({"se": -1.0}, "se must be positive"),
])
def test_slope_sample_size_rejects_bad_input(kwargs, message):
    kwargs.setdefault("arms", [DoseArm("a", 1.0, 0.5), DoseArm("b", 2.0, 0.5)])
    with pytest.raises(ValueError, match=re.escape(message)):
        dose_slope_sample_size(outcome_sd=1.0, **kwargs)


def test_dose_from_hours():
    # the dose is log(1 + business hours) per answered conversation (frt_experiments.dose);
    # log1p is increasing, so the median hours map to the median dose
    arm = DoseArm.from_hours("day", 9.0, dose_sd=0.7)
    assert arm.dose == math.log(10.0)
    assert arm.hours == 9.0
    with pytest.raises(ValueError, match="hours must be >= 0"):
        DoseArm.from_hours("day", -1.0, dose_sd=0.7)
    with pytest.raises(ValueError, match="dose_sd must be >= 0"):
        DoseArm("day", 1.0, -0.1)


# --------------------------------------------------------------------------- Dunnett

@pytest.mark.parametrize(("treatments", "alternative", "table"), [
    # Dunnett (1964), Biometrics 20, 482-491, table II (two-sided, alpha 0.05, df = inf):
    # 2.21 (k = 2), 2.35 (k = 3); to three decimals 2.212 and 2.349.
    (2, "two-sided", 2.212),
    (3, "two-sided", 2.349),
    # Dunnett (1955), JASA 50, 1096-1121, table 1a (one-sided, alpha 0.05, df = inf):
    # 1.92 (k = 2), 2.06 (k = 3)
    (2, "greater", 1.92),
    (3, "less", 2.06),
])
def test_dunnett_matches_published_tables(treatments, alternative, table):
    c = dunnett_critical_value([1.0] * (treatments + 1), alternative=alternative)
    decimals = len(str(table).split(".")[1])
    assert round(c, decimals) == table


def test_dunnett_unequal_allocation_matches_the_multivariate_normal():
    # corr = sqrt(w_i w_j / ((w_0 + w_i)(w_0 + w_j))); SciPy's multivariate normal (Genz's
    # quasi-Monte Carlo, an independent method) gives 1 - alpha at the critical value
    w = np.array([0.4, 0.3, 0.2, 0.1])
    c = dunnett_critical_value(w)
    lam = np.sqrt(w[1:] / (w[0] + w[1:]))
    corr = np.outer(lam, lam)
    np.fill_diagonal(corr, 1.0)
    mvn = stats.multivariate_normal(np.zeros(3), corr)
    prob = mvn.cdf(np.full(3, c), lower_limit=np.full(3, -c), rng=np.random.default_rng(1))
    assert prob == pytest.approx(0.95, abs=2e-5)
    # between one comparison's value and Bonferroni's
    assert Z975 < c < stats.norm.isf(0.05 / 6)
    # a single treatment: the z value
    assert dunnett_critical_value([1, 3]) == pytest.approx(Z975, rel=1e-12)


# --------------------------------------------------------------------------- arms vs control

def test_many_to_one_closed_form():
    # one-sided: theta = c + z_power exactly, N_i = theta^2 sd^2 (1/w_0 + 1/w_i) / mde^2
    w = {"fast": 0.5, "four": 0.25, "day": 0.25}
    r = many_to_one_sample_size(w, sd=1.0, mde=-0.1, alternative="less")
    c = dunnett_critical_value([0.5, 0.25, 0.25], alternative="less")
    n_star = (c + Z80) ** 2 * (2 + 4) / 0.01
    assert r.n_per_arm == tuple(math.ceil(x * n_star) for x in (0.5, 0.25, 0.25))
    assert r.critical_value == pytest.approx(c)
    # the two-arm trial fast + day (shares 2/3, 1/3), one comparison at alpha
    n2 = (1.6448536269514722 + Z80) ** 2 * (1.5 + 3) / 0.01
    assert r.pair_n_per_arm == (math.ceil(2 / 3 * n2), math.ceil(n2 / 3))
    # Bonferroni: c = z_(1 - alpha / (K - 1)), more customers than Dunnett
    b = many_to_one_sample_size(w, sd=1.0, mde=-0.1, alternative="less",
                                multiplicity="bonferroni")
    assert b.critical_value == pytest.approx(stats.norm.isf(0.025))
    assert b.n_total > r.n_total
    assert min(b.arm_power) >= 0.8


def test_many_to_one_binding_arm_and_power():
    # per-arm differences: the smaller one binds; each arm reaches at least the power
    r = many_to_one_sample_size({"fast": 1, "four": 1, "day": 1}, sd=1.0,
                                mde={"four": 0.05, "day": 0.1})
    assert r.binding == "four"
    assert r.arm_power[0] == pytest.approx(0.8, abs=1e-3)
    assert r.arm_power[0] >= 0.8
    assert r.arm_power[1] > 0.99
    again = many_to_one_power(dict(zip(r.arms, r.n_per_arm, strict=True)), sd=1.0,
                              mde={"four": 0.05, "day": 0.1})
    assert tuple(again.values()) == r.arm_power
    with pytest.raises(ValueError, match="missing: \\['day'\\]"):
        many_to_one_sample_size({"fast": 1, "four": 1, "day": 1}, sd=1.0, mde={"four": 0.1})
    with pytest.raises(ValueError, match="direction of alternative='greater'"):
        many_to_one_sample_size({"fast": 1, "day": 1}, sd=1.0, mde=-0.1,
                                alternative="greater")
    with pytest.raises(ValueError, match="multiplicity must be one of"):
        many_to_one_sample_size({"fast": 1, "day": 1}, sd=1.0, mde=0.1, multiplicity="holm")


def _rejections(n, mdes, sd, c, *, reps, rng):
    """Per slow arm, the share of simulated trials whose Welch z beyond c rejects; normal
    outcomes, drawn as each arm's mean and sample variance (exact for normal customers)."""
    n = np.asarray(n)
    means = np.concatenate([[0.0], mdes])[None, :] + sd / np.sqrt(n) * rng.standard_normal(
        (reps, len(n)))
    var = sd**2 * rng.chisquare(n - 1, (reps, len(n))) / (n - 1)
    z = (means[:, 1:] - means[:, :1]) / np.sqrt(var[:, 1:] / n[1:] + var[:, :1] / n[0])
    return np.abs(z) > c


def test_per_arm_power_matches_simulated_trials():
    weights = {"fast": 0.4, "four": 0.2, "day": 0.2, "two_days": 0.2}
    mde = {"four": -0.2, "day": -0.3, "two_days": -0.4}
    r = many_to_one_sample_size(weights, sd=1.0, mde=mde, power=0.8)
    reps = 20_000
    reject = _rejections(r.n_per_arm, list(mde.values()), 1.0, r.critical_value, reps=reps,
                         rng=np.random.default_rng(16))
    for k, arm in enumerate(r.arms[1:]):
        p = r.arm_power[k]
        assert abs(reject[:, k].mean() - p) < 3 * math.sqrt(p * (1 - p) / reps), arm
    # and the family-wise error rate under no effect is alpha (Dunnett is exact)
    null = _rejections(r.n_per_arm, [0.0, 0.0, 0.0], 1.0, r.critical_value, reps=reps,
                       rng=np.random.default_rng(17)).any(axis=1).mean()
    assert abs(null - 0.05) < 3 * math.sqrt(0.05 * 0.95 / reps)
