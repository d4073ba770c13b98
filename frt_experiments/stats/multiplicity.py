"""Multiple testing across the primary metrics: Holm's step-down adjustment.

Holm's procedure controls the family-wise error rate at ``alpha`` under any dependence between
the tests, and is uniformly more powerful than Bonferroni. The adjusted p-value of the ``i``-th
smallest of ``m`` p-values is ``max_{j <= i} min(1, (m - j + 1) p_(j))``; a hypothesis is
rejected at ``alpha`` when its adjusted p-value is below ``alpha``.

References:
    Holm, S. (1979). A simple sequentially rejective multiple test procedure. *Scandinavian
    Journal of Statistics* 6(2), 65-70.
    Wright, S. P. (1992). Adjusted p-values for simultaneous inference. *Biometrics* 48,
    1005-1013 (adjusted p-values).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["holm"]


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
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"p_values must be 1-d, got shape {p.shape}")
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError(f"p_values must be numbers in [0, 1], got {p.tolist()}")
    m = len(p)
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(stepped)
    return adjusted
