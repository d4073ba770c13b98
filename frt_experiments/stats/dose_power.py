"""Sizing a trial with K first-response arms: the dose-response slope, and each slow arm
against control with a multiplicity adjustment.

**The slope.** With arm indicators as instruments, the two-stage least squares slope of an
outcome on the dose (:func:`frt_experiments.stats.iv.two_stage_least_squares`) is the weighted
least-squares line through the arms' (mean dose, mean outcome) points, weights the arms' sizes
(Angrist and Pischke 2009, section 4.1.3). With ``n_k`` customers in arm ``k``, means ``D_k`` of
the dose and ``Y_k`` of the outcome, and the straight-line model ``y = a + beta d + u`` whose
``u`` has mean zero in every arm (the arm moves the outcome only through the dose),

    beta_hat - beta = sum_k n_k (D_k - D) U_k / sum_k n_k (D_k - D)**2,

``U_k`` the arm's mean of ``u`` and ``D`` the size-weighted mean dose. The arms are independent
and ``Var(U_k) = s2_u[k] / n_k``; replacing ``D_k`` by its expectation ``d_k`` changes the
error only at second order, so

    Var(beta_hat) = sum_k n_k (d_k - dbar)**2 s2_u[k] / (sum_k n_k (d_k - dbar)**2)**2,

the heteroskedasticity-robust (sandwich) asymptotic variance of 2SLS (Wooldridge 2010, section
5.2) at the design's expected moments. ``s2_u[k]`` is the within-arm variance of ``u = y - beta
d``,

    s2_u[k] = s_y**2 - 2 beta rho s_y s_d[k] + beta**2 s_d[k]**2,

``s_y`` the outcome's per-customer sd, ``s_d[k]`` the dose's within-arm sd and ``rho`` their
within-arm correlation. When ``s2_u`` is the same in every arm it is ``s2_u / (N sum_k w_k (d_k
- dbar)**2)`` with ``N`` customers in all and shares ``w_k``: a trial of ``N`` customers has
slope standard error ``sqrt(V / N)``, so the size for a target ``se`` is ``V / se**2`` (and for
a 95% interval half-width ``h``, ``se = h / z_0.975``). Under no effect (``beta = 0``, the
default) ``s2_u = s_y**2`` and the dose's spread does not enter.

Sds are those of the per-customer linearizations, as
:class:`~frt_experiments.design.MetricVariance`'s ``sd``: an arm of ``n`` customers estimates
its mean with standard error ``sd / sqrt(n)``. For a ratio such as CSAT (satisfied over rated)
that is ``sqrt(p (1 - p) deff / ratings per customer)``; for the dose of
:mod:`frt_experiments.dose` (a ratio over answered conversations) it is roughly the
per-conversation sd of ``log(1 + business hours)`` times ``sqrt(deff / answered conversations
per customer)``.

**The dose of an arm from its hours.** :meth:`DoseArm.from_hours` maps the median business
hours to first response of an arm's answered conversations, ``m``, to the dose
``log(1 + m)``. The dose is ``log(1 + hours)`` per answered conversation (:mod:`frt_experiments
.dose`) and ``log1p`` is increasing, so ``log(1 + m)`` is exactly the median of the per-
conversation dose; it is its mean (the arm's dose) when ``log(1 + hours)`` is symmetric about
its median, e.g. when ``1 + hours`` is log-normal. With a skewed distribution give the mean of
``log(1 + hours)`` directly (:class:`DoseArm`).

**Each slow arm against control.** Arm ``i`` against control is a z test of the difference of
means, standard error ``sd sqrt(1 / n_0 + 1 / n_i)`` (a common outcome sd). The ``K - 1`` tests
share the control arm, so their statistics are correlated, ``corr(Z_i, Z_j) = lambda_i
lambda_j`` with ``lambda_i = sqrt(w_i / (w_0 + w_i))``; the single-step Dunnett critical value
``c`` solves ``P(max_i |Z_i| < c) = 1 - alpha`` under that correlation, which the product
structure reduces to one integral (Dunnett 1955, section 3)

    P(max_i |Z_i| < c) = int phi(v) prod_i [Phi((c - lambda_i v) / sqrt(1 - lambda_i**2))
                                            - Phi((-c - lambda_i v) / sqrt(1 - lambda_i**2))] dv,

evaluated here by adaptive quadrature (deterministic; no Monte Carlo). ``multiplicity=
"bonferroni"`` uses ``z_(1 - alpha / (2 (K - 1)))`` instead: larger, so conservative; and since
Holm's step-down procedure rejects every hypothesis the single-step Bonferroni test rejects,
a size that gives an arm power ``P`` with Bonferroni gives it at least ``P`` under Holm. The
power of arm ``i`` is that of its own statistic beyond ``c`` (the marginal, per-comparison
power), ``Phi(theta_i - c) + Phi(-theta_i - c)`` with ``theta_i = mde_i / se_i`` (two-sided),
and the trial is sized so that every slow arm reaches the target power. The adjustment is
across the arms of one metric, not across metrics.

**What a third arm costs.** Every result also sizes the two-arm trial of control and one slow
arm (default the one with the largest dose, or the slow arm given as ``pair``), with the two
arms' shares renormalized from the K-arm weights, for the same slope precision or the same
per-comparison power (a single comparison, so no adjustment): ``n_total - pair_n_total`` is
what the other arms cost in customers.

References:
    Angrist, J. D. and Pischke, J.-S. (2009). *Mostly Harmless Econometrics*, section 4.1
    (2SLS; with a saturated first stage, a weighted regression of group means, 4.1.3).
    Wooldridge, J. M. (2010). *Econometric Analysis of Cross Section and Panel Data*, 2nd ed.,
    chapter 5, section 5.2 (the asymptotic variance of 2SLS and its robust form). MIT Press.
    Dunnett, C. W. (1955). A multiple comparison procedure for comparing several treatments
    with a control. *JASA* 50(272), 1096-1121.
    Dunnett, C. W. (1964). New tables for multiple comparisons with a control. *Biometrics*
    20(3), 482-491.
    Hothorn, T., Bretz, F. and Westfall, P. (2008). Simultaneous inference in general
    parametric models. *Biometrical Journal* 50(3), 346-363.
    Holm, S. (1979). A simple sequentially rejective multiple test procedure. *Scandinavian
    Journal of Statistics* 6(2), 65-70.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import integrate, optimize, stats

__all__ = [
    "DoseArm",
    "ManyToOneSampleSize",
    "SlopeSampleSize",
    "dose_slope_sample_size",
    "dunnett_critical_value",
    "many_to_one_power",
    "many_to_one_sample_size",
    "slope_se",
]

_ALTERNATIVES = ("two-sided", "greater", "less")
_MULTIPLICITY = ("dunnett", "bonferroni")


def _finite(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise TypeError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


def _positive(name: str, value: object) -> float:
    v = _finite(name, value)
    if v <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return v


def _unit(name: str, value: object) -> float:
    v = _finite(name, value)
    if not 0 < v < 1:
        raise ValueError(f"{name} must be in (0, 1), got {value!r}")
    return v


def _ceil(x: float) -> int:
    """Round a size up, ignoring floating-point noise just above an integer."""
    return math.ceil(x * (1 - 1e-12))


@dataclass(frozen=True)
class DoseArm:
    """One arm of a dose-response trial, as the plan expects it.

    Attributes:
        name: The arm's name (the control arm comes first in a design).
        dose: The arm's expected dose: the mean of ``log(1 + business hours)`` to first
            response over its answered conversations (:mod:`frt_experiments.dose`).
        dose_sd: The dose's within-arm per-customer sd (an arm of ``n`` customers estimates its
            dose with standard error ``dose_sd / sqrt(n)``); ``>= 0``.
        hours: The median business hours the dose was mapped from, if any
            (:meth:`from_hours`).
    """

    name: str
    dose: float
    dose_sd: float
    hours: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"an arm's name must be a non-empty string, got {self.name!r}")
        _finite(f"arm {self.name!r}: dose", self.dose)
        if _finite(f"arm {self.name!r}: dose_sd", self.dose_sd) < 0:
            raise ValueError(f"arm {self.name!r}: dose_sd must be >= 0, got {self.dose_sd!r}")
        if self.hours is not None and _finite(f"arm {self.name!r}: hours", self.hours) < 0:
            raise ValueError(f"arm {self.name!r}: hours must be >= 0, got {self.hours!r}")

    @classmethod
    def from_hours(cls, name: str, hours: float, *, dose_sd: float) -> DoseArm:
        """The arm whose answered conversations wait a median of ``hours`` business hours for
        their first response: dose ``log(1 + hours)`` (see the module docstring).

        Examples:
            >>> round(DoseArm.from_hours("one_business_day", 9, dose_sd=0.7).dose, 4)
            2.3026
        """
        h = _finite(f"arm {name!r}: hours", hours)
        if h < 0:
            raise ValueError(f"arm {name!r}: hours must be >= 0, got {hours!r}")
        return cls(name, math.log1p(h), dose_sd, h)


# --------------------------------------------------------------------------- shared checks

def _shares(names: Sequence[str], weights: Mapping[str, float] | None,
            what: str = "weights") -> np.ndarray:
    """The shares of ``names`` (in that order) from ``weights`` (equal when ``None``)."""
    if len(set(names)) != len(names):
        dup = sorted({a for a in names if list(names).count(a) > 1})
        raise ValueError(f"arm names must be unique, {dup} repeated")
    if weights is None:
        return np.full(len(names), 1 / len(names))
    unknown = [a for a in weights if a not in names]
    if unknown:
        raise ValueError(f"{what}: {unknown} not among the arms {list(names)}")
    missing = [a for a in names if a not in weights]
    if missing:
        raise ValueError(f"{what}: no weight for the arm(s) {missing}")
    w = np.array([_positive(f"{what}[{a!r}]", weights[a]) for a in names])
    return w / w.sum()


def _check_choices(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def _pair_index(names: Sequence[str], doses: Sequence[float] | None, pair: str | None) -> int:
    """The slow arm of the two-arm comparison design: ``pair``, or the largest dose."""
    if pair is None:
        if doses is None:
            return len(names) - 1
        return 1 + int(np.argmax(np.abs(np.asarray(doses[1:]) - doses[0])))
    if pair not in names[1:]:
        raise ValueError(f"pair must name a slow arm (one of {list(names[1:])}), got {pair!r}")
    return list(names).index(pair)


# --------------------------------------------------------------------------- the slope

def _slope_terms(doses: np.ndarray, dose_sd: np.ndarray, n: np.ndarray, *, outcome_sd: float,
                 dose_corr: float, slope: float) -> tuple[float, float]:
    """(sum_k n_k (d_k - dbar)**2 s2_u[k], sum_k n_k (d_k - dbar)**2) for arm sizes ``n``."""
    dbar = n @ doses / n.sum()
    a2 = n * (doses - dbar) ** 2
    s2_u = (outcome_sd**2 - 2 * slope * dose_corr * outcome_sd * dose_sd
            + slope**2 * dose_sd**2)
    return float(a2 @ s2_u), float(a2.sum())


def _slope_inputs(arms: Sequence[DoseArm], outcome_sd: float, dose_corr: float,
                  slope: float) -> tuple[np.ndarray, np.ndarray, float, float, float]:
    if len(arms) < 2:
        raise ValueError(f"a dose-response design needs at least two arms, got "
                         f"{[getattr(a, 'name', a) for a in arms]}")
    for a in arms:
        if not isinstance(a, DoseArm):
            raise TypeError(f"arms must be DoseArm records, got {a!r}")
    doses = np.array([a.dose for a in arms])
    if np.ptp(doses) == 0:
        raise ValueError(f"the arms' doses do not differ (all {doses[0]:g}): the arms do not "
                         "move the dose, so the slope is undefined")
    sy = _positive("outcome_sd", outcome_sd)
    rho = _finite("dose_corr", dose_corr)
    if not -1 <= rho <= 1:
        raise ValueError(f"dose_corr must be in [-1, 1], got {dose_corr!r}")
    return doses, np.array([a.dose_sd for a in arms]), sy, rho, _finite("slope", slope)


def slope_se(
    arms: Sequence[DoseArm],
    n_per_arm: Sequence[float] | Mapping[str, float],
    *,
    outcome_sd: float,
    dose_corr: float = 0.0,
    slope: float = 0.0,
) -> float:
    """The asymptotic standard error of the 2SLS dose-response slope with these arm sizes.

    ``sqrt(sum_k n_k (d_k - dbar)**2 s2_u[k]) / sum_k n_k (d_k - dbar)**2`` with ``s2_u[k] =
    s_y**2 - 2 slope rho s_y s_d[k] + slope**2 s_d[k]**2`` (module docstring).

    Args:
        arms: The arms, control first.
        n_per_arm: Customers per arm, in the arms' order or by name.
        outcome_sd: The outcome's within-arm per-customer sd ``s_y``.
        dose_corr: Within-arm correlation ``rho`` of outcome and dose.
        slope: The true slope assumed for the variance of ``u = y - slope * d``.

    References:
        Wooldridge (2010), section 5.2; Angrist and Pischke (2009), section 4.1.3.

    Examples:
        >>> arms = [DoseArm("fast", 0.0, 0.5), DoseArm("slow", 1.0, 0.5)]
        >>> slope_se(arms, [100, 100], outcome_sd=1.0)  # sqrt(1/100 + 1/100) / 1
        0.1414213562373095
    """
    doses, dose_sd, sy, rho, beta = _slope_inputs(arms, outcome_sd, dose_corr, slope)
    names = [a.name for a in arms]
    if isinstance(n_per_arm, Mapping):
        _shares(names, n_per_arm, "n_per_arm")
        sizes = [n_per_arm[a] for a in names]
    else:
        sizes = list(n_per_arm)
        if len(sizes) != len(arms):
            raise ValueError(f"n_per_arm gives {len(sizes)} sizes for {len(arms)} arms")
    n = np.array([_positive(f"n_per_arm[{a!r}]", s) for a, s in zip(names, sizes, strict=True)])
    meat, sxx = _slope_terms(doses, dose_sd, n, outcome_sd=sy, dose_corr=rho, slope=beta)
    return math.sqrt(max(meat, 0.0)) / sxx


@dataclass(frozen=True)
class SlopeSampleSize:
    """The K-arm trial that estimates the dose-response slope to a target precision, and the
    two-arm trial that would do the same.

    Attributes:
        arms: The arms, control first.
        weights: Their shares of the customers.
        n_per_arm: Customers per arm (each rounded up).
        n_total: Customers in all.
        se: The slope's standard error with ``n_per_arm`` (at most ``target_se``).
        halfwidth: The half-width of its ``1 - alpha`` normal interval.
        target_se: The standard error asked for.
        alpha: Level of the interval.
        outcome_sd, dose_corr, slope: The outcome's sd, its within-arm correlation with the
            dose and the assumed slope.
        first_stage_f: The first-stage F statistic at the expected doses (the Wald statistic of
            equal doses over ``arms - 1``, as :func:`~frt_experiments.stats.iv.
            two_stage_least_squares` reports it).
        pair: The two arms of the two-arm design (control and one slow arm).
        pair_n_per_arm: Their customers in that design, for the same ``target_se``.
        pair_n_total: Customers in all in the two-arm design.
    """

    arms: tuple[DoseArm, ...]
    weights: tuple[float, ...]
    n_per_arm: tuple[int, ...]
    n_total: int
    se: float
    halfwidth: float
    target_se: float
    alpha: float
    outcome_sd: float
    dose_corr: float
    slope: float
    first_stage_f: float
    pair: tuple[str, str]
    pair_n_per_arm: tuple[int, int]
    pair_n_total: int

    @property
    def extra_customers(self) -> int:
        """Customers the K-arm design needs beyond the two-arm one (negative: fewer)."""
        return self.n_total - self.pair_n_total

    @property
    def cost_ratio(self) -> float:
        """``n_total / pair_n_total``."""
        return self.n_total / self.pair_n_total

    def to_pandas(self) -> pd.DataFrame:
        """One row per arm: hours, dose, dose sd, weight, customers, and the two-arm design's
        customers (0 for an arm it leaves out)."""
        pair = dict(zip(self.pair, self.pair_n_per_arm, strict=True))
        return pd.DataFrame({
            "hours": [np.nan if a.hours is None else a.hours for a in self.arms],
            "dose": [a.dose for a in self.arms],
            "dose_sd": [a.dose_sd for a in self.arms],
            "weight": self.weights,
            "customers": self.n_per_arm,
            "two_arm_customers": [pair.get(a.name, 0) for a in self.arms],
        }, index=pd.Index([a.name for a in self.arms], name="arm"))

    def summary(self) -> str:
        level = f"{1 - self.alpha:.0%}"
        lines = [
            f"dose-response slope: se {self.se:.4g} (target {self.target_se:.4g}), {level} "
            f"interval +-{self.halfwidth:.4g}; outcome sd {self.outcome_sd:.4g}, assumed slope "
            f"{self.slope:g}, dose correlation {self.dose_corr:g}; first-stage F "
            f"{self.first_stage_f:,.0f}",
            f"  needs {self.n_total:,} customers in {len(self.arms)} arms; "
            + _cost(self.pair, self.pair_n_total, self.n_total),
        ]
        table = self.to_pandas()
        fmt = {"hours": "{:.4g}", "dose": "{:.4f}", "dose_sd": "{:.4g}", "weight": "{:.4f}",
               "customers": "{:,}", "two_arm_customers": "{:,}"}
        lines.extend("  " + ln for ln in _format(table, fmt).splitlines())
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"SlopeSampleSize(n_total={self.n_total}, se={self.se:.4g}, "
                f"pair_n_total={self.pair_n_total}, arms={[a.name for a in self.arms]})")

    def _repr_html_(self) -> str:
        return f"<pre>{_escape(self.summary())}</pre>"


def _cost(pair: tuple[str, str], pair_n: int, n: int) -> str:
    extra = n - pair_n
    word = "cost" if extra >= 0 else "save"
    return (f"two arms ({pair[0]} + {pair[1]}) need {pair_n:,}: the other arms {word} "
            f"{abs(extra):,} customers (x{n / pair_n:.2f})")


def _format(table: pd.DataFrame, fmt: Mapping[str, str]) -> str:
    shown = table.copy().astype(object)
    for col, f in fmt.items():
        shown[col] = [("-" if isinstance(v, float) and math.isnan(v) else f.format(v))
                      for v in table[col]]
    return shown.reset_index().to_string(index=False)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def dose_slope_sample_size(
    arms: Sequence[DoseArm],
    *,
    outcome_sd: float,
    se: float | None = None,
    halfwidth: float | None = None,
    weights: Mapping[str, float] | None = None,
    dose_corr: float = 0.0,
    slope: float = 0.0,
    alpha: float = 0.05,
    pair: str | None = None,
) -> SlopeSampleSize:
    """Customers a K-arm trial needs to estimate the dose-response slope to a standard error
    ``se`` (or a ``1 - alpha`` interval half-width ``halfwidth``), and the two-arm trial that
    would reach the same precision.

    ``N = V / se**2`` with ``V = sum_k w_k (d_k - dbar)**2 s2_u[k] / (sum_k w_k (d_k -
    dbar)**2)**2`` (module docstring); each arm gets ``ceil(w_k N)``.

    Args:
        arms: The arms, control first (:class:`DoseArm`).
        outcome_sd: The outcome's within-arm per-customer sd.
        se: Target standard error of the slope (outcome units per unit of dose) ...
        halfwidth: ... or target half-width of its normal interval (give one of the two).
        weights: Shares per arm name (default equal); normalized to sum to 1.
        dose_corr: Within-arm correlation of outcome and dose.
        slope: The true slope assumed for the variance (default 0, no effect).
        alpha: Level of the interval (``halfwidth = z_(1 - alpha / 2) se``).
        pair: The slow arm of the two-arm comparison design (default the largest dose).

    Raises:
        ValueError: Fewer than two arms, doses that do not differ, weights for arms not named
            (or arms without a weight), neither or both of ``se`` and ``halfwidth``.

    References:
        Wooldridge (2010), section 5.2; Angrist and Pischke (2009), section 4.1.3.

    Examples:
        >>> arms = [DoseArm("fast", 0.0, 0.5), DoseArm("mid", 0.5, 0.5),
        ...         DoseArm("slow", 1.0, 0.5)]
        >>> r = dose_slope_sample_size(arms, outcome_sd=1.0, se=0.1)
        >>> r.n_total, r.pair_n_total   # sigma^2 / (se^2 sum w (d - dbar)^2): 600 and 400
        (600, 400)
    """
    doses, dose_sd, sy, rho, beta = _slope_inputs(arms, outcome_sd, dose_corr, slope)
    alpha = _unit("alpha", alpha)
    if (se is None) == (halfwidth is None):
        raise ValueError("give one of se and halfwidth (the slope's target precision)")
    z = float(stats.norm.isf(alpha / 2))
    target = _positive("se", se) if se is not None else _positive("halfwidth", halfwidth) / z
    names = [a.name for a in arms]
    w = _shares(names, weights)

    def size(idx: list[int]) -> tuple[int, ...]:
        ww = w[idx] / w[idx].sum()
        meat, sxx = _slope_terms(doses[idx], dose_sd[idx], ww, outcome_sd=sy, dose_corr=rho,
                                 slope=beta)
        if not meat > 0:
            raise ValueError("the within-arm variance of u = y - slope * d is zero: outcome_sd, "
                             "dose_corr and slope leave no noise, any size will do")
        n_star = meat / sxx**2 / target**2
        return tuple(max(_ceil(x * n_star), 2) for x in ww)

    n = size(list(range(len(arms))))
    j = _pair_index(names, list(doses), pair)
    pair_n = size([0, j])
    achieved = slope_se(arms, n, outcome_sd=sy, dose_corr=rho, slope=beta)
    sizes = np.array(n, dtype=float)
    if np.all(dose_sd > 0):
        diff = doses[1:] - doses[0]
        v = dose_sd**2 / sizes
        cov = np.diag(v[1:]) + v[0]
        f_stat = float(diff @ np.linalg.solve(cov, diff)) / (len(arms) - 1)
    else:
        f_stat = math.inf
    return SlopeSampleSize(tuple(arms), tuple(float(x) for x in w), n, int(sum(n)), achieved,
                           z * achieved, target, alpha, sy, rho, beta, f_stat,
                           (names[0], names[j]), (pair_n[0], pair_n[1]), int(sum(pair_n)))


# --------------------------------------------------------------------------- arms vs control

def _lambdas(w: np.ndarray) -> np.ndarray:
    return np.sqrt(w[1:] / (w[0] + w[1:]))


def _dunnett_prob(c: float, lam: np.ndarray, two_sided: bool) -> float:
    """P(max_i Z_i < c) (one-sided) or P(max_i |Z_i| < c), corr(Z_i, Z_j) = lam_i lam_j."""
    s = np.sqrt(1 - lam**2)

    def f(v: float) -> float:
        inside = stats.norm.cdf((c - lam * v) / s)
        if two_sided:
            inside = inside - stats.norm.cdf((-c - lam * v) / s)
        return float(stats.norm.pdf(v) * np.prod(inside))

    value, _ = integrate.quad(f, -np.inf, np.inf, epsabs=1e-13, epsrel=1e-12, limit=200)
    return float(value)


def _critical(w: np.ndarray, alpha: float, alternative: str, multiplicity: str) -> float:
    m = len(w) - 1
    side = 2 if alternative == "two-sided" else 1
    if multiplicity == "bonferroni" or m == 1:
        return float(stats.norm.isf(alpha / (side * m)))
    lam = _lambdas(w)
    lo = float(stats.norm.isf(alpha / side))        # one comparison's value: too small
    hi = float(stats.norm.isf(alpha / (side * m)))  # Bonferroni's: large enough
    target = 1 - alpha

    def g(c: float) -> float:
        return _dunnett_prob(c, lam, side == 2) - target

    if g(hi) <= 0:  # Bonferroni is exact to quadrature precision (e.g. a tiny control share)
        return hi
    return float(optimize.brentq(g, lo, hi, xtol=1e-12, rtol=1e-12))


def dunnett_critical_value(
    weights: Sequence[float] | Mapping[str, float],
    *,
    alpha: float = 0.05,
    alternative: str = "two-sided",
) -> float:
    """Dunnett's single-step critical value for comparing ``K - 1`` arms with a control on the
    normal scale (infinite degrees of freedom), for any allocation.

    Solves ``P(max_i |Z_i| < c) = 1 - alpha`` (``max_i Z_i`` for ``"greater"``, ``-min_i Z_i``
    for ``"less"``, the same value) for the multivariate normal with ``corr(Z_i, Z_j) =
    sqrt(w_i w_j / ((w_0 + w_i) (w_0 + w_j)))``, the correlation the shared control induces when
    the arms' variances are equal, by Dunnett's (1955) one-dimensional integral.

    Args:
        weights: Customers or shares per arm, control first (only their ratios matter).
        alpha: Family-wise error rate.
        alternative: ``"two-sided"``, ``"greater"`` or ``"less"`` (one-sided, every arm in the
            same direction).

    References:
        Dunnett (1955), section 3 and table 1a; Dunnett (1964), table II; Hothorn, Bretz and
        Westfall (2008) (many-to-one contrasts judged by the joint normal of their statistics).

    Examples:
        >>> round(dunnett_critical_value([1, 1, 1]), 3)   # Dunnett (1964), k = 2, df = inf
        2.212
    """
    values = list(weights.values()) if isinstance(weights, Mapping) else list(weights)
    if len(values) < 2:
        raise ValueError(f"weights must give the control and at least one arm, got {values}")
    w = np.array([_positive(f"weights[{i}]", v) for i, v in enumerate(values)])
    _check_choices("alternative", alternative, _ALTERNATIVES)
    return _critical(w / w.sum(), _unit("alpha", alpha), alternative, "dunnett")


def _theta(c: float, power: float, alternative: str) -> float:
    """The standardized effect at which a test with critical value ``c`` has ``power``."""
    one = c + float(stats.norm.ppf(power))
    if alternative != "two-sided":
        return one

    def f(t: float) -> float:
        return float(stats.norm.sf(c - t) + stats.norm.cdf(-c - t)) - power

    if f(0.0) >= 0:  # power below the test's size at no effect
        return 0.0
    return float(optimize.brentq(f, 0.0, max(one, 1e-9) + 1.0, xtol=1e-14, rtol=1e-14))


def _power(theta: np.ndarray, c: float, alternative: str) -> np.ndarray:
    if alternative == "two-sided":
        return np.asarray(stats.norm.sf(c - theta) + stats.norm.cdf(-c - theta))
    return np.asarray(stats.norm.sf(c - theta))


def _mdes(names: Sequence[str], mde: float | Mapping[str, float], alternative: str
          ) -> np.ndarray:
    slow = list(names[1:])
    if isinstance(mde, Mapping):
        unknown = [a for a in mde if a not in slow]
        missing = [a for a in slow if a not in mde]
        if unknown or missing:
            raise ValueError(f"mde must give one effect per slow arm {slow}"
                             + (f"; not slow arms: {unknown}" if unknown else "")
                             + (f"; missing: {missing}" if missing else ""))
        d = np.array([_finite(f"mde[{a!r}]", mde[a]) for a in slow])
    else:
        d = np.full(len(slow), _finite("mde", mde))
    for a, x in zip(slow, d, strict=True):
        if x == 0 or (alternative == "greater" and x < 0) or (alternative == "less" and x > 0):
            raise ValueError(f"mde of arm {a!r} is {x:g}: it must be non-zero and in the "
                             f"direction of alternative={alternative!r}")
    return d


def many_to_one_power(
    n_per_arm: Mapping[str, float],
    *,
    sd: float,
    mde: float | Mapping[str, float],
    alpha: float = 0.05,
    alternative: str = "two-sided",
    multiplicity: str = "dunnett",
) -> dict[str, float]:
    """The power of each slow arm's test against control, adjusted across the ``K - 1``
    comparisons (single-step Dunnett or Bonferroni; module docstring).

    Args:
        n_per_arm: Customers per arm, control first.
        sd: The outcome's per-customer sd (the same in every arm).
        mde: The true difference, arm minus control: one for every slow arm, or per arm name.
        alpha: Family-wise error rate.
        alternative: ``"two-sided"``, ``"greater"`` or ``"less"``.
        multiplicity: ``"dunnett"`` or ``"bonferroni"``.

    Returns:
        ``{slow arm: power}``: the probability that the adjusted test rejects that arm's null.

    References:
        Dunnett (1955); Hothorn, Bretz and Westfall (2008).
    """
    names = list(n_per_arm)
    if len(names) < 2:
        raise ValueError(f"n_per_arm must give the control and at least one arm, got {names}")
    n = np.array([_positive(f"n_per_arm[{a!r}]", n_per_arm[a]) for a in names])
    _check_choices("alternative", alternative, _ALTERNATIVES)
    _check_choices("multiplicity", multiplicity, _MULTIPLICITY)
    sd = _positive("sd", sd)
    d = _mdes(names, mde, alternative)
    c = _critical(n / n.sum(), _unit("alpha", alpha), alternative, multiplicity)
    se = sd * np.sqrt(1 / n[0] + 1 / n[1:])
    theta = np.abs(d) / se
    return dict(zip(names[1:], (float(p) for p in _power(theta, c, alternative)), strict=True))


@dataclass(frozen=True)
class ManyToOneSampleSize:
    """The K-arm trial in which every slow arm's test against control reaches the target power
    after the multiplicity adjustment, and the two-arm trial of one of them.

    Attributes:
        arms: Arm names, control first.
        weights: Their shares of the customers.
        n_per_arm: Customers per arm (each rounded up).
        n_total: Customers in all.
        sd: The outcome's per-customer sd.
        mde: The difference each slow arm must detect (arm minus control), in arm order.
        power: The target power of each comparison.
        arm_power: Each slow arm's power with ``n_per_arm`` (at least ``power``).
        binding: The slow arm that needs the most customers (comma-separated when they tie).
        alpha: Family-wise error rate.
        alternative: As SciPy.
        multiplicity: ``"dunnett"`` or ``"bonferroni"``.
        critical_value: The adjusted critical z.
        pair: The two arms of the two-arm design.
        pair_n_per_arm: Their customers there (one comparison, critical value unadjusted).
        pair_n_total: Customers in all in the two-arm design.
    """

    arms: tuple[str, ...]
    weights: tuple[float, ...]
    n_per_arm: tuple[int, ...]
    n_total: int
    sd: float
    mde: tuple[float, ...]
    power: float
    arm_power: tuple[float, ...]
    binding: str
    alpha: float
    alternative: str
    multiplicity: str
    critical_value: float
    pair: tuple[str, str]
    pair_n_per_arm: tuple[int, int]
    pair_n_total: int

    @property
    def extra_customers(self) -> int:
        """Customers the K-arm design needs beyond the two-arm one."""
        return self.n_total - self.pair_n_total

    @property
    def cost_ratio(self) -> float:
        """``n_total / pair_n_total``."""
        return self.n_total / self.pair_n_total

    def to_pandas(self) -> pd.DataFrame:
        """One row per arm: weight, customers, the difference to detect and its power (NaN for
        control), and the two-arm design's customers (0 for an arm it leaves out)."""
        pair = dict(zip(self.pair, self.pair_n_per_arm, strict=True))
        return pd.DataFrame({
            "weight": self.weights,
            "customers": self.n_per_arm,
            "mde": (np.nan, *self.mde),
            "power": (np.nan, *self.arm_power),
            "two_arm_customers": [pair.get(a, 0) for a in self.arms],
        }, index=pd.Index(self.arms, name="arm"))

    def summary(self) -> str:
        how = {"dunnett": "Dunnett", "bonferroni": "Bonferroni"}[self.multiplicity]
        lines = [
            f"each slow arm against {self.arms[0]}: power {self.power:.0%} per comparison, "
            f"{how} critical value {self.critical_value:.4f} ({len(self.arms) - 1} comparisons, "
            f"{self.alternative} alpha {self.alpha:g}); sd {self.sd:.4g}",
            f"  needs {self.n_total:,} customers in {len(self.arms)} arms (binding: "
            f"{self.binding}); " + _cost(self.pair, self.pair_n_total, self.n_total),
        ]
        fmt = {"weight": "{:.4f}", "customers": "{:,}", "mde": "{:+.4g}", "power": "{:.1%}",
               "two_arm_customers": "{:,}"}
        lines.extend("  " + ln for ln in _format(self.to_pandas(), fmt).splitlines())
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"ManyToOneSampleSize(n_total={self.n_total}, binding={self.binding!r}, "
                f"critical_value={self.critical_value:.4f}, pair_n_total={self.pair_n_total})")

    def _repr_html_(self) -> str:
        return f"<pre>{_escape(self.summary())}</pre>"


