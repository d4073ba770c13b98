"""BusinessCalendar: hand-checked business-time arithmetic, DST, holidays, pandas reference.

Expected values are worked out by hand on the wall clock (stated beside each case) or come from
pandas' CustomBusinessHour, which follows the same convention except at exact closing times.
"""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frt_experiments.calendar import BusinessCalendar

NY = "America/New_York"
H = pd.Timedelta(hours=1)


def ts(text, tz=NY):
    return pd.Timestamp(text, tz=tz)


# ------------------------------------------------------------------ hours and validation
def test_compact_hours_and_split_shifts_give_the_same_business_time():
    compact = BusinessCalendar("UTC", hours="Mon-Thu 09:00-17:00; Fri 09:00-13:00")
    # Thursday 16:00 + 3h: 1h Thursday, 2h Friday -> Fri 11:00
    assert compact.add_business_time(ts("2025-03-06 16:00", "UTC"), 3 * H) == ts(
        "2025-03-07 11:00", "UTC")
    # Friday 12:00 + 2h: 1h Friday (closes 13:00), 1h Monday -> Mon 10:00
    assert compact.add_business_time(ts("2025-03-07 12:00", "UTC"), 2 * H) == ts(
        "2025-03-10 10:00", "UTC")
    split = BusinessCalendar("UTC", hours={d: [("09:00", "12:00"), ("13:00", "17:00")]
                                           for d in ("Mon", "Tue", "Wed", "Thu", "Fri")})
    same = BusinessCalendar("UTC", hours="Mon-Fri 09:00-12:00,13:00-17:00")
    t = ts("2025-03-03 11:00", "UTC")  # Monday: 1h before lunch, 2h after -> 15:00
    assert split.add_business_time(t, 3 * H) == ts("2025-03-03 15:00", "UTC")
    assert same.add_business_time(t, 3 * H) == ts("2025-03-03 15:00", "UTC")
    # lunch is closed; duration over a full day is 7h
    assert not split.is_open(ts("2025-03-03 12:30", "UTC"))
    assert split.business_duration(t, t + pd.Timedelta(days=1)) == 7 * H


def test_24_7_and_closing_at_midnight():
    always = BusinessCalendar("UTC", hours="24/7")
    t = ts("2025-03-08 13:17", "UTC")
    assert always.add_business_time(t, pd.Timedelta(days=400)) == t + pd.Timedelta(days=400)
    night = BusinessCalendar("UTC", hours="Mon-Fri 18:00-24:00")
    # Friday 23:00 + 2h: 1h Friday, closed Sat/Sun, Monday 18:00 + 1h -> 19:00
    assert night.add_business_time(ts("2025-03-07 23:00", "UTC"), 2 * H) == ts(
        "2025-03-10 19:00", "UTC")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"timezone": "UTC", "hours": "Mon-Fri 17:00-09:00"}, "inverted"),
        ({"timezone": "UTC", "hours": "Mon 09:00-13:00,12:00-17:00"}, "overlap"),
        ({"timezone": "UTC", "hours": {}}, "no opening hours"),
        ({"timezone": "UTC", "hours": "Mon-Fri 9-5"}, "HH:MM"),
        ({"timezone": "UTC", "hours": "Funday 09:00-17:00"}, "weekday"),
        ({"timezone": "UTC", "hours": "Mon 09:00-25:00"}, "24:00"),
        ({"timezone": "UTC", "holidays": "XX"}, "unknown country"),
    ],
)
def test_bad_calendars_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BusinessCalendar(**kwargs)


def test_naive_timestamps_and_bad_durations_are_rejected():
    cal = BusinessCalendar("UTC")
    with pytest.raises(ValueError, match="ts: timestamps are naive"):
        cal.add_business_time(pd.Series(pd.to_datetime(["2025-03-03 10:00"])), H)
    with pytest.raises(ValueError, match="start: timestamps are naive"):
        cal.business_duration(pd.Timestamp("2025-03-03"), ts("2025-03-04", "UTC"))
    with pytest.raises(ValueError, match="lengths differ"):
        cal.add_business_time(pd.Series(pd.date_range("2025-03-03", periods=3, tz="UTC")),
                              pd.to_timedelta([1, 2], unit="h"))
    with pytest.raises(ValueError, match="n: business days must be >= 0"):
        cal.add_business_days(ts("2025-03-03", "UTC"), -1)


