"""Confidence distributions: "how likely is a change below a threshold", read off an interval.

A confidence distribution ``H(θ)`` is the function of ``θ`` whose quantiles are the
one-sided confidence bounds of a parameter (Xie and Singh 2013): ``H(θ_low) = α`` at the
one-sided lower ``1 - α`` bound. ``H(θ0)`` is also the one-sided p-value of the test of
``H0: parameter ≥ θ0`` against ``parameter < θ0`` -- so "the probability that the true change
lies below θ0" is a confidence statement (the level at which the data would place θ0 above a
one-sided upper bound), not a Bayesian posterior probability: it needs no prior, and reads as
a posterior only under a flat prior on the parameter's scale.

Three forms, one per interval the analysis computes:

- :func:`normal_below`: a normal (``df = inf``) or Student-t estimate,
  ``H(θ0) = F_df((θ0 - estimate) / se)`` (Xie and Singh 2013, example 1).
- :func:`log_ratio_below`: a relative change with a delta-method standard error of its log,
  ``H(r0) = F_df((log(1 + r0) - log(1 + r)) / se_log)``.
- :func:`fieller_below`: a ratio of two means by Fieller's pivot (Fieller 1954), the form of
  the analysis' relative intervals and CSAT non-inferiority test:
  ``H(ρ0) = P(T_df > (t - ρ0 c) / sqrt(v_t - 2 ρ0 cov + ρ0² v_c))``.

References:
    Xie, M. and Singh, K. (2013). Confidence distribution, the frequentist distribution
    estimator of a parameter: a review. *International Statistical Review* 81(1), 3-39.
    Schweder, T. and Hjort, N. L. (2016). *Confidence, Likelihood, Probability*. Cambridge
    University Press, ch. 3.
    Fieller, E. C. (1954). Some problems in interval estimation. *Journal of the Royal
    Statistical Society B* 16(2), 175-185.
"""

from __future__ import annotations

import math

from scipy import stats

from frt_experiments.stats.ratio import ratio_t

__all__ = ["fieller_below", "log_ratio_below", "normal_below"]


def _cdf(z: float, df: float, *, upper: bool = False) -> float:
    """``P(T_df <= z)``, or ``P(T_df > z)`` with ``upper`` (computed as a tail, not 1 - cdf)."""
    if math.isnan(df) or df <= 0:
        raise ValueError(f"df must be positive (math.inf for the normal), got {df!r}")
    dist = stats.norm() if math.isinf(df) else stats.t(df)
    return float(dist.sf(z) if upper else dist.cdf(z))


def normal_below(estimate: float, se: float, threshold: float, *,
                 df: float = math.inf) -> float:
    """Confidence that the parameter lies below ``threshold``: ``F_df((θ0 - est) / se)``.

    Args:
        estimate: The point estimate.
        se: Its standard error (``0``: the estimate is taken as exact).
        threshold: ``θ0``.
        df: Degrees of freedom of the t reference (``math.inf``: the normal).

    References:
        Xie and Singh (2013), example 1 (the normal and Student-t confidence distributions).

    Examples:
        >>> round(normal_below(0.0, 1.0, -1.959963984540054), 6)
        0.025
    """
    if not (math.isfinite(estimate) and math.isfinite(threshold)):
        raise ValueError(f"estimate and threshold must be finite, got {estimate!r}, "
                         f"{threshold!r}")
    if not se >= 0:
        raise ValueError(f"se must be >= 0, got {se!r}")
    if se == 0:
        return 1.0 if estimate < threshold else 0.0
    return _cdf((threshold - estimate) / se, df)


def log_ratio_below(rel_change: float, se_log: float, threshold: float, *,
                    df: float = math.inf) -> float:
    """Confidence that a relative change lies below ``threshold`` (both > -100%), by the
    normal (or t) confidence distribution of the log ratio ``log(1 + r)`` with standard error
    ``se_log`` (the delta method's).

    References:
        Xie and Singh (2013), example 1, on the log scale.

    Examples:
        >>> round(log_ratio_below(0.0, 0.1, math.exp(-0.1) - 1), 4)
        0.1587
    """
    if not (rel_change > -1 and threshold > -1):
        raise ValueError(f"rel_change and threshold must be above -1 (-100%), got "
                         f"{rel_change!r}, {threshold!r}")
    return normal_below(math.log1p(rel_change), se_log, math.log1p(threshold), df=df)


def fieller_below(control: float, treatment: float, threshold: float, *, var_control: float,
                  var_treatment: float, cov: float = 0.0, df: float = math.inf) -> float:
    """Confidence that the relative change ``treatment / control - 1`` lies below
    ``threshold``, by Fieller's pivot: the one-sided p-value of ``treatment - ρ0 control ≤ 0``
    with ``ρ0 = 1 + threshold``.

    Its value at ``threshold`` is the p-value of the non-inferiority test of margin
    ``threshold`` that :func:`frt_experiments.analyze` computes for CSAT on normal theory,
    and at a one-sided Fieller bound ``r_low`` at level ``1 - α`` it is ``α``. Valid where
    Fieller's set is an interval (the control mean clearly away from zero), as the
    analysis' intervals are.

    References:
        Fieller (1954); Xie and Singh (2013), section 2 (a p-value function as a confidence
        distribution).

    Examples:
        >>> round(fieller_below(1.0, 1.0, 0.0, var_control=0.01, var_treatment=0.01), 3)
        0.5
    """
    if not threshold > -1:
        raise ValueError(f"threshold must be above -1 (-100%), got {threshold!r}")
    stat = ratio_t(control, treatment, 1.0 + threshold, var_control=var_control,
                   var_treatment=var_treatment, cov=cov)
    return _cdf(stat, df, upper=True)
