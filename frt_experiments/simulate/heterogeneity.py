"""Effects that differ by customer: the ``[heterogeneity]`` section of a scenario.

Every arm but the first (the control) gets, per customer, a questions multiplier, a churn
multiplier and a shift of the satisfaction logit that depend on the customer's segment ``g``,
monthly spend ``s`` and contact rate ``c`` (conversations per month, the latent rate of
:mod:`~frt_experiments.simulate.population`)::

    ls = log(s / population.spend_median),  lc = log(c / population.contact_rate)
    questions multiplier = effects.questions x exp(segment_questions[g] + spend_questions ls
                                                   + rate_questions lc)
    churn multiplier     = effects.churn x exp(segment_churn[g] + spend_churn ls
                                               + rate_churn lc)
    satisfaction logit shift = csat_shift + segment_csat[g] + spend_csat ls + rate_csat lc

The satisfaction shift adds to the logit of :func:`~frt_experiments.simulate.effects.
satisfaction_probability` for every conversation of the customer in a slow arm, beside the
dose-response to the FRT it got; the questions multiplier scales the customer's primary
conversations (follow-ups then come as in the homogeneous model); the churn multiplier scales
the monthly churn probability as ``effects.churn`` does. With every setting 0 (the default) the
simulator takes the homogeneous code path, draw for draw (the presets' outputs are unchanged).
Spend is the customer's ``monthly_spend`` as the tables hold it (to the cent; a spend of 0.00
is taken as half a cent).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from frt_experiments.simulate.scenario import Scenario

__all__ = ["Modifiers", "customer_modifiers"]

_MIN_SPEND = 0.005


@dataclass(frozen=True)
class Modifiers:
    """A slow arm's per-customer effect modifiers (numpy arrays of one length).

    Attributes:
        csat_shift: Added to the satisfaction logit of the customer's conversations.
        questions: The customer's questions multiplier (``effects.questions`` included).
        churn: The customer's churn multiplier (``effects.churn`` included).
    """

    csat_shift: np.ndarray
    questions: np.ndarray
    churn: np.ndarray


def _per_segment(values: tuple[float, ...], segment: np.ndarray) -> np.ndarray:
    if not values:
        return np.zeros(segment.shape)
    return np.asarray(values, dtype=float)[segment]


def customer_modifiers(scenario: Scenario, segment: np.ndarray, spend: np.ndarray,
                       rate: np.ndarray) -> Modifiers:
    """The slow arms' modifiers of customers with given segment (index into
    ``population.segments``), monthly spend and contact rate (module docstring)."""
    h, p, e = scenario.heterogeneity, scenario.population, scenario.effects
    segment = np.asarray(segment, dtype=np.int64)
    ls = np.log(np.maximum(np.asarray(spend, dtype=float), _MIN_SPEND) / p.spend_median)
    with np.errstate(divide="ignore"):
        lc = np.log(np.asarray(rate, dtype=float) / p.contact_rate) if p.contact_rate > 0 \
            else np.zeros(segment.shape)
    lc = np.where(np.isfinite(lc), lc, 0.0) if p.contact_rate > 0 else lc

    def linear(seg: tuple[float, ...], b_spend: float, b_rate: float) -> np.ndarray:
        out = _per_segment(seg, segment)
        if b_spend != 0:
            out = out + b_spend * ls
        if b_rate != 0:
            out = out + b_rate * lc
        return out

    shift = h.csat_shift + linear(h.segment_csat, h.spend_csat, h.rate_csat)
    questions = e.questions * np.exp(linear(h.segment_questions, h.spend_questions,
                                            h.rate_questions))
    churn = e.churn * np.exp(linear(h.segment_churn, h.spend_churn, h.rate_churn))
    return Modifiers(shift, questions, churn)
