"""FRT policies: deadlines per rule, met judged on business time, attainment quantiles.

Deadlines are worked out by hand on the wall clock (beside each case); quantiles are checked
against R's default (type 7), e.g. ``quantile(c(1, 2, 3, 4, 8), 0.9)`` gives ``6.4``.
"""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frt_experiments.calendar import BusinessCalendar
from frt_experiments.policy import Attainment, FrtPolicy, attainment_table, default_policies

NY = "America/New_York"


def ts(text):
    return pd.Timestamp(text, tz=NY)


@pytest.fixture(scope="module")
def cal():
    return BusinessCalendar(NY, holidays="US")


def test_default_policies_deadlines(cal):
    pol = default_policies(cal)
    assert set(pol) == {"fast", "one_business_day"}
    created = pd.Series([ts("2025-03-04 14:00"), ts("2025-03-07 15:00"), ts("2025-03-08 10:00")])
    # fast, 4 business hours: Tue 14:00 -> Tue 17:00 +1h -> Wed 10:00 (3h + 1h)
    # Fri 15:00 -> 2h Friday, 2h Monday -> Mon 11:00; Saturday -> Mon 13:00
    assert list(pol["fast"].deadline(created)) == [
        ts("2025-03-05 10:00"), ts("2025-03-10 11:00"), ts("2025-03-10 13:00")]
    assert list(pol["one_business_day"].deadline(created)) == [
        ts("2025-03-05 14:00"), ts("2025-03-10 15:00"), ts("2025-03-10 17:00")]
    eod = default_policies(cal, one_business_day="end_of_next_business_day")
    assert list(eod["one_business_day"].deadline(created)) == [
        ts("2025-03-05 17:00"), ts("2025-03-10 17:00"), ts("2025-03-10 17:00")]


def test_evaluate_judges_on_business_time(cal):
    fast = FrtPolicy("fast", cal, target=dt.timedelta(hours=4))
    created = pd.Series([ts("2025-03-04 14:00")] * 3 + [ts("2025-03-04 16:00")])
    first = pd.Series([
        ts("2025-03-05 10:00"),  # exactly 4 business hours: met
        ts("2025-03-05 10:01"),  # 4h01: missed
        pd.NaT,                  # never answered: missed
        ts("2025-03-04 20:00"),  # after hours: 1 business hour, 4 calendar hours: met
    ])
    ev = fast.evaluate(created, first)
    assert list(ev.columns) == ["created_at", "first_response_at", "deadline",
                                "frt_calendar_hours", "frt_business_hours", "met"]
    assert list(ev["met"]) == [True, False, False, True]
    assert ev["frt_business_hours"].iloc[0] == pytest.approx(4.0)
    assert ev["frt_calendar_hours"].iloc[0] == pytest.approx(20.0)
    assert ev["frt_business_hours"].iloc[3] == pytest.approx(1.0)
    assert np.isnan(ev["frt_business_hours"].iloc[2])


def test_attainment_matches_r_type_7_quantiles(cal):
    # Monday 09:00 + k business hours, same day, so calendar == business hours
    hours = np.array([1, 2, 3, 4, 8])
    created = pd.Series([ts("2025-03-03 09:00")] * 6)
    first = pd.Series([*(created.iloc[:5] + pd.to_timedelta(hours, unit="h")), pd.NaT])
    att = FrtPolicy("fast", cal, target=dt.timedelta(hours=4)).attainment(created, first)
    assert isinstance(att, Attainment)
    # R: quantile(c(1, 2, 3, 4, 8), c(0.5, 0.9)) -> 3.0 6.4
    assert att.median_business_hours == pytest.approx(3.0)
    assert att.p90_business_hours == pytest.approx(6.4)
    assert att.p90_calendar_hours == pytest.approx(6.4)
    assert (att.n, att.n_responded) == (6, 5)
    assert att.share_within_target == pytest.approx(4 / 6)
    assert "fast" in repr(att)
    assert att.to_pandas().columns[0] == "arm"