# ------------------------------------------------------------------ conventions
def test_duration_ending_at_closing_time_ends_at_closing_time():
    cal = BusinessCalendar(NY)
    # Friday 13:00 + 4h runs out at 17:00 exactly: closing time, not Monday 09:00
    assert cal.add_business_time(ts("2025-03-07 13:00"), 4 * H) == ts("2025-03-07 17:00")
    assert cal.add_business_time(ts("2025-03-07 13:00"), 4 * H + pd.Timedelta(1, "ns")) == ts(
        "2025-03-10 09:00") + pd.Timedelta(1, "ns")


def test_zero_duration_returns_the_instant_itself_even_when_closed():
    cal = BusinessCalendar(NY)
    for text in ("2025-03-08 03:00", "2025-03-07 12:00", "2025-03-07 17:00"):
        assert cal.add_business_time(ts(text), pd.Timedelta(0)) == ts(text)


def test_weekend_and_out_of_hours_instants_wait_for_opening():
    cal = BusinessCalendar(NY)
    # Saturday 10:00 + 1h -> Monday 10:00; Tuesday 20:00 + 1h -> Wednesday 10:00
    assert cal.add_business_time(ts("2025-03-08 10:00"), H) == ts("2025-03-10 10:00")
    assert cal.add_business_time(ts("2025-03-04 20:00"), H) == ts("2025-03-05 10:00")
    assert cal.business_duration(ts("2025-03-07 16:00"), ts("2025-03-10 10:00")) == 2 * H
    assert cal.next_open(ts("2025-03-08 10:00")) == ts("2025-03-10 09:00")
    assert cal.next_open(ts("2025-03-07 09:00")) == ts("2025-03-07 09:00")
    assert cal.is_open(ts("2025-03-07 09:00"))
    assert not cal.is_open(ts("2025-03-07 17:00"))


def test_holidays_from_the_holidays_package_and_explicit_dates():
    # Thanksgiving 2025 is Thursday 27 November (US federal holiday)
    cal = BusinessCalendar(NY, holidays="US")
    assert cal.add_business_time(ts("2025-11-26 16:00"), 2 * H) == ts("2025-11-28 10:00")
    assert not cal.is_open(ts("2025-11-27 12:00"))
    extra = BusinessCalendar(NY, holidays="US", closed_dates=["2025-11-28"])
    assert extra.add_business_time(ts("2025-11-26 16:00"), 2 * H) == ts("2025-12-01 10:00")
    listed = BusinessCalendar(NY, holidays=[dt.date(2025, 11, 27)])
    assert listed.add_business_time(ts("2025-11-26 16:00"), 2 * H) == ts("2025-11-28 10:00")
    # California observes the day after Thanksgiving (subdivision)
    ca = BusinessCalendar("America/Los_Angeles", holidays="US", subdivision="CA")
    assert not ca.is_open(pd.Timestamp("2025-11-28 12:00", tz="America/Los_Angeles"))


def test_multi_day_and_multi_year_durations_have_closed_forms():
    cal = BusinessCalendar("UTC")
    # 52 weeks of 40 business hours from Monday 09:00 end on the Friday 17:00 of week 52
    start = ts("2025-03-03 09:00", "UTC")
    end = start + pd.Timedelta(days=364 - 3, hours=8)
    assert end.day_name() == "Friday"
    assert cal.add_business_time(start, 52 * 40 * H) == end
    assert cal.business_duration(start, end) == 52 * 40 * H
    # counting back lands on the latest instant: Monday 09:00 (not the previous Friday 17:00)
    assert cal.add_business_time(end, -52 * 40 * H) == start


