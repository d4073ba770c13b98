"""CSAT dose-response: quadrature against closed forms and Monte Carlo; the calibration."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import expit
from scipy.stats import norm

from frt_experiments.simulate import calibrate_csat, expected_csat, load_scenario
from frt_experiments.simulate.effects import csat_by_arm, expected_csat_slow
from frt_experiments.simulate.first_response import draw_frt_hours


def test_degenerate_case_is_the_closed_form() -> None:
    # sigma = 0 and no random effect: E[P] = expit(a - b log(1 + m)) exactly.
    got = expected_csat(intercept=2.0, slope=0.3, median_hours=3.0, sigma=0.0, delay_hours=8.0)
    assert got == pytest.approx(float(expit(2.0 - 0.3 * np.log1p(11.0))), abs=1e-14)


def test_quadrature_matches_monte_carlo_within_its_standard_error() -> None:
    rng = np.random.default_rng(7)
    n = 400_000
    h = 8.0 + 2.0 * np.exp(0.6 * rng.standard_normal(n))
    u = 0.8 * rng.standard_normal(n)
    p = expit(2.3 + u - 0.4 * np.log1p(h))
    se = p.std(ddof=1) / np.sqrt(n)
    quad = expected_csat(intercept=2.3, slope=0.4, median_hours=2.0, sigma=0.6, delay_hours=8.0,
                         satisfaction_sd=0.8)
    assert abs(p.mean() - quad) < 4 * se


def test_slow_arm_degenerate_case_is_the_closed_form() -> None:
    # No spread anywhere: FRT = max(2, 8 - 1) = 7 or, slipped (q = 0.1), max(2, 8 + 1) = 9.
    frt = load_scenario("published").with_(frt={
        "fast_sigma": 0.0, "slow_slack_sigma": 0.0, "slow_slack_median_hours": 1.0,
        "slow_late_share": 0.1}).frt
    got = expected_csat_slow(intercept=2.0, slope=0.3, frt=frt)
    want = 0.9 * expit(2.0 - 0.3 * np.log1p(7.0)) + 0.1 * expit(2.0 - 0.3 * np.log1p(9.0))
    assert got == pytest.approx(float(want), abs=1e-14)


@pytest.mark.parametrize("slack", [1.0, 5.0, 9.0])
def test_slow_arm_with_fixed_slack_matches_adaptive_quadrature(slack: float) -> None:
    # sigma_S = 0 and no random effect: E[expit(a - b log1p(max(H, t)))] with t = 8 -/+ slack,
    # by QUADPACK (scipy.integrate.quad) over the log-normal H, split at the kink.
    frt = load_scenario("published").with_(frt={
        "slow_slack_sigma": 0.0, "slow_slack_median_hours": slack, "slow_late_share": 0.3}).frt
    a, b, m, s = 2.3, 0.4, 2.0, 0.6

    def ref(t: float) -> float:
        def f(z: float) -> float:
            return float(expit(a - b * np.log1p(max(m * np.exp(s * z), t))) * norm.pdf(z))
        zt = np.log(t / m) / s if t > 0 else -40.0
        return quad(f, -40, zt, epsabs=1e-13)[0] + quad(f, zt, 40, epsabs=1e-13)[0]

    want = 0.7 * ref(8.0 - slack) + 0.3 * ref(8.0 + slack)
    got = expected_csat_slow(intercept=a, slope=b, frt=frt)
    assert got == pytest.approx(want, abs=1e-10)


def test_slow_arm_quadrature_matches_monte_carlo_within_its_standard_error() -> None:
    frt = load_scenario("published").frt
    rng = np.random.default_rng(11)
    n = 1_000_000
    h = draw_frt_hours(frt, np.ones(n, bool), rng)
    p = expit(2.3 + 0.8 * rng.standard_normal(n) - 0.4 * np.log1p(h))
    se = p.std(ddof=1) / np.sqrt(n)
    quad_ = expected_csat_slow(intercept=2.3, slope=0.4, frt=frt, satisfaction_sd=0.8)
    assert abs(p.mean() - quad_) < 4 * se


@pytest.mark.parametrize(("target_fast", "target_ratio"), [(0.88, 0.9875), (0.85, 0.96),
                                                            (0.9, 1.01)])
def test_calibration_hits_its_targets(target_fast: float, target_ratio: float) -> None:
    sc = load_scenario("published").with_(csat={"target_fast": target_fast,
                                                "target_ratio": target_ratio})
    cal = calibrate_csat(sc)
    fast, slow = csat_by_arm(sc, cal.intercept, cal.slope)
    assert fast == pytest.approx(target_fast, abs=1e-9)
    assert slow / fast == pytest.approx(target_ratio, abs=1e-9)
    assert (cal.slope > 0) == (target_ratio < 1)


def test_calibration_rejects_a_ratio_in_an_aa_scenario() -> None:
    sc = load_scenario("aa").with_(csat={"target_ratio": 0.98})
    with pytest.raises(ValueError, match=r"csat\.target_ratio"):
        calibrate_csat(sc)