def test_attainment_table_per_arm(cal):
    conv = pd.DataFrame({
        "customer_id": pd.array(["a", "a", "b", "z"], dtype="string"),  # z: not assigned
        "created_at": [ts("2025-03-04 14:00")] * 4,
        "first_response_at": [ts("2025-03-04 15:00"), ts("2025-03-05 12:00"),
                              ts("2025-03-05 12:00"), ts("2025-03-05 12:00")],
    })
    assign = pd.DataFrame({"customer_id": pd.array(["a", "b"], dtype="string"),
                           "arm": pd.array(["fast", "one_business_day"], dtype="string")})
    table = attainment_table(conv, assign, default_policies(cal))
    assert list(table["arm"]) == ["fast", "one_business_day"]
    assert list(table["share_within_target"]) == [0.5, 1.0]
    assert list(table["n"]) == [2, 1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rule": "soon"}, "rule: expected one of"),
        ({"rule": "business_time"}, "target: required"),
        ({"rule": "business_time", "target": dt.timedelta(0)}, "positive"),
        ({"rule": "next_business_day", "target": dt.timedelta(hours=1)}, "only used"),
    ],
)
def test_bad_policies(cal, kwargs, message):
    with pytest.raises(ValueError, match=message):
        FrtPolicy("x", cal, **kwargs)


def test_bad_evaluation_input(cal):
    fast = default_policies(cal)["fast"]
    created = pd.Series([ts("2025-03-04 14:00"), ts("2025-03-04 14:00")])
    with pytest.raises(ValueError, match=r"earlier than created_at \(rows \[1\]\)"):
        fast.evaluate(created, pd.Series([ts("2025-03-04 15:00"), ts("2025-03-04 13:00")]))
    with pytest.raises(ValueError, match="first_response_at: timestamps are naive"):
        fast.evaluate(created, pd.Series(pd.to_datetime(["2025-03-04 15:00"] * 2)))
    with pytest.raises(ValueError, match="lengths differ"):
        fast.evaluate(created, created.iloc[:1])


UNIFORM = BusinessCalendar(NY, holidays="US")
_instants = st.integers(pd.Timestamp("2024-06-01", tz="UTC").value,
                        pd.Timestamp("2026-06-01", tz="UTC").value)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(_instants, st.integers(0, 200 * 3600)), min_size=1, max_size=25))
def test_deadlines_are_one_business_day_and_met_is_business_time(pairs):
    # on a uniform 8-hour calendar, one business day is exactly 8 business hours (closed form)
    created = pd.Series(pd.to_datetime([p[0] for p in pairs], utc=True))
    first = created + pd.to_timedelta([p[1] for p in pairs], unit="s")
    pol = default_policies(UNIFORM)
    slow = pol["one_business_day"]
    allowed = UNIFORM.business_duration(created, slow.deadline(created))
    assert (allowed == pd.Timedelta(hours=8)).all()
    ev = pol["fast"].evaluate(created, first)
    busy = UNIFORM.business_duration(created, first)
    assert (ev["met"] == (busy <= pd.Timedelta(hours=4))).all()
    eod = default_policies(UNIFORM, one_business_day="end_of_next_business_day")
    late = eod["one_business_day"].deadline(created)
    assert (late >= slow.deadline(created)).all()
    assert (late.dt.tz_convert(NY).dt.hour == 17).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": 4}, "target: plain numbers are not durations"),   # pandas: 4 nanoseconds
        ({"target": 4.0}, "target: plain numbers are not durations"),
        ({"target": "four hours"}, "target: cannot read 'four hours' as a duration"),
        ({"target": pd.Timedelta(1, "ns")}, "target: must be at least one microsecond"),
    ],
)
def test_bad_targets_name_the_argument(cal, kwargs, message):
    with pytest.raises(ValueError, match=message):
        FrtPolicy("fast", cal, **kwargs)
    with pytest.raises(ValueError, match=message):
        default_policies(cal, fast_target=kwargs["target"])


def test_policy_needs_a_business_calendar():
    with pytest.raises(TypeError, match="calendar: expected a BusinessCalendar, got str"):
        FrtPolicy("fast", "America/New_York", target=dt.timedelta(hours=4))


def test_attainment_of_an_arm_without_conversations(cal):
    conv = pd.DataFrame({
        "customer_id": pd.array(["a"], dtype="string"),
        "created_at": [ts("2025-03-04 14:00")],
        "first_response_at": [ts("2025-03-04 15:00")],
    })
    assign = pd.DataFrame({"customer_id": pd.array(["a", "b"], dtype="string"),
                           "arm": pd.array(["one_business_day", "fast"], dtype="string")})
    table = attainment_table(conv, assign, default_policies(cal))
    assert list(table["n"]) == [0, 1]
    assert np.isnan(table["share_within_target"].iloc[0])
    assert table["share_within_target"].iloc[1] == 1.0