# ------------------------------------------------------------------ daylight saving time
def test_spring_forward_skipped_hour():
    # 2025-03-09 (Sunday): New York clocks jump 02:00 EST -> 03:00 EDT
    cal = BusinessCalendar(NY, hours="Sun 01:00-04:00")
    day = ts("2025-03-09 00:00")
    # real time open: 01:00 EST (06:00Z) to 04:00 EDT (08:00Z) = 2 hours
    assert cal.business_duration(day, day + pd.Timedelta(days=1)) == 2 * H
    late = BusinessCalendar(NY, hours="Sun 02:30-05:00")  # opens in the skipped hour
    assert late.next_open(day) == pd.Timestamp("2025-03-09 07:00", tz="UTC")  # 03:00 EDT
    assert late.business_duration(day, day + pd.Timedelta(days=1)) == 2 * H
    always = BusinessCalendar(NY, hours="24/7")
    t = ts("2025-03-09 01:30")
    assert always.add_business_time(t, H) == ts("2025-03-09 03:30")  # one real hour


def test_fall_back_repeated_hour():
    # 2025-11-02 (Sunday): New York clocks go back 02:00 EDT -> 01:00 EST
    cal = BusinessCalendar(NY, hours="Sun 01:00-03:00")
    day = ts("2025-11-02 00:00")
    # 01:00 EDT (05:00Z) to 03:00 EST (08:00Z): 3 real hours
    assert cal.business_duration(day, day + pd.Timedelta(days=1)) == 3 * H
    mid = BusinessCalendar(NY, hours="Sun 01:30-05:00")  # opening in the repeated hour
    assert mid.next_open(day) == pd.Timestamp("2025-11-02 05:30", tz="UTC")  # first 01:30
    # an instant in the second occurrence of 01:45 (06:45Z) on a 24/7 desk
    always = BusinessCalendar(NY, hours="24/7")
    second = pd.Timestamp("2025-11-02 06:45", tz="UTC")
    assert always.add_business_time(second, H) == pd.Timestamp("2025-11-02 07:45", tz="UTC")
    assert always.business_duration(ts("2025-11-02 00:00"), ts("2025-11-03 00:00")) == 25 * H


# ------------------------------------------------------------------ containers and NaT
def test_series_in_series_out_with_index_and_nat():
    cal = BusinessCalendar(NY)
    s = pd.Series([ts("2025-03-07 16:00"), pd.NaT, ts("2025-03-08 10:00")], index=[10, 20, 30])
    out = cal.add_business_time(s, 2 * H)
    assert isinstance(out, pd.Series)
    assert list(out.index) == [10, 20, 30]
    assert pd.isna(out[20])
    assert out[10] == ts("2025-03-10 10:00")
    dur = cal.business_duration(s, out)
    assert dur[10] == 2 * H
    assert pd.isna(dur[20])
    assert list(cal.is_open(s)) == [True, False, False]
    utc = cal.add_business_time(s.dt.tz_convert("UTC"), 2 * H)
    assert str(utc.dt.tz) == "UTC"
    assert utc[10] == out[10]


def test_business_days_and_end_of_next_business_day():
    cal = BusinessCalendar(NY, holidays="US")
    created = pd.Series([
        ts("2025-03-04 14:00"),  # Tue open -> Wed 14:00 / Wed 17:00
        ts("2025-03-04 20:00"),  # Tue evening -> Wed 17:00 / Wed 17:00
        ts("2025-03-04 07:00"),  # Tue early -> Tue 17:00 / Wed 17:00
        ts("2025-03-08 10:00"),  # Sat -> Mon 17:00 / Mon 17:00
        ts("2025-11-26 10:00"),  # Wed before Thanksgiving -> Fri 10:00 / Fri 17:00
    ])
    same = cal.add_business_days(created, 1)
    assert list(same) == [ts("2025-03-05 14:00"), ts("2025-03-05 17:00"),
                          ts("2025-03-04 17:00"), ts("2025-03-10 17:00"),
                          ts("2025-11-28 10:00")]
    eod = cal.end_of_next_business_day(created)
    assert list(eod) == [ts("2025-03-05 17:00"), ts("2025-03-05 17:00"),
                         ts("2025-03-05 17:00"), ts("2025-03-10 17:00"),
                         ts("2025-11-28 17:00")]
    assert cal.add_business_days(ts("2025-03-04 14:00"), 5) == ts("2025-03-11 14:00")
    assert cal.add_business_days(ts("2025-03-04 14:00"), 0) == ts("2025-03-04 14:00")


