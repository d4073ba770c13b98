"""Tests of a treatment-control comparison: Welch, two proportions, non-inferiority, TOST.

All functions take per-arm summaries (mean, per-customer variance, customers), so they serve
plain means and ratio metrics alike: for a ratio pass the variance of the linearized values
(:mod:`frt_experiments.stats.ratio`), for a CUPED-adjusted metric the adjusted mean and
variance (:mod:`frt_experiments.stats.cuped`).

- :func:`welch_test` -- difference ``treatment - control`` with Welch's unequal-variance t
  test (Satterthwaite degrees of freedom), its confidence interval, and the relative change
  ``treatment / control - 1`` with an interval from the delta method on the log ratio.
- :func:`two_proportion_ztest` -- the classical z test of two independent proportions
  (pooled variance by default: the score test, as R's ``prop.test(correct = FALSE)``).
- :func:`noninferiority_test` -- one-sided test that the change is not worse than a margin.
- :func:`equivalence_test` -- two one-sided tests (TOST) that the change lies within
  ``±margin``.

Margins are relative (``-0.02``: at most 2% worse) by default and tested on the log ratio;
``scale="absolute"`` tests the plain difference against an absolute margin.

References:
    Welch, B. L. (1947). The generalization of "Student's" problem when several different
    population variances are involved. *Biometrika* 34, 28-35.
    Satterthwaite, F. E. (1946). An approximate distribution of estimates of variance
    components. *Biometrics Bulletin* 2(6), 110-114.
    Deng, A., Knoblich, U. and Lu, J. (2018). Applying the delta method in metric analytics.
    *KDD '18*, section 3.4 (relative change on the log scale).
    Agresti, A. (2013). *Categorical Data Analysis*, 3rd ed., section 3.1 (two proportions).
    Schuirmann, D. J. (1987). A comparison of the two one-sided tests procedure and the power
    approach for assessing the equivalence of average bioavailability. *J. Pharmacokinet.
    Biopharm.* 15, 657-680.
    Chow, S.-C., Shao, J. and Wang, H. (2008). *Sample Size Calculations in Clinical Research*,
    2nd ed., section 3.2 (non-inferiority and equivalence for two means).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

__all__ = [
    "ArmSummary",
    "DiffTestResult",
    "MarginTestResult",
    "ZTestResult",
    "equivalence_test",
    "noninferiority_test",
    "two_proportion_ztest",
    "welch_test",
]

_ALTERNATIVES = ("two-sided", "greater", "less")


class ArmSummary(NamedTuple):
    """What a test needs to know about one arm.

    Attributes:
        mean: The arm's estimate (a mean, a ratio, a CUPED-adjusted mean).
        var: Per-customer variance (divisor ``n - 1``); for a ratio, of the linearized
            values, so that ``var / n`` is the estimate's variance.
        n: Customers in the arm.
    """

    mean: float
    var: float
    n: int

    @classmethod
    def from_values(cls, values: ArrayLike) -> ArmSummary:
        """Summarise per-customer values (mean, sample variance, count)."""
        v = np.asarray(values, dtype=float)
        if v.ndim != 1:
            raise ValueError(f"values must be 1-d, got shape {v.shape}")
        return cls(float(v.mean()), float(v.var(ddof=1)) if len(v) > 1 else math.nan, len(v))


@dataclass(frozen=True)
class DiffTestResult:
    """Difference and relative change of treatment against control.

    Attributes:
        control, treatment: The arms' estimates.
        diff: ``treatment - control``, with ``diff_ci_low``/``diff_ci_high`` its interval.
        rel_diff: ``treatment / control - 1``, with ``rel_ci_low``/``rel_ci_high`` from the
            interval of the log ratio (NaN when an estimate is not positive).
        se: Standard error of ``diff``.
        df: Welch-Satterthwaite degrees of freedom.
        statistic: ``diff / se``.
        p_value: p-value for ``alternative``.
        alpha, alternative: The test's level and alternative (intervals are one-sided for
            ``"greater"``/``"less"``).
        log_se: Delta-method standard error of ``log(treatment / control)`` (NaN when an
            estimate is not positive).
    """

    control: float
    treatment: float
    diff: float
    diff_ci_low: float
    diff_ci_high: float
    rel_diff: float
    rel_ci_low: float
    rel_ci_high: float
    se: float
    df: float
    statistic: float
    p_value: float
    alpha: float
    alternative: str
    log_se: float = math.nan

    def to_pandas(self) -> pd.Series:
        """The result as a Series."""
        return pd.Series(asdict(self), dtype=object)

    def __repr__(self) -> str:
        return (f"DiffTestResult(diff={self.diff:.6g} [{self.diff_ci_low:.6g}, "
                f"{self.diff_ci_high:.6g}], rel_diff={self.rel_diff:+.3%}, "
                f"p_value={self.p_value:.4g}, alternative={self.alternative!r})")


@dataclass(frozen=True)
class ZTestResult:
    """A z statistic and its p-value."""

    statistic: float
    p_value: float
    alternative: str


@dataclass(frozen=True)
class MarginTestResult:
    """A non-inferiority or equivalence (TOST) decision.

    Attributes:
        test: ``"non-inferiority"`` or ``"equivalence"``.
        margin: The margin (relative, or absolute with ``scale="absolute"``).
        scale: ``"relative"`` (tested on the log ratio) or ``"absolute"``.
        estimate: The relative change (or absolute difference).
        ci_low, ci_high: The interval matching the test: one-sided ``1 - alpha`` for
            non-inferiority, ``1 - 2 alpha`` for TOST.
        statistic: The t statistic (the smaller of the two for TOST).
        df: Welch-Satterthwaite degrees of freedom.
        p_value: p-value (the larger of the two one-sided ones for TOST).
        alpha: One-sided level of each test.
        rejected: True when the null (inferiority / non-equivalence) is rejected.
    """

    test: str
    margin: float
    scale: str
    estimate: float
    ci_low: float
    ci_high: float
    statistic: float
    df: float
    p_value: float
    alpha: float
    rejected: bool

    @property
    def conclusion(self) -> str:
        """A few words: e.g. ``"non-inferior"`` or ``"not shown equivalent"``."""
        word = "non-inferior" if self.test == "non-inferiority" else "equivalent"
        return word if self.rejected else f"not shown {word}"

    def to_pandas(self) -> pd.Series:
        """The result as a Series (with the conclusion)."""
        return pd.Series(asdict(self) | {"conclusion": self.conclusion}, dtype=object)


def _check_alpha(alpha: float) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be a number in (0, 1), got {alpha!r}")
    return float(alpha)


def _check_arm(name: str, mean: float, var: float, n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise TypeError(f"{name}: n must be an integer, got {n!r}")
    if n < 2:
        raise ValueError(f"{name}: needs at least 2 customers, got n={n}")
    if not np.isfinite(mean) or not np.isfinite(var) or var < 0:
        raise ValueError(f"{name}: mean and variance must be finite (variance >= 0), "
                         f"got mean={mean!r}, variance={var!r}")


def _welch_df(a: float, b: float, n_a: int, n_b: int) -> float:
    """Satterthwaite's degrees of freedom for ``a + b`` with ``a = s²_a / n_a`` etc."""
    den = a * a / (n_a - 1) + b * b / (n_b - 1)
    return float((a + b) ** 2 / den) if den > 0 else math.inf


