"""Slow-arm FRT: draws against the closed-form distribution, tolerances from binomial SEs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from frt_experiments.errors import ScenarioError
from frt_experiments.simulate import load_scenario
from frt_experiments.simulate.first_response import (
    draw_frt_hours,
    slow_frt_cdf,
    slow_share_within_deadline,
)

N = 200_000
GRID = np.array([1.0, 3.0, 5.0, 6.0, 6.5, 7.0, 7.5, 7.9, 8.0, 8.5, 9.0, 10.0, 12.0])


def _frt(**changes):
    return load_scenario("published").with_(frt=changes).frt


@pytest.mark.parametrize("changes", [
    {},  # the published preset
    {"slow_slack_median_hours": 2.5, "slow_slack_sigma": 0.3, "slow_late_share": 0.2},
    {"slow_slack_median_hours": 0.4, "slow_slack_sigma": 1.2, "slow_late_share": 0.0,
     "close_hour": 18.0},
])
def test_slow_frt_follows_its_closed_form_distribution(changes) -> None:
    frt = _frt(**changes)
    slow = np.arange(N) % 2 == 1
    hours = draw_frt_hours(frt, slow, np.random.default_rng(17))
    x = hours[slow]
    want = slow_frt_cdf(GRID, frt)
    got = (x[:, None] <= GRID).mean(axis=0)
    se = np.sqrt(want * (1 - want) / x.size)
    # 4.5 binomial SEs at 13 points; + 1e-12 where the closed form is exactly 0 or 1
    assert np.all(np.abs(got - want) <= 4.5 * se + 1e-12), (got, want)
    # the fast arm's draws are untouched by the slow arm's model
    logs = np.log(hours[~slow])
    assert abs(logs.mean() - np.log(frt.fast_median_hours)) < 4 * frt.fast_sigma / np.sqrt(
        logs.size)


def test_slack_is_lognormal_with_its_median_and_sigma() -> None:
    # Without lateness and with a fast arm far below the deadline, D - FRT is the slack itself.
    frt = _frt(slow_late_share=0.0, fast_median_hours=0.01, fast_sigma=0.1,
               slow_slack_median_hours=1.5, slow_slack_sigma=0.5)
    x = draw_frt_hours(frt, np.ones(N, bool), np.random.default_rng(3))
    logs = np.log(frt.deadline_hours - x)
    assert abs(logs.mean() - np.log(1.5)) < 4 * 0.5 / np.sqrt(N)
    assert abs(logs.std(ddof=1) - 0.5) < 4 * 0.5 / np.sqrt(2 * N)  # SE of a normal sd


def test_share_within_deadline_is_the_closed_form() -> None:
    frt = _frt()
    # (1 - q) P(LogNormal(log 2, 0.6) <= 8) = 0.95 Phi(log(4) / 0.6)
    assert slow_share_within_deadline(frt) == pytest.approx(0.95 * norm.cdf(np.log(4) / 0.6),
                                                            rel=1e-14)
    assert 0.9 < slow_share_within_deadline(frt) < 0.97
    assert slow_share_within_deadline(frt) == pytest.approx(float(slow_frt_cdf(8.0, frt)),
                                                            rel=1e-14)
    x = draw_frt_hours(frt, np.ones(N, bool), np.random.default_rng(8))
    p = slow_share_within_deadline(frt)
    assert abs(np.mean(x <= frt.deadline_hours) - p) < 4 * np.sqrt(p * (1 - p) / N)


def test_aa_slow_arm_draws_exactly_the_fast_arm() -> None:
    frt = load_scenario("aa").frt
    slow = np.arange(1000) % 2 == 1
    a = draw_frt_hours(frt, slow, np.random.default_rng(5))
    b = draw_frt_hours(frt, np.zeros(1000, bool), np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert slow_share_within_deadline(frt) == pytest.approx(norm.cdf(np.log(4) / 0.6))
    np.testing.assert_allclose(slow_frt_cdf(GRID, frt), norm.cdf(np.log(GRID / 2) / 0.6))


def test_bad_slow_policy_names_the_key() -> None:
    with pytest.raises(ScenarioError, match=r"frt\.slow_policy = 'slow' must be one of"):
        load_scenario("published").with_(frt={"slow_policy": "slow"})
