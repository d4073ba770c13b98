"""Effects of the slow arms: the responses to FRT (CSAT, follow-up questions, churn), and the
calibration of CSAT.

Satisfaction of a rated conversation follows a logistic dose-response in the first response
time the conversation actually got, in business hours ``h``, with a customer random effect
``u ~ N(0, sd^2)`` and the conversation's difficulty ``z ~ N(0, 1)`` (``csat.difficulty =
lambda``, 0 by default; ``z`` also slows the answer, :mod:`~frt_experiments.simulate.
first_response`)::

    P(satisfied | h, u, z) = expit(intercept + u - lambda z - slope * log(1 + h))

The fast arm's FRT ``H`` is log-normal (median ``m``, sigma ``s``) in business hours; the
slow arm's is ``max(H, D - S)`` (or ``max(H, D + S)`` for the slipped share ``q``) with a
log-normal slack ``S`` before the one-business-day deadline ``D``
(:mod:`~frt_experiments.simulate.first_response`). With survey response independent of the
outcome, the expected pooled CSAT of an arm is ``E_{u,z,h}[P]``:

- fast arm: a two-dimensional Gaussian integral, by Gauss-Hermite quadrature over ``log H``
  and ``u``;
- slow arm: ``(1 - q) E_S[G(D - S)] + q E_S[G(D + S)]`` with
  ``G(t) = E_H[g(max(H, t))] = Phi(z_t) g(t) + int_{z_t}^inf g(m e^{s z}) phi(z) dz``,
  ``z_t = log(t / m) / s`` and ``g(h) = E_u[P(h, u)]``. The outer expectation over ``log S``
  and ``g``'s over ``u`` are Gauss-Hermite; the integral over the part of ``H`` above the kink
  at ``t`` is Gauss-Legendre on ``[z_t, 12]``, so no rule integrates across the kink.
- any arm, with difficulty: the same, with Gauss-Hermite over ``z`` outside
  (:func:`~frt_experiments.simulate.first_response.arm_expectation`, :func:`arm_csat`).

Follow-up questions (``conversations.followup = r0 > 0``): every conversation, answered after
``h`` business hours, brings one more conversation of the same customer with probability::

    r(h) = expit(logit(r0) - followup_slope * log(1 + h))

(a positive slope: a slowly answered customer comes back less, finding answers elsewhere),
which is answered by the arm's policy in turn. Per customer the count is the primary
conversations (Poisson, the contact rate times the months) times the chains they start, whose
expected length is ``1 / (1 - E[r(FRT)])``: each conversation's FRT is drawn independently of
whether it exists, so by Wald's identity the arm's expected conversations per customer are
``rate x months / (1 - E[r(FRT)])`` (:func:`followup_probability`).

Churn (``revenue.churn_per_log_hour = eta > 0``): each conversation adds ``eta log(1 + h)`` to
the customer's cumulative churn hazard over the window, so the customer survives with
probability ``(1 - churn)**months x exp(-eta sum_i log(1 + h_i))``. Its expectation is a
generating function: a chain started by one primary conversation contributes
``phi = E[e^{-eta x} (1 - r)] / (1 - E[e^{-eta x} r])`` (``x = log(1 + FRT)``, ``r =
r(FRT)``), and with Poisson primaries of a gamma-distributed rate (shape ``k``, mean ``c``)
over ``T`` months, ``E[phi**N] = (1 + c T (1 - phi) / k)**(-k)``
(:mod:`~frt_experiments.simulate.truth`).

Calibration solves for ``intercept`` and ``slope`` so that the first arm's CSAT equals
``target_fast`` and the ratio of ``csat.target_arm`` (default: the second arm) to it equals
``target_ratio`` (nested Brent root finding).

References:
    Abramowitz, M. and Stegun, I. A. (1964). *Handbook of Mathematical Functions*, 25.4.46
    (Gauss-Hermite quadrature) and 25.4.29-30 (Gauss-Legendre quadrature).
    Brent, R. P. (1973). *Algorithms for Minimization without Derivatives*, ch. 4.
    Agresti, A. (2013). *Categorical Data Analysis*, 3rd ed., ch. 13 (logistic models with
    random effects).
    Harris, T. E. (1963). *The Theory of Branching Processes*, ch. 1 (generating functions of
    a branching process; the follow-up chains).
    Feller, W. (1968). *An Introduction to Probability Theory and Its Applications*, vol. 1,
    3rd ed., XII.1 (compound distributions: a Poisson count of chains; the negative binomial
    as a gamma mixture of Poissons).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit
from scipy.stats import norm

from frt_experiments.simulate.first_response import arm_expectation
from frt_experiments.simulate.scenario import Frt, Scenario

__all__ = [
    "CsatCalibration",
    "arm_csat",
    "calibrate_csat",
    "csat_by_arm",
    "expected_csat",
    "expected_csat_slow",
    "followup_probability",
    "satisfaction_probability",
    "target_arm",
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


def followup_probability(frt_hours: np.ndarray, *, followup: float,
                         slope: float) -> np.ndarray:
    """``expit(logit(followup) - slope * log1p(frt_hours))`` (0 where ``followup`` is 0)."""
    if followup <= 0:
        return np.zeros(np.shape(frt_hours))
    return expit(np.log(followup / (1 - followup)) - slope * np.log1p(frt_hours))


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


def _g(h: np.ndarray, intercept: float | np.ndarray, slope: float, sd: float) -> np.ndarray:
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


def target_arm(scenario: Scenario) -> int:
    """Position in ``effects.arms`` of the arm of ``csat.target_ratio`` (``csat.target_arm``,
    default the second arm)."""
    arms, name = scenario.effects.arms, scenario.csat.target_arm
    if not name:
        return 1
    if name not in arms:
        raise ValueError(f"csat.target_arm = {name!r} is not one of effects.arms "
                         f"({', '.join(arms)})")
    return arms.index(name)


def arm_csat(scenario: Scenario, policy: str, intercept: float, slope: float) -> float:
    """Expected CSAT of an arm with ``policy`` (module docstring), over the customer effect,
    the difficulty and the arm's FRT."""
    sd, lam = scenario.population.satisfaction_sd, scenario.csat.difficulty
    return arm_expectation(lambda h, z: _g(h, intercept - lam * z, slope, sd), scenario.frt,
                           policy, difficulty=lam != 0)