# ------------------------------------------------------------------ pandas reference
def test_agrees_with_pandas_custom_business_hour_except_at_closing_time():
    hol = ["2025-04-18", "2025-05-26"]
    cal = BusinessCalendar("UTC", closed_dates=hol)
    rng = np.random.default_rng(3)
    base = pd.Timestamp("2025-04-01", tz="UTC")
    minutes = rng.integers(0, 60 * 24 * 60, size=300)
    t = pd.Series(base + pd.to_timedelta(minutes, unit="min"))
    n = rng.integers(1, 60, size=300)
    ours = cal.add_business_time(t, pd.to_timedelta(n, unit="h"))
    theirs = pd.Series([
        (ti.tz_localize(None) + pd.offsets.CustomBusinessHour(
            n=int(k), start="09:00", end="17:00", holidays=hol)).tz_localize("UTC")
        for ti, k in zip(t, n, strict=True)
    ])
    at_close = ours.dt.hour.eq(17) & ours.dt.minute.eq(0)
    assert at_close.sum() > 0  # the case where the conventions differ does occur
    assert (ours[~at_close] == theirs[~at_close]).all()
    # at closing time pandas reports the next opening, the same business instant
    assert (cal.next_open(ours[at_close]) == theirs[at_close]).all()


# ------------------------------------------------------------------ properties
PROP_CAL = BusinessCalendar(NY, hours="Mon-Thu 08:30-12:00,13:00-17:30; Fri 09:00-13:00; "
                            "Sun 01:00-03:00", holidays="US")
instants = st.integers(
    pd.Timestamp("2024-01-01", tz="UTC").value, pd.Timestamp("2027-01-01", tz="UTC").value)
durations = st.integers(0, 400 * 3600 * 10**9)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(instants, durations), min_size=1, max_size=20))
def test_round_trip_and_counting_back(pairs):
    t = pd.Series(pd.to_datetime([p[0] for p in pairs], utc=True))
    d = pd.to_timedelta([p[1] for p in pairs])
    u = PROP_CAL.add_business_time(t, d)
    assert (PROP_CAL.business_duration(t, u).to_numpy() == d.to_numpy()).all()
    assert (u >= t).all()
    back = PROP_CAL.add_business_time(u, -d)
    assert (PROP_CAL.business_duration(back, u).to_numpy() == d.to_numpy()).all()
    assert (back <= u).all()
    # earliest (latest when counting back): one nanosecond less falls short of d
    pos = np.asarray(d > pd.Timedelta(0))
    ns = pd.Timedelta(1, "ns")
    short = PROP_CAL.business_duration(t, u - ns).to_numpy()
    assert (short[pos] < d.to_numpy()[pos]).all()
    short = PROP_CAL.business_duration(back + ns, u).to_numpy()
    assert (short[pos] < d.to_numpy()[pos]).all()


@settings(max_examples=40, deadline=None)
@given(instants, st.lists(durations, min_size=2, max_size=20))
def test_monotone_in_duration(t0, ds):
    d = pd.to_timedelta(sorted(ds))
    t = pd.Series(pd.to_datetime([t0] * len(ds), utc=True))
    u = PROP_CAL.add_business_time(t, d)
    assert u.is_monotonic_increasing


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(instants, durations), min_size=2, max_size=30), st.randoms())
def test_independent_of_input_order(pairs, random):
    t = pd.Series(pd.to_datetime([p[0] for p in pairs], utc=True))
    d = pd.Series(pd.to_timedelta([p[1] for p in pairs]))
    order = list(range(len(pairs)))
    random.shuffle(order)
    fresh = BusinessCalendar(PROP_CAL.timezone, hours=PROP_CAL.hours, holidays="US")
    whole = PROP_CAL.add_business_time(t, d)
    shuffled = fresh.add_business_time(t.iloc[order], d.iloc[order])
    assert (shuffled.sort_index() == whole).all()
    one_by_one = [fresh.add_business_time(t.iloc[i], d.iloc[i]) for i in range(min(3, len(pairs)))]
    assert one_by_one == list(whole.iloc[: len(one_by_one)])


