"""Synthetic customers: spend, contact rate, satisfaction propensity, revenue and pre-period.

Each customer draws (all vectorised, one generator):

- monthly spend ~ LogNormal(log(spend_median), spend_sigma), to the cent (heavy right tail);
- contact rate ~ Gamma(shape=k, mean=contact_rate) conversations per month, so conversation
  counts are negative binomial (over-dispersed: Var = mu + mu^2/k);
- satisfaction propensity u ~ N(0, satisfaction_sd^2) on the logit scale (see
  :mod:`~frt_experiments.simulate.effects`), and a log handle-time factor ~ N(0, handle_sd^2);
- time zone and segment from the scenario's weights;
- pre-period covariates from the *same* rate, propensity and handle factor, so they correlate
  with in-period behaviour as in real data (what CUPED exploits).

Revenue over the window: ``revenue_start`` is the monthly spend; a customer churns with
probability ``1 - (1 - churn * m)^months`` (``m`` the arm's churn multiplier), contracts by
``contraction_size`` with probability ``1 - (1 - contraction)^months`` and expands by
``expansion_size`` with probability ``1 - (1 - expansion)^months``, so expected NRR is
``(1 - P_churn) (1 - c P_contract) (1 + e P_expand)``. With ``revenue.churn_per_log_hour =
eta`` each conversation's FRT adds ``eta log(1 + business hours)`` to the churn hazard (the
survival is multiplied by ``exp(-eta sum log(1 + h))``, :class:`RevenueEvents`); the uniforms
are drawn at the same place either way.

References:
    Cameron, A. C. and Trivedi, P. K. (2013). *Regression Analysis of Count Data*, 2nd ed.,
    section 4.2 (gamma-Poisson mixture, negative binomial).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from frt_experiments.simulate.effects import satisfaction_probability
from frt_experiments.simulate.scenario import Scenario

__all__ = ["Population", "draw_population", "expected_nrr", "revenue_end"]


@dataclass(frozen=True)
class Population:
    """Per-customer latent draws (numpy arrays of equal length)."""

    spend: np.ndarray
    rate: np.ndarray
    propensity: np.ndarray
    handle_factor: np.ndarray
    timezone: np.ndarray  # index into scenario.population.timezones
    segment: np.ndarray  # index into scenario.population.segments
    pre_conversations: np.ndarray
    pre_rated: np.ndarray
    pre_satisfied: np.ndarray
    pre_handle_seconds: np.ndarray


def _choice(rng: np.random.Generator, weights: tuple[float, ...], n: int) -> np.ndarray:
    cdf = np.cumsum(weights) / np.sum(weights)
    return np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(weights) - 1)


def draw_population(scenario: Scenario, n: int, rng: np.random.Generator) -> Population:
    """Draw ``n`` customers' latent attributes and pre-period covariates."""
    p, c, cs = scenario.population, scenario.conversations, scenario.csat
    spend = np.round(p.spend_median * np.exp(p.spend_sigma * rng.standard_normal(n)), 2)
    rate = rng.gamma(p.contact_shape, p.contact_rate / p.contact_shape, n)
    propensity = p.satisfaction_sd * rng.standard_normal(n)
    handle_factor = np.exp(p.handle_sd * rng.standard_normal(n))
    tz = _choice(rng, p.timezone_weights, n)
    seg = _choice(rng, p.segment_weights, n)
    pre_n = rng.poisson(rate * scenario.window.pre_months)
    pre_rated = rng.binomial(pre_n, c.survey_response)
    p_pre = satisfaction_probability(np.full(n, scenario.frt.fast_median_hours), propensity,
                                     intercept=cs.intercept, slope=cs.slope)
    pre_sat = rng.binomial(pre_rated, p_pre)
    owner = np.repeat(np.arange(n), pre_n)
    each = (c.handle_median_minutes * 60 * handle_factor[owner]
            * np.exp(c.handle_sigma * rng.standard_normal(owner.size)))
    pre_handle = np.round(np.bincount(owner, weights=np.round(each), minlength=n))
    return Population(spend, rate, propensity, handle_factor, tz, seg, pre_n.astype(float),
                      pre_rated.astype(float), pre_sat.astype(float), pre_handle)


def _window_prob(monthly: np.ndarray | float, months: float) -> np.ndarray:
    return 1.0 - (1.0 - np.minimum(monthly, 1.0)) ** months


@dataclass(frozen=True)
class RevenueEvents:
    """The uniforms that decide each customer's churn, contraction and expansion, drawn before
    the conversations (so the draws stay in their place) and read after them (so churn can
    respond to the FRT the customer got)."""

    churn: np.ndarray
    contraction: np.ndarray
    expansion: np.ndarray

    def revenue_end(self, scenario: Scenario, start: np.ndarray, churn_multiplier: np.ndarray,
                    log_hours: np.ndarray | None = None) -> np.ndarray:
        """Recurring revenue at the end of the window (0 when churned), to the cent.

        ``log_hours``: per customer, the sum of ``log(1 + business hours)`` of the FRT of its
        conversations; with ``revenue.churn_per_log_hour = eta`` the customer survives the
        window with probability ``(1 - churn x multiplier)**months x exp(-eta log_hours)``
        (:mod:`~frt_experiments.simulate.effects`).
        """
        r, t = scenario.revenue, scenario.window.months
        p_churn = _window_prob(r.churn * churn_multiplier, t)
        if log_hours is not None and r.churn_per_log_hour != 0:
            p_churn = 1.0 - (1.0 - p_churn) * np.exp(-r.churn_per_log_hour * log_hours)
        churned = self.churn < p_churn
        contracted = self.contraction < _window_prob(r.contraction, t)
        expanded = self.expansion < _window_prob(r.expansion, t)
        factor = (1 - r.contraction_size * contracted) * (1 + r.expansion_size * expanded)
        return np.round(start * factor * ~churned, 2)


def draw_revenue_events(n: int, rng: np.random.Generator) -> RevenueEvents:
    """Three uniforms per customer: churn, contraction, expansion (in that order)."""
    return RevenueEvents(rng.random(n), rng.random(n), rng.random(n))


def revenue_end(scenario: Scenario, start: np.ndarray, churn_multiplier: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    """Recurring revenue at the end of the window (0 when churned), to the cent."""
    return draw_revenue_events(start.size, rng).revenue_end(scenario, start, churn_multiplier)


def expected_nrr(scenario: Scenario, *, churn_multiplier: float = 1.0) -> float:
    """Expected NRR (closed form, spend independent of the revenue events)."""
    r, t = scenario.revenue, scenario.window.months
    return float((1 - _window_prob(r.churn * churn_multiplier, t))
                 * (1 - r.contraction_size * _window_prob(r.contraction, t))
                 * (1 + r.expansion_size * _window_prob(r.expansion, t)))
