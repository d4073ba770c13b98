"""Randomization checks: sample ratio mismatch and covariate balance."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from frt_experiments import schema
from frt_experiments.balance import SRMResult, covariate_balance, sample_ratio_mismatch
from frt_experiments.errors import BalanceWarning, DataError


# ----------------------------------------------------------------------------- SRM
def test_srm_matches_r_chisq_test_closed_form():
    # R: chisq.test(c(5100, 4900), p = c(0.5, 0.5))
    #    X-squared = 4, df = 1, p-value = 0.0455
    # Closed form: X^2 = 2 * 100^2 / 5000 = 4; P(chi2_1 > 4) = P(|Z| > 2) = erfc(sqrt(2)).
    r = sample_ratio_mismatch([5100, 4900], [0.5, 0.5])
    assert r.statistic == pytest.approx(4.0, rel=1e-12)
    assert r.p_value == pytest.approx(math.erfc(math.sqrt(2)), rel=1e-12)
    assert round(r.p_value, 4) == 0.0455
    assert r.df == 1
    assert not r.flagged
    assert r.expected == (5000.0, 5000.0)


@pytest.mark.parametrize(("counts", "weights"), [
    ([310, 640, 350], [1, 2, 1]),
    ([48_210, 51_790], [1, 1]),
    ([700, 300], [0.7, 0.3]),
])
def test_srm_matches_scipy_chisquare(counts, weights):
    w = np.asarray(weights, float)
    want = stats.chisquare(counts, f_exp=np.sum(counts) * w / w.sum())
    got = sample_ratio_mismatch(counts, weights)
    assert got.statistic == pytest.approx(want.statistic, rel=1e-12)
    assert got.p_value == pytest.approx(want.pvalue, rel=1e-9)


def test_srm_flags_52_48_at_large_n_only():
    # 52/48 of 100,000: X^2 = 2 * 2000^2 / 50000 = 160, p ~ 1e-36.
    big = sample_ratio_mismatch({"fast": 52_000, "one_business_day": 48_000})
    assert big.statistic == pytest.approx(160.0)
    assert big.flagged
    # 52/48 of 1,000: X^2 = 1.6, p = erfc(sqrt(0.8)) = 0.206: chance.
    small = sample_ratio_mismatch([520, 480])
    assert small.p_value == pytest.approx(math.erfc(math.sqrt(0.8)), rel=1e-12)
    assert not small.flagged


def test_srm_result_is_readable():
    r = sample_ratio_mismatch([52_000, 48_000])
    assert isinstance(r, SRMResult)
    assert "FLAGGED" in repr(r)
    assert r.to_pandas()["observed"].tolist() == [52_000, 48_000]


@pytest.mark.parametrize(("counts", "weights", "message"), [
    ([10], None, "at least two arms"),
    ([10, -1], None, "whole numbers >= 0"),
    ([10, 2.5], None, "whole numbers >= 0"),
    ([10, 10], [1, 0], "positive"),
    ([10, 10], [1, 1, 1], "one weight per count"),
    ([0, 0], None, "no customers"),
])
def test_srm_rejects_bad_input(counts, weights, message):
    with pytest.raises(ValueError, match=message):
        sample_ratio_mismatch(counts, weights)


# ----------------------------------------------------------------------------- balance
def _toy():
    customers = pd.DataFrame({
        schema.CUSTOMER_ID: ["a", "b", "c", "d", "e", "f", "g", "x"],
        schema.MONTHLY_SPEND: [1.0, 2.0, 3.0, 2.0, 3.0, 4.0, 5.0, 99.0],
        schema.PRE_RATED: [2, 0, 4, 1, 2, 2, 4, 1],
        schema.PRE_SATISFIED: [1, 0, 3, 1, 2, 1, 4, 1],
    })
    assignments = pd.DataFrame({
        schema.CUSTOMER_ID: ["a", "b", "c", "d", "e", "f", "g"],   # "x" is not assigned
        schema.ARM: ["fast"] * 3 + ["one_business_day"] * 4,
    })
    return customers, assignments


def test_smd_against_hand_computation():
    customers, assignments = _toy()
    with pytest.warns(BalanceWarning, match="monthly_spend one_business_day vs fast SMD"):
        table = covariate_balance(customers, assignments)
    spend = table.set_index("covariate").loc[schema.MONTHLY_SPEND]
    # control 1, 2, 3: mean 2, var 1; treatment 2, 3, 4, 5: mean 3.5, var 5/3.
    # SMD = 1.5 / sqrt((1 + 5/3) / 2) = 1.5 / sqrt(4/3) = 1.2990381...
    assert spend["smd"] == pytest.approx(1.5 / math.sqrt(4 / 3), rel=1e-12)
    assert spend["control"] == 2.0
    assert spend["treatment"] == 3.5
    assert spend["n_control"] == 3
    assert spend["imbalanced"]
    csat = table.set_index("covariate").loc["pre_csat"]
    # control ratios 1/2, 3/4 (b has no pre-period ratings); treatment 1, 1, 1/2, 1.
    c, t = np.array([0.5, 0.75]), np.array([1, 1, 0.5, 1])
    want = (t.mean() - c.mean()) / math.sqrt((t.var(ddof=1) + c.var(ddof=1)) / 2)
    assert csat["smd"] == pytest.approx(want, rel=1e-12)
    assert csat["n_control"] == 2
    assert list(table.columns) == ["covariate", "control_arm", "treatment_arm", "n_control",
                                   "n_treatment", "control", "treatment", "control_sd",
                                   "treatment_sd", "smd", "imbalanced"]


def test_balance_of_rows_is_the_same_table_without_a_join():
    """balance_of_rows (the engine path's balance from the rows it fetched: arm and covariates
    side by side) equals covariate_balance on the same customers, here the hand-computed toy
    with an unassigned customer and one of a third arm left out."""
    from frt_experiments.balance import balance_of_rows

    customers, assignments = _toy()
    rows = assignments.merge(customers, on=schema.CUSTOMER_ID).set_index(schema.CUSTOMER_ID)
    rows.loc[rows.index[0], schema.ARM] = "third"  # an arm not compared: left out
    keep = assignments[schema.CUSTOMER_ID] != rows.index[0]
    with pytest.warns(BalanceWarning):
        want = covariate_balance(customers, assignments[keep], arms=("fast", "one_business_day"))
    got = balance_of_rows(rows, ("fast", "one_business_day"))
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-14)


def test_swapping_arms_flips_the_sign():
    customers, assignments = _toy()
    with pytest.warns(BalanceWarning):
        ab = covariate_balance(customers, assignments)
    with pytest.warns(BalanceWarning):
        ba = covariate_balance(customers, assignments, arms=("one_business_day", "fast"))
    np.testing.assert_allclose(ab["smd"], -ba["smd"])


def test_balanced_population_is_quiet_and_smd_has_its_sampling_spread():
    # Under randomization SMD ~ N(0, 2/n per arm) approximately; with 20,000 per arm its sd is
    # 0.01, so |SMD| > 0.1 (10 sd) would be a bug.
    rng = np.random.default_rng(5)
    n = 40_000
    customers = pd.DataFrame({schema.CUSTOMER_ID: np.arange(n).astype(str),
                              schema.MONTHLY_SPEND: rng.lognormal(3, 1, n),
                              schema.PRE_CONVERSATIONS: rng.poisson(2, n).astype(float)})
    assignments = pd.DataFrame({schema.CUSTOMER_ID: customers[schema.CUSTOMER_ID],
                                schema.ARM: np.where(rng.random(n) < 0.5, "fast", "slow")})
    table = covariate_balance(customers, assignments)   # warnings are errors here
    assert (table["smd"].abs() < 4 * math.sqrt(2 / (n / 2))).all()


def test_balance_missing_columns():
    customers, assignments = _toy()
    with pytest.raises(DataError, match="assignments: missing required column arm"):
        covariate_balance(customers, assignments.drop(columns=schema.ARM))