def test_other_hours_spellings_and_holiday_objects():
    import holidays

    by_number = BusinessCalendar("UTC", hours={4: [(dt.time(9), "24:00")], "Monday": [
        ("00:00", "03:00")]})
    # Friday 23:00 + 2h: 1h to midnight, then Monday 00:00-01:00
    assert by_number.add_business_time(ts("2025-03-07 23:00", "UTC"), 2 * H) == ts(
        "2025-03-10 01:00", "UTC")
    wrap = BusinessCalendar("UTC", hours="Fri-Mon 10:00-11:00")  # wraps over the weekend
    assert wrap.business_duration(ts("2025-03-03 00:00", "UTC"), ts("2025-03-10 00:00", "UTC")
                                  ) == 4 * H
    obj = BusinessCalendar(NY, holidays=holidays.country_holidays("US"))
    assert not obj.is_open(ts("2025-11-27 12:00"))
    assert "America/New_York" in repr(obj)


def test_scalars_and_indexes_come_back_as_scalars_and_indexes():
    cal = BusinessCalendar("UTC")
    idx = pd.DatetimeIndex(["2025-03-07 16:00", "NaT"]).tz_localize("UTC")
    out = cal.add_business_time(idx, H)
    assert isinstance(out, pd.DatetimeIndex)
    assert out[0] == ts("2025-03-07 17:00", "UTC")
    assert pd.isna(out[1])
    dur = cal.business_duration(ts("2025-03-07 16:00", "UTC"), ts("2025-03-10 10:00", "UTC"))
    assert dur == 2 * H
    assert isinstance(cal.is_open(ts("2025-03-07 16:00", "UTC")), bool)
    many = cal.add_business_time(ts("2025-03-07 16:00", "UTC"), pd.to_timedelta([1, 2], unit="h"))
    assert list(many) == [ts("2025-03-07 17:00", "UTC"), ts("2025-03-10 10:00", "UTC")]


# ------------------------------------------------------------------ edge cases found in review
def test_empty_inputs_give_empty_outputs():
    cal = BusinessCalendar(NY)
    empty = pd.Series([], dtype="datetime64[ns, UTC]", index=pd.Index([], dtype="int64"))
    out = cal.add_business_time(empty, 4 * H)  # an arm with no conversations yet
    assert isinstance(out, pd.Series)
    assert out.empty
    assert cal.business_duration(ts("2025-03-03 09:00"), empty).empty
    assert cal.add_business_days(empty, 1).empty


def test_plain_numbers_are_not_durations():
    cal = BusinessCalendar(NY)
    t = ts("2025-03-03 10:00")
    # 4 would silently mean 4 nanoseconds
    for bad in (4, 4.5, np.array([1, 2])):
        with pytest.raises(ValueError, match=r"duration: plain numbers are not durations"):
            cal.add_business_time(t, bad)
    assert pd.isna(cal.add_business_time(t, pd.NaT))   # NaT passes through as a duration too


def test_series_paired_by_position_must_share_their_index():
    cal = BusinessCalendar(NY)
    s = pd.Series([ts("2025-03-04 10:00"), ts("2025-03-05 10:00")], index=["a", "b"])
    d = pd.Series([H, 2 * H], index=["b", "a"])
    with pytest.raises(ValueError, match="ts and duration: the Series have different indexes"):
        cal.add_business_time(s, d)
    with pytest.raises(ValueError, match="start and end: the Series have different indexes"):
        cal.business_duration(s, s.set_axis(["x", "y"]))
    same = cal.add_business_time(s, d.loc[["a", "b"]])  # a: 2 h, b: 1 h
    assert list(same) == [ts("2025-03-04 12:00"), ts("2025-03-05 11:00")]


def test_closure_longer_than_a_year_is_bridged():
    # a desk closed from 2025 to 2027 (explicit closed dates): the next opening is 2028-01-03
    cal = BusinessCalendar("UTC", closed_dates=pd.date_range("2025-01-01", "2027-12-31"))
    t = ts("2026-06-01 10:00", "UTC")
    assert not cal.is_open(t)
    assert cal.next_open(t) == ts("2028-01-03 09:00", "UTC")
    assert cal.add_business_time(t, 2 * H) == ts("2028-01-03 11:00", "UTC")
    assert cal.add_business_time(t, -2 * H) == ts("2024-12-31 15:00", "UTC")


