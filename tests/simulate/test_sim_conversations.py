"""Conversations: business clock, arrival profile, FRT, handle time and ratings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from frt_experiments.simulate import expected_csat, load_scenario
from frt_experiments.simulate.conversations import DeskClock, draw_arrivals, draw_conversations
from frt_experiments.simulate.effects import expected_csat_slow
from frt_experiments.simulate.first_response import slow_frt_cdf

NY = "America/New_York"


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("published").with_(population={
        "timezones": [NY], "timezone_weights": [1.0]})


def _ns(*stamps: str) -> np.ndarray:
    return pd.DatetimeIndex(pd.to_datetime(list(stamps), utc=True)).as_unit("ns").asi8


def test_business_clock_by_hand(scenario) -> None:
    clock = DeskClock(scenario)
    created = _ns("2025-01-17T16:00:00-05:00",   # Friday before MLK day (a US holiday)
                  "2025-01-21T20:00:00-05:00",   # Tuesday evening, after hours
                  "2025-03-07T15:30:00-05:00")   # Friday before the DST change
    add = np.array([2 * 3600.0, 3600.0, 8 * 3600.0])
    got = clock.from_business(clock.to_business(created) + add)
    want = _ns("2025-01-21T10:00:00-05:00",      # 1 h Friday, 1 h Tuesday (Monday closed)
               "2025-01-22T10:00:00-05:00",
               "2025-03-10T15:30:00-04:00")      # one business day later, now EDT
    np.testing.assert_array_equal(got, want)


def test_business_clock_round_trips_inside_business_hours(scenario) -> None:
    clock = DeskClock(scenario)
    rng = np.random.default_rng(5)
    k = rng.integers(0, 100, 1000)
    secs = rng.integers(0, 8 * 3600, 1000).astype(float)
    b = k * 8 * 3600.0 + secs
    np.testing.assert_array_equal(clock.to_business(clock.from_business(b)), b)
    t = np.sort(rng.integers(_ns("2025-01-06T00:00:00Z")[0], _ns("2025-06-01T00:00:00Z")[0], 5000))
    assert np.all(np.diff(clock.to_business(t)) >= 0)


def test_arrivals_follow_the_hour_and_day_profile(scenario) -> None:
    n = 200_000
    ns = draw_arrivals(scenario, np.zeros(n, dtype=np.int64), np.random.default_rng(9))
    assert ns.min() >= scenario.start.value
    assert ns.max() < scenario.end.value
    assert np.all(ns % 1_000_000_000 == 0)
    local = pd.DatetimeIndex(ns, tz="UTC").tz_convert(NY)
    w = np.asarray(scenario.conversations.hour_weights)
    w = w / w.sum()
    share = np.bincount(local.hour, minlength=24) / n
    assert np.all(np.abs(share - w) < 4.5 * np.sqrt(w * (1 - w) / n))
    # day of week: weights times the number of such days in the window
    days = pd.date_range(scenario.start.tz_convert(NY).normalize(), periods=151, freq="D")
    dw = np.bincount(days.day_of_week, minlength=7) * np.asarray(scenario.conversations.day_weights)
    dw = dw / dw.sum()
    dshare = np.bincount(local.day_of_week, minlength=7) / n
    assert np.all(np.abs(dshare - dw) < 4.5 * np.sqrt(dw * (1 - dw) / n) + 1e-3)


@pytest.fixture(scope="module")
def drawn(scenario):
    n = 40_000
    rng = np.random.default_rng(13)
    treated = np.arange(n) % 2 == 1
    return draw_conversations(scenario, rate=np.full(n, 0.7), propensity=np.zeros(n),
                              handle_factor=np.ones(n), tz_index=np.zeros(n, np.int64),
                              treated=treated, rng=rng), treated


def test_counts_per_customer_follow_rate_and_questions_effect(scenario, drawn) -> None:
    conv, treated = drawn
    counts = np.bincount(conv.customer, minlength=treated.size)
    for arm, mult in ((False, 1.0), (True, scenario.effects.questions)):
        mu = 0.7 * scenario.window.months * mult
        c = counts[treated == arm]
        assert abs(c.mean() - mu) < 4 * np.sqrt(mu / c.size)  # Poisson given the rate


def test_frt_business_seconds_and_first_response(scenario, drawn) -> None:
    conv, treated = drawn
    slow = treated[conv.customer]
    f = scenario.frt
    logs = np.log(conv.frt_business_seconds[~slow] / 3600)
    assert abs(np.median(logs) - np.log(f.fast_median_hours)) < 4 * 1.2533 * f.fast_sigma \
        / np.sqrt(logs.size)
    # slow arm: the closed-form CDF of first_response at a few points, binomial SEs
    grid = np.array([4.0, 6.0, 7.0, 7.5, 8.0, 9.0])
    want = slow_frt_cdf(grid, f)
    got = (conv.frt_business_seconds[slow][:, None] / 3600 <= grid).mean(axis=0)
    assert np.all(np.abs(got - want) < 4.5 * np.sqrt(want * (1 - want) / slow.sum()))
    assert np.all(conv.first_response_ns >= conv.created_ns)
    clock = DeskClock(scenario)
    elapsed = clock.to_business(conv.first_response_ns) - clock.to_business(conv.created_ns)
    np.testing.assert_allclose(elapsed, conv.frt_business_seconds, atol=1.0)


def test_handle_time_and_ratings(scenario, drawn) -> None:
    conv, treated = drawn
    slow = treated[conv.customer]
    c = scenario.conversations
    for arm, mult in ((False, 1.0), (True, scenario.effects.handle_time)):
        logs = np.log(conv.handle_seconds[slow == arm])
        se = 1.2533 * c.handle_sigma / np.sqrt(logs.size)  # SE of a normal median
        assert abs(np.median(logs) - np.log(c.handle_median_minutes * 60 * mult)) < 4 * se + 2e-3
    rated = conv.rating > 0
    r = c.survey_response
    assert abs(rated.mean() - r) < 4 * np.sqrt(r * (1 - r) / rated.size)
    sat = conv.rating >= 4
    cs, f = scenario.csat, scenario.frt
    fast = expected_csat(intercept=cs.intercept, slope=cs.slope,
                         median_hours=f.fast_median_hours, sigma=f.fast_sigma)
    held = expected_csat_slow(intercept=cs.intercept, slope=cs.slope, frt=f)
    for arm, want in ((False, fast), (True, held)):
        m = rated & (slow == arm)
        assert abs(sat[m].mean() - want) < 4 * np.sqrt(want * (1 - want) / m.sum())


def test_desk_hook_takes_given_frt_and_checks_it(scenario) -> None:
    kw = {"rate": np.full(50, 1.0), "propensity": np.zeros(50), "handle_factor": np.ones(50),
          "tz_index": np.zeros(50, np.int64), "treated": np.arange(50) % 2 == 0}
    with pytest.raises(ValueError, match="frt_model: must return"):
        draw_conversations(scenario, rng=np.random.default_rng(1),
                           frt_model=lambda created, slow: np.ones(3), **kw)
    conv = draw_conversations(scenario, rng=np.random.default_rng(1),
                              frt_model=lambda created, slow: np.where(slow, 7200.0, 60.0), **kw)
    slow = kw["treated"][conv.customer]
    assert (conv.frt_business_seconds == np.where(slow, 7200.0, 60.0)).all()


def test_desk_clock_agrees_with_the_business_calendar(scenario) -> None:
    calendar = pytest.importorskip("frt_experiments.calendar")
    f = scenario.frt
    cal = calendar.BusinessCalendar(f.timezone, hours="Mon-Fri 09:00-17:00", holidays="US")
    rng = np.random.default_rng(21)
    created = rng.integers(scenario.start.value, scenario.end.value, 3000) // 10**9 * 10**9
    secs = rng.integers(1, 30 * 3600, 3000).astype(float)
    clock = DeskClock(scenario)
    ours = clock.from_business(clock.to_business(created) + secs)
    theirs = cal.add_business_time(pd.Series(pd.DatetimeIndex(created, tz="UTC")),
                                   pd.to_timedelta(secs, unit="s"))
    theirs_b = clock.to_business(pd.DatetimeIndex(theirs).tz_convert("UTC").as_unit("ns").asi8)
    # same business instant (the calendar may end at closing time where we start at opening)
    np.testing.assert_allclose(clock.to_business(ours), theirs_b, atol=1e-6)