def many_to_one_sample_size(
    weights: Mapping[str, float],
    *,
    sd: float,
    mde: float | Mapping[str, float],
    power: float = 0.8,
    alpha: float = 0.05,
    alternative: str = "two-sided",
    multiplicity: str = "dunnett",
    pair: str | None = None,
) -> ManyToOneSampleSize:
    """Customers a K-arm trial needs for every slow arm's test against control to have
    ``power`` after the adjustment across the ``K - 1`` comparisons, and the two-arm trial of
    control and ``pair`` for the same power without adjustment.

    Arm ``i`` needs ``N_i = theta**2 sd**2 (1 / w_0 + 1 / w_i) / mde_i**2`` customers in all,
    ``theta`` the standardized effect at which a test with the adjusted critical value has the
    power (``c + z_power`` one-sided; solved with both tails two-sided); the trial takes the
    largest ``N_i`` and gives each arm ``ceil(w_k N)``.

    Args:
        weights: Shares per arm name, control first (normalized to sum to 1).
        sd: The outcome's per-customer sd (the same in every arm).
        mde: The difference to detect, arm minus control: one for every slow arm, or per arm.
        power: Target power of each comparison.
        alpha: Family-wise error rate.
        alternative: ``"two-sided"``, ``"greater"`` or ``"less"``.
        multiplicity: ``"dunnett"`` (single step, exact for the design's correlation) or
            ``"bonferroni"`` (conservative, and for Holm's step-down procedure too).
        pair: The slow arm of the two-arm design (default the last arm).

    References:
        Dunnett (1955); Hothorn, Bretz and Westfall (2008); Holm (1979).

    Examples:
        >>> r = many_to_one_sample_size({"fast": 1, "mid": 1, "slow": 1}, sd=1.0, mde=0.1)
        >>> r.n_per_arm, r.pair_n_total
        ((1866, 1866, 1866), 3140)
    """
    if not isinstance(weights, Mapping):
        raise TypeError(f"weights must map arm names to shares, control first, got {weights!r}")
    names = list(weights)
    if len(names) < 2:
        raise ValueError(f"weights must give the control and at least one arm, got {names}")
    w = _shares(names, weights)
    _check_choices("alternative", alternative, _ALTERNATIVES)
    _check_choices("multiplicity", multiplicity, _MULTIPLICITY)
    sd = _positive("sd", sd)
    power = _unit("power", power)
    alpha = _unit("alpha", alpha)
    d = _mdes(names, mde, alternative)
    c = _critical(w, alpha, alternative, multiplicity)
    theta = _theta(c, power, alternative)
    need = theta**2 * sd**2 * (1 / w[0] + 1 / w[1:]) / d**2
    b = int(np.argmax(need))
    binding = ", ".join(a for a, x in zip(names[1:], need, strict=True)
                        if x >= need[b] * (1 - 1e-9))
    n = tuple(max(_ceil(x * float(need[b])), 2) for x in w)
    arm_power = many_to_one_power(dict(zip(names, n, strict=True)), sd=sd,
                                  mde=dict(zip(names[1:], d, strict=True)), alpha=alpha,
                                  alternative=alternative, multiplicity=multiplicity)
    j = _pair_index(names, None, pair)
    wp = w[[0, j]] / w[[0, j]].sum()
    c2 = float(stats.norm.isf(alpha / (2 if alternative == "two-sided" else 1)))
    n2_star = _theta(c2, power, alternative) ** 2 * sd**2 * (1 / wp[0] + 1 / wp[1]) / d[j - 1]**2
    pair_n = (max(_ceil(wp[0] * n2_star), 2), max(_ceil(wp[1] * n2_star), 2))
    return ManyToOneSampleSize(
        tuple(names), tuple(float(x) for x in w), n, int(sum(n)), sd,
        tuple(float(x) for x in d), power, tuple(arm_power.values()), binding, alpha,
        alternative, multiplicity, c, (names[0], names[j]), pair_n, int(sum(pair_n)))
