"""Power and sample size against R and statsmodels, and by round trips."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.power import NormalIndPower, TTestIndPower, zt_ind_solve_power

from frt_experiments.stats.power import (
    margin_power,
    normal_power,
    proportion_power,
    proportion_sample_size,
    solve_power,
)


def test_proportion_sample_size_matches_r():
    # R: power.prop.test(p1 = 0.50, p2 = 0.75, power = 0.90)   (example in ?power.prop.test)
    #   n = 76.71 per group (reported to 2 decimals in issue 7; R's uniroot stops near it)
    assert round(proportion_sample_size(0.5, 0.75, power=0.9), 2) == 76.71
    # symmetric in the direction of the difference, as R
    assert round(proportion_sample_size(0.75, 0.5, power=0.9), 2) == 76.71


def test_proportion_power_matches_r():
    # R: power.prop.test(n = 50, p1 = 0.50, p2 = 0.75)  ->  power = 0.740 (issue 7)
    assert round(proportion_power(0.5, 0.75, 50), 3) == 0.740
    # one-sided: R's p.body with tside = 1, written out (closed form)
    z = 1.6448536269514722  # qnorm(0.95)
    expected = _phi((math.sqrt(50) * 0.25 - z * math.sqrt(2 * 0.625 * 0.375))
                    / math.sqrt(0.25 + 0.1875))
    assert proportion_power(0.5, 0.75, 50, alternative="greater") == pytest.approx(
        expected, abs=1e-12)


def _phi(x):
    return 0.5 * math.erfc(-x / math.sqrt(2))


@pytest.mark.parametrize(("p1", "p2", "ratio", "alternative"), [
    (0.85, 0.8394, 1.0, "two-sided"), (0.2, 0.25, 2.0, "greater"), (0.6, 0.5, 0.5, "less"),
])
def test_proportion_round_trip(p1, p2, ratio, alternative):
    n = proportion_sample_size(p1, p2, power=0.83, alpha=0.04, ratio=ratio,
                               alternative=alternative)
    assert proportion_power(p1, p2, n, alpha=0.04, ratio=ratio,
                            alternative=alternative) == pytest.approx(0.83, abs=1e-10)


def test_proportion_ratio_closed_form():
    # Unequal allocation: pooled p under H0 weighted by arm sizes (Fleiss et al. 2003, 4.14)
    p1, p2, r = 0.3, 0.4, 3.0
    pbar = (p1 + r * p2) / (1 + r)
    za, zb = 1.959963984540054, 0.8416212335729143
    n = ((za * math.sqrt(pbar * (1 - pbar) * (1 + 1 / r))
          + zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2) / r)) / 0.1) ** 2
    assert proportion_sample_size(p1, p2, ratio=r) == pytest.approx(n, rel=1e-9)


def test_proportion_bad_arguments():
    with pytest.raises(ValueError, match="p1 must be in"):
        proportion_sample_size(1.2, 0.5)
    with pytest.raises(ValueError, match="alternative="):
        proportion_sample_size(0.5, 0.6, alternative="less")
    with pytest.raises(ValueError, match="alternative must be one of"):
        proportion_power(0.5, 0.6, 10, alternative="two.sided")


@pytest.mark.parametrize("alternative", ["two-sided", "larger", "smaller"])
@pytest.mark.parametrize("ratio", [1.0, 2.5])
def test_normal_power_matches_statsmodels(alternative, ratio):
    ours = {"larger": "greater", "smaller": "less"}.get(alternative, alternative)
    d = 0.2 if alternative != "smaller" else -0.2
    expected = NormalIndPower().power(d, 300, 0.05, ratio=ratio, alternative=alternative)
    assert normal_power(d, 300, ratio=ratio, alternative=ours) == pytest.approx(expected,
                                                                                abs=1e-10)
    expected_t = TTestIndPower().power(d, 30, 0.05, ratio=ratio, alternative=alternative)
    assert normal_power(d, 30, ratio=ratio, alternative=ours, dist="t") == pytest.approx(
        expected_t, abs=1e-8)


def test_solve_power_matches_zt_ind_solve_power():
    n = solve_power(effect_size=0.1, power=0.8, ratio=1.5)
    assert n == pytest.approx(zt_ind_solve_power(effect_size=0.1, alpha=0.05, power=0.8,
                                                 ratio=1.5), rel=1e-6)
    d = solve_power(nobs1=500, power=0.9)
    # statsmodels' own root finder stops at power 0.89999, hence rel 1e-4
    assert d == pytest.approx(zt_ind_solve_power(nobs1=500, alpha=0.05, power=0.9), rel=1e-4)
    assert normal_power(d, 500) == pytest.approx(0.9, abs=1e-10)
    a = solve_power(effect_size=0.2, nobs1=400, alpha=None, power=0.85)
    assert a == pytest.approx(zt_ind_solve_power(effect_size=0.2, nobs1=400, alpha=None,
                                                 power=0.85), rel=1e-5)


def test_solve_power_round_trip_and_sign():
    n = solve_power(effect_size=-0.15, power=0.8, alternative="less", dist="t")
    assert normal_power(-0.15, n, alternative="less", dist="t") == pytest.approx(0.8, abs=1e-9)
    assert solve_power(nobs1=n, power=0.8, alternative="less", dist="t") == pytest.approx(
        -0.15, rel=1e-7)
    with pytest.raises(ValueError, match="exactly one"):
        solve_power(effect_size=0.1, nobs1=10, power=0.8)


def test_margin_power_closed_forms():
    # Non-inferiority at the margin has power alpha; TOST at diff 0 is 2 Phi(m/se - z) - 1
    assert margin_power(-0.02, 0.01, margin=-0.02, test="non-inferiority",
                        alpha=0.025) == pytest.approx(0.025, abs=1e-12)
    z = 1.6448536269514722
    expected = 2 * 0.9 - 1  # m/se - z = Phi^-1(0.9) = 1.2815515655446004
    se = 0.01 / (1.2815515655446004 + z)
    assert margin_power(0.0, se, margin=0.01, test="equivalence") == pytest.approx(expected,
                                                                                   abs=1e-9)
    # lower-is-better margin mirrors higher-is-better
    assert margin_power(0.01, 0.01, margin=-0.02, test="non-inferiority") == pytest.approx(
        margin_power(-0.01, 0.01, margin=0.02, test="non-inferiority"))
    with pytest.raises(ValueError, match="equivalence margin"):
        margin_power(0.0, 0.01, margin=-0.01, test="equivalence")


@settings(max_examples=60, deadline=None)
@given(p1=st.floats(0.05, 0.95), shift=st.floats(0.01, 0.3), power=st.floats(0.5, 0.99),
       ratio=st.floats(0.25, 4.0), alternative=st.sampled_from(["two-sided", "greater"]))
def test_proportion_round_trip_property(p1, shift, power, ratio, alternative):
    p2 = min(p1 + shift, 0.99)
    n = proportion_sample_size(p1, p2, power=power, ratio=ratio, alternative=alternative)
    assert proportion_power(p1, p2, n, ratio=ratio, alternative=alternative) == pytest.approx(
        power, abs=1e-9)
    # more units never lower the power
    assert proportion_power(p1, p2, 1.1 * n, ratio=ratio, alternative=alternative) > power


def test_t_power_far_tail_is_finite():
    # SciPy's noncentral t cdf returns NaN far in the left tail (e.g. nc = 14, df = 9998), so a
    # two-sided t power at a large effect came out NaN (statsmodels' TTestIndPower too) and the
    # solvers stopped on it. With df ~ 1e4 the t test is the z test to ~1e-4.
    for nobs1, d in ((5000, 0.2), (2000, 0.3), (800, 0.5)):
        p = normal_power(d, nobs1, dist="t")
        assert math.isfinite(p)
        assert p == pytest.approx(normal_power(d, nobs1), abs=1e-4)
        assert normal_power(-d, nobs1, dist="t", alternative="less") == pytest.approx(p,
                                                                                      abs=1e-4)
    # statsmodels: TTestIndPower().solve_power(effect_size=None, nobs1=100, alpha=0.05,
    #   power=0.8, ratio=3) -> 0.3242819996350532
    d = solve_power(nobs1=100, power=0.8, ratio=3.0, dist="t")
    assert d == pytest.approx(0.3242819996350532, rel=1e-6)


def test_solve_power_names_an_effect_against_the_alternative():
    with pytest.raises(ValueError, match=r"effect_size -0\.2 points away from alternative="
                                         r"'greater': no nobs1"):
        solve_power(effect_size=-0.2, power=0.8, alternative="greater")
    with pytest.raises(ValueError, match=r"effect_size 0\.2 points away .*no alpha"):
        solve_power(effect_size=0.2, nobs1=50, alpha=None, power=0.8, alternative="less")


@pytest.mark.parametrize(("p1", "p2", "ratio", "alternative"), [
    (0.3, 0.4, 2.0, "greater"), (0.3, 0.4, 0.5, "two-sided"), (0.85, 0.83, 3.0, "less"),
])
def test_proportions_unequal_allocation_match_statsmodels(p1, p2, ratio, alternative):
    # statsmodels.stats.proportion.samplesize_proportions_2indep_onetail and
    # power_proportions_2indep (pooled variance under H0) with its arm 1 = our treatment:
    # prop1 = p2, nobs1 = treatment = ratio * control, its ratio = 1 / ratio. statsmodels'
    # two-sided power also counts the far tail, R's (and ours) does not, so one-sided only.
    from statsmodels.stats.proportion import (
        power_proportions_2indep,
        samplesize_proportions_2indep_onetail,
    )

    sm_alt = {"greater": "larger", "less": "smaller"}.get(alternative, alternative)
    n_t = samplesize_proportions_2indep_onetail(diff=p2 - p1, prop2=p1, power=0.9,
                                                ratio=1 / ratio, alpha=0.05,
                                                alternative=sm_alt)
    assert proportion_sample_size(p1, p2, power=0.9, ratio=ratio,
                                  alternative=alternative) == pytest.approx(n_t / ratio,
                                                                            rel=1e-10)
    if alternative != "two-sided":
        sm = power_proportions_2indep(p2 - p1, p1, 100 * ratio, ratio=1 / ratio, alpha=0.05,
                                      alternative=sm_alt).power
        assert proportion_power(p1, p2, 100, ratio=ratio,
                                alternative=alternative) == pytest.approx(sm, abs=1e-12)


# R 4.2.2, per group, sd = 1, sig.level = 0.05; R's default strict = FALSE ignores the far tail,
# strict = TRUE counts both as normal_power does (tol = 1e-12 tightens uniroot's 1.2e-4):
#   power.t.test(delta = 1, sd = 1, power = 0.9)                  n = 22.02110 (22.0210977)
#   power.t.test(delta = 1, sd = 1, power = 0.9, strict = TRUE, tol = 1e-12)   n = 22.02108843
#   power.t.test(delta = 2, sd = 1, power = 0.8)                  n = 5.090008
#   power.t.test(delta = 2, sd = 1, power = 0.8, strict = TRUE, tol = 1e-12)   n = 5.089994568
#   power.t.test(delta = 0.2, sd = 1, power = 0.8)                n = 393.4067
#   power.t.test(delta = 0.2, sd = 1, power = 0.8, strict = TRUE, tol = 1e-12) n = 393.405695
#     (= pwr::pwr.t.test(d = 0.2, power = 0.8), n = 393.4057)
#   power.t.test(delta = 5, sd = 1, power = 0.9, strict = TRUE, tol = 1e-12)   n = 2.328877016
#   power.t.test(delta = 1, sd = 1, power = 0.9, alternative = "one.sided", tol = 1e-12)
#                                                                  n = 17.84712063
@pytest.mark.parametrize(("d", "power", "alternative", "r_n"), [
    (1.0, 0.9, "two-sided", 22.02108843),
    (2.0, 0.8, "two-sided", 5.089994568),
    (0.2, 0.8, "two-sided", 393.405695),
    (5.0, 0.9, "two-sided", 2.328877016),
    (1.0, 0.9, "greater", 17.84712063),
    (-1.0, 0.9, "less", 17.84712063),
])
def test_t_sample_size_matches_r_power_t_test(d, power, alternative, r_n):
    n = solve_power(effect_size=d, power=power, alternative=alternative, dist="t")
    assert n == pytest.approx(r_n, rel=1e-8)
    # the noncentral t power at that n, straight from SciPy: df 2n - 2, nc d sqrt(n / 2)
    df, nc = 2 * n - 2, abs(d) * math.sqrt(n / 2)
    if alternative == "two-sided":
        q = stats.t.isf(0.025, df)
        direct = stats.nct.sf(q, df, nc) + stats.nct.cdf(-q, df, nc)
    else:
        direct = stats.nct.sf(stats.t.isf(0.05, df), df, nc)
    assert direct == pytest.approx(power, abs=1e-9)


def test_t_sample_size_with_unequal_allocation_matches_statsmodels():
    # statsmodels 0.15: TTestIndPower().solve_power(effect_size=1, power=0.9, alpha=0.05,
    #   ratio=2) -> 16.42860125435802; ratio=0.5 -> 32.85720252082452 (the same total, 3 n1 vs
    #   1.5 n1: the t test depends on the allocation only through 1/n1 + 1/n2 and df)
    assert solve_power(effect_size=1, power=0.9, ratio=2.0, dist="t") == pytest.approx(
        16.42860125435802, rel=1e-7)
    assert solve_power(effect_size=1, power=0.9, ratio=0.5, dist="t") == pytest.approx(
        32.85720252082452, rel=1e-7)


def test_t_sample_size_starts_at_two_per_arm():
    # delta = 10 reaches power 0.9 below 2 per group (R extends its search there: 1.762908),
    # where the degrees of freedom approach 0; the toolkit names the smallest size it solves
    with pytest.raises(ValueError, match=r"already at nobs1 = 2 \(2 units in the smaller arm"):
        solve_power(effect_size=10, power=0.9, dist="t")
    with pytest.raises(ValueError, match=r"already at nobs1 = 4 "):
        solve_power(effect_size=10, power=0.9, ratio=0.5, dist="t")
    # the z test keeps solving below 2: (z_.975 + z_.9)^2 * 2 / 25 = 0.8406
    assert solve_power(effect_size=5, power=0.9) == pytest.approx(
        (stats.norm.isf(0.025) + stats.norm.ppf(0.9)) ** 2 * 2 / 25, rel=1e-4)