def _p_value(t: float, df: float, alternative: str) -> float:
    if alternative == "two-sided":
        return float(2 * stats.t.sf(abs(t), df))
    if alternative == "greater":
        return float(stats.t.sf(t, df))
    return float(stats.t.cdf(t, df))


def _interval(est: float, se: float, df: float, alpha: float, alternative: str
              ) -> tuple[float, float]:
    if alternative == "two-sided":
        q = float(stats.t.isf(alpha / 2, df))
        return est - q * se, est + q * se
    q = float(stats.t.isf(alpha, df))
    if alternative == "greater":
        return est - q * se, math.inf
    return -math.inf, est + q * se


def _log_ratio(control: ArmSummary, treatment: ArmSummary) -> tuple[float, float, float]:
    """(log ratio, its delta-method se, its Welch df) of treatment / control."""
    c, t = control.mean, treatment.mean
    if not (c > 0 and t > 0):
        return math.nan, math.nan, math.nan
    a = control.var / (control.n * c**2)
    b = treatment.var / (treatment.n * t**2)
    return math.log(t / c), math.sqrt(a + b), _welch_df(a, b, control.n, treatment.n)


def welch_test(
    control: ArmSummary | tuple[float, float, int],
    treatment: ArmSummary | tuple[float, float, int],
    *,
    alpha: float = 0.05,
    alternative: str = "two-sided",
) -> DiffTestResult:
    """Welch's t test of ``treatment - control`` from per-arm summaries.

    Args:
        control, treatment: Each arm's :class:`ArmSummary` ``(mean, var, n)``: its estimate
            (a mean, a ratio, an adjusted mean), per-customer variance (divisor ``n - 1``;
            for a ratio, of the linearized values) and customers.
        alpha: Level; intervals have coverage ``1 - alpha``.
        alternative: ``"two-sided"``, ``"greater"`` (treatment larger) or ``"less"``.

    The relative change's interval is ``exp(log(t/c) ± q · se_log) - 1`` with
    ``se²_log = s²_t/(n_t t²) + s²_c/(n_c c²)`` (delta method on the log ratio) and its own
    Satterthwaite degrees of freedom.

    Examples:
        >>> r = welch_test((10.0, 4.0, 100), (11.0, 9.0, 120))
        >>> round(r.statistic, 4), round(r.df, 1)
        (2.9488, 208.5)

    References:
        Welch (1947); Satterthwaite (1946); Deng, Knoblich and Lu (2018), section 3.4.
    """
    alpha = _check_alpha(alpha)
    if alternative not in _ALTERNATIVES:
        raise ValueError(f"alternative must be one of {', '.join(_ALTERNATIVES)}, "
                         f"got {alternative!r}")
    control_mean, control_var, control_n = ArmSummary(*control)
    treatment_mean, treatment_var, treatment_n = ArmSummary(*treatment)
    _check_arm("control", control_mean, control_var, control_n)
    _check_arm("treatment", treatment_mean, treatment_var, treatment_n)
    a = control_var / control_n
    b = treatment_var / treatment_n
    se = math.sqrt(a + b)
    df = _welch_df(a, b, control_n, treatment_n)
    diff = treatment_mean - control_mean
    t = diff / se if se > 0 else (math.copysign(math.inf, diff) if diff != 0 else math.nan)
    p = _p_value(t, df, alternative) if not math.isnan(t) else 1.0
    lo, hi = _interval(diff, se, df, alpha, alternative)
    lr, se_log, df_log = _log_ratio(ArmSummary(*control), ArmSummary(*treatment))
    if math.isnan(lr):
        rel, rlo, rhi = math.nan, math.nan, math.nan
    else:
        llo, lhi = _interval(lr, se_log, df_log, alpha, alternative)
        rel, rlo, rhi = math.expm1(lr), math.expm1(llo), math.expm1(lhi)
    return DiffTestResult(float(control_mean), float(treatment_mean), diff, lo, hi, rel, rlo,
                          rhi, se, df, t, p, alpha, alternative, float(se_log))


