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
from frt_experiments.policy import (
    Attainment,
    FrtPolicy,
    attainment_table,
    default_policies,
    policies_from_specs,
    policy_from_spec,
)

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
                                "frt_calendar_hours", "frt_business_hours", "met",
                                "allowed_business_hours"]
    assert list(ev["met"]) == [True, False, False, True]
    assert ev["allowed_business_hours"].to_numpy() == pytest.approx([4.0] * 4)
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


def test_unanswered_before_their_deadline_are_pending_at_the_cutoff(cal):
    """Fast arm, 4 business hours, cut-off Mon 2025-03-03 16:30 (New York):
    A created Mon 10:00, answered 11:00 -> met; B created Mon 10:00, unanswered, due Mon 14:00
    -> missed (deadline passed); C created Mon 16:00, unanswered, due Tue 12:00 -> pending.
    Share within target 1/2 (not 1/3, as without a cut-off)."""
    pol = default_policies(cal)["fast"]
    created = pd.Series([ts("2025-03-03 10:00"), ts("2025-03-03 10:00"), ts("2025-03-03 16:00")])
    first = pd.Series([ts("2025-03-03 11:00"), pd.NaT, pd.NaT], dtype=created.dtype)
    a = pol.attainment(created, first, as_of=ts("2025-03-03 16:30"))
    assert (a.n, a.n_responded, a.n_pending) == (3, 1, 1)
    assert a.share_within_target == pytest.approx(1 / 2)
    b = pol.attainment(created, first)
    assert (b.n_pending, b.share_within_target) == (0, pytest.approx(1 / 3))
    # a day later C's deadline has passed too: missed
    c = pol.attainment(created, first, as_of=ts("2025-03-04 16:30"))
    assert (c.n_pending, c.share_within_target) == (0, pytest.approx(1 / 3))
    with pytest.raises(ValueError, match="as_of: expected a time-zone-aware timestamp"):
        pol.attainment(created, first, as_of="2025-03-03 16:30")


def test_diagnostics_leave_pending_conversations_out_at_the_export_cutoff(cal):
    """The export's cut-off is the latest timestamp in it: the slow arm's conversation still
    within its one-business-day deadline is pending, not missed."""
    from frt_experiments import diagnose

    conv = pd.DataFrame({
        "customer_id": ["c1", "c2", "c3", "c4"],
        "created_at": [ts("2025-03-03 10:00"), ts("2025-03-03 10:00"),
                       ts("2025-03-03 12:00"), ts("2025-03-03 15:00")],
        "first_response_at": pd.Series([ts("2025-03-03 11:00"), ts("2025-03-03 16:00"),
                                        ts("2025-03-04 09:30"), pd.NaT]),
        "csat": pd.Series([None, None, None, None], dtype="string"),
    })
    asg = pd.DataFrame({"customer_id": ["c1", "c2", "c3", "c4"],
                        "arm": ["fast", "fast", "one_business_day", "one_business_day"]})
    d = diagnose(None, conv, asg, calendar=cal)
    frt = d.frt.set_index("arm")
    # cut-off Tue 09:30 (c3's reply); c4 is due Tue 15:00: pending
    assert frt.loc["one_business_day", "n_pending"] == 1
    assert frt.loc["one_business_day", "share_within_target"] == 1.0
    assert frt.loc["fast", "share_within_target"] == 0.5  # c2 answered after 6 business hours
    # the business time each policy allows: 4 h; one business day of a 09:00-17:00 desk, 8 h
    assert frt["target_business_hours"].tolist() == [4.0, 8.0]


# --- policies by name (plan.toml [arms], the command line) -----------------------------------

