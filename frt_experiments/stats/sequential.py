"""Group-sequential monitoring: Lan-DeMets alpha spending with numerically computed boundaries.

A trial looked at K times (e.g. monthly over five months) controls its overall type I error by
*spending* alpha as information accrues. With the score process S(t) = Z(t) sqrt(t) a Brownian
motion in the information fraction t, the boundary of look k is the z value whose crossing
probability, given no earlier crossing, equals the alpha allotted to that look. The
probabilities come from the recursive numerical integration of Armitage, McPherson and Rowe
(1969), in the grid form of Jennison and Turnbull (2000, chapter 19): the sub-density of S on the
continuation region is carried from look to look by convolution with the normal increment.

Spending functions (per side, at one-sided level ``a``):

- O'Brien-Fleming type: ``a(t) = 2 - 2 Phi(Phi^-1(1 - a/2) / sqrt(t))``
- Pocock type: ``a(t) = a ln(1 + (e - 1) t)``

A two-sided test at ``alpha`` is symmetric with ``a = alpha / 2`` per side (gsDesign's
``test.type = 2``, rpact's ``sided = 2``).

References:
    Armitage, P., McPherson, C. K. and Rowe, B. C. (1969). Repeated significance tests on
    accumulating data. *J. R. Stat. Soc. A* 132(2), 235-244.
    Lan, K. K. G. and DeMets, D. L. (1983). Discrete sequential boundaries for clinical trials.
    *Biometrika* 70(3), 659-663.
    Jennison, C. and Turnbull, B. W. (2000). *Group Sequential Methods with Applications to
    Clinical Trials*, chapters 7 and 19. Chapman & Hall/CRC.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats

__all__ = ["SequentialBounds", "sequential_bounds", "spending_function"]

_SPENDING = ("obrien-fleming", "pocock")
_ALTERNATIVES = ("two-sided", "greater", "less")
#: Grid points per unit of the smallest increment's standard deviation.
_POINTS_PER_SD = 24
_MAX_POINTS = 3001


def spending_function(t: np.ndarray | float, alpha: float, spending: str) -> np.ndarray:
    """Cumulative one-sided alpha spent by information fraction ``t`` (Lan and DeMets 1983).

    References:
        Lan and DeMets (1983); gsDesign ``sfLDOF`` / ``sfLDPocock``.
    """
    t = np.clip(np.asarray(t, dtype=float), 0.0, 1.0)
    if spending == "obrien-fleming":
        z = stats.norm.isf(alpha / 2)
        with np.errstate(divide="ignore"):
            return np.where(t > 0, 2 * stats.norm.sf(z / np.sqrt(np.where(t > 0, t, 1.0))), 0.0)
    if spending == "pocock":
        return alpha * np.log1p((math.e - 1) * t)
    raise ValueError(f"spending must be one of {', '.join(_SPENDING)}, got {spending!r}")


@dataclass(frozen=True)
class SequentialBounds:
    """Efficacy boundaries of a group-sequential test, one per look.

    Attributes:
        information: Information fractions of the looks (last = 1.0 for a complete plan).
        bounds: Boundaries on the z scale: reject when |Z| >= bound (two-sided), Z >= bound
            (``"greater"``) or Z <= bound (``"less"``, bounds negative).
        alpha_spent: Cumulative total alpha spent by each look (both sides when two-sided).
        nominal_p: The nominal p-value threshold at each look (two-sided when two-sided).
        alpha: Overall significance level.
        spending: ``"obrien-fleming"`` or ``"pocock"``.
        alternative: ``"two-sided"``, ``"greater"`` or ``"less"``.
    """

    information: tuple[float, ...]
    bounds: tuple[float, ...]
    alpha_spent: tuple[float, ...]
    nominal_p: tuple[float, ...]
    alpha: float
    spending: str
    alternative: str

    @property
    def looks(self) -> int:
        return len(self.bounds)

    def to_pandas(self) -> pd.DataFrame:
        """One row per look: look, information, bound, alpha_spent, nominal_p."""
        return pd.DataFrame({
            "look": np.arange(1, self.looks + 1),
            "information": self.information,
            "bound": self.bounds,
            "alpha_spent": self.alpha_spent,
            "nominal_p": self.nominal_p,
        })

    def summary(self) -> str:
        head = (f"{self.looks} looks, {self.spending} alpha spending (Lan-DeMets), "
                f"alpha {self.alpha:g} {self.alternative}")
        return head + "\n" + self.to_pandas().to_string(index=False, float_format="{:.4f}".format)

    def __repr__(self) -> str:
        b = ", ".join(f"{x:.3f}" for x in self.bounds)
        return (f"SequentialBounds(looks={self.looks}, spending={self.spending!r}, "
                f"alpha={self.alpha:g}, alternative={self.alternative!r}, bounds=[{b}])")

    def rejection_probability(self, drift: float) -> float:
        """Probability of crossing a boundary at some look when E[Z(1)] = ``drift``.

        ``drift`` is the expected z statistic at full information (for a fixed design at
        level alpha and power 1 - beta, drift = z_alpha + z_beta). Under ``drift = 0`` this
        is the overall type I error rate.

        References:
            Armitage, McPherson and Rowe (1969); Jennison and Turnbull (2000), chapter 19
            (recursive numerical integration).
        """
        upper = np.abs(np.asarray(self.bounds))
        sign = -1.0 if self.alternative == "less" else 1.0
        cross = _crossings(np.asarray(self.information), upper, sign * float(drift),
                           two_sided=self.alternative == "two-sided")
        return float(cross.sum())

    def drift_for_power(self, power: float) -> float:
        """The drift E[Z(1)] at which the sequential test has the given power.

        Positive for ``"two-sided"`` and ``"greater"``, negative for ``"less"`` (the
        direction in which the test rejects).
        """
        if not 0 < power < 1:
            raise ValueError(f"power must be in (0, 1), got {power!r}")
        size = self.rejection_probability(0.0)
        if not power > size:
            raise ValueError(f"power must exceed the plan's type I error {size:.4g}, got "
                             f"{power!r}")
        sign = -1.0 if self.alternative == "less" else 1.0
        return sign * float(optimize.brentq(
            lambda d: self.rejection_probability(sign * d) - power, 0.0, 20.0, xtol=1e-10))

    def inflation(self, power: float) -> float:
        """Maximum information relative to a fixed design with the same alpha and power.

        Multiply a fixed design's sample size by this factor for the group-sequential maximum.

        References:
            Jennison and Turnbull (2000), section 7.2.
        """
        side = self.alpha / 2 if self.alternative == "two-sided" else self.alpha
        fixed = stats.norm.isf(side) + stats.norm.ppf(power)
        return (self.drift_for_power(power) / fixed) ** 2


def _grid(lo: float, hi: float, sd: float) -> tuple[np.ndarray, np.ndarray]:
    """Points and Simpson weights on [lo, hi], fine relative to ``sd``."""
    n = int(min(_MAX_POINTS, max(101, math.ceil((hi - lo) / sd * _POINTS_PER_SD))))
    n += (n + 1) % 2  # odd for Simpson
    x = np.linspace(lo, hi, n)
    h = (hi - lo) / (n - 1)
    w = np.full(n, 2.0)
    w[1::2] = 4.0
    w[0] = w[-1] = 1.0
    return x, w * h / 3


def _crossings(info: np.ndarray, upper: np.ndarray, drift: float, *,
               two_sided: bool) -> np.ndarray:
    """Probability of first crossing at each look for fixed boundaries (all sides)."""
    out = np.empty(len(info))
    x = w = dens = None
    t_prev = 0.0
    for k, (t, c) in enumerate(zip(info, upper, strict=True)):
        dt = t - t_prev
        mu, sd = drift * dt, math.sqrt(dt)
        b = c * math.sqrt(t)
        if x is None or w is None or dens is None:
            p_up = stats.norm.sf((b - drift * t) / math.sqrt(t))
            p_lo = stats.norm.cdf((-b - drift * t) / math.sqrt(t)) if two_sided else 0.0
        else:
            wd = w * dens
            p_up = wd @ stats.norm.sf((b - x - mu) / sd)
            p_lo = wd @ stats.norm.cdf((-b - x - mu) / sd) if two_sided else 0.0
        out[k] = p_up + p_lo
        if k + 1 < len(info):
            x, w, dens = _advance(x, w, dens, t=t, dt=dt, b=b, drift=drift,
                                  two_sided=two_sided, next_dt=info[k + 1] - t)
        t_prev = t
    return out


def _advance(x: np.ndarray | None, w: np.ndarray | None, dens: np.ndarray | None, *,
             t: float, dt: float, b: float, drift: float, two_sided: bool,
             next_dt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sub-density of S(t) on the continuation region, on a new grid."""
    sd_t = math.sqrt(t)
    lo = -b if two_sided else min(drift * t - 9 * sd_t, -b)
    new_x, new_w = _grid(lo, b, min(math.sqrt(next_dt), math.sqrt(dt)))
    if x is None or w is None or dens is None:
        new_dens = stats.norm.pdf(new_x, loc=drift * t, scale=sd_t)
    else:
        sd = math.sqrt(dt)
        kern = stats.norm.pdf((new_x[:, None] - x[None, :] - drift * dt) / sd) / sd
        new_dens = kern @ (w * dens)
    return new_x, new_w, new_dens


