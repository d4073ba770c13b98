"""CSAT dose-response: quadrature against closed forms and Monte Carlo; the calibration."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from frt_experiments.simulate import calibrate_csat, expected_csat, load_scenario
from frt_experiments.simulate.effects import csat_by_arm


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


def test_calibration_rejects_a_ratio_without_a_delay() -> None:
    sc = load_scenario("aa").with_(csat={"target_ratio": 0.98})
    with pytest.raises(ValueError, match=r"csat\.target_ratio"):
        calibrate_csat(sc)
