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

Each tail's p-value is the larger of the randomization test's and Welch's t test's on the same
statistic (a maximum of valid p-values is valid: the randomization test guards against the
skewness that misleads Welch's, Welch's against a randomization distribution with few distinct
values, as with ratings nearly all alike). Intervals use the matching critical values, the
wider of the randomization distribution's (Janssen 1997; Chung and Romano 2013, section 3) and
Welch's: the difference's interval is
``diff - c · se`` between the critical values ``c``, the relative change's is Fieller's set of
ratios ``ρ`` whose pivot ``(t - ρ c) / sd(ρ)`` lies between them. The pivot at no effect *is*
the observed statistic, and the critical values are where the p-value's own counting rejects,
so 0 lies outside the intervals exactly when the p-value is below ``alpha``: one verdict per
row. (A sharp-null inversion, dividing the treated numerators by ``1 + δ``, breaks every tie
of 0/1 ratings at once and gives near-zero-width intervals on CSAT-like data; the pivot does
not.) For a proportion (satisfied among rated) each arm's variance is floored at the binomial
variance of its Agresti-Caffo proportion ``(Σy + 1) / (Σx + 2)`` (Agresti and Caffo 2000), so
an arm whose ratings are all alike is not taken as known; when no variance is left at all the
intervals are unbounded.

Re-assignments are enumerated when there are at most ``max_exact`` of them (an exact test;
by default ten times ``permutations``, 99,990 at the default 9,999);
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
    Agresti, A. and Caffo, B. (2000). Simple and effective confidence intervals for
    proportions and differences of proportions result from adding two successes and two
    failures. *The American Statistician* 54(4), 280-288.
    Fieller, E. C. (1954). Some problems in interval estimation. *JRSS B* 16(2), 175-185.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike
from scipy import sparse, stats

from frt_experiments.stats.tests import _ALTERNATIVES, _check_alpha, _welch_df

