"""First-response times of the arms, in business hours, and their distribution.

Every arm has a policy (``frt.policies``, parallel to ``effects.arms``; by default ``"fast"``
and ``frt.slow_policy``). A ``"fast"`` arm answers at the fast draw ``H ~ LogNormal(log m, s)``
business hours (``frt.fast_median_hours``, ``frt.fast_sigma``).

An arm with a deadline ``D`` in business hours (``"4h"`` is 4, ``"one_business_day"`` is one
open day ``close_hour - open_hour``, ``"two_business_days"`` two: the deadline of
:func:`frt_experiments.policy.policy_from_spec` is that many business hours after creation)
holds deferred conversations and answers them as the deadline approaches::

    S ~ LogNormal(log m_S, s_S)        slack (frt.slow_slack_median_hours, slow_slack_sigma)
    L ~ Bernoulli(q)                   slipped past the deadline (frt.slow_late_share)
    FRT = max(H, D - S)   if not L     answered S business hours before the deadline
    FRT = max(H, D + S)   if L         answered S business hours after it

with ``H`` a fast draw: a held conversation is never answered sooner than the fast arm would
have answered it. ``H``, ``S`` and ``L`` are independent, so the distribution function is, for
``x >= 0``, with ``F_H`` and ``F_S`` the log-normal CDFs (``F_S(y) = 0`` for ``y <= 0``)::

    P(FRT <= x) = F_H(x) [(1 - q) (1 - F_S(D - x)) + q F_S(x - D)]

and the share answered within the deadline is ``P(FRT <= D) = (1 - q) F_H(D)``: the late
share is the slipped share plus the conversations the fast arm itself would have answered
after ``D``. For the published preset (``m = 2, s = 0.6, D = 8, q = 0.05``) that is
``0.95 x Phi(log(4) / 0.6) = 0.9401``; the median slow FRT is about ``D - m_S = 7`` business
hours. ``frt.slow_policy = "fast"`` gives the slow arm the fast arm's distribution (A/A).

Difficulty (``frt.difficulty_sigma = k > 0``): each conversation has a difficulty ``z ~ N(0,
1)`` and its fast draw is ``H = m exp(s e + k z)``, so ``H`` is log-normal with sigma
``sqrt(s**2 + k**2)`` and the formulas above hold with that sigma; ``z`` also lowers
satisfaction (``csat.difficulty``, :mod:`~frt_experiments.simulate.effects`), which makes the
observational FRT curve confounded.

Draws: per conversation one standard normal for ``H`` (after one for ``z`` when difficulty is
on), then, for the held conversations of every arm together in conversation order, one normal
(slack) and one uniform (slipped) each. Two arms without difficulty draw exactly as before
K arms.

:func:`arm_expectation` integrates a function of the FRT (and ``z``) over an arm's
distribution: Gauss-Hermite quadrature over ``z`` (24 nodes) and ``log H`` (64); for a held
arm ``G(t) = E[f(max(H, t))] = Phi(z_t) f(t) + int_{z_t}^inf f(m e^{s e}) phi(e) de`` per slack
node ``t = D -/+ S`` (``z_t = log(t / m) / s``), the integral over the part of ``H`` above the
kink at ``t`` by Gauss-Legendre on ``[z_t, 12]`` (48 nodes). The early branch is split at
``S = D``, where ``t`` reaches 0 and ``G`` turns constant (``E[f(H)]``): Gauss-Legendre over
the slack's standard-normal scale on ``[-12, log(D / m_S) / s_S]`` plus ``P(S >= D) E[f(H)]``;
the late branch is Gauss-Hermite over ``log S`` (64). No rule integrates across a kink, and
doubling any of the node counts changes the ``dose`` preset's truth by less than 1e-9
(Gauss-Hermite across the kink at ``S = D``, as :func:`~frt_experiments.simulate.effects.
expected_csat_slow` does, is off by about 2e-5 for a 4-business-hour deadline).

References:
    Johnson, N. L., Kotz, S. and Balakrishnan, N. (1994). *Continuous Univariate
    Distributions*, vol. 1, 2nd ed., ch. 14 (the log-normal distribution).
    Zendesk Help Center, "Defining and using SLA policies" (first reply time targets in
    business hours, the convention of :mod:`frt_experiments.policy`).
    Abramowitz, M. and Stegun, I. A. (1964). *Handbook of Mathematical Functions*, 25.4.46
    (Gauss-Hermite quadrature) and 25.4.29-30 (Gauss-Legendre quadrature).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.stats import norm

from frt_experiments.simulate.scenario import Frt

__all__ = ["arm_expectation", "deadlines", "draw_frt_hours", "frt_cdf", "share_within_deadline",
           "slow_frt_cdf", "slow_share_within_deadline"]

_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(64)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()
_Z_NODES, _Z_WEIGHTS = np.polynomial.hermite_e.hermegauss(24)
_Z_WEIGHTS = _Z_WEIGHTS / _Z_WEIGHTS.sum()
_LEG_X, _LEG_W = np.polynomial.legendre.leggauss(48)
_Z_MAX = 12.0  # standard normal mass above it: 2e-33


def _lognormal_cdf(x: np.ndarray, median: float, sigma: float) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore"):
        logs = np.log(np.where(x > 0, x, 1.0) / median)
    z = np.where(logs >= 0, np.inf, -np.inf) if sigma == 0 else logs / sigma
    return np.where(x > 0, norm.cdf(z), 0.0)


def _fast_sigma(frt: Frt) -> float:
    """Sigma of the fast draw's log, the difficulty included."""
    if frt.difficulty_sigma == 0:
        return frt.fast_sigma
    return float(np.hypot(frt.fast_sigma, frt.difficulty_sigma))


