"""CUPED theta against the OLS coefficient, variance reduction against rho², and unbiasedness."""

import math

import numpy as np
import pytest
import statsmodels.api as sm

from frt_experiments.stats.cuped import cuped, cuped_adjust, pooled_theta
from frt_experiments.stats.ratio import linearize


def _data(rng, n=600):
    arm = rng.integers(0, 2, n)
    x = rng.gamma(2, 2, (n, 2))
    y = 1.5 * x[:, 0] - 0.4 * x[:, 1] + 0.3 * arm + rng.normal(0, 1, n)
    return y, x, arm


def test_theta_is_the_ols_coefficient_with_arm_indicators():
    """OLS of y on [1, treated, x1, x2]: the covariate coefficients are the pooled theta."""
    rng = np.random.default_rng(1)
    y, x, arm = _data(rng)
    fit = sm.OLS(y, np.column_stack([np.ones(len(y)), arm, x])).fit()
    res = cuped(y, x, arm)
    np.testing.assert_allclose(res.theta, fit.params[2:], rtol=1e-10)
    # with a pooled theta the adjusted difference is the OLS treatment coefficient
    assert res.means[1] - res.means[0] == pytest.approx(fit.params[1], rel=1e-10)


def test_single_covariate_reduction_approaches_rho_squared():
    """One covariate, no treatment: reduction = 1 - Var(y - θx)/Var(y) = ρ² in sample."""
    rng = np.random.default_rng(2)
    x = rng.normal(0, 1, 4000)
    y = 0.8 * x + rng.normal(0, 0.6, 4000)
    arm = np.zeros(4000, int)
    arm[::2] = 1
    res = cuped(y, x, arm)
    rho = np.corrcoef(x, y)[0, 1]
    # pooled within-arm correlation differs from the overall one by O(1/n)
    assert res.variance_reduction == pytest.approx(rho**2, abs=5e-3)
    assert res.variance_reduction == pytest.approx(0.64, abs=0.03)


def test_cuped_on_linearized_ratio_matches_manual_regression():
    """For a ratio metric CUPED acts on the linearized values (Deng et al. 2018, 3.3)."""
    rng = np.random.default_rng(3)
    n = 800
    pre = rng.poisson(3, n).astype(float)
    k = rng.poisson(1 + pre) .astype(float) + 1
    y = rng.binomial(k.astype(int), 0.8).astype(float)
    arm = rng.integers(0, 2, n)
    lin = np.empty(n)
    for a in (0, 1):
        lin[arm == a] = linearize(y[arm == a], k[arm == a])
    res = cuped(lin, pre, arm)
    fit = sm.OLS(lin, np.column_stack([np.ones(n), arm, pre])).fit()
    assert res.theta[0] == pytest.approx(fit.params[2], rel=1e-10)


def test_adjusted_difference_is_unbiased_and_its_variance_right_by_simulation():
    """500 seeded A/A-plus-effect trials: the CUPED difference is centred on the true effect
    (0.3) and its nominal variance matches the replication variance.

    Tolerances: the mean within 4 Monte Carlo SE (sd/sqrt(500)); the variance ratio within
    4 SE of a variance ratio, sqrt(2/499) = 0.063.
    """
    rng = np.random.default_rng(4)
    diffs, nominal = [], []
    for _ in range(500):
        y, x, arm = _data(rng, 400)
        r = cuped(y, x, arm)
        n1, n0 = (arm == 1).sum(), (arm == 0).sum()
        diffs.append(r.means[1] - r.means[0])
        nominal.append(r.variances[1] / n1 + r.variances[0] / n0)
    diffs = np.array(diffs)
    sd = diffs.std(ddof=1)
    assert abs(diffs.mean() - 0.3) < 4 * sd / math.sqrt(500)
    assert diffs.var(ddof=1) / np.mean(nominal) == pytest.approx(1, abs=4 * math.sqrt(2 / 499))


def test_constant_covariate_is_dropped():
    theta = pooled_theta([10, 10], np.zeros((2, 1, 1)), np.zeros((2, 1)))
    assert theta.tolist() == [0.0]
    res = cuped_adjust([10, 12], mean_y=[1.0, 2.0], var_y=[3.0, 4.0], mean_x=[[5.0], [5.0]],
                       cov_xx=np.zeros((2, 1, 1)), cov_xy=np.zeros((2, 1)))
    np.testing.assert_allclose(res.means, [1.0, 2.0])
    assert res.variance_reduction == 0


def test_shapes_are_checked():
    with pytest.raises(ValueError, match="shapes do not agree"):
        pooled_theta([10, 10], np.zeros((2, 2, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="fewer than 2 customers"):
        cuped([1.0, 2.0, 3.0], [1.0, 2.0, 4.0], [0, 0, 1])