__all__ = ["RandomizationResult", "Reassignments", "randomization_test", "reassignments",
           "relative_bound", "relative_tails"]

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
        enumerated: With ``exact``, the smaller arm's members in every re-assignment
            (indices, one row each).
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
            yield self.enumerated
            return
        n = small.size
        gen = np.random.default_rng(self.seed)
        if self.strata is None:
            groups = [(np.arange(n), int(small.sum()))]
        else:
            groups = [(np.flatnonzero(self.strata == g), int(small[self.strata == g].sum()))
                      for g in np.unique(self.strata)]
        ns = int(small.sum())
        keyed = not (len(groups) == 1 and ns * 8 < n)  # uniform keys per customer
        step = max(1, (_BLOCK_ENTRIES // 4) // max(n if keyed else ns, 1))
        for start in range(0, self.count, step):
            m = min(self.count, start + step) - start
            out = np.empty((m, ns), dtype=np.int32 if n < 2**31 else np.int64)
            at = 0
            for idx, k in groups:
                if k == 0:
                    continue
                if not keyed:  # few of many: draw each subset without keys
                    for r in range(m):
                        out[r, at:at + k] = idx[gen.choice(idx.size, k, replace=False)]
                else:  # k smallest of uniform keys: a uniform k-subset, vectorised
                    keys = gen.random((m, idx.size))
                    pick = np.argpartition(keys, k - 1, axis=1)[:, :k] if k < idx.size \
                        else np.broadcast_to(np.arange(idx.size), (m, idx.size))
                    out[:, at:at + k] = idx[pick]
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


def reassignments(
    treated: ArrayLike,
    *,
    strata: ArrayLike | None = None,
    permutations: int = 9_999,
    max_exact: int | None = None,
    rng: int | np.random.Generator | None = 0,
) -> Reassignments:
    """Re-assignments of the customers with the design's arm sizes (within strata).

    Args:
        treated: Observed assignment, one boolean per customer.
        strata: Optional stratum label per customer: customers are re-assigned within their
            stratum, keeping its arm sizes (the design of a stratified assignment).
        permutations: Random re-assignments drawn when enumeration is too large.
        max_exact: Enumerate every re-assignment when there are at most this many (only
            without strata; default ten times ``permutations``, 99,990 at the default: below
            that, enumerating costs no more than sampling).
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
    limit = 10 * int(permutations) if max_exact is None else max_exact
    if strata is None and math.comb(n, k) <= limit:
        small = min(k, n - k)  # the smaller arm's members, every way they can be chosen
        count = math.comb(n, small)
        subsets = itertools.combinations(range(n), small)
        flat = np.fromiter(itertools.chain.from_iterable(subsets),
                           dtype=np.int32, count=count * small)
        return Reassignments(t, True, count, None, 0, flat.reshape(count, small))
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


def _statistic(n: tuple[float, float], sums: tuple[tuple[np.ndarray, np.ndarray], ...],
               p: int, proportion: bool = False
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                          np.ndarray]:
    """Studentized CUPED-adjusted delta-method t of treated vs control, per re-assignment.

    ``sums`` holds (Σv, Σvvᵀ) of the control and the treated customers, columns
    ``[y, x, X₁..X_p]``. With ``proportion`` (``y`` counts successes among ``x`` trials, as
    satisfied among rated), each arm's per-customer variance is at least the binomial one at
    the Agresti-Caffo proportion ``(Σy + 1) / (Σx + 2)``, so an arm whose ratings are all
    alike (CSAT at 100%) is not taken as known. Returns (t, adjusted control, adjusted
    treated, variance of the control estimate, of the treated estimate, valid). An arm whose
    per-customer values have no variance at all borrows the pooled variance of both arms.
    """
    means, covs, lin_var, cov_xl, floors = [], [], [], [], []
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
        if proportion:
            pt = (s1[..., 0] + 1.0) / (s1[..., 1] + 2.0)
            floors.append(pt * (1.0 - pt) / safe)
        else:
            floors.append(np.zeros_like(mx))
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
    else:
        a_c, a_t = r_c, r_t
        var = lin_var
    var_c, var_t = (np.maximum(np.clip(v, 0.0, None), f) for v, f in zip(var, floors,
                                                                          strict=True))
    # an arm whose values are all alike borrows the pooled variance (the arms share one
    # distribution under the null): a zero sample variance is not a known one
    pooled = ((n[0] - 1) * var_c + (n[1] - 1) * var_t) / (n[0] + n[1] - 2)
    v_c = np.where(var_c > 0, var_c, pooled) / n[0]
    v_t = np.where(var_t > 0, var_t, pooled) / n[1]
    diff = a_t - a_c
    se = np.sqrt(v_c + v_t)
    tiny = 1e-12 * np.maximum(np.abs(a_c), np.abs(a_t))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > tiny * 1e-3, diff / np.where(se > 0, se, 1.0),
                     np.where(np.abs(diff) > tiny, np.sign(diff) * np.inf, 0.0))
    return t, a_c, a_t, v_c, v_t, valid


@dataclass(frozen=True)
class RandomizationResult:
    """A randomization test of treated against control, with its studentized intervals.

    Attributes:
        control, treatment: The arms' (adjusted) estimates.
        diff, diff_ci_low, diff_ci_high: ``treatment - control`` and its interval
            (``diff - c · se`` at the randomization critical values ``c``).
        rel_diff, rel_ci_low, rel_ci_high: ``treatment / control - 1`` and its interval
            (Fieller's, at the same critical values); ``-1`` and ``inf`` when unbounded.
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


class _Inverter:
    """The randomization distribution of the studentized statistic, and its pivot."""

    def __init__(self, values: np.ndarray, treated: np.ndarray, re: Reassignments,
                 p: int, sums: np.ndarray | None = None, *, proportion: bool = False) -> None:
        self.k = values.shape[1]
        self.p = p
        self.proportion = proportion
        prod = _products(values)
        s = re.sums(prod) if sums is None else sums
        self.total = _unpack(prod.sum(axis=0), self.k)[1:]
        self.group = _unpack(s, self.k)[1:]
        self.obs = _unpack(prod[treated].sum(axis=0), self.k)[1:]
        self.n_t = float(treated.sum())
        self.n_c = float(treated.size - treated.sum())
        self.exact = re.exact
        self.count = re.count
        self._reference: np.ndarray | None = None
        self.excluded = 0

    def _stat(self, group: tuple[np.ndarray, np.ndarray]
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                         np.ndarray]:
        control = (self.total[0] - group[0], self.total[1] - group[1])
        return _statistic((self.n_c, self.n_t), (control, group), self.p, self.proportion)

    def observed(self) -> tuple[float, float, float, float, float, bool]:
        """(t, adjusted control, adjusted treated, their estimates' variances, valid)."""
        t, ac, at, vc, vt, ok = self._stat((self.obs[0][None], self.obs[1][None]))
        return (float(t[0]), float(ac[0]), float(at[0]), float(vc[0]), float(vt[0]),
                bool(ok[0]))

    def reference(self) -> np.ndarray:
        """The statistic over the valid re-assignments, sorted; with ``exact`` the observed
        assignment's own value is left out (it is counted as the 1 in ``(1 + #) / (1 + m)``)."""
        if self._reference is None:
            t, _, _, _, _, ok = self._stat(self.group)
            self.excluded = int((~ok).sum())
            ref = np.sort(t[ok])
            if self.exact and ref.size:
                t_obs = self.observed()[0]
                at = int(np.argmin(np.abs(np.where(np.isfinite(ref), ref, 0.0)
                                          - (t_obs if math.isfinite(t_obs) else 0.0)))
                         if math.isfinite(t_obs) else
                         (ref.size - 1 if t_obs > 0 else 0))
                ref = np.delete(ref, at)
            self._reference = ref
        return self._reference

    def welch_df(self) -> float:
        """Satterthwaite's degrees of freedom of the observed statistic's variance."""
        _, _, _, v_c, v_t, _ = self.observed()
        return _welch_df(v_c, v_t, int(self.n_c), int(self.n_t))

    def tails(self, t: float) -> tuple[float, float]:
        """(P(T >= t), P(T <= t)): each the larger of the randomization tail, counted as
        ``(1 + #) / (1 + m)`` over the reference set, and Welch's t tail (see :func:`invert`)."""
        ref = self.reference()
        tol = 1e-9 * max(1.0, abs(t)) if math.isfinite(t) else 0.0
        ge = ref.size - int(np.searchsorted(ref, t - tol, side="left"))
        le = int(np.searchsorted(ref, t + tol, side="right"))
        df = self.welch_df()
        return (max((1 + ge) / (1 + ref.size), float(stats.t.sf(t, df))),
                max((1 + le) / (1 + ref.size), float(stats.t.cdf(t, df))))

    def critical(self, level: float, side: int) -> float:
        """The value ``c`` beyond which ``tails`` rejects at ``level``: the upper tail
        (``side=+1``) rejects ``t > c``, the lower (``-1``) ``t < c``; infinite when no value
        can be rejected (too few re-assignments for the level)."""
        ref = self.reference()
        k = level * (1 + ref.size) - 1  # reject when fewer than k of ref lie beyond t
        if k <= 0:
            return side * math.inf
        j = math.ceil(k)
        if j > ref.size:
            perm = -side * math.inf
        else:
            perm = float(ref[ref.size - j]) if side > 0 else float(ref[j - 1])
        welch = float(stats.t.isf(level, self.welch_df()))
        return max(perm, welch) if side > 0 else min(perm, -welch)


def _fieller_root(c: float, a_c: float, a_t: float, v_c: float, v_t: float) -> float:
    """The ratio ``ρ`` at which ``(a_t - ρ a_c) / sqrt(v_t + ρ² v_c) = c`` on the monotone
    branch (``c > 0``: below ``a_t / a_c``; ``c < 0``: above); ``∓inf`` when unbounded."""
    if math.isinf(c):
        return -math.inf if c > 0 else math.inf
    if c == 0:
        return a_t / a_c
    a = a_c * a_c - c * c * v_c
    if a <= 0:
        return -math.inf if c > 0 else math.inf
    b = -2.0 * a_t * a_c
    k = a_t * a_t - c * c * v_t
    root = math.sqrt(max(b * b - 4 * a * k, 0.0))
    return (-b - root) / (2 * a) if c > 0 else (-b + root) / (2 * a)


def pivot(inv: _Inverter, rho: float) -> float:
    """Fieller's pivot ``(a_t - ρ a_c) / sqrt(v_t + ρ² v_c)`` at the observed data."""
    _, a_c, a_t, v_c, v_t, _ = inv.observed()
    v = v_t + rho * rho * v_c
    d = a_t - rho * a_c
    if v > 0:
        return d / math.sqrt(v)
    return 0.0 if d == 0 else math.copysign(math.inf, d)


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
    max_exact: int | None = None,
    rng: int | np.random.Generator | None = 0,
    reassigned: Reassignments | None = None,
    intervals: bool = True,
    proportion: bool = False,
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
        intervals: Compute the intervals (``False``: the p-value only, the intervals NaN).
        proportion: ``y`` counts successes among ``x`` trials (satisfied among rated): each
            arm's variance is floored at the binomial one of its Agresti-Caffo proportion.

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
    alpha = _check_alpha(alpha)
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
    inv = _Inverter(np.column_stack([yy, xx, cov]), tt, re, cov.shape[1], proportion=proportion)
    return invert(inv, alpha=alpha, alternative=alternative, intervals=intervals)


def invert(inv: _Inverter, *, alpha: float, alternative: str,
           intervals: bool = True) -> RandomizationResult:
    """The test at no effect and both intervals, from a prepared :class:`_Inverter`.

    Each tail's p-value is the larger of the randomization test's and Welch's t test's on the
    same studentized statistic -- the larger of two valid p-values is valid, and each covers
    the other's weak spot: the randomization test the skewness that misleads Welch's, Welch's
    the discreteness of a randomization distribution with few distinct values (ratings that
    are nearly all alike, where it is degenerate). The intervals use the matching critical
    values (the wider of the two): the difference's is ``diff - c · se``, the relative
    change's Fieller's set of ratios whose pivot lies between them. The pivot at no effect is
    the observed statistic, so 0 lies outside the intervals exactly when the p-value is below
    ``alpha``.
    """
    t_obs, a_c, a_t, v_c, v_t, ok = inv.observed()
    if not ok:
        raise ValueError("the ratio is undefined in an arm (its denominator sums to zero)")
    p_hi, p_lo = inv.tails(t_obs)
    if alternative == "greater":
        p = p_hi
    elif alternative == "less":
        p = p_lo
    else:
        p = min(1.0, 2 * min(p_hi, p_lo))
    level = alpha / 2 if alternative == "two-sided" else alpha
    lo_d = lo_rel = -math.inf
    hi_d = hi_rel = math.inf
    se = math.sqrt(v_c + v_t)
    if intervals and se > 0:
        c_hi = math.inf if alternative == "less" else inv.critical(level, +1)
        c_lo = -math.inf if alternative == "greater" else inv.critical(level, -1)
        diff = a_t - a_c
        lo_d, hi_d = diff - c_hi * se, diff - c_lo * se
        if a_c > 0:
            lo_rel = _fieller_root(c_hi, a_c, a_t, v_c, v_t) - 1
            hi_rel = _fieller_root(c_lo, a_c, a_t, v_c, v_t) - 1
    elif not intervals:
        lo_d = hi_d = lo_rel = hi_rel = math.nan
    lo_rel = max(lo_rel, -1.0)
    if alternative == "less":
        lo_rel = -1.0
    rel = a_t / a_c - 1 if a_c != 0 else math.nan
    return RandomizationResult(a_c, a_t, a_t - a_c, lo_d, hi_d, rel, lo_rel, hi_rel, t_obs, p,
                               int(inv.reference().size + (1 if inv.exact else 0)),
                               inv.excluded, inv.exact, alpha, alternative)


def relative_tails(inv: _Inverter, delta: float) -> tuple[float, float, float]:
    """(pivot, P(T* >= pivot), P(T* <= pivot)) for the null ``treatment / control = 1 + δ``."""
    t = pivot(inv, 1.0 + delta)
    hi, lo = inv.tails(t)
    return t, hi, lo


def relative_bound(inv: _Inverter, side: int, level: float) -> float:
    """Lower (``side=-1``) or upper (``+1``) bound of the relative change at one-sided
    ``level``: where the pivot meets the randomization critical value."""
    _, a_c, a_t, v_c, v_t, _ = inv.observed()
    if not a_c > 0 or v_c + v_t <= 0:
        return -1.0 if side < 0 else math.inf
    c = inv.critical(level, +1 if side < 0 else -1)
    return max(_fieller_root(c, a_c, a_t, v_c, v_t) - 1, -1.0)