def test_results_beyond_the_timestamp_range_are_errors_not_garbage():
    cal = BusinessCalendar(NY)
    # 30,000 days of business time at 40 h a week is about 350 years: past 2262
    with pytest.raises(ValueError, match="duration: the result lies outside"):
        cal.add_business_time(ts("2025-01-01"), pd.Timedelta(days=30_000))
    with pytest.raises(ValueError, match="duration: the result lies outside"):
        cal.add_business_time(ts("2025-01-01"), -pd.Timedelta(days=40_000))
    with pytest.raises(ValueError, match="n: the result lies outside"):
        cal.add_business_days(ts("2025-01-01"), 10**6)
    # 2000 business days = 400 weeks (no holidays): Wednesday to Wednesday
    assert cal.add_business_days(ts("2025-01-01 10:00"), 2000) == ts("2032-09-01 10:00")
    late = pd.Timestamp("2261-01-03 10:00", tz="UTC")  # a Thursday, 05:00 in New York
    assert cal.add_business_time(late, H) == pd.Timestamp("2261-01-03 15:00", tz="UTC")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hours": {"Mon": ("09:00", "17:00")}}, r"Mon: expected a list of \(open, close\)"),
        ({"subdivision": "CA"}, "subdivision: only used with a country code"),
    ],
)
def test_more_bad_calendars(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BusinessCalendar("UTC", **kwargs)


def test_a_single_date_is_a_holiday_list():
    cal = BusinessCalendar("UTC", holidays=dt.date(2025, 3, 3))
    assert not cal.is_open(ts("2025-03-03 10:00", "UTC"))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3 * 365 * 96), st.integers(0, 200 * 4)), min_size=1,
                max_size=20))
def test_earliest_on_a_quarter_hour_grid(pairs):
    # instants and durations on a 15-minute grid, so results often fall exactly on a closing
    # time, where "earliest" (closing time) and pandas' convention (next opening) differ
    q = pd.Timedelta(minutes=15)
    t = pd.Series(pd.Timestamp("2024-01-01", tz="UTC") + q * np.array([p[0] for p in pairs]))
    d = pd.to_timedelta(q * np.array([p[1] for p in pairs]))
    u = PROP_CAL.add_business_time(t, d)
    assert (PROP_CAL.business_duration(t, u).to_numpy() == d.to_numpy()).all()
    pos = np.asarray(d > pd.Timedelta(0))
    short = PROP_CAL.business_duration(t, u - pd.Timedelta(1, "ns")).to_numpy()
    assert (short[pos] < d.to_numpy()[pos]).all()


def test_scalar_instant_with_a_series_of_durations_gives_a_series():
    cal = BusinessCalendar("UTC")
    d = pd.Series([H, 2 * H], index=["x", "y"], name="target")
    out = cal.add_business_time(ts("2025-03-07 16:00", "UTC"), d)
    assert isinstance(out, pd.Series)
    assert list(out.index) == ["x", "y"]
    assert list(out) == [ts("2025-03-07 17:00", "UTC"), ts("2025-03-10 10:00", "UTC")]


def test_business_days_on_a_short_friday_and_a_holiday():
    cal = BusinessCalendar(NY, hours="Mon-Thu 09:00-17:00; Fri 09:00-13:00", holidays="US")
    created = pd.Series([
        ts("2025-03-06 16:00"),  # Thu, 7 h into the day: capped at Friday's 13:00 close
        ts("2025-03-07 12:00"),  # Fri, 3 h in -> Mon 12:00 (across the DST change)
        ts("2025-03-07 13:00"),  # Fri at closing time (closed) -> Mon close
        ts("2025-07-03 16:00"),  # Thu before Friday 4 July -> Mon 16:00
    ])
    assert list(cal.add_business_days(created, 1)) == [
        ts("2025-03-07 13:00"), ts("2025-03-10 12:00"), ts("2025-03-10 17:00"),
        ts("2025-07-07 16:00")]
    assert list(cal.end_of_next_business_day(created)) == [
        ts("2025-03-07 13:00"), ts("2025-03-10 17:00"), ts("2025-03-10 17:00"),
        ts("2025-07-07 17:00")]
