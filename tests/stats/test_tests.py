"""Welch, two-proportion, non-inferiority and TOST tests against SciPy, statsmodels and R."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW, ttost_ind

from frt_experiments.stats.tests import (
    ArmSummary,
    equivalence_test,
    noninferiority_test,
    two_proportion_ztest,
    welch_test,
)


def _summ(a):
    return ArmSummary.from_values(a)


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_welch_matches_scipy(alternative):
    rng = np.random.default_rng(7)
    c = rng.lognormal(0, 1, 80)
    t = rng.lognormal(0.2, 1.5, 130)
    ours = welch_test(_summ(c), _summ(t), alpha=0.1, alternative=alternative)
    ref = stats.ttest_ind(t, c, equal_var=False, alternative=alternative)
    ci = ref.confidence_interval(confidence_level=0.9)
    assert ours.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    assert ours.df == pytest.approx(ref.df, rel=1e-12)
    assert ours.diff_ci_low == pytest.approx(ci.low, rel=1e-10)
    assert ours.diff_ci_high == pytest.approx(ci.high, rel=1e-10)
    # delta method on the log ratio: var(log t/c) = s_t^2/(n_t t^2) + s_c^2/(n_c c^2)
    log_var = (t.var(ddof=1) / (t.size * t.mean() ** 2)
               + c.var(ddof=1) / (c.size * c.mean() ** 2))
    assert ours.log_se == pytest.approx(np.sqrt(log_var), rel=1e-12)


def test_relative_interval_is_delta_method_on_log_ratio():
    # closed form: se_log² = s²_t/(n_t t²) + s²_c/(n_c c²), two-sided 95% with Welch df
    r = welch_test((2.0, 1.0, 100), (2.5, 4.0, 100))
    a, b = 1 / (100 * 4), 4 / (100 * 6.25)
    df = (a + b) ** 2 / (a * a / 99 + b * b / 99)
    q = stats.t.isf(0.025, df)
    assert r.rel_diff == pytest.approx(0.25)
    assert r.rel_ci_low == pytest.approx(1.25 * math.exp(-q * math.sqrt(a + b)) - 1, rel=1e-12)
    assert r.rel_ci_high == pytest.approx(1.25 * math.exp(q * math.sqrt(a + b)) - 1, rel=1e-12)


def test_two_proportion_published_example_is_the_pooled_z():
    """5/83 vs 12/99: z = -1.40783, p = 0.15918 (the issue's published example).

    These are the *pooled* (score) test: R's prop.test(c(5, 12), c(83, 99), correct = FALSE)
    gives X-squared = 1.982, p-value = 0.1592, and z² = 1.40783² = 1.98199. The unpooled
    Wald z is -1.45416, which does not match.
    """
    r = two_proportion_ztest([5, 12], [83, 99])
    assert r.statistic == pytest.approx(-1.40783, abs=5e-6)
    assert r.p_value == pytest.approx(0.15918, abs=5e-6)
    assert r.statistic**2 == pytest.approx(1.982, abs=5e-4)
    wald = two_proportion_ztest([5, 12], [83, 99], pooled=False)
    assert wald.statistic == pytest.approx(-1.45416, abs=5e-6)
    one = two_proportion_ztest([5, 12], [83, 99], alternative="less")
    assert one.p_value == pytest.approx(0.15918 / 2, abs=5e-6)


def test_absolute_noninferiority_matches_statsmodels():
    rng = np.random.default_rng(8)
    c = rng.normal(10, 2, 150)
    t = rng.normal(9.8, 3, 170)
    cm = CompareMeans(DescrStatsW(t), DescrStatsW(c))
    for margin in (-0.5, 0.7):  # higher-is-better and lower-is-better
        ours = noninferiority_test(_summ(c), _summ(t), margin=margin, alpha=0.025,
                                   scale="absolute")
        alt = "larger" if margin < 0 else "smaller"
        stat, p, _ = cm.ttest_ind(alternative=alt, usevar="unequal", value=margin)
        assert abs(ours.statistic) == pytest.approx(abs(stat), rel=1e-10)
        assert ours.p_value == pytest.approx(p, rel=1e-10)


def test_absolute_tost_matches_statsmodels():
    rng = np.random.default_rng(9)
    c = rng.normal(5, 1, 200)
    t = rng.normal(5.05, 1.2, 220)
    ours = equivalence_test(_summ(c), _summ(t), margin=0.3, alpha=0.05, scale="absolute")
    p, _, _ = ttost_ind(t, c, -0.3, 0.3, usevar="unequal")
    assert ours.p_value == pytest.approx(p, rel=1e-10)
    assert ours.rejected == (p < 0.05)


def test_relative_margin_tests_agree_with_the_log_ratio_interval():
    """Duality: NI at one-sided alpha rejects iff the 1 - 2 alpha interval clears the margin;
    TOST rejects iff that interval lies inside (-m, m)."""
    args = ((0.85, 0.12, 6000), (0.84, 0.13, 6100))
    ci = welch_test(*args, alpha=0.05)  # two-sided 95% = one-sided 97.5% bounds
    ni = noninferiority_test(*args, margin=-0.02, alpha=0.025)
    assert ni.ci_low == pytest.approx(ci.rel_ci_low, rel=1e-12)
    assert ni.rejected == (ci.rel_ci_low > -0.02)
    tost = equivalence_test(*args, margin=0.02, alpha=0.025)
    assert tost.ci_low == pytest.approx(ci.rel_ci_low, rel=1e-12)
    assert tost.rejected == (ci.rel_ci_low > -0.02 and ci.rel_ci_high < 0.02)


def test_relative_noninferiority_size_at_the_margin_by_simulation():
    """At a true change exactly on the margin the test rejects at rate alpha.

    2,000 seeded experiments drawn as arm means of 2,000 customers (normal by the CLT, which
    holds well at this size for sd/mean = 0.5); tolerance 4 Monte Carlo SE of a proportion at
    0.05: 4 * sqrt(.05 * .95 / 2000) = 0.0195.
    """
    rng = np.random.default_rng(31)
    reps, n, mu, sd, margin = 2000, 2000, 1.0, 0.5, -0.05
    mc = rng.normal(mu, sd / math.sqrt(n), reps)
    mt = rng.normal(mu * (1 + margin), sd * (1 + margin) / math.sqrt(n), reps)
    vc = sd**2 * rng.chisquare(n - 1, reps) / (n - 1)
    vt = (sd * (1 + margin)) ** 2 * rng.chisquare(n - 1, reps) / (n - 1)
    rejected = np.array([noninferiority_test((mc[i], vc[i], n), (mt[i], vt[i], n), margin=margin,
                                             alpha=0.05).rejected for i in range(reps)])
    assert abs(rejected.mean() - 0.05) < 4 * math.sqrt(0.05 * 0.95 / reps)


@settings(max_examples=60, deadline=None)
@given(arms=st.tuples(st.floats(0.1, 100), st.floats(0.01, 50), st.integers(2, 5000),
                     st.floats(0.1, 100), st.floats(0.01, 50), st.integers(2, 5000)))
def test_intervals_contain_estimates_and_swapping_arms_flips(arms):
    c, vc, nc, t, vt, nt = arms
    r = welch_test((c, vc, nc), (t, vt, nt))
    assert r.diff_ci_low <= r.diff <= r.diff_ci_high
    assert r.rel_ci_low <= r.rel_diff <= r.rel_ci_high
    s = welch_test((t, vt, nt), (c, vc, nc))
    assert s.diff == pytest.approx(-r.diff)
    assert s.p_value == pytest.approx(r.p_value, rel=1e-9, abs=1e-300)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="control: needs at least 2 customers"):
        welch_test((1.0, 1.0, 1), (1.0, 1.0, 5))
    with pytest.raises(ValueError, match="alternative must be one of"):
        welch_test((1.0, 1.0, 5), (1.0, 1.0, 5), alternative="larger")
    with pytest.raises(ValueError, match="alpha must be a number in"):
        welch_test((1.0, 1.0, 5), (1.0, 1.0, 5), alpha=5)
    with pytest.raises(ValueError, match="margin must be positive"):
        equivalence_test((1.0, 1.0, 5), (1.0, 1.0, 5), margin=-0.1)
    with pytest.raises(ValueError, match="positive estimates in both arms"):
        noninferiority_test((0.0, 1.0, 5), (1.0, 1.0, 5), margin=-0.1)
    with pytest.raises(ValueError, match="count <= nobs"):
        two_proportion_ztest([5, 120], [83, 99])


def test_log_ratio_interval_agrees_with_fieller():
    """DESIGN section 4: the delta-method interval on the log ratio agrees with Fieller's
    interval to about three significant figures at experiment sizes. Fieller (1954), for
    independent means m_t, m_c with variances v_t, v_c of the means: the bounds are the roots
    of (m_c² - q² v_c) ρ² - 2 m_t m_c ρ + (m_t² - q² v_t) = 0."""
    c, t = (0.85, 0.13, 6000), (0.84, 0.14, 6100)
    r = welch_test(c, t)
    a, b = c[1] / c[2], t[1] / t[2]
    df = (a / c[0] ** 2 + b / t[0] ** 2) ** 2 / (
        (a / c[0] ** 2) ** 2 / (c[2] - 1) + (b / t[0] ** 2) ** 2 / (t[2] - 1))
    q = stats.t.isf(0.025, df)
    roots = np.sort(np.roots([c[0] ** 2 - q * q * a, -2 * t[0] * c[0], t[0] ** 2 - q * q * b]))
    np.testing.assert_allclose(1 + np.array([r.rel_ci_low, r.rel_ci_high]), roots, rtol=5e-4)


# Zero spread in both arms (se 0): the estimate is exact, so its side of the margin decides.
# Closed form: the statistic gap / se with gap the distance beyond the margin on the good side
# tends to +inf (gap > 0) or -inf (gap < 0) as se -> 0, and is 0 (p 0.5, not rejected) on the
# margin. Cases: (control mean, treatment mean, margin, scale, non-inferior?).
_ZERO_SE_NI = [
    (4.0, 2.0, -0.02, "relative", False),    # -50% against "at most 2% worse"
    (4.0, 3.92, -0.02, "relative", False),   # exactly -2%: on the margin
    (4.0, 3.96, -0.02, "relative", True),    # -1%
    (4.0, 4.2, -0.02, "relative", True),     # +5%
    (10.0, 15.0, 0.02, "relative", False),   # lower is better: +50%
    (10.0, 10.2, 0.02, "relative", False),   # exactly +2%: on the margin
    (10.0, 9.0, 0.02, "relative", True),     # -10%
    (0.3, 0.1, -0.2, "absolute", False),     # on the margin (0.1 - 0.3 rounds to -0.19999...)
    (0.3, 0.05, -0.2, "absolute", False),
    (0.3, 0.25, -0.2, "absolute", True),
    (3.0, 3.5, 0.5, "absolute", False),      # lower is better, on the margin
    (3.0, 4.0, 0.5, "absolute", False),
    (3.0, 2.9, 0.5, "absolute", True),
]


@pytest.mark.parametrize(("c", "t", "margin", "scale", "non_inferior"), _ZERO_SE_NI)
def test_noninferiority_with_zero_se_is_decided_by_the_side_of_the_margin(
        c, t, margin, scale, non_inferior):
    r = noninferiority_test((c, 0.0, 50), (t, 0.0, 50), margin=margin, scale=scale)
    assert r.rejected is non_inferior
    assert r.statistic == (math.inf if non_inferior else -math.inf)
    assert r.p_value == (0.0 if non_inferior else 1.0)
    assert r.conclusion == ("non-inferior" if non_inferior else "not shown non-inferior")
    # the limit of the test with a vanishing spread reaches the same decision
    tiny = noninferiority_test((c, 1e-24, 50), (t, 1e-24, 50), margin=margin, scale=scale)
    assert tiny.rejected is non_inferior


@pytest.mark.parametrize(("c", "t", "margin", "scale", "equivalent"), [
    (4.0, 4.1, 0.05, "relative", True),      # +2.5% inside +-5%
    (4.0, 3.9, 0.05, "relative", True),
    (4.0, 4.4, 0.05, "relative", False),     # +10%
    (4.0, 2.0, 0.05, "relative", False),     # -50%
    (3.0, 3.1, 0.2, "absolute", True),
    (3.0, 3.5, 0.2, "absolute", False),
    (3.0, 2.5, 0.2, "absolute", False),
])
def test_equivalence_with_zero_se_is_decided_by_the_side_of_the_margins(
        c, t, margin, scale, equivalent):
    r = equivalence_test((c, 0.0, 50), (t, 0.0, 50), margin=margin, scale=scale)
    assert r.rejected is equivalent
    assert r.p_value == (0.0 if equivalent else 1.0)
    assert r.statistic == (math.inf if equivalent else -math.inf)
