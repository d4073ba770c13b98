"""Desk analytics (issue 18, item 3): per-interval, per-day and whole-window figures of observed
and simulated desks against hand-computed values, bootstrap intervals within their bounds, and
the desk simulation's own intervals never below 0."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from frt_experiments.calendar import BusinessCalendar
from frt_experiments.errors import DataError
from frt_experiments.policy import FrtPolicy
from frt_experiments.staffing import desk as _desk
from frt_experiments.staffing.analytics import DeskAnalytics, desk_analytics, wait_unit
from frt_experiments.staffing.desk import simulate_desk
from frt_experiments.staffing.roster import Roster

UTC247 = BusinessCalendar("UTC", hours="24/7")
LIVE = {"fast": FrtPolicy("fast", UTC247, target=dt.timedelta(seconds=20))}


def _calls(rows):
    """rows: (created, answered or None, abandoned or None, handle seconds); times are
    'YYYY-MM-DD HH:MM:SS' in UTC."""
    def at(x):
        return pd.Timestamp(x, tz="UTC") if x else pd.NaT

    return pd.DataFrame({
        "conversation_id": [f"V{i}" for i in range(len(rows))],
        "customer_id": [f"C{i}" for i in range(len(rows))],
        "created_at": pd.Series([at(r[0]) for r in rows], dtype="datetime64[ns, UTC]"),
        "first_response_at": pd.Series([at(r[1]) for r in rows], dtype="datetime64[ns, UTC]"),
        "abandoned_at": pd.Series([at(r[2]) for r in rows], dtype="datetime64[ns, UTC]"),
        "handle_seconds": [r[3] for r in rows],
    })


D1, D2 = "2025-03-03 ", "2025-03-04 "
# Two days. Day 1, 09:00-09:30: A answered at once (600 s of work), B waits 40 s, C hangs up
# after 30 s, D waits 10 s; 09:30-10:00: E waits 100 s. Day 2, 09:00-09:30: F at once, G still
# waiting when the data end (unresolved).
SMALL = _calls([
    (D1 + "09:00:00", D1 + "09:00:00", None, 600.0),
    (D1 + "09:05:00", D1 + "09:05:40", None, 300.0),
    (D1 + "09:10:00", None, D1 + "09:10:30", 0.0),
    (D1 + "09:20:00", D1 + "09:20:10", None, 120.0),
    (D1 + "09:40:00", D1 + "09:41:40", None, 60.0),
    (D2 + "09:00:00", D2 + "09:00:00", None, 1800.0),
    (D2 + "09:10:00", None, None, 0.0),
])


def test_per_interval_and_per_day_figures_equal_hand_computed_values():
    a = desk_analytics(SMALL, target_seconds=20, agents=2, resamples=0)
    assert isinstance(a, DeskAnalytics)
    assert a.unit == "s"  # waits of 0-100 s: a live queue
    assert a.sources == ("observed",)
    t = a.intervals
    first = t.loc[pd.Timestamp(D1 + "09:00", tz="UTC")]
    # offered 4; answered A, B, D; abandoned C; P(wait): B, C, D of 4
    assert (first["offered_observed"], first["answered_observed"],
            first["abandoned_observed"], first["unresolved_observed"]) == (4, 3, 1, 0)
    assert first["p_wait_observed"] == 0.75
    assert first["p_abandon_observed"] == 0.25
    # answered waits 0, 40, 10: mean 50/3, median 10, p90 (type 7) 10 + 0.8 x 30 = 34
    assert first["mean_wait_s_observed"] == pytest.approx(50 / 3)
    assert first["median_wait_s_observed"] == 10.0
    assert first["p90_wait_s_observed"] == pytest.approx(34.0)
    # within 20 s: A and D of 4 offered (the hang-up counts as missed)
    assert first["service_level_observed"] == 0.5
    # busy: A 09:00-09:10 (600 s), B 09:05:40-09:10:40 (300 s), D 09:20:10-09:22:10 (120 s)
    # = 1,020 agent seconds of 2 x 1,800 on duty
    assert first["busy_agents_observed"] == pytest.approx(1020 / 1800)
    assert first["agents_observed"] == 2.0
    assert first["occupancy_observed"] == pytest.approx(1020 / 3600)
    second = t.loc[pd.Timestamp(D1 + "09:30", tz="UTC")]
    assert second["offered_observed"] == 1
    assert second["mean_wait_s_observed"] == 100.0
    assert second["service_level_observed"] == 0.0
    # an empty interval between the days: nothing offered, no waits
    empty = t.loc[pd.Timestamp(D1 + "15:00", tz="UTC")]
    assert empty["offered_observed"] == 0
    assert math.isnan(empty["mean_wait_s_observed"])
    days = a.days
    assert list(days.index) == [dt.date(2025, 3, 3), dt.date(2025, 3, 4)]
    assert days["offered_observed"].tolist() == [5, 2]
    assert days["unresolved_observed"].tolist() == [0, 1]
    # day 1: answered waits 0, 40, 10, 100 -> mean 37.5; day 2: 0
    assert days["mean_wait_s_observed"].tolist() == pytest.approx([37.5, 0.0])
    assert days["p_wait_observed"].tolist() == pytest.approx([0.8, 0.5])
    # day 2: F serves 09:00-09:30 (1,800 s) of 2 agents x 86,400 s
    assert days["occupancy_observed"].iloc[1] == pytest.approx(1800 / (2 * 86_400))
    o = a.overall
    assert o.loc["offered_per_day", "observed"] == 3.5
    assert o.loc["share_answered", "observed"] == pytest.approx(5 / 7)
    assert o.loc["p_abandon", "observed"] == pytest.approx(1 / 7)
    assert o.loc["mean_wait_s", "observed"] == pytest.approx(150 / 5)
    assert o.loc["median_wait_s", "observed"] == 10.0
    assert o.loc["service_level", "observed"] == pytest.approx(3 / 7)
    assert np.isnan(o.loc["p_wait", "observed_ci_low"])  # resamples=0: no intervals
    # the same in minutes when asked
    m = desk_analytics(SMALL, unit="min", resamples=0)
    nine = pd.Timestamp(D1 + "09:00", tz="UTC")
    assert m.intervals.loc[nine, "mean_wait_min_observed"] == pytest.approx(50 / 3 / 60)
    # the grid covers whole local days: 2 x 48 half hours
    assert len(a.intervals) == 96
    assert a.intervals.index[0] == pd.Timestamp(D1 + "00:00", tz="UTC")
    assert "service_level_observed" not in m.intervals.columns  # no target, no level


def test_intervals_follow_the_local_clock_and_can_be_15_or_60_minutes():
    a = desk_analytics(SMALL, interval="1h", timezone="America/New_York", resamples=0)
    # 09:00 UTC is 04:00 in New York (EST): that hour holds A-D of day 1, E (09:40) too
    four = pd.Timestamp("2025-03-03 04:00", tz="America/New_York")
    assert a.intervals.index[0] == pd.Timestamp("2025-03-03 00:00", tz="America/New_York")
    assert a.intervals.loc[four, "offered_observed"] == 5
    q = desk_analytics(SMALL, interval="15min", resamples=0)
    at = pd.Timestamp(D1 + "09:00", tz="UTC")
    assert q.intervals.loc[at:, "offered_observed"].iloc[:4].tolist() == [3, 1, 1, 0]


def test_wait_unit_reads_the_channel():
    assert wait_unit([0.0] * 90 + [30.0] * 10) == "s"
    assert wait_unit(np.full(10, 900.0)) == "min"
    assert wait_unit(np.full(10, 6 * 3600.0)) == "h"
    assert wait_unit([]) == "s"


def test_simulated_side_matches_the_desk_result_and_sits_beside_the_observed():
    # the same calls replayed on one agent: A 09:00-09:10; B (09:05) waits until 09:10; C
    # hangs up at 09:10:30 (before B's 300 s end); D (09:20) at once; E at once; F, G
    sim = simulate_desk(SMALL, agents=1, calendar=UTC247, policies=LIVE, fast_arms=("fast",),
                        unassigned_arm="fast", rng=1)
    a = desk_analytics(SMALL, sim, target_seconds=20, unit="s", resamples=0)
    assert a.sources == ("observed", "simulated")
    t = a.intervals.loc[pd.Timestamp(D1 + "09:00", tz="UTC")]
    assert t["offered_simulated"] == t["offered_observed"] == 4
    assert t["abandoned_simulated"] == 1
    assert t["mean_wait_s_simulated"] == pytest.approx((0 + 300 + 0) / 3)
    # whole-window figures equal the desk's own (one replication)
    o = a.overall
    assert o.loc["p_wait", "simulated"] == pytest.approx(sim.estimate("p_wait")[0])
    assert o.loc["p_abandon", "simulated"] == pytest.approx(sim.estimate("p_abandon")[0])
    assert o.loc["mean_wait_s", "simulated"] == pytest.approx(
        sim.estimate("mean_wait_hours")[0] * 3600)
    assert o.loc["service_level", "simulated"] == pytest.approx(sim.service_level(20)[0])
    # the simulation's own agents give its occupancy: 1 agent all through every interval
    assert (a.intervals["agents_simulated"] == 1).all()
    assert "agents_observed" not in a.intervals.columns
    fig = a.plot(("offered", "mean_wait", "occupancy"))
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 3
    assert {ln.get_label() for ln in fig.axes[1].lines} == {"observed", "simulated"}
    assert isinstance(a.plot("p_wait", by="day"), Figure)
    with pytest.raises(ValueError, match=r"statistics: \['asa'\] are not in the table"):
        a.plot("asa")
    text = a.summary()
    assert "waits of answered conversations in seconds (elapsed)" in text
    assert "service level within 20 s" in text
    assert a.to_pandas("day").columns[0] == "date"
    assert a.to_pandas("overall").columns[0] == "statistic"


def test_occupancy_from_a_roster_and_replications_average(call_centre):
    roster = Roster.from_table(call_centre.roster)
    sim = simulate_desk(call_centre.conversations, call_centre.assignments,
                        agents=roster.scaled(0.7), calendar=UTC247,
                        policies={"priority": LIVE["fast"], "regular": LIVE["fast"]},
                        fast_arms=("priority",), unassigned_arm="regular",
                        patience_seconds=180.0, replications=2, resample="none", rng=3)
    a = desk_analytics(call_centre.conversations, sim, target_seconds=20,
                       agents=roster.scaled(0.7), resamples=99, rng=1)
    t = a.intervals
    peak = t.loc[pd.Timestamp("2025-03-03 10:00", tz="UTC")]
    assert peak["agents_observed"] == peak["agents_simulated"] == pytest.approx(14.0)
    # the replay with the true effective roster and patience reads like the data
    o = a.overall
    for stat in ("p_abandon", "p_wait", "service_level", "occupancy"):
        assert abs(o.loc[stat, "observed"] - o.loc[stat, "simulated"]) < 0.04, stat
    # counts of a simulation are per replication
    assert t["offered_simulated"].sum() == pytest.approx(len(call_centre.conversations))
    assert a.days["occupancy_observed"].between(0.5, 1.0).all()


# ----------------------------------------------------------------------------- bounds
def _live_days(n_days, per_day, rng):
    """A live queue's days: 80% answered at once, the others after an exponential wait of
    mean 30 s, 10% of those abandon (after the same wait); independent days."""
    rows = []
    for d in range(n_days):
        day = pd.Timestamp("2025-03-03", tz="UTC") + pd.Timedelta(days=d)
        created = day + pd.to_timedelta(np.sort(rng.uniform(8, 18, per_day)), unit="h")
        waited = rng.random(per_day) < 0.2
        wait = np.where(waited, rng.exponential(30.0, per_day), 0.0)
        gone = waited & (rng.random(per_day) < 0.1)
        for c, w, g in zip(created, wait, gone, strict=True):
            end = c + pd.Timedelta(seconds=float(w))
            rows.append((c, None if g else end, end if g else None))
    return pd.DataFrame({
        "created_at": pd.Series([r[0] for r in rows], dtype="datetime64[ns, UTC]"),
        "first_response_at": pd.Series([r[1] for r in rows], dtype="datetime64[ns, UTC]"),
        "abandoned_at": pd.Series([r[2] for r in rows], dtype="datetime64[ns, UTC]"),
        "handle_seconds": 60.0})


def test_bootstrap_intervals_stay_within_their_bounds():
    # a live queue where most waits are 0: a normal interval of the median and p90 waits and
    # of small shares crosses 0; resampled days cannot
    conv = _live_days(6, 40, np.random.default_rng(7))
    a = desk_analytics(conv, target_seconds=20, resamples=499, rng=2)
    o = a.overall
    lo, hi = o["observed_ci_low"], o["observed_ci_high"]
    assert (lo >= 0).all()
    assert (lo <= hi).all()
    for share in ("share_answered", "p_abandon", "p_wait", "service_level"):
        assert 0 <= lo[share] <= hi[share] <= 1, share
    assert lo["median_wait_s"] == 0.0  # the median is 0 in every resample


def test_bootstrap_intervals_cover_the_truth_at_about_their_level():
    # 150 data sets of 20 independent days; truth: P(wait) = 0.2 and the mean wait of the
    # answered is 0.2 x 0.9 x 30 / (0.8 + 0.2 x 0.9) = 5.51 s. The percentile intervals by day
    # should cover both at about 95%; with coverage 0.93 (the percentile bootstrap runs a
    # little short with 20 blocks) fewer than 130 of 150 has probability 3%.
    rng = np.random.default_rng(11)
    truth_mean = 0.2 * 0.9 * 30.0 / (0.8 + 0.2 * 0.9)
    covered = {"p_wait": 0, "mean_wait_s": 0}
    for s in range(150):
        conv = _live_days(20, 30, rng)
        o = desk_analytics(conv, resamples=199, rng=s).overall
        for stat, truth in (("p_wait", 0.2), ("mean_wait_s", truth_mean)):
            covered[stat] += o.loc[stat, "observed_ci_low"] <= truth <= o.loc[
                stat, "observed_ci_high"]
    assert covered["p_wait"] >= 130, covered
    assert covered["mean_wait_s"] >= 130, covered


def test_desk_intervals_of_waits_never_go_below_zero():
    # issue 18: a live queue's p90 wait from a few day-bootstrap replications, mostly 0 s:
    # mean 0.0033 h, sd 0.0058, t(0.975, 2) x sd x sqrt(1 + 1/3) = 0.0287 -> the t interval
    # was [-0.025, 0.032] h. Every desk statistic is >= 0: the interval is cut at 0.
    reps = pd.DataFrame({"replication": [0, 1, 2], "arm": "fast"})
    for stat in _desk.STATISTICS:
        reps[stat] = [0.5, 0.6, 0.7]
    reps["p90_business_hours"] = [0.0, 0.0, 0.01]
    reps["median_business_hours"] = [0.0, 0.0, 0.0]
    res = _desk.DeskResult(reps, pd.DataFrame(), pd.DataFrame(), 5, 0.95, ("fast",),
                           bootstrap=True)
    mean, lo, hi = res.estimate("p90_business_hours")
    half = 4.302652729911275 * np.std([0, 0, 0.01], ddof=1) * math.sqrt(1 + 1 / 3)
    assert mean == pytest.approx(0.01 / 3)
    assert lo == 0.0
    assert hi == pytest.approx(0.01 / 3 + half)
    assert (res.to_pandas()["ci_low"] >= 0).all()
    # the desk itself: a live queue replayed as day-bootstrap replications
    conv = _live_days(14, 60, np.random.default_rng(3)).assign(
        customer_id=lambda d: [f"C{i}" for i in range(len(d))])
    sim = simulate_desk(conv, agents=2, calendar=UTC247, policies=LIVE, fast_arms=("fast",),
                        unassigned_arm="fast", start=pd.Timestamp("2025-03-03", tz="UTC"),
                        end=pd.Timestamp("2025-03-17", tz="UTC"), replications=3, rng=4)
    assert sim.bootstrap
    assert (sim.to_pandas()["ci_low"] >= 0).all()
    # and its summary reads a live queue in seconds, not "0.00 business h"
    assert "business s" in sim.summary()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"interval": "7min"}, "interval: expected a duration that divides an hour"),
    ({"unit": "days"}, "unit: expected 'auto' or one of"),
    ({"target_seconds": -1}, "target_seconds: must be a number of seconds >= 0"),
    ({"confidence": 1.5}, r"confidence: must be in \(0, 1\)"),
    ({"resamples": -1}, "resamples: must be an integer >= 0"),
    ({"agents": -2}, "agents: expected a Roster, a number of agents > 0"),
    ({"start": "2025-03-03"}, "start: .* is a naive timestamp"),
    ({"start": pd.Timestamp("2026-01-01", tz="UTC")}, "start/end: no observed conversation"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        desk_analytics(SMALL, **{"resamples": 0, **kwargs})


def test_bad_tables_and_sides_are_refused():
    with pytest.raises(ValueError, match="observed and simulated: give at least one"):
        desk_analytics()
    with pytest.raises(TypeError, match="simulated: expected a DeskResult"):
        desk_analytics(simulated=SMALL)
    bad = SMALL.copy()
    bad.loc[2, "abandoned_at"] = pd.Timestamp(D1 + "09:00", tz="UTC")  # before 09:10
    with pytest.raises(DataError, match="column abandoned_at: 1 row is earlier than created_at"):
        desk_analytics(bad)
    with pytest.raises(DataError, match="column first_response_at: column is missing"):
        desk_analytics(SMALL.drop(columns="first_response_at"))


def test_occupancy_counts_only_the_intervals_a_roster_covers():
    # a roster of 2 agents for day 1 only: day 2's service (F, 1,800 s) is outside it
    day1 = pd.date_range(D1 + "00:00", periods=48, freq="30min", tz="UTC")
    roster = Roster(day1, np.full(48, 2.0), pd.Timedelta(minutes=30))
    a = desk_analytics(SMALL, agents=roster, resamples=0)
    # day 1: A 600 + B 300 + D 120 + E 60 = 1,080 agent seconds of 2 x 86,400
    assert a.days["occupancy_observed"].iloc[0] == pytest.approx(1080 / (2 * 86_400))
    assert math.isnan(a.days["occupancy_observed"].iloc[1])
    assert a.overall.loc["occupancy", "observed"] == pytest.approx(1080 / (2 * 86_400))
