"""When the normal approximation can be trusted for a difference of two arms' means.

Welch's t and the delta method rest on the central limit theorem. For the mean of ``n``
values with skewness ``γ``, the error of a nominal 5% two-sided test is governed by the
skewness of the mean, ``γ / √n``; Kohavi, Tang and Xu (2020, ch. 17) give the rule of thumb
``n > 355 γ²`` per arm, i.e. ``|γ / √n| < 1 / √355 ≈ 0.053``, for the rate of a 5% test to stay
within about 10% of nominal (Kohavi, Deng, Longbotham and Xu 2014, rule 7). Applied to the
difference of two arms, its third cumulant is ``κ₃,t / n_t² - κ₃,c / n_c²`` against the
variance ``σ²_t / n_t + σ²_c / n_c``; the two terms cancel only when the arms are alike in
size and shape, so the check adds their absolute values:

    γ_D = (|κ₃,c| / n_c² + |κ₃,t| / n_t²) / (σ²_c / n_c + σ²_t / n_t)^{3/2}  <=  1 / √355.

That is Kohavi's rule for an unequal allocation (a 90/10 trial's small arm carries the
skewness) and half as demanding as the per-arm rule for a balanced one. Besides, the normal
approximation is not used when

- an arm's per-customer values have no variance (one rater, CSAT at 100%): a zero sample
  variance is not a known population variance, and the formula would give a zero-width
  interval and a p-value of 0;
- an arm has fewer than :data:`MIN_CONTRIBUTORS` customers contributing to the metric (for a
  ratio, customers with a non-zero denominator: raters for CSAT), below which the sample
  skewness itself is too noisy to vouch for the approximation.

References:
    Kohavi, R., Tang, D. and Xu, Y. (2020). *Trustworthy Online Controlled Experiments*.
    Cambridge University Press, chapter 17 (the 355 s² rule).
    Kohavi, R., Deng, A., Longbotham, R. and Xu, Y. (2014). Seven rules of thumb for web site
    experimenters. *KDD '14*, rule 7.
    Boos, D. D. and Hughes-Oliver, J. M. (2000). How large does n have to be for Z and t
    intervals? *The American Statistician* 54(2), 121-128.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["MAX_SKEWNESS", "MIN_CONTRIBUTORS", "NormalCheck", "normal_check"]

#: Largest skewness of the difference estimator at which normal theory is used (1 / √355).
MAX_SKEWNESS = 1 / math.sqrt(355)
#: Fewest customers per arm contributing to a metric for normal theory.
MIN_CONTRIBUTORS = 30


@dataclass(frozen=True)
class NormalCheck:
    """Whether normal theory holds for one metric's difference, and why not.

    Attributes:
        ok: True when the normal approximation may be used.
        skewness: ``γ_D``, the skewness of the difference estimator (no cancellation).
        contributors: Customers contributing per arm ``(control, treatment)``.
        reason: Why not (empty when ``ok``).
    """

    ok: bool
    skewness: float
    contributors: tuple[int, int]
    reason: str


def normal_check(
    residuals: ArrayLike,
    treated: ArrayLike,
    *,
    contributing: ArrayLike | None = None,
    arms: tuple[str, str] = ("control", "treatment"),
    min_contributors: int = MIN_CONTRIBUTORS,
    max_skewness: float = MAX_SKEWNESS,
    sizes: tuple[int, int] | None = None,
    contributors: tuple[int, int] | None = None,
) -> NormalCheck:
    """Check the normal approximation for a difference of two arms' means.

    Args:
        residuals: Per-customer values centred within their arm (for a ratio, the linearized
            values; with CUPED, the adjusted ones).
        treated: One boolean per customer.
        contributing: One boolean per customer: contributes to the metric (default: all).
        arms: Names of (control, treatment) for the reason.
        min_contributors, max_skewness: The thresholds (module docstring).
        sizes, contributors: Customers and contributing customers per arm when ``residuals``
            are a sample of them (the moments are read on the sample, the rule applied at
            the arms' full sizes).

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> normal_check(rng.normal(size=400), np.arange(400) % 2 == 1).ok
        True
        >>> normal_check(rng.lognormal(0, 2, 400), np.arange(400) % 2 == 1).reason[:12]
        'skewness of '

    References:
        Kohavi, Tang and Xu (2020), ch. 17; Kohavi et al. (2014), rule 7; Boos and
        Hughes-Oliver (2000).
    """
    e = np.asarray(residuals, dtype=float)
    code = np.asarray(treated).astype(np.intp)
    use = np.ones(e.shape, bool) if contributing is None else np.asarray(contributing, bool)
    n_arr = np.bincount(code, minlength=2).astype(float)
    centre = np.bincount(code, weights=e, minlength=2) / np.maximum(n_arr, 1)
    d = e - centre[code]
    d2 = d * d
    var_arr = np.bincount(code, weights=d2, minlength=2) / np.maximum(n_arr - 1, 1)
    k3_arr = np.bincount(code, weights=d2 * d, minlength=2) / np.maximum(n_arr, 1)
    contrib = [int(c) for c in np.bincount(code, weights=use, minlength=2)]
    if contributors is not None:
        contrib = [int(contributors[0]), int(contributors[1])]
    n = [int(x) for x in (n_arr if sizes is None else sizes)]
    var = [float(v) for v in var_arr]
    k3 = [float(v) for v in k3_arr]
    contributors = (contrib[0], contrib[1])
    scale = max(float(np.abs(e).max(initial=0.0)), 1e-300)
    for i in (0, 1):
        if var[i] <= (1e-12 * scale) ** 2:
            return NormalCheck(False, math.inf, contributors,
                               f"arm {arms[i]!r}: its customers' values have no variance")
    v_d = var[0] / n[0] + var[1] / n[1]
    skew = (abs(k3[0]) / n[0] ** 2 + abs(k3[1]) / n[1] ** 2) / v_d ** 1.5
    for i in (0, 1):
        if contrib[i] < min_contributors:
            return NormalCheck(False, skew, contributors,
                               f"arm {arms[i]!r}: {contrib[i]} contributing customer"
                               f"{'' if contrib[i] == 1 else 's'} (< {min_contributors})")
    if skew > max_skewness:
        return NormalCheck(False, skew, contributors,
                           f"skewness of the difference {skew:.3f} > {max_skewness:.3f} "
                           "(Kohavi's 355 s² rule)")
    return NormalCheck(True, skew, contributors, "")