@pytest.mark.parametrize(("spec", "rule", "target_h", "days", "canonical"), [
    ("4h", "business_time", 4.0, 1, "4h"),
    ("90m", "business_time", 1.5, 1, "1.5h"),
    (" 4 Business Hours ", "business_time", 4.0, 1, "4h"),
    ("2.5h", "business_time", 2.5, 1, "2.5h"),
    ("7m", "business_time", 7 / 60, 1, "7m"),
    ("one_business_day", "next_business_day", None, 1, "one_business_day"),
    ("next_business_day", "next_business_day", None, 1, "one_business_day"),
    ("Two_Business_Days", "next_business_day", None, 2, "two_business_days"),
    ("3_business_days", "next_business_day", None, 3, "three_business_days"),
    ("12 business days", "next_business_day", None, 12, "12_business_days"),
    ("end_of_next_business_day", "end_of_next_business_day", None, 1,
     "end_of_next_business_day"),
    ("end_of_business_day_2", "end_of_next_business_day", None, 2, "end_of_business_day_2"),
])
def test_policy_from_spec(spec, rule, target_h, days, canonical):
    cal = BusinessCalendar("America/New_York", hours="Mon-Fri 09:00-17:00")
    p = policy_from_spec("slow", spec, cal)
    assert (p.arm, p.rule, p.days, p.spec) == ("slow", rule, days, canonical)
    if target_h is None:
        assert p.target is None
    else:
        assert p.target.total_seconds() == pytest.approx(target_h * 3600)
    assert policy_from_spec("slow", p.spec, cal) == p  # the canonical name reads back


@pytest.mark.parametrize("spec", ["", "  ", "soon", "0h", "-4h", "4", "0_business_days",
                                  "end_of_business_day_0", "one business week", 4])
def test_policy_from_spec_refuses_names_it_does_not_know(spec):
    cal = BusinessCalendar("UTC", hours="Mon-Fri 09:00-17:00")
    with pytest.raises(ValueError, match="arm 'slow'"):
        policy_from_spec("slow", spec, cal)


def test_policies_from_specs_keeps_the_order_and_needs_two_arms():
    cal = BusinessCalendar("UTC", hours="Mon-Fri 09:00-17:00")
    pol = policies_from_specs({"fast": "4h", "b": "two_business_days", "a": "one_business_day"},
                              cal)
    assert list(pol) == ["fast", "b", "a"]
    assert all(p.calendar is cal for p in pol.values())
    with pytest.raises(ValueError, match="at least two arms"):
        policies_from_specs({"fast": "4h"}, cal)
    with pytest.raises(ValueError, match="unknown FRT policy 'later'"):
        policies_from_specs({"fast": "4h", "slow": "later"}, cal)


def test_days_are_business_days_on_the_calendar():
    # n business days later is n single steps; the close of the n-th day after a date is the
    # close of the next day after the (n-1)-th one's close (a minute before it, same date)
    cal = BusinessCalendar("Europe/Berlin", hours="Mon-Fri 09:00-12:00,13:00-17:00",
                           holidays="DE")
    rng = np.random.default_rng(7)
    t = pd.Series(pd.to_datetime(rng.integers(1_735_689_600, 1_767_225_600, 5_000), unit="s",
                                 utc=True))
    two = FrtPolicy("slow", cal, rule="next_business_day", days=2).deadline(t)
    assert (two == cal.add_business_days(t, 2)).all()
    eod1 = cal.end_of_next_business_day(t)
    eod3 = FrtPolicy("slow", cal, rule="end_of_next_business_day", days=3).deadline(t)
    step = cal.end_of_next_business_day(cal.end_of_next_business_day(
        eod1 - pd.Timedelta(minutes=1)) - pd.Timedelta(minutes=1))
    assert (eod3 == step).all()
    with pytest.raises(ValueError, match="days"):
        FrtPolicy("slow", cal, rule="business_time", target=dt.timedelta(hours=4), days=2)
    with pytest.raises(ValueError, match="days"):
        FrtPolicy("slow", cal, rule="next_business_day", days=0)
    with pytest.raises(ValueError, match="n: expected"):
        cal.end_of_next_business_day(t, 0)