def two_proportion_ztest(
    count: ArrayLike, nobs: ArrayLike, *, alternative: str = "two-sided", pooled: bool = True,
) -> ZTestResult:
    """z test of ``p₁ - p₂`` for two independent proportions ``count / nobs``.

    With ``pooled=True`` (default) the variance uses the pooled proportion
    ``p̂ = (x₁ + x₂) / (n₁ + n₂)``: ``z² `` equals Pearson's chi-square of the 2x2 table, as in
    R's ``prop.test(count, nobs, correct = FALSE)``. With ``pooled=False`` each arm's own
    proportion is used (the Wald test). ``alternative="greater"`` means ``p₁ > p₂``.

    Conversations are *not* independent; use this only for independent units (e.g.
    customers), and the delta method (:func:`welch_test` on linearized values) for ratings.

    Examples:
        >>> r = two_proportion_ztest([5, 12], [83, 99])
        >>> round(r.statistic, 5), round(r.p_value, 5)
        (-1.40783, 0.15918)

    References:
        Agresti (2013), section 3.1; R Core Team, ``stats::prop.test``.
    """
    x = np.asarray(count, dtype=float)
    n = np.asarray(nobs, dtype=float)
    if x.shape != (2,) or n.shape != (2,):
        raise ValueError(f"count and nobs must hold two numbers each, got {x!r} and {n!r}")
    if (n <= 0).any() or (x < 0).any() or (x > n).any():
        raise ValueError(f"need 0 <= count <= nobs and nobs > 0, got count={x.tolist()}, "
                         f"nobs={n.tolist()}")
    if alternative not in _ALTERNATIVES:
        raise ValueError(f"alternative must be one of {', '.join(_ALTERNATIVES)}, "
                         f"got {alternative!r}")
    p = x / n
    if pooled:
        pp = x.sum() / n.sum()
        var = pp * (1 - pp) * (1 / n[0] + 1 / n[1])
    else:
        var = float((p * (1 - p) / n).sum())
    if var <= 0:
        raise ValueError("the proportions are all 0 or all 1: the z statistic is undefined")
    z = float((p[0] - p[1]) / math.sqrt(var))
    if alternative == "two-sided":
        pv = 2 * stats.norm.sf(abs(z))
    elif alternative == "greater":
        pv = stats.norm.sf(z)
    else:
        pv = stats.norm.cdf(z)
    return ZTestResult(z, float(pv), alternative)


