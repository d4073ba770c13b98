"""Customer draws against their parameters, tolerances from the sampling standard error."""

from __future__ import annotations

import numpy as np
import pytest

from frt_experiments.simulate import load_scenario
from frt_experiments.simulate.calibrate import _ratio_se
from frt_experiments.simulate.population import draw_population, expected_nrr, revenue_end

N = 200_000


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("published")


@pytest.fixture(scope="module")
def pop(scenario):
    return draw_population(scenario, N, np.random.default_rng(11))


def test_spend_is_lognormal_with_the_scenario_median_and_sigma(scenario, pop) -> None:
    p = scenario.population
    logs = np.log(pop.spend)
    assert abs(logs.mean() - np.log(p.spend_median)) < 4 * p.spend_sigma / np.sqrt(N)
    # SE of a normal sample's sd: sigma / sqrt(2 n)
    assert abs(logs.std(ddof=1) - p.spend_sigma) < 4 * p.spend_sigma / np.sqrt(2 * N) + 1e-4


def test_contact_rate_is_gamma_with_the_scenario_mean_and_shape(scenario, pop) -> None:
    p = scenario.population
    sd = p.contact_rate / np.sqrt(p.contact_shape)
    assert abs(pop.rate.mean() - p.contact_rate) < 4 * sd / np.sqrt(N)
    # Var of a gamma = mean^2 / shape; SE of the sample variance from 20 batches
    v = np.array([b.var(ddof=1) for b in np.array_split(pop.rate, 20)])
    assert abs(v.mean() - sd**2) < 4 * v.std(ddof=1) / np.sqrt(20)


def test_pre_period_counts_are_overdispersed_negative_binomial(scenario, pop) -> None:
    p, t = scenario.population, scenario.window.pre_months
    mu = p.contact_rate * t
    expected_var = mu + mu**2 / p.contact_shape  # gamma-Poisson mixture
    v = np.array([b.var(ddof=1) for b in np.array_split(pop.pre_conversations, 20)])
    assert abs(v.mean() - expected_var) < 4 * v.std(ddof=1) / np.sqrt(20)
    assert v.mean() > 1.5 * mu  # clearly over-dispersed against Poisson


def test_pre_period_survey_response_and_propensity(scenario, pop) -> None:
    c = scenario.conversations
    n_conv = pop.pre_conversations.sum()
    share = pop.pre_rated.sum() / n_conv
    assert abs(share - c.survey_response) < 4 * np.sqrt(c.survey_response * 0.75 / n_conv)
    sd = scenario.population.satisfaction_sd
    assert abs(pop.propensity.std(ddof=1) - sd) < 4 * sd / np.sqrt(2 * N) + 1e-4
    # satisfied customers (high propensity) are satisfied more often in the pre-period
    rated = pop.pre_rated > 0
    rate = pop.pre_satisfied[rated] / pop.pre_rated[rated]
    assert np.corrcoef(rate, pop.propensity[rated])[0, 1] > 0.2


def test_timezone_shares_follow_weights(scenario, pop) -> None:
    w = np.asarray(scenario.population.timezone_weights)
    w = w / w.sum()
    share = np.bincount(pop.timezone, minlength=w.size) / N
    assert np.all(np.abs(share - w) < 4 * np.sqrt(w * (1 - w) / N))


@pytest.mark.parametrize("churn", [1.0, 1.5])
def test_nrr_matches_its_closed_form(scenario, pop, churn: float) -> None:
    end = revenue_end(scenario, pop.spend, np.full(N, churn), np.random.default_rng(3))
    nrr, se = _ratio_se(end, pop.spend)
    assert abs(nrr - expected_nrr(scenario, churn_multiplier=churn)) < 4 * se
    assert 0.9 < expected_nrr(scenario) < 1.0
