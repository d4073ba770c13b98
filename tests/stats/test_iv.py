"""The Wald ratio and two-stage least squares from per-arm sufficient statistics: the 2SLS
estimate of linearmodels' IV2SLS exactly (two, three and four arms), its heteroskedasticity-
robust (HC0) variance and first-stage statistic exactly or by the closed-form relation of the
module docstring, and the intervals' coverage by simulation against the true slope."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from frt_experiments.metrics import arm_statistics
from frt_experiments.stats.iv import (
    WEAK_INSTRUMENT_F,
    anderson_rubin,
    linearity_test,
    two_stage_least_squares,
    wald_ratio,
)

linearmodels = pytest.importorskip("linearmodels")


def _trial(rng: np.random.Generator, n: int, share: float, slope: float,
           shift: float = 1.2) -> pd.DataFrame:
    """Customers with a dose moved by the arm and an outcome linear in the dose, the errors
    heteroskedastic by arm and correlated with the dose's own noise (so least squares of y
    on d is biased, the instrumented slope is not)."""
    z = rng.random(n) < share
    noise = rng.normal(0, 1, n)
    d = np.log1p(rng.gamma(2.0, 2.0, n)) + shift * z + 0.5 * noise
    y = 0.8 + slope * d + (0.7 * noise + rng.normal(0, 1, n)) * (1 + 0.5 * z)
    return pd.DataFrame({"arm": np.where(z, "slow", "fast"), "y": y, "d": d,
                         "z": z.astype(float), "const": 1.0})


def _wald(df: pd.DataFrame, **kw):
    st = arm_statistics(df, columns=["y", "d"], arms=["fast", "slow"])
    return wald_ratio(st["fast"], st["slow"], outcome="y", dose="d", **kw), st


@pytest.mark.parametrize(("n", "share"), [(4_000, 0.3), (600, 0.5), (150, 0.1)])
def test_equals_two_stage_least_squares(n, share):
    df = _trial(np.random.default_rng(n), n, share, slope=-0.04)
    est, st = _wald(df)
    fit = linearmodels.iv.IV2SLS(df.y, df[["const"]], df.d, df.z).fit(cov_type="robust",
                                                                       debiased=False)
    assert est.effect == pytest.approx(fit.params["d"], rel=1e-10, abs=1e-12)
    # HC0 is the delta method with (n - 1) / n**2 in place of 1 / n (module docstring)
    hc0 = 0.0
    for arm in ("fast", "slow"):
        s = st[arm]
        iy, idose = s.index("y"), s.index("d")
        c = s.cov
        vu = c[iy, iy] - 2 * est.effect * c[iy, idose] + est.effect**2 * c[idose, idose]
        hc0 += (s.n - 1) * vu / s.n**2
    hc0 /= est.first_stage**2
    assert fit.std_errors["d"] ** 2 == pytest.approx(hc0, rel=1e-9)
    # and the delta method itself, from the raw arrays
    u = df.y - est.effect * df.d
    by_arm = u.groupby(df.arm)
    delta = sum(by_arm.var(ddof=1) / by_arm.size()) / est.first_stage**2
    assert est.se**2 == pytest.approx(delta, rel=1e-10)
    # the robust first-stage F: (n - 1) / n**2 again
    vd = df.d.groupby(df.arm)
    f_hc0 = est.first_stage**2 / sum(vd.var(ddof=1) * (vd.size() - 1) / vd.size() ** 2)
    assert fit.first_stage.diagnostics.loc["d", "f.stat"] == pytest.approx(f_hc0, rel=1e-9)
    assert est.f_statistic == pytest.approx(est.first_stage**2 / est.first_stage_se**2)


def test_interval_covers_the_true_slope():
    # 400 trials of 800 customers, heteroskedastic and with the dose endogenous: the 95%
    # interval covers the true slope within 3 Monte Carlo standard errors of 95%
    rng = np.random.default_rng(7)
    reps, slope = 400, -0.04
    covered = 0
    for _ in range(reps):
        est, _ = _wald(_trial(rng, 800, 0.5, slope))
        covered += est.ci_low <= slope <= est.ci_high
    mc_se = math.sqrt(0.95 * 0.05 / reps)
    assert abs(covered / reps - 0.95) <= 3 * mc_se


def test_weak_and_absent_first_stages():
    rng = np.random.default_rng(3)
    weak, _ = _wald(_trial(rng, 300, 0.5, slope=-0.04, shift=0.05))
    assert weak.f_statistic < WEAK_INSTRUMENT_F
    assert weak.weak
    strong, _ = _wald(_trial(rng, 300, 0.5, slope=-0.04))
    assert not strong.weak
    df = _trial(rng, 100, 0.5, slope=0.0)
    df["d"] = 1.0  # the arm does not move the dose
    with pytest.raises(ValueError, match="do not differ"):
        _wald(df)
    st = arm_statistics(df.head(3).assign(arm=["fast", "fast", "slow"], d=[1.0, 2.0, 3.0]),
                        columns=["y", "d"], arms=["fast", "slow"])
    with pytest.raises(ValueError, match="at least 2 customers"):
        wald_ratio(st["fast"], st["slow"], outcome="y", dose="d")


def _arms_trial(rng: np.random.Generator, n: int, shifts: list[float],
                slope: float) -> pd.DataFrame:
    k = rng.integers(0, len(shifts), n)
    noise = rng.normal(0, 1, n)
    d = np.log1p(rng.gamma(2.0, 2.0, n)) + np.asarray(shifts)[k] + 0.5 * noise
    y = 0.8 + slope * d + (0.7 * noise + rng.normal(0, 1, n)) * (1 + 0.3 * k)
    out = pd.DataFrame({"arm": [f"a{j}" for j in k], "y": y, "d": d, "const": 1.0})
    for j in range(1, len(shifts)):
        out[f"z{j}"] = (k == j).astype(float)
    return out


@pytest.mark.parametrize("shifts", [[0.0, 1.2], [0.0, 0.7, 1.5], [0.0, 0.4, 0.9, 2.0]])
def test_two_stage_least_squares_equals_linearmodels(shifts):
    df = _arms_trial(np.random.default_rng(len(shifts)), 3_000, shifts, slope=-0.04)
    arms = [f"a{j}" for j in range(len(shifts))]
    st = arm_statistics(df, columns=["y", "d"], arms=arms)
    fit = linearmodels.iv.IV2SLS(df.y, df[["const"]], df.d,
                                 df[[f"z{j}" for j in range(1, len(shifts))]]).fit(
        cov_type="robust", debiased=False)
    hc0 = two_stage_least_squares(st, outcome="y", dose="d", variance="hc0")
    assert hc0.effect == pytest.approx(fit.params["d"], rel=1e-10, abs=1e-12)
    assert hc0.se == pytest.approx(fit.std_errors["d"], rel=1e-9)
    assert hc0.first_stage_chi2 == pytest.approx(
        fit.first_stage.diagnostics.loc["d", "f.stat"], rel=1e-9)
    delta = two_stage_least_squares(st, outcome="y", dose="d")
    assert delta.effect == hc0.effect
    if len(shifts) == 2:  # two arms: the Wald ratio and its delta-method variance
        wald = wald_ratio(st["a0"], st["a1"], outcome="y", dose="d")
        assert delta.effect == pytest.approx(wald.effect, rel=1e-12)
        assert delta.se == pytest.approx(wald.se, rel=1e-10)
        assert delta.f_statistic == pytest.approx(wald.f_statistic, rel=1e-10)


def test_two_stage_least_squares_covers_the_true_slope_with_three_arms():
    rng = np.random.default_rng(11)
    reps, slope = 400, -0.04
    covered = 0
    for _ in range(reps):
        df = _arms_trial(rng, 900, [0.0, 0.7, 1.5], slope)
        st = arm_statistics(df, columns=["y", "d"], arms=["a0", "a1", "a2"])
        est = two_stage_least_squares(st, outcome="y", dose="d")
        covered += est.ci_low <= slope <= est.ci_high
    assert abs(covered / reps - 0.95) <= 3 * math.sqrt(0.95 * 0.05 / reps)


@pytest.mark.parametrize("shifts", [[0.0, 0.7, 1.5], [0.0, 0.4, 0.9, 2.0]])
def test_linearity_test_equals_hansens_j(shifts):
    df = _arms_trial(np.random.default_rng(20 + len(shifts)), 3_000, shifts, slope=-0.04)
    df["y"] += 0.1 * (df["arm"] == "a2")  # a bend at the third arm
    arms = [f"a{j}" for j in range(len(shifts))]
    st = arm_statistics(df, columns=["y", "d"], arms=arms)
    fit = linearmodels.iv.IVGMM(df.y, df[["const"]], df.d,
                                df[[f"z{j}" for j in range(1, len(shifts))]]).fit(
        cov_type="robust")
    got = linearity_test(st, outcome="y", dose="d")
    assert got.statistic == pytest.approx(fit.j_stat.stat, rel=1e-9)
    assert got.df == len(shifts) - 2
    assert got.p_value == pytest.approx(fit.j_stat.pval, rel=1e-8)
    assert got.effect == pytest.approx(fit.params["d"], rel=1e-9)
    with pytest.raises(ValueError, match="three arms or more"):
        linearity_test({a: st[a] for a in arms[:2]}, outcome="y", dose="d")


def test_linearity_test_size_and_power():
    # three arms of 300: a straight dose-response is rejected at 5% in 5% of 400 trials
    # (within 3 Monte Carlo SE); a bend of 0.3 at the middle arm in most of them
    rng = np.random.default_rng(12)
    reps = 400
    rejected = {"straight": 0, "bent": 0}
    for _ in range(reps):
        for shape in rejected:
            df = _arms_trial(rng, 900, [0.0, 0.7, 1.5], slope=-0.04)
            if shape == "bent":
                df["y"] += 0.3 * (df["arm"] == "a1")
            st = arm_statistics(df, columns=["y", "d"], arms=["a0", "a1", "a2"])
            rejected[shape] += linearity_test(st, outcome="y", dose="d").p_value < 0.05
    assert abs(rejected["straight"] / reps - 0.05) <= 3 * math.sqrt(0.05 * 0.95 / reps)
    assert rejected["bent"] / reps > 0.5


def _csat_trial(rng: np.random.Generator, n: int, shifts: list[float],
                slope: float) -> pd.DataFrame:
    """Customers whose chance of a satisfied rating falls linearly with their dose, the arms
    moving the dose: the ratio of satisfied to rated ratings moves by ``slope`` per unit of
    dose (ratings per customer independent of the dose)."""
    k = rng.integers(0, len(shifts), n)
    d = rng.uniform(0.0, 2.0, n) + np.asarray(shifts)[k]
    rated = rng.poisson(1.5, n).astype(float)
    p = 0.9 + slope * d
    satisfied = rng.binomial(rated.astype(int), p).astype(float)
    return pd.DataFrame({"arm": [f"a{j}" for j in k], "satisfied": satisfied, "rated": rated,
                         "d": d})


@pytest.mark.parametrize("shifts", [[0.0, 1.0], [0.0, 0.5, 1.5]])
def test_a_ratio_outcome_covers_the_true_slope(shifts):
    # CSAT as satisfied / rated, linearized within each arm: the 95% interval covers the true
    # slope per unit of dose in 400 simulated trials within 3 Monte Carlo SE
    rng = np.random.default_rng(30 + len(shifts))
    reps, slope = 400, -0.05
    arms = [f"a{j}" for j in range(len(shifts))]
    covered = 0
    for _ in range(reps):
        df = _csat_trial(rng, 1_200, shifts, slope)
        st = arm_statistics(df, columns=["satisfied", "rated", "d"], arms=arms)
        est = two_stage_least_squares(st, outcome=("satisfied", "rated"), dose="d")
        if len(shifts) == 2:
            wald = wald_ratio(st["a0"], st["a1"], outcome=("satisfied", "rated"), dose="d")
            assert wald.effect == pytest.approx(est.effect, rel=1e-12)
            assert wald.se == pytest.approx(est.se, rel=1e-10)
        covered += est.ci_low <= slope <= est.ci_high
    assert abs(covered / reps - 0.95) <= 3 * math.sqrt(0.95 * 0.05 / reps)


def test_a_ratio_outcome_is_the_2sls_of_its_linearization():
    # the linearized outcome per customer, R_k + (num - R_k den) / mean(den), as data:
    # linearmodels' 2SLS on it gives the slope and the HC0 standard error
    df = _csat_trial(np.random.default_rng(40), 2_000, [0.0, 0.5, 1.5], slope=-0.05)
    arms = ["a0", "a1", "a2"]
    st = arm_statistics(df, columns=["satisfied", "rated", "d"], arms=arms)
    g = df.groupby("arm")
    ratio = g["satisfied"].transform("sum") / g["rated"].transform("sum")
    lin = ratio + (df.satisfied - ratio * df.rated) / g["rated"].transform("mean")
    z = pd.DataFrame({"z1": (df.arm == "a1") * 1.0, "z2": (df.arm == "a2") * 1.0,
                      "const": 1.0})
    fit = linearmodels.iv.IV2SLS(lin, z[["const"]], df.d, z[["z1", "z2"]]).fit(
        cov_type="robust", debiased=False)
    got = two_stage_least_squares(st, outcome=("satisfied", "rated"), dose="d", variance="hc0")
    assert got.effect == pytest.approx(fit.params["d"], rel=1e-10)
    assert got.se == pytest.approx(fit.std_errors["d"], rel=1e-9)


@pytest.mark.parametrize("shifts", [[0.0, 1.2], [0.0, 0.4, 0.9, 2.0]])
def test_clustered_covariance_and_the_line_equal_linearmodels(shifts):
    # the customer is the unit: customer-clustered errors (one row per customer) are the HC0
    # ones; the line's intercept, its covariance with the slope and the band follow
    df = _arms_trial(np.random.default_rng(10 + len(shifts)), 2_000, shifts, slope=0.3)
    df["customer"] = np.arange(len(df))
    arms = [f"a{j}" for j in range(len(shifts))]
    st = arm_statistics(df, columns=["y", "d"], arms=arms)
    fit = linearmodels.iv.IV2SLS(df.y, df[["const"]], df.d,
                                 df[[f"z{j}" for j in range(1, len(shifts))]]).fit(
        cov_type="clustered", clusters=df["customer"], debiased=False)
    hc0 = two_stage_least_squares(st, outcome="y", dose="d", variance="hc0")
    assert hc0.effect == pytest.approx(fit.params["d"], rel=1e-10, abs=1e-12)
    assert hc0.intercept == pytest.approx(fit.params["const"], rel=1e-10, abs=1e-12)
    assert hc0.se == pytest.approx(fit.std_errors["d"], rel=1e-8)
    np.testing.assert_allclose(np.asarray(hc0.cov), fit.cov.loc[["const", "d"], ["const", "d"]],
                               rtol=1e-8)
    fit_line, lo, hi = hc0.line(np.array([0.0, 1.5]))
    v = fit.cov.loc[["const", "d"], ["const", "d"]].to_numpy()
    se = np.sqrt([v[0, 0], v[0, 0] + 3 * v[0, 1] + 2.25 * v[1, 1]])
    np.testing.assert_allclose(fit_line, fit.params["const"] + fit.params["d"] * np.array([0, 1.5]),
                               rtol=1e-10)
    np.testing.assert_allclose(hi - fit_line, 1.959963984540054 * se, rtol=1e-8)
    np.testing.assert_allclose(fit_line - lo, hi - fit_line, rtol=1e-12)


def test_anderson_rubin_with_two_arms_is_the_welch_test_of_y_minus_beta_d():
    df = _arms_trial(np.random.default_rng(3), 4_000, [0.0, 1.0], slope=0.2)
    st = arm_statistics(df, columns=["y", "d"], arms=["a0", "a1"])
    for beta in (0.0, 0.2, -0.5):
        u = df.y - beta * df.d
        a, b = u[df.arm == "a0"], u[df.arm == "a1"]
        z2 = (b.mean() - a.mean()) ** 2 / (a.var() / len(a) + b.var() / len(b))
        ar = anderson_rubin(st, outcome="y", dose="d", effect=beta)
        assert ar.df == 1
        assert ar.statistic == pytest.approx(z2, rel=1e-10)
        assert ar.p_value == pytest.approx(stats.chi2.sf(z2, 1), rel=1e-9)
    with pytest.raises(ValueError, match="two arms"):
        anderson_rubin({"a0": st["a0"]}, outcome="y", dose="d")


def test_anderson_rubin_keeps_its_size_where_the_2sls_t_test_does_not():
    # irrelevant instruments (no arm moves the dose) and a dose confounded with the outcome
    # within arms: 2SLS is biased towards OLS and its t test over-rejects a true slope of 0;
    # the Anderson-Rubin test of 0 rejects at its level (Andrews, Stock and Sun 2019)
    rng = np.random.default_rng(11)
    trials, n, k = 1_000, 400, 3
    t_rejects = ar_rejects = 0
    for _ in range(trials):
        arm = rng.integers(0, k, n)
        v = rng.normal(0, 1, n)
        d = 1.0 + v
        y = 0.9 * v + 0.45 * rng.normal(0, 1, n)  # slope 0; corr(y, d) about 0.9 within arm
        df = pd.DataFrame({"arm": [f"a{j}" for j in arm], "y": y, "d": d})
        st = arm_statistics(df, columns=["y", "d"], arms=[f"a{j}" for j in range(k)])
        t_rejects += two_stage_least_squares(st, outcome="y", dose="d").p_value < 0.05
        ar_rejects += anderson_rubin(st, outcome="y", dose="d").p_value < 0.05
    se = np.sqrt(0.05 * 0.95 / trials)
    assert ar_rejects / trials <= 0.05 + 3 * se
    assert ar_rejects / trials >= 0.05 - 3 * se
    assert t_rejects / trials > 0.05 + 3 * se  # the reason the toolkit uses AR when weak
