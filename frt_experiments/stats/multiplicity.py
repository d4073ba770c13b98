"""Multiple testing: Holm's step-down adjustment and Benjamini-Hochberg's false discovery rate.

Holm's procedure controls the family-wise error rate at ``alpha`` under any dependence between
the tests, and is uniformly more powerful than Bonferroni. The adjusted p-value of the ``i``-th
smallest of ``m`` p-values is ``max_{j <= i} min(1, (m - j + 1) p_(j))``; a hypothesis is
rejected at ``alpha`` when its adjusted p-value is below ``alpha``.

References:
    Holm, S. (1979). A simple sequentially rejective multiple test procedure. *Scandinavian
    Journal of Statistics* 6(2), 65-70.
    Wright, S. P. (1992). Adjusted p-values for simultaneous inference. *Biometrics* 48,
    1005-1013 (adjusted p-values).
    Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate: a practical and
    powerful approach to multiple testing. *Journal of the Royal Statistical Society B* 57(1),
    289-300.
    Benjamini, Y. and Yekutieli, D. (2001). The control of the false discovery rate in multiple
    testing under dependency. *Annals of Statistics* 29(4), 1165-1188 (BH under positive
    regression dependence).

Benjamini-Hochberg (:func:`benjamini_hochberg`) controls the expected share of false
discoveries among the discoveries at ``alpha`` for independent or positively dependent tests
(Benjamini and Yekutieli 2001); when every hypothesis is null it controls the family-wise error
rate too (then a discovery is a false one). It is the default across segment readouts
(:mod:`frt_experiments.segments`), where many segments x metrics are read and a few true
differences are expected; Holm remains the choice when any false finding must be rare.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["benjamini_hochberg", "holm"]


def _checked(p_values: ArrayLike) -> np.ndarray:
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"p_values must be 1-d, got shape {p.shape}")
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError(f"p_values must be numbers in [0, 1], got {p.tolist()}")
    return p


def benjamini_hochberg(p_values: ArrayLike) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values of the step-up rule), in the input order.

    The adjusted value of the ``i``-th smallest of ``m`` p-values is
    ``min_{j >= i} min(1, m p_(j) / j)``; rejecting those below ``alpha`` is the step-up
    procedure of Benjamini and Hochberg (1995) at false discovery rate ``alpha``.

    Examples:
        >>> benjamini_hochberg([0.01, 0.04, 0.03]).round(6).tolist()
        [0.03, 0.04, 0.04]

    References:
        Benjamini and Hochberg (1995); Benjamini and Yekutieli (2001).
    """
    p = _checked(p_values)
    m = len(p)
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, p[order] * m / np.arange(1, m + 1))
    adjusted = np.empty(m)
    adjusted[order] = np.minimum.accumulate(stepped[::-1])[::-1]
    return adjusted


def holm(p_values: ArrayLike) -> np.ndarray:
    """Holm-adjusted p-values, in the input order.

    Args:
        p_values: Raw p-values in [0, 1], any shape 1-d; NaN is not allowed.

    Examples:
        >>> holm([0.01, 0.04, 0.03]).tolist()
        [0.03, 0.06, 0.06]

    References:
        Holm (1979); Wright (1992).
    """
    p = _checked(p_values)
    m = len(p)
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(stepped)
    return adjusted
