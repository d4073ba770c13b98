"""Confidence distributions against closed forms and the analysis' own tests."""

from __future__ import annotations

import math
from typing import Any

import pytest
from scipy import stats

from frt_experiments.analysis import analyze
from frt_experiments.simulate import simulate
from frt_experiments.stats.confidence import fieller_below, log_ratio_below, normal_below
from frt_experiments.stats.ratio import fieller_interval


def test_normal_below_is_the_normal_cdf_and_its_quantiles_are_the_bounds() -> None:
    # closed form: Phi(-1.959964...) = 0.025; the one-sided 97.5% lower bound sits at 2.5%
    est, se = 0.013, 0.004
    low = est - stats.norm.ppf(0.975) * se
    assert normal_below(est, se, low) == pytest.approx(0.025, abs=1e-12)
    assert normal_below(est, se, est) == pytest.approx(0.5, abs=1e-15)
    assert normal_below(est, se, 0.0) == pytest.approx(stats.norm.cdf(-est / se), abs=1e-15)


def test_t_form_matches_the_t_interval() -> None:
    est, se, df = -0.2, 0.15, 7.5
    low = est - stats.t.ppf(0.95, df) * se
    assert normal_below(est, se, low, df=df) == pytest.approx(0.05, abs=1e-12)


def test_log_ratio_form_is_the_normal_on_the_log_scale() -> None:
    r, s = -0.02, 0.01
    bound = math.expm1(math.log1p(r) - stats.norm.ppf(0.975) * s)
    assert log_ratio_below(r, s, bound) == pytest.approx(0.025, abs=1e-12)


def test_fieller_form_is_alpha_at_fieller_bound() -> None:
    # the quantiles of Fieller's confidence distribution are Fieller's one-sided bounds
    kw = {"var_control": 4e-5, "var_treatment": 5e-5, "cov": 1e-5}
    low, _ = fieller_interval(0.8, 0.79, **kw, df=40.0, alpha=0.05, alternative="greater")
    assert fieller_below(0.8, 0.79, low, **kw, df=40.0) == pytest.approx(0.05, abs=1e-12)


def test_fieller_form_at_the_margin_is_the_analysis_non_inferiority_p_value() -> None:
    # frt analyze's CSAT non-inferiority test on normal theory (Fieller's pivot at the margin):
    # without CUPED the arms are independent, so the pivot's variances are the result's own
    trial = simulate("published", customers=4000, rng=3)
    margin = -0.02
    result = analyze(trial.customers, trial.conversations, trial.assignments,
                     csat_margin=margin, cuped=False, inference="normal", diagnostics=False)
    csat = next(m for m in result.metrics if m.metric == "csat")
    test = dict(result.margin_tests)["csat"]
    p = fieller_below(csat.control, csat.treatment, margin, var_control=csat.var_control,
                      var_treatment=csat.se ** 2 - csat.var_control, df=csat.df)
    assert 1e-6 < test.p_value < 1 - 1e-6  # a value, not a saturated tail
    assert p == pytest.approx(test.p_value, abs=1e-12)


@pytest.mark.parametrize(("call", "match"), [
    (lambda: normal_below(0.0, -1.0, 0.0), "se must be >= 0"),
    (lambda: normal_below(math.nan, 1.0, 0.0), "finite"),
    (lambda: normal_below(0.0, 1.0, 0.0, df=0.0), "df must be positive"),
    (lambda: log_ratio_below(-1.0, 0.1, 0.0), "above -1"),
    (lambda: fieller_below(1.0, 1.0, -1.5, var_control=1.0, var_treatment=1.0), "above -1"),
])
def test_bad_arguments_are_named(call: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_exact_estimate_is_a_step() -> None:
    assert normal_below(0.1, 0.0, 0.2) == 1.0
    assert normal_below(0.1, 0.0, 0.0) == 0.0
