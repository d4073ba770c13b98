"""Effects of the slow arm: the CSAT dose-response on FRT, and its calibration.

Satisfaction of a rated conversation follows a logistic dose-response in the first response
time the conversation actually got, in business hours ``h``, with a customer random effect
``u ~ N(0, sd^2)``::

    P(satisfied | h, u) = expit(intercept + u - slope * log(1 + h))

The fast arm's FRT ``H`` is log-normal (median ``m``, sigma ``s``) in business hours; the
slow arm's is ``max(H, D - S)`` (or ``max(H, D + S)`` for the slipped share ``q``) with a
log-normal slack ``S`` before the one-business-day deadline ``D``
(:mod:`~frt_experiments.simulate.first_response`). With survey response independent of the
outcome, the expected pooled CSAT of an arm is ``E_{u,h}[P]``:

- fast arm: a two-dimensional Gaussian integral, by Gauss-Hermite quadrature over ``log H``
  and ``u``;
- slow arm: ``(1 - q) E_S[G(D - S)] + q E_S[G(D + S)]`` with
  ``G(t) = E_H[g(max(H, t))] = Phi(z_t) g(t) + int_{z_t}^inf g(m e^{s z}) phi(z) dz``,
  ``z_t = log(t / m) / s`` and ``g(h) = E_u[P(h, u)]``. The outer expectation over ``log S``
  and ``g``'s over ``u`` are Gauss-Hermite; the integral over the part of ``H`` above the
  kink at ``t`` is Gauss-Legendre on ``[z_t, 12]``, so no rule integrates across the kink.

Calibration solves for ``intercept`` and ``slope`` so that the fast arm's CSAT equals
``target_fast`` and the slow/fast ratio equals ``target_ratio`` (nested Brent root finding).

References:
    Abramowitz, M. and Stegun, I. A. (1964). *Handbook of Mathematical Functions*, 25.4.46
    (Gauss-Hermite quadrature) and 25.4.29-30 (Gauss-Legendre quadrature).
    Brent, R. P. (1973). *Algorithms for Minimization without Derivatives*, ch. 4.
    Agresti, A. (2013). *Categorical Data Analysis*, 3rd ed., ch. 13 (logistic models with
    random effects).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit
from scipy.stats import norm

from frt_experiments.simulate.scenario import Frt, Scenario

__all__ = [
    "CsatCalibration",
    "calibrate_csat",
    "csat_by_arm",
    "expected_csat",
    "expected_csat_slow",
    "satisfaction_probability",
]

_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(64)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()
_U_NODES, _U_WEIGHTS = np.polynomial.hermite_e.hermegauss(32)
_U_WEIGHTS = _U_WEIGHTS / _U_WEIGHTS.sum()
_LEG_X, _LEG_W = np.polynomial.legendre.leggauss(48)
_Z_MAX = 12.0  # standard normal mass above it: 2e-33


def satisfaction_probability(
    frt_hours: np.ndarray, propensity: np.ndarray, *, intercept: float, slope: float
) -> np.ndarray:
    """``expit(intercept + propensity - slope * log1p(frt_hours))``, elementwise."""
    return expit(intercept + propensity - slope * np.log1p(frt_hours))


def expected_csat(
    *, intercept: float, slope: float, median_hours: float, sigma: float,
    delay_hours: float = 0.0, satisfaction_sd: float = 0.0,
) -> float:
    """Expected satisfied share when FRT = ``delay + LogNormal(log(median), sigma)`` hours.

    Gauss-Hermite quadrature (64 x 64 nodes) over the FRT and the customer random effect.
    """
    h = delay_hours + median_hours * np.exp(sigma * _NODES)
    u = satisfaction_sd * _NODES
    p = expit(intercept + u[None, :] - slope * np.log1p(h)[:, None])
    return float(_WEIGHTS @ p @ _WEIGHTS)


def _g(h: np.ndarray, intercept: float, slope: float, sd: float) -> np.ndarray:
    """``E_u[expit(intercept + u - slope log1p(h))]`` for ``u ~ N(0, sd^2)``, elementwise."""
    lin = intercept - slope * np.log1p(h)
    return expit(lin[..., None] + sd * _U_NODES) @ _U_WEIGHTS


def _held(t: np.ndarray, *, intercept: float, slope: float, sd: float, median: float,
          sigma: float) -> np.ndarray:
    """``G(t) = E_H[g(max(H, t))]`` for ``H ~ LogNormal(log median, sigma)``, per ``t``."""
    if sigma == 0:
        return _g(np.maximum(median, t), intercept, slope, sd)
    with np.errstate(divide="ignore"):
        zt = np.where(t > 0, np.log(np.where(t > 0, t, 1.0) / median) / sigma, -np.inf)
    lo = np.clip(zt, -_Z_MAX, _Z_MAX)
    half = (_Z_MAX - lo)[:, None] / 2
    z = lo[:, None] + half * (_LEG_X + 1)
    tail = np.sum(half * _LEG_W * norm.pdf(z) * _g(median * np.exp(sigma * z), intercept,
                                                   slope, sd), axis=1)
    return norm.cdf(zt) * _g(np.maximum(t, 0.0), intercept, slope, sd) + tail


def expected_csat_slow(*, intercept: float, slope: float, frt: Frt,
                       satisfaction_sd: float = 0.0) -> float:
    """Expected satisfied share of the slow arm under ``frt`` (module docstring).

    With ``frt.slow_policy = "fast"`` this is the fast arm's :func:`expected_csat`.
    """
    if frt.slow_policy == "fast":
        return expected_csat(intercept=intercept, slope=slope, satisfaction_sd=satisfaction_sd,
                             median_hours=frt.fast_median_hours, sigma=frt.fast_sigma)
    slack = frt.slow_slack_median_hours * np.exp(frt.slow_slack_sigma * _NODES)
    d, q = frt.deadline_hours, frt.slow_late_share
    kw = {"intercept": intercept, "slope": slope, "sd": satisfaction_sd,
          "median": frt.fast_median_hours, "sigma": frt.fast_sigma}
    early = _WEIGHTS @ _held(d - slack, **kw)
    late = _WEIGHTS @ _held(d + slack, **kw) if q > 0 else 0.0
    return float((1 - q) * early + q * late)


@dataclass(frozen=True)
class CsatCalibration:
    """Dose-response parameters and the CSAT they imply per arm."""

    intercept: float
    slope: float
    csat_fast: float
    csat_slow: float

    @property
    def ratio(self) -> float:
        return self.csat_slow / self.csat_fast

    def __repr__(self) -> str:
        return (f"CsatCalibration(intercept={self.intercept:.4f}, slope={self.slope:.4f}, "
                f"csat_fast={self.csat_fast:.4f}, csat_slow={self.csat_slow:.4f}, "
                f"rel_diff={self.ratio - 1:+.4%})")


def csat_by_arm(scenario: Scenario, intercept: float, slope: float) -> tuple[float, float]:
    """Expected CSAT of the fast and the slow arm for given dose-response parameters."""
    f, sd = scenario.frt, scenario.population.satisfaction_sd
    fast = expected_csat(intercept=intercept, slope=slope, median_hours=f.fast_median_hours,
                         sigma=f.fast_sigma, satisfaction_sd=sd)
    slow = expected_csat_slow(intercept=intercept, slope=slope, frt=f, satisfaction_sd=sd)
    return fast, slow


def calibrate_csat(scenario: Scenario) -> CsatCalibration:
    """Solve ``(intercept, slope)`` for the scenario's ``csat.target_fast`` and ``target_ratio``.

    For a given slope the intercept is found by Brent's method so that the fast arm's expected
    CSAT hits its target; the slope is then found by Brent's method so that the slow/fast ratio
    hits its target.

    Raises:
        ValueError: the targets cannot be reached (e.g. a ratio below 1 in an A/A scenario).
    """
    c = scenario.csat

    def intercept_for(slope: float) -> float:
        return brentq(lambda a: csat_by_arm(scenario, a, slope)[0] - c.target_fast,
                      -30.0, 30.0, xtol=1e-12)

    def ratio_gap(slope: float) -> float:
        fast, slow = csat_by_arm(scenario, intercept_for(slope), slope)
        return slow / fast - c.target_ratio

    if c.target_ratio == 1.0 or scenario.frt.slow_policy == "fast":
        if c.target_ratio != 1.0:
            raise ValueError("csat.target_ratio: cannot differ from 1 when "
                             "frt.slow_policy is 'fast' (the arms' FRT are the same)")
        slope = c.slope
    else:
        lo, hi = (0.0, 5.0) if c.target_ratio < 1 else (-5.0, 0.0)
        try:
            slope = brentq(ratio_gap, lo, hi, xtol=1e-12)
        except ValueError as exc:
            raise ValueError(f"csat.target_ratio = {c.target_ratio} cannot be reached with "
                             f"a slope in [{lo}, {hi}]") from exc
    a = intercept_for(slope)
    fast, slow = csat_by_arm(scenario, a, slope)
    return CsatCalibration(a, slope, fast, slow)
