"""Randomization tests: exact enumeration checked by brute force, sampled p-values against the
exact ones, test inversion against its own p-values, and calibration by simulation."""

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from frt_experiments.stats.randomization import randomization_test, reassignments


def _welch_delta_t(y, x, t, *, with_df=False):
    """Plain-Python studentized delta-method t of Σy/Σx, treated vs control (reference)."""
    out = []
    for sel in (~t, t):
        yy, xx = y[sel], x[sel]
        r = yy.sum() / xx.sum()
        lin = (yy - r * xx) / xx.mean()
        out.append((r, lin.var(ddof=1) / sel.sum(), sel.sum()))
    (rc, vc, nc), (rt, vt, nt) = out
    se = math.sqrt(vc + vt)
    df = (vc + vt) ** 2 / (vc**2 / (nc - 1) + vt**2 / (nt - 1)) if se > 0 else math.inf
    t_stat = (0.0 if rt == rc else math.copysign(math.inf, rt - rc)) if se == 0 else (rt - rc) / se
    return (t_stat, df) if with_df else t_stat


def test_exact_p_value_equals_brute_force_enumeration():
    """Every assignment of 4 of 9 customers enumerated by hand: two-sided p is twice the
    smaller tail share of the studentized ratio statistic (ties counted in both)."""
    rng = np.random.default_rng(3)
    x = rng.integers(1, 5, 9).astype(float)
    y = rng.binomial(x.astype(int), 0.7).astype(float)
    treated = np.zeros(9, bool)
    treated[[0, 2, 5, 7]] = True
    res = randomization_test(y, x, treated)
    assert res.exact
    assert res.permutations == math.comb(9, 4)
    t_obs = _welch_delta_t(y, x, treated)
    assert res.statistic == pytest.approx(t_obs, rel=1e-10)
    ts = []
    for idx in itertools.combinations(range(9), 4):
        t = np.zeros(9, bool)
        t[list(idx)] = True
        ts.append(_welch_delta_t(y, x, t))
    ts = np.array(ts)
    tol = 1e-9 * max(1, abs(t_obs))
    hi, lo = np.mean(ts >= t_obs - tol), np.mean(ts <= t_obs + tol)
    # each tail is the larger of the randomization tail and Welch's t tail
    _, df = _welch_delta_t(y, x, treated, with_df=True)
    hi, lo = max(hi, stats.t.sf(t_obs, df)), max(lo, stats.t.cdf(t_obs, df))
    assert res.p_value == pytest.approx(min(1.0, 2 * min(hi, lo)), rel=1e-12)
    # on its own the randomization tail is the brute-force share
    assert res.p_value >= min(1.0, 2 * min(np.mean(ts >= t_obs - tol),
                                           np.mean(ts <= t_obs + tol))) - 1e-12


def test_sampled_p_value_agrees_with_the_exact_one_within_monte_carlo_error():
    rng = np.random.default_rng(5)
    y = rng.gamma(0.7, 3.0, 14)
    treated = np.arange(14) < 7
    y[treated] *= 2.0
    exact = randomization_test(y, None, treated)
    assert exact.exact
    assert exact.permutations == math.comb(14, 7)
    sampled = randomization_test(y, None, treated, max_exact=10, permutations=4_999, rng=1)
    assert not sampled.exact
    se = math.sqrt(exact.p_value * (1 - exact.p_value) / 4_999)
    assert abs(sampled.p_value - exact.p_value) < 4 * se + 2 / 5_000