def _estimate(control: ArmSummary | tuple[float, float, int],
              treatment: ArmSummary | tuple[float, float, int], scale: str
              ) -> tuple[float, float, float]:
    """(estimate on the test scale, its se, df)."""
    c, t = ArmSummary(*control), ArmSummary(*treatment)
    _check_arm("control", *c)
    _check_arm("treatment", *t)
    if scale == "absolute":
        a, b = c.var / c.n, t.var / t.n
        return t.mean - c.mean, math.sqrt(a + b), _welch_df(a, b, c.n, t.n)
    if scale == "relative":
        est, se, df = _log_ratio(c, t)
        if math.isnan(est):
            raise ValueError("a relative margin needs positive estimates in both arms, got "
                             f"control={c.mean!r}, treatment={t.mean!r}")
        return est, se, df
    raise ValueError(f"scale must be 'relative' or 'absolute', got {scale!r}")


def _to_scale(margin: float, scale: str) -> float:
    return math.log1p(margin) if scale == "relative" else margin


def _from_scale(x: float, scale: str) -> float:
    return math.expm1(x) if scale == "relative" else x


def noninferiority_test(
    control: ArmSummary | tuple[float, float, int],
    treatment: ArmSummary | tuple[float, float, int],
    *,
    margin: float,
    alpha: float = 0.025,
    scale: str = "relative",
) -> MarginTestResult:
    """One-sided test that treatment is not worse than control by more than ``margin``.

    ``margin < 0`` means higher is better: H0 ``change <= margin`` against H1
    ``change > margin``; ``margin > 0`` means lower is better (H0 ``change >= margin``). The
    change is ``treatment / control - 1`` tested as ``log(t / c)`` against ``log(1 + margin)``
    (``scale="relative"``), or ``treatment - control`` against ``margin``
    (``scale="absolute"``). ``alpha`` is the one-sided level: pass ``alpha / 2`` to match a
    two-sided ``1 - alpha`` interval (the convention of :mod:`frt_experiments.design`).

    With a zero standard error (no spread in either arm) the estimate is exact and its side
    of the margin decides: strictly beyond the margin on the good side is non-inferior
    (statistic ``+inf``, p-value 0); on the margin or on the bad side it is not (statistic
    ``-inf``, p-value 1). A distance to the margin within rounding of the inputs (1e-12 of
    their size) counts as on the margin.

    References:
        Chow, Shao and Wang (2008), section 3.2.2; Welch (1947).
    """
    alpha = _check_alpha(alpha)
    if not math.isfinite(margin) or margin == 0 or (scale == "relative" and margin <= -1):
        raise ValueError(f"margin must be a non-zero finite number (> -1 when relative), "
                         f"got {margin!r}")
    est, se, df = _estimate(control, treatment, scale)
    m = _to_scale(margin, scale)
    q = float(stats.t.isf(alpha, df))
    # distance beyond the margin on the good side (higher is better when margin < 0)
    gap = est - m if margin < 0 else m - est
    if se > 0:
        t = gap / se
    else:
        # log(t / c) against log1p(margin), or t - c against margin, carry rounding of the
        # means' size: 98/100 vs a -2% margin lands 1.7e-17 off, 0.1 - 0.3 vs -0.2 2.8e-17
        size = 1.0 if scale == "relative" else max(abs(ArmSummary(*control).mean),
                                                   abs(ArmSummary(*treatment).mean),
                                                   abs(margin))
        t = math.inf if gap > 1e-12 * size else -math.inf
    if margin < 0:
        lo, hi = _from_scale(est - q * se, scale), math.inf
    else:
        lo, hi = -math.inf, _from_scale(est + q * se, scale)
    p = float(stats.t.sf(t, df))
    return MarginTestResult("non-inferiority", float(margin), scale, _from_scale(est, scale),
                            lo, hi, float(t), df, p, alpha, bool(p < alpha))


