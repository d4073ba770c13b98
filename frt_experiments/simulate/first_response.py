"""First-response times of the two arms, in business hours, and their closed-form distribution.

Fast arm: ``H ~ LogNormal(log m, s)`` business hours (``frt.fast_median_hours``,
``frt.fast_sigma``).

Slow arm (``frt.slow_policy = "one_business_day"``): the desk holds deferred conversations and
answers them as the one-business-day deadline approaches. The deadline of
:func:`frt_experiments.policy.default_policies` ``["one_business_day"]`` (same clock time on
the next business day; the close of the next business day for a conversation created while
the desk is closed) is always ``D = close_hour - open_hour`` business hours after creation, so
the model works in business hours::

    S ~ LogNormal(log m_S, s_S)        slack (frt.slow_slack_median_hours, slow_slack_sigma)
    L ~ Bernoulli(q)                   slipped past the deadline (frt.slow_late_share)
    FRT = max(H, D - S)   if not L     answered S business hours before the deadline
    FRT = max(H, D + S)   if L         answered S business hours after it

with ``H`` a fast-arm draw: a held conversation is never answered sooner than the fast arm
would have answered it. ``H``, ``S`` and ``L`` are independent, so the distribution function
is, for ``x >= 0``, with ``F_H`` and ``F_S`` the log-normal CDFs (``F_S(y) = 0`` for
``y <= 0``)::

    P(FRT <= x) = F_H(x) [(1 - q) (1 - F_S(D - x)) + q F_S(x - D)]

and the share answered within the deadline is ``P(FRT <= D) = (1 - q) F_H(D)``: the late
share is the slipped share plus the conversations the fast arm itself would have answered
after ``D``. For the published preset (``m = 2, s = 0.6, D = 8, q = 0.05``) that is
``0.95 x Phi(log(4) / 0.6) = 0.9401``; the median slow FRT is about ``D - m_S = 7`` business
hours.

``frt.slow_policy = "fast"`` gives the slow arm the fast arm's distribution (A/A).

References:
    Johnson, N. L., Kotz, S. and Balakrishnan, N. (1994). *Continuous Univariate
    Distributions*, vol. 1, 2nd ed., ch. 14 (the log-normal distribution).
    Zendesk Help Center, "Defining and using SLA policies" (first reply time targets in
    business hours, the convention of :mod:`frt_experiments.policy`).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from frt_experiments.simulate.scenario import Frt

__all__ = ["draw_frt_hours", "slow_frt_cdf", "slow_share_within_deadline"]


def _lognormal_cdf(x: np.ndarray, median: float, sigma: float) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore"):
        logs = np.log(np.where(x > 0, x, 1.0) / median)
    z = np.where(logs >= 0, np.inf, -np.inf) if sigma == 0 else logs / sigma
    return np.where(x > 0, norm.cdf(z), 0.0)


def draw_frt_hours(frt: Frt, slow: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Business-hour FRT per conversation (``slow`` marks the slow arm's conversations).

    The fast-arm draws come first (one standard normal per conversation), then, only for the
    slow arm's conversations under ``slow_policy = "one_business_day"``, one normal (slack) and
    one uniform (slipped) per slow conversation, so A/A draws are those of the fast arm.
    """
    m = slow.size
    hours = frt.fast_median_hours * np.exp(frt.fast_sigma * rng.standard_normal(m))
    k = int(np.count_nonzero(slow))
    if frt.slow_policy == "one_business_day" and k:
        slack = frt.slow_slack_median_hours * np.exp(frt.slow_slack_sigma
                                                     * rng.standard_normal(k))
        late = rng.random(k) < frt.slow_late_share
        held = frt.deadline_hours + np.where(late, slack, -slack)
        hours[slow] = np.maximum(hours[slow], held)
    return hours


def slow_frt_cdf(hours: np.ndarray | float, frt: Frt) -> np.ndarray:
    """``P(FRT <= hours)`` for the slow arm's business-hour FRT (closed form, module doc)."""
    x = np.asarray(hours, dtype=float)
    f_h = _lognormal_cdf(x, frt.fast_median_hours, frt.fast_sigma)
    if frt.slow_policy == "fast":
        return f_h
    d, q = frt.deadline_hours, frt.slow_late_share
    m_s, s_s = frt.slow_slack_median_hours, frt.slow_slack_sigma
    early = 1.0 - _lognormal_cdf(d - x, m_s, s_s)
    late = _lognormal_cdf(x - d, m_s, s_s)
    return f_h * ((1.0 - q) * early + q * late)


def slow_share_within_deadline(frt: Frt) -> float:
    """Share of the slow arm answered within its one-business-day deadline: ``(1-q) F_H(D)``."""
    f_h = float(_lognormal_cdf(np.array(frt.deadline_hours), frt.fast_median_hours,
                               frt.fast_sigma))
    if frt.slow_policy == "fast":
        return f_h
    return (1.0 - frt.slow_late_share) * f_h
