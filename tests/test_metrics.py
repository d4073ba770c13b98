"""Per-customer rows and per-arm sufficient statistics, checked against hand-counted tables."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frt_experiments import schema
from frt_experiments.errors import DataError
from frt_experiments.metrics import arm_statistics, customer_rows

T0 = pd.Timestamp("2025-01-06T00:00:00Z")


def _tables():
    customers = pd.DataFrame({
        "customer_id": ["a", "b", "c", "d", "e"],
        "monthly_spend": [10.0, 20, 30, 40, 50],
        "revenue_start": [100.0, 200, 300, 400, 500],
        "revenue_end": [100.0, 0, 330, 400, 450],
        "pre_conversations": [1.0, 0, 3, 2, 9],
    })
    assignments = pd.DataFrame({
        "customer_id": ["a", "b", "c", "d"],  # e is not assigned
        "experiment": "x",
        "arm": ["fast", "fast", "one_business_day", "one_business_day"],
        "assigned_at": [T0, T0, T0, T0 + pd.Timedelta(days=10)],
        "bucket": [0.1, 0.2, 0.6, 0.7],
    })
    day = pd.Timedelta(days=1)
    conversations = pd.DataFrame({
        "conversation_id": [f"v{i}" for i in range(7)],
        "customer_id": ["a", "a", "c", "c", "d", "e", "d"],
        "created_at": [T0 + day, T0 + 2 * day, T0 + 3 * day, T0 - day, T0 + 5 * day,
                       T0 + day, T0 + 30 * day],
        "first_response_at": pd.NaT,
        "handle_seconds": [600.0, 1200, 300, 60, 900, 100, 1800],
        "csat": ["5", "good", "2", "5", None, "4", "bad"],
        "csat_scale": ["1-5", "good-bad", "1-5", "1-5", None, "1-5", "good-bad"],
    })
    return customers, conversations, assignments


def test_customer_rows_counts_by_hand():
    customers, conversations, assignments = _tables()
    rows = customer_rows(customers, conversations, assignments)
    assert list(rows.index) == ["a", "b", "c", "d"]
    # a: two conversations, both satisfied; b: none; c: one after assignment (the other is
    # pre-period); d: the day-5 conversation predates its day-10 assignment, the day-30 one counts.
    np.testing.assert_array_equal(rows["conversations"], [2, 0, 1, 1])
    np.testing.assert_array_equal(rows["rated"], [2, 0, 1, 1])
    np.testing.assert_array_equal(rows["satisfied"], [2, 0, 0, 0])
    np.testing.assert_array_equal(rows["handle_seconds"], [1800, 0, 300, 1800])
    np.testing.assert_allclose(rows["handle_hours"], [0.5, 0, 300 / 3600, 0.5])
    np.testing.assert_array_equal(rows["revenue_end"], [100, 0, 330, 400])
    np.testing.assert_array_equal(rows["pre_conversations"], [1, 0, 3, 2])
    # window end = latest conversation (day 30): exposure 30 days, 20 for d
    np.testing.assert_allclose(rows["exposure_days"], [30, 30, 30, 20])
    assert list(rows["arm"]) == ["fast", "fast", "one_business_day", "one_business_day"]


def test_window_end_cuts_conversations_and_exposure():
    customers, conversations, assignments = _tables()
    rows = customer_rows(customers, conversations, assignments,
                         window_end=T0 + pd.Timedelta(days=15))
    np.testing.assert_array_equal(rows["conversations"], [2, 0, 1, 0])
    np.testing.assert_allclose(rows["exposure_days"], [15, 15, 15, 5])
    with pytest.raises(ValueError, match="window_end must be time-zone aware"):
        customer_rows(customers, conversations, assignments, window_end="2025-02-01")


def test_unknown_and_twice_assigned_customers_are_errors():
    customers, conversations, assignments = _tables()
    with pytest.raises(DataError, match="assigned customers missing from customers"):
        customer_rows(customers[customers.customer_id != "c"], conversations, assignments)
    twice = pd.concat([assignments, assignments.iloc[[1]].assign(experiment="y")])
    with pytest.raises(DataError, match="analyse one experiment at a time"):
        customer_rows(customers, conversations, twice)


def test_arm_statistics_match_numpy():
    rng = np.random.default_rng(3)
    rows = pd.DataFrame({"arm": rng.choice(["fast", "one_business_day"], 500),
                         "y": rng.gamma(2, 3, 500) + 1e6, "x": rng.poisson(3, 500)})
    st = arm_statistics(rows, columns=["y", "x"])
    for arm, s in st.items():
        sub = rows[rows.arm == arm][["y", "x"]].to_numpy(float)
        assert s.n == len(sub)
        np.testing.assert_allclose(s.mean, sub.mean(axis=0), rtol=1e-14)
        np.testing.assert_allclose(s.cov, np.cov(sub, rowvar=False), rtol=1e-10)
    assert st["fast"].index("x") == 1
    assert set(st["fast"].to_pandas().columns) == {"n", "sum", "mean", "var"}


def test_arm_statistics_reject_missing_values():
    rows = pd.DataFrame({"arm": ["fast", "fast"], "y": [1.0, np.nan]})
    with pytest.raises(ValueError, match="column y has 1 missing values"):
        arm_statistics(rows)


def test_rows_from_simulated_trial_add_up():
    from frt_experiments.simulate import simulate

    trial = simulate("published", customers=3_000, rng=5)
    rows = customer_rows(trial.customers, trial.conversations, trial.assignments)
    assert len(rows) == len(trial.assignments)
    conv = trial.conversations
    mine = conv[conv[schema.CUSTOMER_ID].isin(trial.assignments[schema.CUSTOMER_ID])]
    assert rows["conversations"].sum() == len(mine)
    assert rows["rated"].sum() == mine[schema.CSAT].notna().sum()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_customer_rows_do_not_depend_on_row_order(seed):
    customers, conversations, assignments = _tables()
    rng = np.random.default_rng(seed)
    shuffled = customer_rows(customers.sample(frac=1, random_state=rng),
                             conversations.sample(frac=1, random_state=rng),
                             assignments.sample(frac=1, random_state=rng))
    ref = customer_rows(customers, conversations, assignments)
    pd.testing.assert_frame_equal(shuffled.loc[ref.index], ref)