def equivalence_test(
    control: ArmSummary | tuple[float, float, int],
    treatment: ArmSummary | tuple[float, float, int],
    *,
    margin: float,
    alpha: float = 0.05,
    scale: str = "relative",
) -> MarginTestResult:
    """Two one-sided tests (TOST) that the change lies within ``(-margin, margin)``.

    Relative scale: ``log(t / c)`` against ``log(1 - margin)`` and ``log(1 + margin)``;
    absolute scale: ``treatment - control`` against ``∓margin``. Each one-sided test is at
    ``alpha``; equivalence is shown when both reject, i.e. when the ``1 - 2 alpha`` interval
    lies inside the margins. The p-value is the larger of the two.

    References:
        Schuirmann (1987); Chow, Shao and Wang (2008), section 3.2.3.
    """
    alpha = _check_alpha(alpha)
    if not math.isfinite(margin) or margin <= 0 or (scale == "relative" and margin >= 1):
        raise ValueError(f"margin must be positive (and < 1 when relative), got {margin!r}")
    est, se, df = _estimate(control, treatment, scale)
    low, high = _to_scale(-margin, scale), _to_scale(margin, scale)
    if se > 0:
        t_low, t_high = (est - low) / se, (high - est) / se
    else:
        t_low = math.inf if est > low else -math.inf
        t_high = math.inf if est < high else -math.inf
    p = float(max(stats.t.sf(t_low, df), stats.t.sf(t_high, df)))
    q = float(stats.t.isf(alpha, df))
    return MarginTestResult("equivalence", float(margin), scale, _from_scale(est, scale),
                            _from_scale(est - q * se, scale), _from_scale(est + q * se, scale),
                            float(min(t_low, t_high)), df, p, alpha, bool(p < alpha))
