"""Randomization (permutation) inference for ratio metrics, on the customer as unit.

Where normal theory cannot be trusted (few customers, few raters, skewed or zero-variance
per-customer values), the trial's own randomization gives a valid reference distribution: the
customers are re-assigned to the arms as the design could have assigned them (the same arm
sizes, within strata when the design had strata), and the statistic is recomputed on every
re-assignment. Conditional on the arm sizes a hashed (Bernoulli) assignment is a complete
randomization, so permuting the customers is the design's own re-randomization whatever its
weights.

The statistic is the *studentized* one the normal path reports: the delta-method Welch t of
the ratio ``Σy / Σx`` (a mean when ``x`` is 1), CUPED-adjusted with a pooled ``θ``
re-estimated on every re-assignment when covariates are given. Under the sharp null of no
effect for any customer the test is exact for any statistic (Fisher 1935); studentizing also
makes it asymptotically valid for the weak null of equal ratios with unequal variances and
unequal arm sizes, where an unstudentized permutation test is not (Janssen 1997; Chung and
Romano 2013).

Intervals come from inverting the same test (Lehmann and Romano 2005, section 3.5): for the
relative change ``δ`` the treated customers' numerators are divided by ``1 + δ`` (a
multiplicative effect), and the interval holds every value the test does not reject at its
level; the difference's interval is the control estimate times it (``(1 + δ) c - c``), the
same test's verdict on the difference scale. The bounds
are searched with 0 inside the bracket, so ``0`` lies outside the interval exactly when the
p-value is below ``alpha``: one verdict per row.

Re-assignments are enumerated when there are at most ``max_exact`` of them (an exact test);
otherwise ``permutations`` are drawn and the p-value is ``(1 + #{T* ≥ T}) / (1 + B)``, valid
at any ``B`` (Phipson and Smyth 2010). Re-assignments that leave an arm without any
denominator (no rater, no revenue) make the ratio undefined; they are left out, i.e. the test
is conditional on both arms having one, which keeps it exact.

Every re-assignment's statistic needs only the per-arm sums of the columns and of their
products, so the work is one matrix product of the re-assignment matrix with the per-customer
products (split by the customer's observed arm, so that any shift of the treated numerators is
a cheap transformation of the same sums).

References:
    Fisher, R. A. (1935). *The Design of Experiments*, section 21.
    Janssen, A. (1997). Studentized permutation tests for non-i.i.d. hypotheses and the
    generalized Behrens-Fisher problem. *Statistics & Probability Letters* 36, 9-21.
    Chung, E. and Romano, J. P. (2013). Exact and asymptotically robust permutation tests.
    *The Annals of Statistics* 41(2), 484-507.
    Lehmann, E. L. and Romano, J. P. (2005). *Testing Statistical Hypotheses*, 3rd ed.,
    sections 3.5 (confidence sets by test inversion) and 15.2 (randomization tests).
    Phipson, B. and Smyth, G. K. (2010). Permutation p-values should never be zero.
    *Statistical Applications in Genetics and Molecular Biology* 9(1), article 39.
    Rosenbaum, P. R. (2002). Covariance adjustment in randomized experiments and
    observational studies. *Statistical Science* 17(3), 286-327.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
from numpy.typing import ArrayLike
from scipy import sparse

__all__ = ["RandomizationResult", "Reassignments", "randomization_test", "reassignments",
           "relative_bound", "relative_tails"]

_ALTERNATIVES = ("two-sided", "greater", "less")
#: Index entries drawn per block of re-assignments.
_BLOCK_ENTRIES = 16_000_000
#: Re-assignments are kept for the next metric when they hold at most this many indices.
_CACHE_ENTRIES = 40_000_000


@dataclass(frozen=True)
class Reassignments:
    """The re-assignments a randomization test is referred to.

    Random re-assignments are not stored: they are regenerated from ``seed`` block by block
    whenever sums are asked for, so memory stays bounded at any size and every call sees the
    same re-assignments.

    Attributes:
        treated: The observed assignment (one boolean per customer).
        exact: Whether the re-assignments enumerate every possible one (the observed among
            them); otherwise ``count`` random ones (the observed not among them).
        count: Number of re-assignments.
        strata: Stratum code per customer, or ``None``.
        seed: Seed of the random re-assignments.
        enumerated: With ``exact``, the boolean matrix of all re-assignments.
    """

    treated: np.ndarray
    exact: bool
    count: int
    strata: np.ndarray | None = None
    seed: int = 0
    enumerated: np.ndarray | None = None
    _cache: list[np.ndarray] = field(default_factory=list, repr=False, compare=False)

    def _flip(self) -> bool:
        return 2 * int(self.treated.sum()) > self.treated.size

    def blocks(self) -> Iterator[np.ndarray]:
        """Blocks ``(m, n_small)`` of the indices of the smaller arm's customers in each
        re-assignment (the treated ones, or the control ones when treated are the larger
        arm); ``count`` rows in all."""
        small = ~self.treated if self._flip() else self.treated
        if self._cache:
            yield from self._cache
            return
        keep = self.count * int(small.sum()) <= _CACHE_ENTRIES
        for block in self._draw(small):
            if keep:
                self._cache.append(block)
            yield block

    def _draw(self, small: np.ndarray) -> Iterator[np.ndarray]:
        if self.enumerated is not None:
            rows = ~self.enumerated if self._flip() else self.enumerated
            yield np.nonzero(rows)[1].reshape(rows.shape[0], int(small.sum()))
            return
        n = small.size
        gen = np.random.default_rng(self.seed)
        if self.strata is None:
            groups = [(np.arange(n), int(small.sum()))]
        else:
            groups = [(np.flatnonzero(self.strata == g), int(small[self.strata == g].sum()))
                      for g in np.unique(self.strata)]
        ns = int(small.sum())
        step = max(1, _BLOCK_ENTRIES // max(ns, 1))
        for start in range(0, self.count, step):
            m = min(self.count, start + step) - start
            out = np.empty((m, ns), dtype=np.int32 if n < 2**31 else np.int64)
            for r in range(m):  # a loop over re-assignments, each a vectorised draw
                at = 0
                for idx, k in groups:
                    out[r, at:at + k] = idx[gen.choice(idx.size, k, replace=False)]
                    at += k
            yield out

    def sums(self, values: np.ndarray) -> np.ndarray:
        """Sums of ``values`` over each re-assignment's treated customers, ``(count, q)``.

        The smaller arm is summed as a sparse product (the larger one is the total minus
        it), so a 90/10 trial costs a tenth of a dense product.
        """
        values = np.asarray(values, dtype=float)
        total = values.sum(axis=0)
        flip = self._flip()
        n = values.shape[0]
        out = np.empty((self.count, values.shape[1]))
        start = 0
        for idx in self.blocks():
            m, ns = idx.shape
            mat = sparse.csr_matrix((np.ones(m * ns), idx.ravel(), np.arange(0, m * ns + 1, ns)),
                                    shape=(m, n))
            part = np.asarray(mat @ values)
            out[start:start + m] = total - part if flip else part
            start += m
        return out


def _n_assignments(sizes: list[tuple[int, int]]) -> int:
    total = 1
    for n, k in sizes:
        total *= math.comb(n, k)
    return total


def reassignments(
    treated: ArrayLike,
    *,
    strata: ArrayLike | None = None,
    permutations: int = 9_999,
    max_exact: int = 100_000,
    rng: int | np.random.Generator | None = 0,
) -> Reassignments:
    """Re-assignments of the customers with the design's arm sizes (within strata).

    Args:
        treated: Observed assignment, one boolean per customer.
        strata: Optional stratum label per customer: customers are re-assigned within their
            stratum, keeping its arm sizes (the design of a stratified assignment).
        permutations: Random re-assignments drawn when enumeration is too large.
        max_exact: Enumerate every re-assignment when there are at most this many
            (only without strata).
        rng: Seed or generator of the random re-assignments.

    References:
        Lehmann and Romano (2005), section 15.2; Phipson and Smyth (2010).
    """
    t = np.asarray(treated, dtype=bool)
    if t.ndim != 1:
        raise ValueError(f"treated must be 1-d, got shape {t.shape}")
    if isinstance(permutations, bool) or not isinstance(permutations, int | np.integer) \
            or permutations < 1:
        raise ValueError(f"permutations must be a positive integer, got {permutations!r}")
    n, k = t.size, int(t.sum())
    if strata is None and _n_assignments([(n, k)]) <= max_exact:
        rows = np.zeros((math.comb(n, k), n), dtype=bool)
        small, flip = (k, False) if k <= n - k else (n - k, True)
        for i, idx in enumerate(combinations(range(n), small)):
            rows[i, list(idx)] = True
        rows = ~rows if flip else rows
        return Reassignments(t, True, rows.shape[0], None, 0, rows)
    seed = int(np.random.default_rng(rng).integers(2**63)) if not isinstance(rng, int) \
        or isinstance(rng, bool) else int(rng)
    codes = None if strata is None else _codes(strata, n)
    return Reassignments(t, False, int(permutations), codes, seed)


def _codes(strata: ArrayLike, n: int) -> np.ndarray:
    s = np.asarray(strata)
    if s.shape != (n,):
        raise ValueError(f"strata must give one label per customer ({n}), got shape {s.shape}")
    return np.unique(s.astype(str), return_inverse=True)[1]


# ---------------------------------------------------------------------- the statistic
def _products(v: np.ndarray) -> np.ndarray:
    """Per-row ``[1, v, v_i v_j (i <= j)]`` (``N x (1 + k + k(k+1)/2)``)."""
    n, k = v.shape
    i, j = np.triu_indices(k)
    return np.hstack([np.ones((n, 1)), v, v[:, i] * v[:, j]])


def _unpack(s: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(count, Σv, Σvvᵀ) from the sums of :func:`_products`."""
    i, j = np.triu_indices(k)
    s2 = np.empty((*s.shape[:-1], k, k))
    s2[..., i, j] = s[..., 1 + k:]
    s2[..., j, i] = s[..., 1 + k:]
    return s[..., 0], s[..., 1:1 + k], s2


