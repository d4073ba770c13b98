"""Ratio metrics by the delta method: a ratio of per-customer sums, the customer as the unit.

CSAT (satisfied / rated), NRR (revenue at the end / at the start) and efficiency
(conversations / handle hours) are ratios ``R = Σy / Σx = ȳ / x̄`` of per-customer sums. The
customers are independent; their conversations are not. The delta method (first-order Taylor
expansion of ``ȳ / x̄`` around the means) gives

    Var(R̂) ≈ (σ²_y - 2 R σ_xy + R² σ²_x) / (n x̄²),

which is the variance of the mean of the *linearized* values ``ℓᵢ = (yᵢ - R xᵢ) / x̄``. Writing a
ratio as a linear combination ``gᵀ v`` of the per-customer columns (``g_y = 1 / x̄``,
``g_x = -R / x̄``) lets everything downstream (Welch tests, CUPED) work on sufficient statistics
only. With the sample covariance (divisor ``n - 1``) this equals the cluster-robust (by customer)
sandwich variance of an intercept-only regression on conversation-level data times
``n / (n - 1)``.

References:
    Deng, A., Knoblich, U. and Lu, J. (2018). Applying the delta method in metric analytics:
    a practical guide with novel ideas. *KDD '18*, 233-242, section 3.
    Kohavi, R., Tang, D. and Xu, Y. (2020). *Trustworthy Online Controlled Experiments*,
    chapter 18 (ratio metrics when the analysis unit differs from the randomization unit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

__all__ = ["RatioEstimate", "delta_ratio", "fieller_interval", "linearize", "ratio_from_moments",
           "ratio_gradient", "ratio_t"]


@dataclass(frozen=True)
class RatioEstimate:
    """A ratio of means with its delta-method variance.

    Attributes:
        ratio: ``ȳ / x̄``.
        variance: Estimated variance of the ratio estimator, ``Var(R̂)``.
        unit_variance: Variance of one customer's linearized value (``n * variance``).
        n: Number of customers.
    """

    ratio: float
    variance: float
    unit_variance: float
    n: int

    @property
    def se(self) -> float:
        """Standard error ``sqrt(Var(R̂))``."""
        return float(np.sqrt(self.variance))

    def __repr__(self) -> str:
        return f"RatioEstimate(ratio={self.ratio:.6g}, se={self.se:.4g}, n={self.n})"


def ratio_gradient(mean_y: float, mean_x: float) -> tuple[float, float]:
    """Coefficients ``(g_y, g_x) = (1 / x̄, -R / x̄)`` of the linearization of ``ȳ / x̄``.

    Raises:
        ValueError: ``mean_x`` is zero or not finite (the ratio is undefined).

    References:
        Deng, Knoblich and Lu (2018), equation (2).
    """
    if not np.isfinite(mean_x) or mean_x == 0:
        raise ValueError(f"the denominator's mean must be non-zero and finite, got {mean_x!r}")
    r = mean_y / mean_x
    return 1.0 / mean_x, -r / mean_x


def ratio_from_moments(
    n: int, *, mean_y: float, mean_x: float, var_y: float, var_x: float, cov_xy: float,
) -> RatioEstimate:
    """The ratio ``ȳ / x̄`` and its delta-method variance from per-customer moments.

    Args:
        n: Customers.
        mean_y, mean_x: Means of the numerator and denominator per customer.
        var_y, var_x, cov_xy: Their sample variances and covariance (divisor ``n - 1``).

    Raises:
        ValueError: ``n < 2`` or a zero denominator mean.

    References:
        Deng, Knoblich and Lu (2018), section 3.
    """
    if n < 2:
        raise ValueError(f"a ratio's variance needs at least 2 customers, got n={n}")
    gy, gx = ratio_gradient(mean_y, mean_x)
    unit = gy * gy * var_y + 2 * gy * gx * cov_xy + gx * gx * var_x
    unit = max(float(unit), 0.0)
    return RatioEstimate(float(mean_y / mean_x), unit / n, unit, int(n))


def linearize(y: ArrayLike, x: ArrayLike) -> np.ndarray:
    """Per-customer linearized values ``(yᵢ - R xᵢ) / x̄`` of the ratio ``Σy / Σx``.

    Their mean is zero and their sample variance divided by ``n`` is the delta-method variance
    of ``R̂``; they can be fed to any test or regression (e.g. CUPED) built for means.

    References:
        Deng, Knoblich and Lu (2018), section 3.3.
    """
    yy = np.asarray(y, dtype=float)
    xx = np.asarray(x, dtype=float)
    if yy.shape != xx.shape or yy.ndim != 1:
        raise ValueError(f"y and x must be 1-d arrays of one length, got shapes {yy.shape} "
                         f"and {xx.shape}")
    gy, gx = ratio_gradient(float(yy.mean()), float(xx.mean()))
    return gy * yy + gx * xx


def delta_ratio(y: ArrayLike, x: ArrayLike) -> RatioEstimate:
    """The ratio ``Σy / Σx`` of per-customer sums with its delta-method variance.

    Examples:
        >>> est = delta_ratio([3, 0, 1, 2], [4, 1, 1, 2])
        >>> round(est.ratio, 4)
        0.75

    References:
        Deng, Knoblich and Lu (2018), section 3.
    """
    yy = np.asarray(y, dtype=float)
    xx = np.asarray(x, dtype=float)
    if yy.shape != xx.shape or yy.ndim != 1:
        raise ValueError(f"y and x must be 1-d arrays of one length, got shapes {yy.shape} "
                         f"and {xx.shape}")
    if len(yy) < 2:
        raise ValueError(f"a ratio's variance needs at least 2 customers, got n={len(yy)}")
    c = np.cov(np.vstack([yy, xx]))
    return ratio_from_moments(len(yy), mean_y=float(yy.mean()), mean_x=float(xx.mean()),
                              var_y=float(c[0, 0]), var_x=float(c[1, 1]),
                              cov_xy=float(c[0, 1]))


def fieller_interval(
    control: float, treatment: float, *, var_control: float, var_treatment: float,
    cov: float = 0.0, df: float = math.inf, alpha: float = 0.05,
    alternative: str = "two-sided",
) -> tuple[float, float]:
    """Fieller's interval for the relative change ``treatment / control - 1``.

    The set of ratios ``ρ`` that the t test of ``treatment - ρ control = 0`` does not reject,
    with ``Var = v_t - 2ρ cov + ρ² v_c`` and ``df`` degrees of freedom. At ``ρ = 1`` that test
    *is* the difference test, so with the difference test's ``df`` the interval excludes 0
    exactly when the difference is significant: one verdict for the row. When the control
    estimate is not itself distinguishable from zero the set is unbounded, reported as
    ``(-1, inf)`` (-100%, +∞); lower bounds below -100% are reported as -100% (the metrics are
    non-negative).

    Args:
        control, treatment: The two estimates.
        var_control, var_treatment, cov: Their variances and covariance (of the estimates,
            not per customer).
        df: Degrees of freedom of the t quantile (``inf``: normal).
        alpha, alternative: Level; ``"greater"`` gives a lower bound (upper ``inf``),
            ``"less"`` an upper bound (lower -1).

    Examples:
        >>> lo, hi = fieller_interval(10.0, 12.0, var_control=0.25, var_treatment=0.36)
        >>> round(lo, 4), round(hi, 4)
        (0.0441, 0.3792)

    References:
        Fieller, E. C. (1954). Some problems in interval estimation. *Journal of the Royal
        Statistical Society B* 16(2), 175-185. Franz, V. H. (2007). Ratios: a short guide to
        confidence limits and proper use. arXiv:0710.2024 (the unbounded cases).
    """
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(f"alternative must be 'two-sided', 'greater' or 'less', "
                         f"got {alternative!r}")
    q = float(stats.t.isf(alpha / 2 if alternative == "two-sided" else alpha, df))
    c, t = float(control), float(treatment)
    a = c * c - q * q * var_control
    b = -2.0 * (t * c - q * q * cov)
    k = t * t - q * q * var_treatment
    if a <= 0:
        return -1.0, math.inf
    disc = max(b * b - 4 * a * k, 0.0)
    root = math.sqrt(disc)
    lo, hi = (-b - root) / (2 * a), (-b + root) / (2 * a)
    lo_rel, hi_rel = max(lo - 1.0, -1.0), hi - 1.0
    if alternative == "greater":
        return lo_rel, math.inf
    if alternative == "less":
        return -1.0, hi_rel
    return lo_rel, hi_rel


def ratio_t(control: float, treatment: float, rho: float, *, var_control: float,
            var_treatment: float, cov: float = 0.0) -> float:
    """t statistic of ``treatment - ρ control`` (Fieller's pivot); ±inf with no variance.

    References:
        Fieller (1954).
    """
    d = treatment - rho * control
    v = var_treatment - 2 * rho * cov + rho * rho * var_control
    if v > 0:
        return d / math.sqrt(v)
    return 0.0 if d == 0 else math.copysign(math.inf, d)