def sequential_bounds(
    looks: int | Sequence[float],
    *,
    alpha: float = 0.05,
    spending: str = "obrien-fleming",
    alternative: str = "two-sided",
    spending_time: Sequence[float] | None = None,
) -> SequentialBounds:
    """Lan-DeMets efficacy boundaries on the z scale for a group-sequential test.

    Args:
        looks: Number of equally spaced looks (including the final analysis), or the
            information fractions of the looks (increasing, in (0, 1]; the last is normally
            1.0; an earlier last look spends only the alpha allotted up to it).
        alpha: Overall significance level (two-sided total when ``"two-sided"``).
        spending: ``"obrien-fleming"`` or ``"pocock"`` (Lan-DeMets types).
        alternative: ``"two-sided"`` (symmetric, alpha/2 per side), ``"greater"`` or
            ``"less"``.
        spending_time: The fractions at which alpha is spent, when they differ from the
            information fractions ``looks`` (gsDesign's ``usTime``): a trial that ends at
            other than its planned information spends ``alpha(I_k / I_planned)`` at its
            interims and all of alpha at its final look, while the correlations of the z
            statistics follow the information reached, ``looks = I_k / I_final``.
            Increasing, in (0, 1], one per look; default ``looks``.

    Returns:
        :class:`SequentialBounds` (``information`` holds ``looks``, ``alpha_spent`` the
        alpha spent by the spending times).

    References:
        Lan and DeMets (1983); Armitage, McPherson and Rowe (1969); Jennison and Turnbull
        (2000), chapter 19; Anderson, K. M. gsDesign ``gsDesign(usTime = )``.

    Examples:
        >>> b = sequential_bounds(5)
        >>> [round(x, 3) for x in b.bounds]
        [4.877, 3.357, 2.68, 2.29, 2.031]
    """
    info = _fractions(looks)
    if not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if alternative not in _ALTERNATIVES:
        raise ValueError(f"alternative must be one of {', '.join(_ALTERNATIVES)}, "
                         f"got {alternative!r}")
    if spending not in _SPENDING:
        raise ValueError(f"spending must be one of {', '.join(_SPENDING)}, got {spending!r}")
    two_sided = alternative == "two-sided"
    side_alpha = alpha / 2 if two_sided else alpha
    spend_t = info
    if spending_time is not None:
        try:
            if isinstance(spending_time, int | np.integer):
                raise TypeError
            spend_t = _fractions(spending_time)
        except (TypeError, ValueError):
            raise ValueError("spending_time must be increasing fractions in (0, 1], got "
                             f"{spending_time!r}") from None
        if len(spend_t) != len(info):
            raise ValueError(f"spending_time has {len(spend_t)} fractions for {len(info)} "
                             "looks")
    cum = spending_function(spend_t, side_alpha, spending)
    inc = np.diff(np.concatenate([[0.0], cum]))
    bounds = np.empty(len(info))
    x = w = dens = None
    t_prev = 0.0
    for k, t in enumerate(info):
        dt = t - t_prev
        if x is None or w is None or dens is None:
            c = float(stats.norm.isf(inc[k]))
        else:
            sd, wd, xx = math.sqrt(dt), w * dens, x

            def excess(c: float, *, sd: float = sd, wd: np.ndarray = wd, xx: np.ndarray = xx,
                       t: float = t, target: float = inc[k]) -> float:
                return float(wd @ stats.norm.sf((c * math.sqrt(t) - xx) / sd)) - target

            c = float(optimize.brentq(excess, 0.0, 40.0, xtol=1e-10)) if inc[k] > 0 else np.inf
        bounds[k] = c
        if k + 1 < len(info):
            if not math.isfinite(c):
                raise ValueError("a look spends no alpha; use fewer looks or other fractions")
            x, w, dens = _advance(x, w, dens, t=t, dt=dt, b=c * math.sqrt(t), drift=0.0,
                                  two_sided=two_sided, next_dt=info[k + 1] - t)
        t_prev = t
    scale = 2.0 if two_sided else 1.0
    nominal = scale * stats.norm.sf(bounds)
    signed = -bounds if alternative == "less" else bounds
    return SequentialBounds(
        information=tuple(float(v) for v in info),
        bounds=tuple(float(v) for v in signed),
        alpha_spent=tuple(float(v) for v in scale * cum),
        nominal_p=tuple(float(v) for v in nominal),
        alpha=float(alpha), spending=spending, alternative=alternative,
    )


def _fractions(looks: int | Sequence[float]) -> np.ndarray:
    if isinstance(looks, bool):
        raise ValueError(f"looks must be a positive integer or information fractions, got "
                         f"{looks!r}")
    if isinstance(looks, int | np.integer):
        if looks < 1:
            raise ValueError(f"looks must be a positive integer, got {looks!r}")
        return np.arange(1, int(looks) + 1) / int(looks)
    try:
        info = np.asarray(list(looks), dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"looks must be a positive integer or information fractions, got "
                         f"{looks!r}") from None
    if (info.ndim != 1 or info.size == 0 or not np.all(np.isfinite(info)) or info[0] <= 0
            or info[-1] > 1 + 1e-12 or np.any(np.diff(info) <= 0)):
        raise ValueError("looks: information fractions must be increasing values in (0, 1], "
                         f"got {info.tolist()!r}")
    return np.minimum(info, 1.0)