def _shift(s1: np.ndarray, s2: np.ndarray, a: float, b: float
           ) -> tuple[np.ndarray, np.ndarray]:
    """Sums after the numerator (column 0) becomes ``a y + b x`` (column 1 is ``x``)."""
    s1 = s1.copy()
    s2 = s2.copy()
    row = a * s2[..., 0, :] + b * s2[..., 1, :]
    row[..., 0] = (a * a * s2[..., 0, 0] + 2 * a * b * s2[..., 0, 1]
                   + b * b * s2[..., 1, 1])
    s2[..., 0, :] = row
    s2[..., :, 0] = row
    s1[..., 0] = a * s1[..., 0] + b * s1[..., 1]
    return s1, s2


def _statistic(n: tuple[float, float], sums: tuple[tuple[np.ndarray, np.ndarray], ...],
               p: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Studentized CUPED-adjusted delta-method t of treated vs control, per re-assignment.

    ``sums`` holds (Σv, Σvvᵀ) of the control and the treated customers, columns
    ``[y, x, X₁..X_p]``. Returns (t, adjusted control, adjusted treated, valid).
    """
    means, covs, lin_var, cov_xl = [], [], [], []
    valid = np.ones(sums[0][0].shape[:-1], dtype=bool)
    for na, (s1, s2) in zip(n, sums, strict=True):
        m = s1 / na
        c = (s2 - na * m[..., :, None] * m[..., None, :]) / (na - 1)
        mx = m[..., 1]
        ok = mx > 1e-300 * np.maximum(np.abs(m[..., 0]), 1.0)
        valid &= ok
        safe = np.where(ok, mx, 1.0)
        r = m[..., 0] / safe
        gy, gx = 1.0 / safe, -r / safe  # the linearization of y/x (x = 1: gx C = 0)
        means.append((r, m))
        covs.append(c)
        lin_var.append(gy * gy * c[..., 0, 0] + 2 * gy * gx * c[..., 0, 1]
                       + gx * gx * c[..., 1, 1])
        cov_xl.append(gy[..., None] * c[..., 2:, 0] + gx[..., None] * c[..., 2:, 1])
    (r_c, m_c), (r_t, m_t) = means
    if p:
        w = (n[0] - 1, n[1] - 1)
        sxx = w[0] * covs[0][..., 2:, 2:] + w[1] * covs[1][..., 2:, 2:]
        sxy = w[0] * cov_xl[0] + w[1] * cov_xl[1]
        scale = np.sqrt(np.clip(np.diagonal(sxx, axis1=-2, axis2=-1), 0.0, None))
        scale = np.where(scale > 0, scale, 1.0)
        corr = sxx / (scale[..., :, None] * scale[..., None, :])
        corr = corr + 1e-10 * np.eye(p)  # a covariate without variance gets θ = 0
        theta = np.linalg.solve(corr, (sxy / scale)[..., None])[..., 0] / scale
        grand = (n[0] * m_c[..., 2:] + n[1] * m_t[..., 2:]) / (n[0] + n[1])
        adj = []
        var = []
        for (r, m), c, lv, cxl in zip(means, covs, lin_var, cov_xl, strict=True):
            adj.append(r - np.einsum("...i,...i->...", theta, m[..., 2:] - grand))
            var.append(lv - 2 * np.einsum("...i,...i->...", theta, cxl)
                       + np.einsum("...i,...ij,...j->...", theta, c[..., 2:, 2:], theta))
        a_c, a_t = adj
        v_c, v_t = (np.clip(v, 0.0, None) for v in var)
    else:
        a_c, a_t = r_c, r_t
        v_c, v_t = (np.clip(v, 0.0, None) for v in lin_var)
    diff = a_t - a_c
    se = np.sqrt(v_c / n[0] + v_t / n[1])
    tiny = 1e-12 * np.maximum(np.abs(a_c), np.abs(a_t))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > tiny * 1e-3, diff / np.where(se > 0, se, 1.0),
                     np.where(np.abs(diff) > tiny, np.sign(diff) * np.inf, 0.0))
    return t, a_c, a_t, valid


@dataclass(frozen=True)
class RandomizationResult:
    """A randomization test of treated against control, with intervals by test inversion.

    Attributes:
        control, treatment: The arms' (adjusted) estimates.
        diff, diff_ci_low, diff_ci_high: ``treatment - control`` and its interval (the
            control estimate times the relative one).
        rel_diff, rel_ci_low, rel_ci_high: ``treatment / control - 1`` and its interval
            (multiplicative effect inverted); ``-1`` and ``inf`` when unbounded.
        statistic: The observed studentized statistic.
        p_value: For ``alternative``.
        permutations: Re-assignments the test was referred to (valid ones).
        excluded: Re-assignments left out because an arm had no denominator.
        exact: Whether every re-assignment was enumerated.
        alpha, alternative: Level and alternative.
    """

    control: float
    treatment: float
    diff: float
    diff_ci_low: float
    diff_ci_high: float
    rel_diff: float
    rel_ci_low: float
    rel_ci_high: float
    statistic: float
    p_value: float
    permutations: int
    excluded: int
    exact: bool
    alpha: float
    alternative: str


def split_products(values: np.ndarray, treated: np.ndarray) -> np.ndarray:
    """Per-customer products (:func:`_products`) in two blocks: control-origin customers'
    in the first, treated-origin customers' in the second (zeros elsewhere)."""
    prod = _products(values)
    t = treated[:, None]
    return np.hstack([np.where(t, 0.0, prod), np.where(t, prod, 0.0)])


class _Inverter:
    """The randomization distribution of the statistic under shifted treated numerators."""

    def __init__(self, values: np.ndarray, treated: np.ndarray, re: Reassignments,
                 p: int, sums: np.ndarray | None = None) -> None:
        self.k = values.shape[1]
        self.p = p
        split = split_products(values, treated)
        self.q = split.shape[1] // 2
        s = re.sums(split) if sums is None else sums
        k = self.k
        self.perm_c = _unpack(s[:, :self.q], k)[1:]
        self.perm_t = _unpack(s[:, self.q:], k)[1:]
        obs = split.sum(axis=0)
        self.obs_c = _unpack(obs[:self.q], k)[1:]
        self.obs_t = _unpack(obs[self.q:], k)[1:]
        self.n_t = float(treated.sum())
        self.n_c = float(treated.size - treated.sum())
        self.exact = re.exact
        self.count = re.count

    def _stat(self, from_c: tuple[np.ndarray, np.ndarray], from_t: tuple[np.ndarray, np.ndarray],
              a: float, b: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Statistic of the group ``from_c + from_t`` ((Σv, Σvvᵀ) of the control- and
        treated-origin customers in it) as treated, the rest as control, after
        ``y -> a y + b x`` on the treated-origin customers."""
        s1t, s2t = _shift(*from_t, a, b)
        o1, o2 = _shift(*self.obs_t, a, b)
        tot1, tot2 = self.obs_c[0] + o1, self.obs_c[1] + o2
        g1, g2 = from_c[0] + s1t, from_c[1] + s2t
        return _statistic((self.n_c, self.n_t), ((tot1 - g1, tot2 - g2), (g1, g2)), self.p)

    def observed(self, a: float = 1.0, b: float = 0.0) -> tuple[float, float, float, bool]:
        zero = (np.zeros((1, self.k)), np.zeros((1, self.k, self.k)))
        t, ac, at, ok = self._stat(zero, (self.obs_t[0][None], self.obs_t[1][None]), a, b)
        return float(t[0]), float(ac[0]), float(at[0]), bool(ok[0])

    def tails(self, a: float, b: float) -> tuple[float, float, int, int]:
        """(P(T* >= T), P(T* <= T), valid, excluded) for the shift ``y -> a y + b``."""
        t_obs = self.observed(a, b)[0]
        t, _, _, ok = self._stat(self.perm_c, self.perm_t, a, b)
        t = t[ok]
        m = t.size
        if m == 0:
            return 1.0, 1.0, 0, int((~ok).sum())
        tol = 1e-9 * max(1.0, abs(t_obs)) if math.isfinite(t_obs) else 0.0
        ge = int((t >= t_obs - tol).sum())
        le = int((t <= t_obs + tol).sum())
        if self.exact:
            return ge / m, le / m, m, int((~ok).sum())
        return (1 + ge) / (1 + m), (1 + le) / (1 + m), m, int((~ok).sum())


def _bisect(accept: Callable[[float], bool], reject_at: float, accept_at: float,
            tol: float) -> float:
    """Boundary between a rejected and an accepted point, to ``tol`` (the accepted side)."""
    lo, hi = reject_at, accept_at
    while abs(hi - lo) > tol:
        mid = 0.5 * (lo + hi)
        if accept(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _bound(accept: Callable[[float], bool], est: float, side: int, *, step: float,
           tol: float, limit: float, null: float = 0.0) -> float:
    """The bound on ``side`` (-1 lower, +1 upper) of the region the test accepts.

    The bracket passes through ``null`` (no effect, or a margin) whenever it lies on this
    side of the estimate: if the test rejects it the bound lies between it and the estimate,
    otherwise at or beyond it, so the interval excludes ``null`` exactly when the test
    rejects it. ``step`` is the first stride outward (about two standard errors), ``tol`` the
    absolute precision; beyond ``limit`` the bound is infinite.
    """
    anchor = est
    if side * (null - est) >= 0:
        if not accept(null):
            return _bisect(accept, null, est, tol)
        anchor = null
    far = anchor + side * step
    while accept(far):
        if step > limit:
            return side * math.inf
        step *= 2
        far = anchor + side * step
    return _bisect(accept, far, anchor, tol)


def _log_se(t_obs: float, u: float) -> float:
    """The log ratio's standard error implied by the studentized statistic (a search scale)."""
    if math.isfinite(t_obs) and t_obs != 0 and u != 0:
        return max(abs(u / t_obs), 1e-9)
    return 0.05


def randomization_test(
    y: ArrayLike,
    x: ArrayLike | None,
    treated: ArrayLike,
    *,
    covariates: ArrayLike | None = None,
    strata: ArrayLike | None = None,
    alpha: float = 0.05,
    alternative: str = "two-sided",
    permutations: int = 9_999,
    max_exact: int = 100_000,
    rng: int | np.random.Generator | None = 0,
    reassigned: Reassignments | None = None,
    intervals: bool = True,
) -> RandomizationResult:
    """Randomization test of a ratio ``Σy / Σx`` (a mean without ``x``), treated vs control.

    Args:
        y, x: Per-customer numerator and denominator sums (``x=None``: a mean of ``y``).
        treated: One boolean per customer.
        covariates: Pre-period covariates ``(N, p)`` for CUPED (``θ`` pooled across arms and
            re-estimated on every re-assignment).
        strata: Re-assign within these strata (the design's).
        alpha, alternative: Level and alternative (``"two-sided"``, ``"greater"``: treated
            larger, ``"less"``).
        permutations, max_exact, rng: See :func:`reassignments`.
        reassigned: Re-assignments to use instead of drawing them (to share them between
            metrics of one trial).
        intervals: Invert the test for the intervals (``False``: the p-value only, the
            intervals NaN; much faster in simulations).

    Returns:
        :class:`RandomizationResult`; the p-value is that of the studentized statistic, the
        relative interval inverts the same test (a multiplicative effect on ``y``) and the
        difference's is the control estimate times it, so 0 lies outside them exactly when
        ``p_value < alpha``.

    Examples:
        >>> r = randomization_test([1, 1, 1, 0, 1, 0], None, [0, 0, 0, 1, 1, 1])
        >>> r.exact, r.permutations, round(r.p_value, 3)
        (True, 20, 0.4)

    References:
        Fisher (1935); Janssen (1997); Chung and Romano (2013); Lehmann and Romano (2005),
        sections 3.5 and 15.2; Phipson and Smyth (2010). See the module docstring.
    """
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be a number in (0, 1), got {alpha!r}")
    if alternative not in _ALTERNATIVES:
        raise ValueError(f"alternative must be one of {', '.join(_ALTERNATIVES)}, "
                         f"got {alternative!r}")
    yy = np.asarray(y, dtype=float)
    xx = np.ones_like(yy) if x is None else np.asarray(x, dtype=float)
    tt = np.asarray(treated).astype(bool)
    if yy.ndim != 1 or xx.shape != yy.shape or tt.shape != yy.shape:
        raise ValueError(f"y, x and treated must be 1-d of one length, got shapes {yy.shape}, "
                         f"{xx.shape}, {tt.shape}")
    cov = np.zeros((yy.size, 0)) if covariates is None else np.asarray(covariates, float)
    if cov.ndim == 1:
        cov = cov[:, None]
    if cov.shape[0] != yy.size:
        raise ValueError(f"covariates must have one row per customer ({yy.size}), got shape "
                         f"{cov.shape}")
    if min(int(tt.sum()), int((~tt).sum())) < 2:
        raise ValueError("each arm needs at least 2 customers")
    re = reassigned if reassigned is not None else reassignments(
        tt, strata=strata, permutations=permutations, max_exact=max_exact, rng=rng)
    inv = _Inverter(np.column_stack([yy, xx, cov]), tt, re, cov.shape[1])
    return invert(inv, alpha=alpha, alternative=alternative, intervals=intervals)


def invert(inv: _Inverter, *, alpha: float, alternative: str, tol: float = 0.01,
           intervals: bool = True) -> RandomizationResult:
    """Test at no effect and both intervals, from a prepared :class:`_Inverter`.

    The bounds are found to ``tol`` standard errors of the log ratio (well inside the Monte
    Carlo error of a bound from 9,999 re-assignments)."""
    t_obs, a_c, a_t, ok = inv.observed()
    if not ok:
        raise ValueError("the ratio is undefined in an arm (its denominator sums to zero)")
    p_hi, p_lo, m, excluded = inv.tails(1.0, 0.0)
    if alternative == "greater":
        p = p_hi
    elif alternative == "less":
        p = p_lo
    else:
        p = min(1.0, 2 * min(p_hi, p_lo))
    level = alpha / 2 if alternative == "two-sided" else alpha

    def accept(side: int, shift: Callable[[float], tuple[float, float]]
               ) -> Callable[[float], bool]:
        tail = 0 if side < 0 else 1  # a lower bound is where "treated larger" stops rejecting
        return lambda v: inv.tails(*shift(v))[tail] >= level

    def ratio_shift(u: float) -> tuple[float, float]:
        return math.exp(-u), 0.0  # treated numerators divided by 1 + δ = e^u

    lo_rel = hi_rel = math.nan
    if intervals and a_c > 0 and a_t > 0:
        u = math.log(a_t / a_c)
        se_u = _log_se(t_obs, u)
        kw = {"step": 2 * se_u, "tol": tol * se_u, "limit": 40.0}
        lo_u = -math.inf if alternative == "less" else \
            _bound(accept(-1, ratio_shift), u, -1, **kw)
        hi_u = math.inf if alternative == "greater" else \
            _bound(accept(+1, ratio_shift), u, +1, **kw)
        lo_rel, hi_rel = math.expm1(lo_u), math.expm1(hi_u)
    # the difference at each relative bound: (1 + δ) c - c, the same test's verdict
    lo_d, hi_d = a_c * lo_rel, a_c * hi_rel
    rel = a_t / a_c - 1 if a_c != 0 else math.nan
    return RandomizationResult(a_c, a_t, a_t - a_c, lo_d, hi_d, rel, lo_rel, hi_rel, t_obs, p,
                               m, excluded, inv.exact, alpha, alternative)


def relative_tails(inv: _Inverter, delta: float) -> tuple[float, float, float]:
    """(observed t, P(T* >= T), P(T* <= T)) for the null ``treatment / control = 1 + δ``."""
    a = 1.0 / (1.0 + delta)
    hi, lo, _, _ = inv.tails(a, 0.0)
    return inv.observed(a, 0.0)[0], hi, lo


def relative_bound(inv: _Inverter, side: int, level: float, *, null: float = 0.0,
                   tol: float = 0.01) -> float:
    """Lower (``side=-1``) or upper (``+1``) bound of the relative change at one-sided
    ``level``, the bracket passing through the relative change ``null``."""
    _, a_c, a_t, _ = inv.observed()
    if not (a_c > 0 and a_t > 0):
        return math.nan
    tail = 0 if side < 0 else 1

    def accept(u: float) -> bool:
        return inv.tails(math.exp(-u), 0.0)[tail] >= level

    u_est = math.log(a_t / a_c)
    se_u = _log_se(inv.observed()[0], u_est)
    u = _bound(accept, u_est, side, step=2 * se_u, tol=tol * se_u, limit=40.0,
               null=math.log1p(null))
    return math.expm1(u)