def deadlines(frt: Frt, arm: np.ndarray) -> np.ndarray:
    """Each conversation's deadline in business hours from its arm's position in
    ``effects.arms`` (NaN for a ``"fast"`` arm)."""
    hours = [frt.policy_hours(p) for p in frt.arm_policies()]
    table = np.array([np.nan if h is None else h for h in hours])
    return table[arm]


def draw_frt_hours(frt: Frt, slow: np.ndarray, rng: np.random.Generator, *,
                   deadline: np.ndarray | None = None,
                   difficulty: np.ndarray | None = None) -> np.ndarray:
    """Business-hour FRT per conversation.

    Args:
        frt: The scenario's ``[frt]``.
        slow: True for conversations of the second arm (used only without ``deadline``).
        rng: The generator.
        deadline: Each conversation's deadline in business hours, NaN where its arm is
            ``"fast"`` (:func:`deadlines`); default: ``slow`` conversations held to one
            business day when ``slow_policy = "one_business_day"``.
        difficulty: Each conversation's difficulty ``z`` (drawn by the caller), scaling its
            fast draw by ``exp(difficulty_sigma * z)``.

    The fast draws come first (one standard normal per conversation), then, only for the held
    conversations, one normal (slack) and one uniform (slipped) per held conversation, so A/A
    draws are those of the fast arm.
    """
    m = slow.size
    if difficulty is None or frt.difficulty_sigma == 0:
        hours = frt.fast_median_hours * np.exp(frt.fast_sigma * rng.standard_normal(m))
    else:
        hours = frt.fast_median_hours * np.exp(frt.fast_sigma * rng.standard_normal(m)
                                               + frt.difficulty_sigma * difficulty)
    if deadline is None:
        held_mask = slow if frt.slow_policy == "one_business_day" else np.zeros(m, bool)
        deadline = np.where(held_mask, frt.deadline_hours, np.nan)
    held_mask = np.isfinite(deadline)
    k = int(np.count_nonzero(held_mask))
    if k:
        slack = frt.slow_slack_median_hours * np.exp(frt.slow_slack_sigma
                                                     * rng.standard_normal(k))
        late = rng.random(k) < frt.slow_late_share
        held = deadline[held_mask] + np.where(late, slack, -slack)
        hours[held_mask] = np.maximum(hours[held_mask], held)
    return hours


def frt_cdf(hours: np.ndarray | float, frt: Frt, policy: str) -> np.ndarray:
    """``P(FRT <= hours)`` for an arm with ``policy`` (closed form, module docstring)."""
    x = np.asarray(hours, dtype=float)
    f_h = _lognormal_cdf(x, frt.fast_median_hours, _fast_sigma(frt))
    d = frt.policy_hours(policy)
    if d is None:
        return f_h
    q, m_s, s_s = frt.slow_late_share, frt.slow_slack_median_hours, frt.slow_slack_sigma
    early = 1.0 - _lognormal_cdf(d - x, m_s, s_s)
    late = _lognormal_cdf(x - d, m_s, s_s)
    return f_h * ((1.0 - q) * early + q * late)


def share_within_deadline(frt: Frt, policy: str, hours: float | None = None) -> float:
    """Share of an arm answered within ``hours`` (default: its own deadline, where the
    closed form is ``(1 - q) F_H(D)``; a ``"fast"`` arm needs ``hours``)."""
    d = frt.policy_hours(policy)
    if hours is None:
        if d is None:
            raise ValueError("hours: a 'fast' arm has no deadline, give the hours")
        hours = d
    return float(frt_cdf(np.array(hours), frt, policy))


