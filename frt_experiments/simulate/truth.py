"""The truth of a scenario: each arm's expected dose and outcomes, and the true 2SLS slope.

For every arm of a scenario (its policy, ``frt.policies``) :func:`dose_truth` returns, in
expectation over the generative model of :mod:`frt_experiments.simulate` (no simulation):

- ``share``: the arm's weight share (``effects.weights`` normalized);
- ``dose``: the dose as :mod:`frt_experiments.dose` defines it, the sum of
  ``log(1 + business hours)`` of the FRT over answered conversations over the number of
  answered conversations. Every simulated conversation is answered and created inside the
  window (so counted by :func:`frt_experiments.metrics.customer_rows`' rule), and each
  conversation's FRT is drawn independently of whether it exists (a follow-up exists because of
  its parent's FRT, not its own), so by Wald's identity the ratio of expectations is
  ``E[log(1 + FRT)]`` over the arm's FRT distribution;
- ``csat``: ``E[satisfied] / E[rated]`` as the analysis pools it; ratings are drawn
  independently of satisfaction and of the count, so it is the expected satisfaction
  probability per conversation, ``E[expit(a + u - lambda z - b log(1 + FRT))]``;
- ``questions``: conversations per customer, ``rate x months x m / (1 - E[r(FRT)])`` (``m``
  the arm's ``effects.questions`` multiplier, 1 for the control; ``r`` the follow-up
  probability);
- ``nrr``: ``E[revenue_end] / E[revenue_start]``; spend is independent of the revenue events
  and of the conversations, so it is the expected survival times the expected contraction and
  expansion factors, the survival's FRT part the generating function of
  :mod:`~frt_experiments.simulate.effects`.

With effects that differ by customer (``[heterogeneity]``, presets ``hte`` and ``hte-null``)
the slow arms' CSAT, questions and NRR are the eligible customers' pooled values of
:func:`~frt_experiments.simulate.customer_truth.segment_truth` (quadrature over spend, contact
rate and propensity; per segment and per customer there).

Each expectation over an arm's FRT (and the difficulty ``z``, and the customer effect ``u``)
is by quadrature (:func:`~frt_experiments.simulate.first_response.arm_expectation`), accurate
to about 1e-9 (doubling the nodes changes no value by more), far inside any trial's standard
error. (The two-arm presets were calibrated with the quadrature of
:func:`~frt_experiments.simulate.effects.expected_csat_slow`, within 1e-6 of this one: their
CSAT truth is the calibration target to that precision, e.g. -1.25003% for ``published``.)

Against the first arm (the control) each arm's effect is given as a difference and a relative
change (``arm / control - 1``). The **true slope** of an outcome is the population estimand of
:func:`frt_experiments.stats.iv.two_stage_least_squares` with the arms' indicators as
instruments: with a saturated first stage 2SLS is the weighted least-squares line through the
arms' (mean dose, mean outcome) points, weights the arms' sizes (Angrist and Pischke 2009,
4.1.3), so its probability limit is that line through the arms' expected points with weights
their shares::

    slope = sum_k w_k (d_k - d_bar) (y_k - y_bar) / sum_k w_k (d_k - d_bar)**2

With two arms it is the Wald ratio of their differences. When no arm moves the dose (an A/A
scenario such as ``aa``: every arm's policy and dose are the same) the denominator is 0 and the
slope is **undefined**: :attr:`DoseTruth.slopes` holds NaN (and
:func:`~frt_experiments.stats.iv.two_stage_least_squares` refuses such arms); the effects of
every arm are then exactly 0.

References:
    Angrist, J. D. and Pischke, J.-S. (2009). *Mostly Harmless Econometrics*, 4.1.3 (2SLS with
    a saturated first stage as a weighted regression of group means).
    Wald, A. (1944). On cumulative sums of random variables. Annals of Mathematical Statistics
    15(3), 283-296 (the expected sum of a random number of terms).
    Abramowitz and Stegun (1964), 25.4.29-30 and 25.4.46 (the quadrature, see
    :mod:`~frt_experiments.simulate.first_response`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from frt_experiments.simulate.effects import arm_csat, followup_probability
from frt_experiments.simulate.first_response import arm_expectation
from frt_experiments.simulate.population import expected_nrr
from frt_experiments.simulate.scenario import Scenario, load_scenario

__all__ = ["OUTCOMES", "ArmTruth", "DoseTruth", "dose_truth"]

#: The outcomes whose truth is computed, as :mod:`frt_experiments.analysis` names them.
OUTCOMES = ("csat", "questions", "nrr")


@dataclass(frozen=True)
class ArmTruth:
    """One arm's expected dose and outcomes (see the module docstring for each definition).

    Attributes:
        arm: The arm's name.
        policy: Its first-response policy.
        share: Its share of the assigned customers.
        dose: Expected ``log(1 + business hours)`` per answered conversation.
        csat: Expected satisfied share of ratings.
        questions: Expected conversations per customer.
        nrr: Expected net revenue retention.
    """

    arm: str
    policy: str
    share: float
    dose: float
    csat: float
    questions: float
    nrr: float

    def outcome(self, name: str) -> float:
        """The expected value of ``csat``, ``questions`` or ``nrr``."""
        if name not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, got {name!r}")
        return float(getattr(self, name))


@dataclass(frozen=True)
class DoseTruth:
    """The true per-arm values, effects against the control and 2SLS slopes of a scenario.

    Attributes:
        scenario: The scenario's name.
        arms: Per arm, control first.
        slopes: Per outcome, the true 2SLS slope per unit of dose (NaN when no arm moves the
            dose).
    """

    scenario: str
    arms: tuple[ArmTruth, ...]
    slopes: dict[str, float]

    @property
    def control(self) -> ArmTruth:
        return self.arms[0]

    def arm(self, name: str) -> ArmTruth:
        """The truth of the arm called ``name``."""
        for a in self.arms:
            if a.arm == name:
                return a
        raise KeyError(f"arm {name!r} is not one of {', '.join(a.arm for a in self.arms)}")

    def effect(self, outcome: str, arm: str) -> float:
        """``arm``'s expected ``outcome`` minus the control's."""
        return self.arm(arm).outcome(outcome) - self.control.outcome(outcome)

    def relative(self, outcome: str, arm: str) -> float:
        """``arm``'s expected ``outcome`` over the control's, minus 1."""
        return self.arm(arm).outcome(outcome) / self.control.outcome(outcome) - 1

    def to_pandas(self) -> pd.DataFrame:
        """One row per arm: policy, share, dose, each outcome and its difference and relative
        change against the control."""
        rows: list[dict[str, Any]] = []
        for a in self.arms:
            row: dict[str, Any] = {"arm": a.arm, "policy": a.policy, "share": a.share,
                                   "dose": a.dose}
            for o in OUTCOMES:
                row[o] = a.outcome(o)
                row[f"{o}_diff"] = self.effect(o, a.arm)
                row[f"{o}_rel_diff"] = self.relative(o, a.arm)
            rows.append(row)
        return pd.DataFrame(rows).set_index("arm")

    def summary(self) -> str:
        """The per-arm table and the slopes, as text."""
        with pd.option_context("display.float_format", "{:.6g}".format, "display.width", 140):
            table = self.to_pandas().to_string()
        slopes = ", ".join(f"{o} {s:.6g}" for o, s in self.slopes.items())
        return f"{self!r}\n{table}\ntrue 2SLS slopes per unit of dose: {slopes}"

    def __repr__(self) -> str:
        slopes = ", ".join(f"{o}={s:.4g}" for o, s in self.slopes.items())
        return (f"DoseTruth(scenario={self.scenario!r}, arms={[a.arm for a in self.arms]}, "
                f"slopes: {slopes})")

    def _repr_html_(self) -> str:
        return (f"<p>{self!r}</p>" + self.to_pandas().to_html(float_format="{:.6g}".format))


def _arm(scenario: Scenario, position: int, share: float) -> ArmTruth:
    sc, e = scenario, scenario.effects
    frt, c, r = sc.frt, sc.conversations, sc.revenue
    policy = frt.arm_policies()[position]
    later = position >= 1
    q_mult = e.questions if later else 1.0
    churn_mult = e.churn if later else 1.0
    dose = arm_expectation(lambda h, z: np.log1p(h), frt, policy)
    csat = arm_csat(sc, policy, sc.csat.intercept, sc.csat.slope)

    def follow(h: np.ndarray) -> np.ndarray:
        return followup_probability(h, followup=c.followup, slope=c.followup_slope)

    rho = arm_expectation(lambda h, z: follow(h), frt, policy) if c.followup > 0 else 0.0
    primaries = sc.population.contact_rate * sc.window.months * q_mult
    questions = primaries / (1 - rho)
    survival = 1.0
    eta = r.churn_per_log_hour
    if eta != 0:
        a = arm_expectation(lambda h, z: np.exp(-eta * np.log1p(h)) * (1 - follow(h)), frt,
                            policy)
        b = arm_expectation(lambda h, z: np.exp(-eta * np.log1p(h)) * follow(h), frt, policy)
        phi = a / (1 - b)  # E[exp(-eta sum x)] over one chain
        k = sc.population.contact_shape
        survival = (1 + primaries * (1 - phi) / k) ** (-k)
    nrr = expected_nrr(sc, churn_multiplier=churn_mult) * survival
    if later and sc.heterogeneity.active:
        # effects that differ by customer: the eligible customers' pooled truth by quadrature
        # over their spend, contact rate and propensity (customer_truth module docstring)
        from frt_experiments.simulate.customer_truth import overall_truth  # noqa: PLC0415

        pooled = overall_truth(sc, position)
        csat, questions, nrr = pooled["csat"], pooled["questions"], pooled["nrr"]
    return ArmTruth(e.arms[position], policy, share, dose, csat, questions, nrr)


def _slope(w: np.ndarray, d: np.ndarray, y: np.ndarray) -> float:
    """The weighted least-squares slope of ``y`` on ``d`` (NaN when ``d`` does not vary)."""
    dc = d - w @ d
    sxx = float(w @ dc**2)
    if not sxx > 1e-24:
        return math.nan
    return float(w @ (dc * (y - w @ y)) / sxx)


def dose_truth(scenario: str | Path | Scenario = "dose") -> DoseTruth:
    """Each arm's expected dose and outcomes, its effects against the control and the true
    2SLS slope per outcome (module docstring).

    Args:
        scenario: A preset name, a TOML path or a :class:`Scenario` (any number of arms; an
            A/A scenario gives effects 0 and NaN slopes).

    Example:
        >>> from frt_experiments.simulate import dose_truth
        >>> truth = dose_truth("published")
        >>> round(truth.relative("csat", "one_business_day"), 4)
        -0.0125
        >>> round(truth.relative("questions", "one_business_day"), 4)
        -0.04
    """
    sc = load_scenario(scenario)
    weights = np.asarray(sc.effects.weights, dtype=float)
    shares = weights / weights.sum()
    arms = tuple(_arm(sc, i, float(shares[i])) for i in range(len(sc.effects.arms)))
    d = np.array([a.dose for a in arms])
    slopes = {o: _slope(shares, d, np.array([a.outcome(o) for a in arms])) for o in OUTCOMES}
    return DoseTruth(sc.name, arms, slopes)
