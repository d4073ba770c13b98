"""Delta-method ratio variance against statsmodels' cluster-robust OLS, and by simulation."""

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from frt_experiments.stats.ratio import delta_ratio, linearize, ratio_from_moments


def _conversation_level(rng, n_customers):
    """Customers with uneven numbers of ratings and a customer random effect."""
    k = rng.negative_binomial(1, 0.3, n_customers)          # ratings per customer, many zeros
    p = rng.beta(4, 1.5, n_customers)                        # customer's satisfaction propensity
    cust = np.repeat(np.arange(n_customers), k)
    y = rng.random(len(cust)) < p[cust]
    return cust, y.astype(float), k


def test_one_arm_matches_cluster_robust_intercept_regression():
    """OLS of satisfied on an intercept over *conversations*, clustered by customer.

    The intercept is Σy/Σx; the sandwich variance is Σ_g (y_g - R x_g)² / (Σx)². statsmodels
    multiplies it by the small-sample factor G/(G-1) * (N-1)/(N-K) (G clusters with data,
    N conversations, K = 1 regressor), which for K = 1 is G/(G-1). The delta method over all n
    customers (zeros included) with the n - 1 divisor equals the raw sandwich times n/(n-1).
    """
    rng = np.random.default_rng(11)
    cust, y, k = _conversation_level(rng, 400)
    fit = sm.OLS(y, np.ones((len(y), 1))).fit(cov_type="cluster", cov_kwds={"groups": cust})
    G, N, K = len(np.unique(cust)), len(y), 1
    sandwich = fit.cov_params()[0, 0] / (G / (G - 1) * (N - 1) / (N - K))
    ysum = np.bincount(cust, weights=y, minlength=len(k))
    est = delta_ratio(ysum, k.astype(float))
    n = len(k)
    assert est.ratio == pytest.approx(fit.params[0], rel=1e-12)
    assert est.variance == pytest.approx(sandwich * n / (n - 1), rel=1e-10)


def test_difference_matches_cluster_robust_regression_on_arm_indicator():
    """satisfied ~ 1 + treated on conversations, clustered by customer (K = 2).

    The slope is R_t - R_c and its raw sandwich variance is the sum of the arms' raw sandwich
    variances; statsmodels applies G/(G-1) * (N-1)/(N-2) on top. Our per-arm delta variances
    use the n_a - 1 divisor, so each is the raw one times n_a/(n_a-1).
    """
    rng = np.random.default_rng(12)
    cust_c, y_c, k_c = _conversation_level(rng, 300)
    cust_t, y_t, k_t = _conversation_level(rng, 350)
    cust = np.r_[cust_c, cust_t + 300]
    y = np.r_[y_c, y_t]
    x = sm.add_constant(np.r_[np.zeros(len(y_c)), np.ones(len(y_t))])
    fit = sm.OLS(y, x).fit(cov_type="cluster", cov_kwds={"groups": cust})
    G, N, K = len(np.unique(cust)), len(y), 2
    raw = fit.cov_params()[1, 1] / (G / (G - 1) * (N - 1) / (N - K))
    ec = delta_ratio(np.bincount(cust_c, weights=y_c, minlength=300), k_c.astype(float))
    et = delta_ratio(np.bincount(cust_t, weights=y_t, minlength=350), k_t.astype(float))
    ours = ec.variance * 299 / 300 + et.variance * 349 / 350
    assert et.ratio - ec.ratio == pytest.approx(fit.params[1], rel=1e-10)
    assert ours == pytest.approx(raw, rel=1e-10)


def test_linearized_values_carry_the_variance():
    rng = np.random.default_rng(2)
    x = rng.poisson(3, 200).astype(float) + 1
    y = rng.binomial(x.astype(int), 0.8).astype(float)
    lin = linearize(y, x)
    est = delta_ratio(y, x)
    assert lin.mean() == pytest.approx(0, abs=1e-12)
    assert lin.var(ddof=1) / len(y) == pytest.approx(est.variance, rel=1e-12)
    c = np.cov(y, x)
    again = ratio_from_moments(200, mean_y=y.mean(), mean_x=x.mean(), var_y=c[0, 0],
                               var_x=c[1, 1], cov_xy=c[0, 1])
    assert again.variance == pytest.approx(est.variance, rel=1e-12)


def test_delta_interval_coverage_by_simulation():
    """95% intervals R̂ ± 1.96 se cover the true ratio E[y]/E[x] at 95%.

    400 seeded replications of 500 customers; the tolerance is 4 Monte Carlo standard errors
    of a proportion at 0.95 (sqrt(.95 * .05 / 400) = 0.011), so a correct method fails with
    probability < 1e-4 and the independent-conversations variance (about 30% too small here)
    would be caught.
    """
    rng = np.random.default_rng(2024)
    reps, n = 400, 500
    shape, p_mean = 0.8, 4 / 5.5  # gamma-Poisson counts; beta(4, 1.5) propensity
    truth = p_mean  # E[y]/E[x] = E[k p]/E[k] = E[p] with k independent of p
    z = stats.norm.isf(0.025)
    covered = 0
    for _ in range(reps):
        k = rng.poisson(rng.gamma(shape, 3 / shape, n)).astype(float)
        y = rng.binomial(k.astype(int), rng.beta(4, 1.5, n)).astype(float)
        est = delta_ratio(y, k)
        covered += abs(est.ratio - truth) <= z * est.se
    share = covered / reps
    mcse = np.sqrt(0.95 * 0.05 / reps)
    assert abs(share - 0.95) < 4 * mcse


def test_bad_input():
    with pytest.raises(ValueError, match="denominator's mean must be non-zero"):
        delta_ratio([1, 2], [0, 0])
    with pytest.raises(ValueError, match="at least 2 customers"):
        delta_ratio([1], [1])
    with pytest.raises(ValueError, match="one length"):
        linearize([1, 2], [1, 2, 3])