def slow_frt_cdf(hours: np.ndarray | float, frt: Frt) -> np.ndarray:
    """``P(FRT <= hours)`` for the slow arm (``frt.slow_policy``) of a two-arm scenario."""
    return frt_cdf(hours, frt, frt.slow_policy)


def slow_share_within_deadline(frt: Frt) -> float:
    """Share of the slow arm answered within its one-business-day deadline: ``(1-q) F_H(D)``."""
    return share_within_deadline(frt, frt.slow_policy, frt.deadline_hours)


def arm_expectation(func: Callable[[np.ndarray, np.ndarray], np.ndarray], frt: Frt,
                    policy: str, *, difficulty: bool = False) -> float:
    """``E[func(FRT, z)]`` over an arm's business-hour FRT and the difficulty ``z``.

    ``func(h, z)`` gets arrays of one shape (``z`` all 0 unless ``difficulty`` or
    ``frt.difficulty_sigma`` is set) and returns values of that shape. Quadrature as in the
    module docstring: 24 Gauss-Hermite nodes over ``z``, 64 over ``log H`` (fast) or over
    ``log S`` with 48 Gauss-Legendre nodes above each kink (held).
    """
    if difficulty or frt.difficulty_sigma != 0:
        zn, zw = _Z_NODES, _Z_WEIGHTS
    else:
        zn, zw = np.zeros(1), np.ones(1)
    med = frt.fast_median_hours * np.exp(frt.difficulty_sigma * zn)  # median of H given z
    sigma = frt.fast_sigma
    d = frt.policy_hours(policy)
    if d is None:
        h = med[:, None] * np.exp(sigma * _NODES)[None, :]
        vals = func(h, np.broadcast_to(zn[:, None], h.shape))
        return float(zw @ (vals @ _WEIGHTS))
    q, m_s, s_s = frt.slow_late_share, frt.slow_slack_median_hours, frt.slow_slack_sigma
    if s_s == 0:
        early = _held(func, np.array([d - m_s]), med, sigma, zn)[:, 0]
        late = _held(func, np.array([d + m_s]), med, sigma, zn)[:, 0] if q > 0 else 0.0
        return float(zw @ ((1 - q) * early + q * late))
    # early: a slack beyond the deadline (S >= D) answers at H itself; below it, Gauss-Legendre
    # over the slack's standard-normal scale on [-12, w_D] (no rule across the kink at S = D)
    w_d = float(np.clip(np.log(d / m_s) / s_s, -_Z_MAX, _Z_MAX))
    half = (w_d + _Z_MAX) / 2
    w = -_Z_MAX + half * (_LEG_X + 1)
    below = _held(func, d - m_s * np.exp(s_s * w), med, sigma, zn) @ (half * _LEG_W * norm.pdf(w))
    at_h = _held(func, np.zeros(1), med, sigma, zn)[:, 0]  # E[f(H)]: max(H, t <= 0) = H
    early = below + norm.sf(w_d) * at_h
    slack = m_s * np.exp(s_s * _NODES)
    late = _WEIGHTS @ _held(func, d + slack, med, sigma, zn).T if q > 0 else 0.0
    return float(zw @ ((1 - q) * early + q * late))


def _held(func: Callable[[np.ndarray, np.ndarray], np.ndarray], t: np.ndarray,
          med: np.ndarray, sigma: float, zn: np.ndarray) -> np.ndarray:
    """``E_H[func(max(H, t), z)]`` per difficulty node and ``t``: shape ``(z, t)``."""
    zz = np.broadcast_to(zn[:, None], (zn.size, t.size))
    tt = np.broadcast_to(t[None, :], zz.shape)
    if sigma == 0:
        return func(np.maximum(med[:, None], tt), zz)
    with np.errstate(divide="ignore"):
        zt = np.where(tt > 0, np.log(np.where(tt > 0, tt, 1.0) / med[:, None]) / sigma, -np.inf)
    lo = np.clip(zt, -_Z_MAX, _Z_MAX)
    half = (_Z_MAX - lo)[..., None] / 2
    e = lo[..., None] + half * (_LEG_X + 1)
    h = med[:, None, None] * np.exp(sigma * e)
    tail = np.sum(half * _LEG_W * norm.pdf(e)
                  * func(h, np.broadcast_to(zz[..., None], h.shape)), axis=-1)
    return norm.cdf(zt) * func(np.maximum(tt, 0.0), zz) + tail