def csat_by_arm(scenario: Scenario, intercept: float, slope: float) -> tuple[float, float]:
    """Expected CSAT of the first (control) arm and of the target arm (:func:`target_arm`)
    for given dose-response parameters: :func:`expected_csat` and :func:`expected_csat_slow`
    for a two-arm scenario without ``frt.policies`` or difficulty, :func:`arm_csat` else."""
    f, sd = scenario.frt, scenario.population.satisfaction_sd
    if not f.policies and f.difficulty_sigma == 0 and scenario.csat.difficulty == 0:
        # two arms as before K arms: the quadrature the presets published, harsh and aa were
        # calibrated with (Gauss-Hermite over the slack across the kink at S = D, within 1e-6
        # of arm_csat), so their calibration stays what their files hold
        fast = expected_csat(intercept=intercept, slope=slope, median_hours=f.fast_median_hours,
                             sigma=f.fast_sigma, satisfaction_sd=sd)
        slow = expected_csat_slow(intercept=intercept, slope=slope, frt=f, satisfaction_sd=sd)
        return fast, slow
    policies = f.arm_policies()
    control = arm_csat(scenario, policies[0], intercept, slope)
    target = arm_csat(scenario, policies[target_arm(scenario)], intercept, slope)
    return control, target


def calibrate_csat(scenario: Scenario) -> CsatCalibration:
    """Solve ``(intercept, slope)`` for the scenario's ``csat.target_fast`` and ``target_ratio``.

    For a given slope the intercept is found by Brent's method so that the first arm's
    expected CSAT hits ``target_fast``; the slope is then found by Brent's method so that the
    target arm's ratio to it (``csat.target_arm``) hits ``target_ratio``.

    Raises:
        ValueError: the targets cannot be reached (e.g. a ratio below 1 in an A/A scenario).
    """
    c = scenario.csat
    policies = scenario.frt.arm_policies()
    frt = scenario.frt
    same = frt.policy_hours(policies[0]) == frt.policy_hours(policies[target_arm(scenario)])

    def intercept_for(slope: float) -> float:
        return brentq(lambda a: csat_by_arm(scenario, a, slope)[0] - c.target_fast,
                      -30.0, 30.0, xtol=1e-12)

    def ratio_gap(slope: float) -> float:
        fast, slow = csat_by_arm(scenario, intercept_for(slope), slope)
        return slow / fast - c.target_ratio

    if c.target_ratio == 1.0 or same:
        if c.target_ratio != 1.0:
            raise ValueError("csat.target_ratio: cannot differ from 1 when the target arm's "
                             "policy is the first arm's (the arms' FRT are the same)")
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
