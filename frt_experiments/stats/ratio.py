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

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["RatioEstimate", "delta_ratio", "linearize", "ratio_from_moments",
           "ratio_gradient"]


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