def test_one_verdict_per_row_interval_excludes_zero_iff_p_below_alpha():
    rng = np.random.default_rng(11)
    agree = 0
    for i in range(25):
        n = int(rng.integers(8, 40))
        x = rng.integers(0, 4, n).astype(float)
        x[:2] = 1
        x[-2:] = 1
        treated = rng.permutation(np.arange(n) < n // 2)
        y = rng.binomial(x.astype(int), np.where(treated, 0.6, 0.8)).astype(float)
        r = randomization_test(y, x, treated, permutations=199, rng=i)
        excludes = not (r.rel_ci_low <= 0 <= r.rel_ci_high)
        assert excludes == (r.p_value < 0.05), (i, r)
        assert (r.diff_ci_low <= 0 <= r.diff_ci_high) == (not excludes)
        assert r.rel_ci_low <= r.rel_diff <= r.rel_ci_high
        agree += 1
    assert agree == 25


def test_zero_variance_arm_gives_no_zero_width_interval():
    """Control: 2 customers with every rating satisfied; treatment: 5 raters at 84%. The
    delta method gives the control variance 0; the randomization test does not."""
    rated = np.array([3, 2, 5, 5, 5, 5, 5], float)
    sat = np.array([3, 2, 4, 5, 4, 4, 4], float)  # 21 of 25 = 84%
    treated = np.array([0, 0, 1, 1, 1, 1, 1], bool)
    r = randomization_test(sat, rated, treated)
    assert r.exact
    assert r.permutations == 21
    # the delta method (control variance 0) calls this significant: t = -3.5 on 4 df
    assert abs(_welch_delta_t(sat, rated, treated)) > 3
    assert r.p_value > 0.2
    assert r.rel_ci_low < 0 < r.rel_ci_high
    assert r.rel_ci_high - r.rel_ci_low > 0.1
    # one rater per arm: nothing can be said
    one = randomization_test(np.array([2.0, 0, 0, 1]), np.array([2.0, 0, 0, 2]),
                             np.array([0, 0, 1, 1], bool))
    assert one.p_value == 1.0
    assert (one.rel_ci_low, one.rel_ci_high) == (-1.0, math.inf)


def test_strata_keep_their_arm_sizes():
    treated = np.array([1, 0, 0, 0, 1, 1, 0, 0], bool)
    strata = np.array(["a", "a", "a", "a", "b", "b", "b", "b"])
    re = reassignments(treated, strata=strata, permutations=200, rng=2)
    for block in re.blocks():
        members = np.zeros((block.shape[0], 8), bool)
        np.put_along_axis(members, block.astype(np.int64), True, axis=1)
        assert (members[:, :4].sum(axis=1) == 1).all()
        assert (members[:, 4:].sum(axis=1) == 2).all()


def test_studentized_test_is_calibrated_on_small_skewed_unequal_trials():
    """A/A: 12 vs 4 customers with log-normal values (sigma 1.5). Under the sharp null the
    randomization test is exact: its rejection rate at 5% must be within 3 binomial standard
    errors of at most 5%."""
    rng = np.random.default_rng(2024)
    reps = 300
    rejections = 0
    treated = np.arange(16) < 4
    for i in range(reps):
        y = rng.lognormal(0, 1.5, 16)
        r = randomization_test(y, None, treated, permutations=199, rng=i, intervals=False)
        rejections += r.p_value < 0.05
    se = math.sqrt(0.05 * 0.95 / reps)
    assert rejections / reps <= 0.05 + 3 * se


@pytest.mark.parametrize(("n", "p_c", "p_t"), [(10, 0.95, 0.90), (25, 0.97, 0.92)])
def test_relative_interval_covers_binary_csat_near_100_percent(n, p_c, p_t):
    """0/1 ratings near 100%: the sharp-null inversion gave zero-width intervals and 67%
    coverage at 10 raters per arm; the interval must cover the true ratio at least 95% of the
    time, less 3 binomial standard errors."""
    rng = np.random.default_rng(n)
    reps = 150
    truth = p_t / p_c - 1
    covered = 0
    treated = np.r_[np.zeros(n, bool), np.ones(n, bool)]
    for i in range(reps):
        y = np.r_[rng.random(n) < p_c, rng.random(n) < p_t].astype(float)
        r = randomization_test(y, None, treated, permutations=199, rng=i, proportion=True)
        assert r.rel_ci_high > r.rel_ci_low
        covered += r.rel_ci_low <= truth <= r.rel_ci_high
    assert covered / reps >= 0.95 - 3 * math.sqrt(0.95 * 0.05 / reps)


def test_difference_interval_covers_with_unequal_arms():
    """The difference's interval was the control estimate times the relative one: 57%
    coverage at 12 vs 100 customers with a -60% effect. Log-normal values, true difference
    known in closed form."""
    rng = np.random.default_rng(9)
    reps = 150
    mean = math.exp(0.5)  # E of lognormal(0, 1)
    truth = -0.6 * mean
    treated = np.r_[np.zeros(12, bool), np.ones(100, bool)]
    covered = 0
    for i in range(reps):
        y = np.r_[rng.lognormal(0, 1, 12), 0.4 * rng.lognormal(0, 1, 100)]
        r = randomization_test(y, None, treated, permutations=199, rng=i)
        covered += r.diff_ci_low <= truth <= r.diff_ci_high
    assert covered / reps >= 0.95 - 3 * math.sqrt(0.95 * 0.05 / reps)
