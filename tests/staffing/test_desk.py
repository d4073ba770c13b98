"""Desk simulation: against queueing theory (Erlang C, Erlang A) and on hand-built desks."""

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from frt_experiments.calendar import BusinessCalendar
from frt_experiments.errors import DataError, FrtWarning
from frt_experiments.policy import FrtPolicy
from frt_experiments.staffing import _engine
from frt_experiments.staffing import desk as _desk
from frt_experiments.staffing.desk import simulate_desk
from frt_experiments.staffing.profile import ArrivalProfile, ArrivalStream

UTC247 = BusinessCalendar("UTC", hours="24/7")
OFFICE = BusinessCalendar("UTC", hours="Mon-Fri 09:00-17:00")


# ----------------------------------------------------------------------------- closed forms
def erlang_c_closed_form(c, lam, mu, t):
    """M/M/c: P(wait), mean wait, P(wait <= t) (Gross & Harris, Fundamentals of Queueing
    Theory, 4th ed., section 2.3; Erlang 1917)."""
    a = lam / mu
    terms = sum(a**k / math.factorial(k) for k in range(c))
    last = a**c / math.factorial(c) * c / (c - a)
    pw = last / (terms + last)
    return pw, pw / (c * mu - lam), 1.0 - pw * math.exp(-(c * mu - lam) * t)


def erlang_a_abandon_ctmc(c, lam, mu, theta, n_max=400):
    """M/M/c+M (Palm 1943): P(abandon) from the birth-death chain's stationary law, with death
    rate min(n, c) mu + max(n - c, 0) theta (Garnett, Mandelbaum and Reiman 2002, eq. 2.1);
    P(Ab) = sum_n pi_n (n - c)+ theta / lambda (rate conservation)."""
    n = np.arange(n_max + 1)
    death = np.minimum(n, c) * mu + np.maximum(n - c, 0) * theta
    log_pi = np.concatenate([[0.0], np.cumsum(np.log(lam) - np.log(death[1:]))])
    pi = np.exp(log_pi - log_pi.max())
    pi /= pi.sum()
    return float((pi * np.maximum(n - c, 0) * theta).sum() / lam)


def test_closed_forms_agree_with_the_erlang_module():
    erlang = pytest.importorskip("frt_experiments.staffing.erlang")
    pw, wq, sl = erlang_c_closed_form(5, 4.0, 1.0, 20 / 60)
    m = erlang.erlang_c(5, 240.0, 60.0, target_seconds=20.0)
    assert float(m.p_wait[0]) == pytest.approx(pw, rel=1e-10)
    assert float(m.asa[0]) == pytest.approx(wq * 60.0, rel=1e-10)
    assert float(m.service_level[0]) == pytest.approx(sl, rel=1e-10)
    a = erlang.erlang_a(4, 240.0, 60.0, 120.0)
    assert float(a.p_abandon[0]) == pytest.approx(erlang_a_abandon_ctmc(4, 4.0, 1.0, 0.5),
                                                  rel=1e-6)


# ----------------------------------------------------------------------------- theory
START = pd.Timestamp("2025-01-06", tz="UTC")


def test_matches_erlang_c_within_the_replication_intervals():
    # M/M/5 at load 4 (occupancy 0.8): 4 arrivals a minute, 60 s mean handle time.
    profile = ArrivalProfile.constant(240.0, aht_seconds=60.0)
    res = simulate_desk(profile, agents=5, calendar=UTC247, start=START,
                        end=START + pd.Timedelta(hours=24), warmup=1.0, replications=40,
                        confidence=0.99, rng=20251123)
    pw, wq_min, sl = erlang_c_closed_form(5, 4.0, 1.0, 20 / 60)
    mean, lo, hi = res.estimate("p_wait")
    assert lo <= pw <= hi, (pw, mean, lo, hi)
    mean, lo, hi = res.estimate("mean_wait_hours")
    assert lo <= wq_min / 60 <= hi, (wq_min / 60, mean, lo, hi)
    mean, lo, hi = res.service_level(20.0)
    assert lo <= sl <= hi, (sl, mean, lo, hi)
    mean, lo, hi = res.estimate("occupancy")
    assert lo <= 0.8 <= hi
    # the intervals are informative: half-width within a few percent of the value
    assert hi - lo < 0.05


def test_occupancy_of_an_overloaded_desk_is_at_most_one():
    """Load 6 on 5 agents: the queue grows without bound and every agent is busy all the
    time after the first minutes, so occupancy is 1 (it read 1.2 when work finished after the
    window's end counted against the window's duty time). A run shorter than a week does not
    warn about overload."""
    profile = ArrivalProfile.constant(360.0, aht_seconds=60.0)
    res = simulate_desk(profile, agents=5, calendar=UTC247, start=START,
                        end=START + pd.Timedelta(hours=12), warmup=1.0, replications=5,
                        rng=7)
    occ = res.replications["occupancy"].to_numpy()
    assert (occ <= 1.0 + 1e-12).all()
    assert (occ > 0.999).all()


def test_matches_erlang_a_abandonment_within_the_replication_intervals():
    # M/M/4+M at load 4 (critically loaded; abandonment keeps it stable), patience 120 s.
    profile = ArrivalProfile.constant(240.0, aht_seconds=60.0)
    res = simulate_desk(profile, agents=4, calendar=UTC247, patience_seconds=120.0,
                        start=START, end=START + pd.Timedelta(hours=24), warmup=1.0,
                        replications=40, confidence=0.99, rng=7)
    p_ab = erlang_a_abandon_ctmc(4, 4.0, 1.0, 0.5)
    mean, lo, hi = res.estimate("p_abandon")
    assert lo <= p_ab <= hi, (p_ab, mean, lo, hi)
    assert 0.05 < p_ab < 0.3  # the case is not degenerate
    # P(wait), ASA and the service level within 20 s from Erlang A (Mandelbaum and Zeltyn
    # 2007, as computed by frt_experiments.staffing.erlang)
    erlang = pytest.importorskip("frt_experiments.staffing.erlang")
    m = erlang.erlang_a(4, 240.0, 60.0, 120.0, target_seconds=20.0)
    for value, (mean, lo, hi) in ((m.p_wait[0], res.estimate("p_wait")),
                                  (m.asa[0] / 3600, res.estimate("mean_wait_hours")),
                                  (m.service_level[0], res.service_level(20.0))):
        assert lo <= value <= hi, (value, mean, lo, hi)


def test_schedule_of_constant_agents_equals_a_constant_headcount():
    profile = ArrivalProfile.constant(20.0, aht_seconds=150.0)
    kw = {"calendar": OFFICE, "start": START, "end": START + pd.Timedelta(days=9),
          "replications": 2, "rng": 3}
    a = simulate_desk(profile, agents=5, **kw)
    b = simulate_desk(profile, agents=np.full(168, 5), **kw)
    pd.testing.assert_frame_equal(a.conversations, b.conversations)


# ----------------------------------------------------------------------------- hand-built desks
def _table(rows):
    """rows: (customer_id, arm, created_at, handle minutes)."""
    conv = pd.DataFrame({
        "conversation_id": [f"V{i}" for i in range(len(rows))],
        "customer_id": [r[0] for r in rows],
        "created_at": pd.to_datetime([r[2] for r in rows], utc=True),
        "handle_seconds": [60.0 * r[3] for r in rows],
    })
    asg = pd.DataFrame({"customer_id": [r[0] for r in rows], "arm": [r[1] for r in rows]})
    return conv, asg.drop_duplicates("customer_id")


def test_deferred_queue_is_served_by_earliest_deadline_after_fast_work():
    cal = UTC247
    policies = {
        "fast": FrtPolicy("fast", cal, target=dt.timedelta(hours=4)),
        "late": FrtPolicy("late", cal, target=dt.timedelta(hours=48)),
        "mid": FrtPolicy("mid", cal, target=dt.timedelta(hours=24)),
        "soon": FrtPolicy("soon", cal, target=dt.timedelta(hours=10)),
    }
    conv, asg = _table([
        ("c0", "fast", "2025-01-06 00:00", 60),   # occupies the only agent until 01:00
        ("c1", "late", "2025-01-06 00:10", 10),   # deadline 48:10
        ("c2", "mid", "2025-01-06 00:20", 10),    # deadline 24:20
        ("c3", "soon", "2025-01-06 00:30", 10),   # deadline 10:30
        ("c4", "fast", "2025-01-06 00:40", 5),    # fast: first when the agent frees up
    ])
    res = simulate_desk(conv, asg, agents=1, calendar=cal, policies=policies)
    c = res.conversations.set_index(conv["customer_id"])
    start = c["first_response_at"].dt.strftime("%H:%M").to_dict()
    assert start == {"c0": "00:00", "c4": "01:00", "c3": "01:05", "c2": "01:15", "c1": "01:25"}
    assert c["met"].all()


def test_backlog_carries_over_the_weekend_and_work_pauses_at_closing():
    conv, asg = _table([
        ("f", "fast", "2025-01-10 16:30", 60),   # Friday: 30 min on Friday, 30 on Monday
        ("s1", "fast", "2025-01-11 10:00", 60),  # Saturday
        ("s2", "fast", "2025-01-11 11:00", 60),
        ("s3", "fast", "2025-01-12 12:00", 60),  # Sunday
    ])
    res = simulate_desk(conv, asg, agents=1, calendar=OFFICE,
                        end=pd.Timestamp("2025-01-13 18:00", tz="UTC"))
    c = res.conversations.set_index(conv["customer_id"])
    assert c["first_response_at"].dt.strftime("%a %H:%M").to_dict() == {
        "f": "Fri 16:30", "s1": "Mon 09:30", "s2": "Mon 10:30", "s3": "Mon 11:30"}
    # business FRT: the desk was closed until Monday 09:00
    np.testing.assert_allclose(c["frt_business_hours"], [0.0, 0.5, 1.5, 2.5])
    np.testing.assert_allclose(c["frt_calendar_hours"], [0.0, 47.5, 47.5, 23.5])
    bl = res.backlog["fast"]
    assert bl[pd.Timestamp("2025-01-12 13:00", tz="UTC")] == 3  # Sunday: all three wait
    assert bl[pd.Timestamp("2025-01-13 10:00", tz="UTC")] == 2  # s1 taken at 09:30
    assert bl[pd.Timestamp("2025-01-13 12:00", tz="UTC")] == 0


def test_deferred_work_fills_quiet_hours_before_its_deadline():
    # Monday 09:00-12:00 two fast conversations every 30 min (30 min each) keep 2 agents busy;
    # ten deferred ones created 09:01-09:28 wait for the peak to pass, then are done Monday.
    fast = [(f"f{i}{k}", "fast", START + pd.Timedelta(hours=9, minutes=30 * i), 30)
            for i in range(6) for k in "ab"]
    slow = [(f"s{i}", "one_business_day", START + pd.Timedelta(hours=9, minutes=1 + 3 * i), 30)
            for i in range(10)]
    conv, asg = _table(fast + slow)
    res = simulate_desk(conv, asg, agents=2, calendar=OFFICE)
    c = res.conversations
    is_fast = c["arm"] == "fast"
    last_fast_start = c.loc[is_fast, "first_response_at"].max()
    slow_start = c.loc[~is_fast, "first_response_at"]
    assert (slow_start >= last_fast_start).all()
    assert (slow_start.dt.day_of_week == 0).all()  # done on Monday, well before Tuesday's deadline
    assert c["met"].all()
    # the deferred queue never delayed a fast conversation
    only_fast = simulate_desk(*_table(fast), agents=2, calendar=OFFICE)
    np.testing.assert_array_equal(c.loc[is_fast, "frt_business_hours"].to_numpy(),
                                  only_fast.conversations["frt_business_hours"].to_numpy())
    assert (c.loc[is_fast, "frt_business_hours"] == 0).all()


def test_a_schedule_without_agents_in_an_hour_answers_nobody_then():
    agents = np.zeros(168, dtype=int)
    agents[9:12] = 1  # Monday 09:00-12:00 only
    conv, asg = _table([("a", "fast", "2025-01-06 08:00", 10),
                        ("b", "fast", "2025-01-06 13:00", 10)])
    res = simulate_desk(conv, asg, agents=agents, calendar=OFFICE)
    when = res.conversations["first_response_at"].dt.strftime("%a %H:%M").tolist()
    assert when == ["Mon 09:00", "Mon 09:00"]  # b waits a week for the next Monday shift
    assert res.conversations["first_response_at"].iloc[1] == pd.Timestamp(
        "2025-01-13 09:00", tz="UTC")


# ----------------------------------------------------------------------------- profiles
def test_profile_from_conversations_counts_hours_of_the_week():
    conv, asg = _table([("a", "fast", "2025-01-06 09:10", 5), ("b", "fast", "2025-01-06 09:50", 7),
                        ("c", "one_business_day", "2025-01-13 09:30", 9),
                        ("d", "one_business_day", "2025-01-19 23:59", 9)])
    p = ArrivalProfile.from_conversations(conv, asg.iloc[:3])
    rates = p.to_pandas()
    # two Mondays in the window: Monday 09:00 saw 2 fast (rate 1/h) and 1 deferred (0.5/h)
    assert rates.loc[9, "fast"] == 1.0
    assert rates.loc[9, "one_business_day"] == 0.5
    assert rates.loc[167, "unassigned"] == 0.5  # customer d has no assignment
    assert {s.name: s.arm for s in p.streams}["unassigned"] == "fast"
    assert p.workload_hours_per_week() == pytest.approx(
        (1.0 * 6 * 60 + 0.5 * 9 * 60 + 0.5 * 9 * 60) / 3600)


def test_profile_draws_poisson_counts_at_the_hourly_rates():
    rates = np.zeros(168)
    rates[9] = 30.0  # Monday 09:00-10:00
    p = ArrivalProfile((ArrivalStream("fast", "fast", rates, aht_seconds=60.0),),
                       timezone="Europe/Paris")
    df = p.sample(START, START + pd.Timedelta(weeks=40), rng=1)
    local = df["created_at"].dt.tz_convert("Europe/Paris")
    assert ((local.dt.day_of_week == 0) & (local.dt.hour == 9)).all()
    # 40 Mondays x 30: Poisson mean 1200, sd 34.6; allow 4 sd
    assert abs(len(df) - 1200) < 4 * math.sqrt(1200)


# ----------------------------------------------------------------------------- bad input
def test_bad_input_names_the_argument():
    p = ArrivalProfile.constant(10.0, aht_seconds=60.0)
    with pytest.raises(ValueError, match="start and end: required"):
        simulate_desk(p, agents=1)
    with pytest.raises(ValueError, match="naive"):
        simulate_desk(p, agents=1, start="2025-01-06", end="2025-01-07")
    with pytest.raises(ValueError, match="agents: must be >= 1"):
        simulate_desk(p, agents=0, start=START, end=START + pd.Timedelta(days=1))
    with pytest.raises(ValueError, match="agents: expected an integer"):
        simulate_desk(p, agents=[1, 2], start=START, end=START + pd.Timedelta(days=1))
    with pytest.raises(ValueError, match="replications"):
        simulate_desk(p, agents=1, start=START, end=START + pd.Timedelta(days=1),
                      replications=0)
    conv, asg = _table([("a", "vip", "2025-01-06 09:10", 5)])
    with pytest.raises(ValueError, match=r"arms \['vip'\] have no first-response policy"):
        simulate_desk(conv, asg, agents=1)
    with pytest.raises(DataError, match="handle_seconds"):
        simulate_desk(conv.drop(columns="handle_seconds"), asg, agents=1)


def test_result_reads_well():
    p = ArrivalProfile.constant(20.0, aht_seconds=150.0)
    res = simulate_desk(p, agents=5, calendar=OFFICE, start=START,
                        end=START + pd.Timedelta(days=7), replications=3, rng=1)
    assert repr(res).startswith("DeskResult(5 agents, within target: fast=")
    assert "occupancy" in res.summary()
    assert res._repr_html_().startswith("<p>DeskResult(")
    t = res.to_pandas()
    assert list(t.columns) == ["arm", "statistic", "mean", "ci_low", "ci_high", "replications"]
    assert (t["ci_low"] <= t["mean"]).all()
    assert (t["mean"] <= t["ci_high"]).all()
    assert len(res.frt("fast")) == int(res.replications["n"].sum())


def test_work_resumes_across_a_daylight_saving_weekend_with_either_kind_of_staffing():
    # New York desk; 2025-03-09 the clocks go forward. Friday 16:30 EST: one hour of work,
    # half of it Monday 09:00-09:30 EDT; Saturday's conversation is answered Monday 09:30 EDT
    # = 13:30 UTC, 46.5 calendar hours after 10:00 EST Saturday.
    cal = BusinessCalendar("America/New_York")
    conv, asg = _table([("a", "fast", "2025-03-07 21:30", 60),
                        ("b", "fast", "2025-03-08 15:00", 10)])
    schedule = np.zeros(168, dtype=int)
    for day in range(5):
        schedule[day * 24 + 9:day * 24 + 17] = 1
    for agents in (1, schedule):
        c = simulate_desk(conv, asg, agents=agents, calendar=cal).conversations
        assert c["first_response_at"].iloc[1] == pd.Timestamp("2025-03-10 13:30", tz="UTC")
        np.testing.assert_allclose(c["frt_calendar_hours"], [0.0, 46.5])
        np.testing.assert_allclose(c["frt_business_hours"], [0.0, 0.5])


# ----------------------------------------------------------------------------- day bootstrap
def _trace(days, rate_per_hour, aht_seconds, rng):
    """Poisson conversations over ``days`` whole UTC days; handle times carry their source day
    as ``1 + day / 100`` seconds when ``aht_seconds`` is None (a tag, not a workload)."""
    gen = np.random.default_rng(rng)
    draws = ArrivalProfile.constant(rate_per_hour, aht_seconds=aht_seconds or 60.0).sample(
        START, START + pd.Timedelta(days=days), rng=gen)
    n = len(draws)
    created = draws["created_at"]
    if aht_seconds is None:
        day = ((created - START) // pd.Timedelta(days=1)).to_numpy()
        handle = 1.0 + day / 100.0
    else:
        handle = draws["handle_seconds"].to_numpy()
    ids = np.array([f"C{i}" for i in range(n)])
    conv = pd.DataFrame({"conversation_id": ids, "customer_id": ids, "created_at": created,
                         "handle_seconds": handle})
    asg = pd.DataFrame({"customer_id": ids, "arm": "fast"})
    return conv, asg


def test_day_bootstrap_redraws_whole_days_of_the_same_weekday():
    conv, asg = _trace(21, 2.0, None, rng=3)  # three whole weeks, days tagged in handle time
    end = START + pd.Timedelta(days=21)
    res = simulate_desk(conv, asg, agents=50, calendar=UTC247, start=START, end=end,
                        replications=6, rng=11)
    c = res.conversations
    day = ((c["created_at"] - START) // pd.Timedelta(days=1)).to_numpy()
    src = np.round((c["handle_seconds"].to_numpy() - 1.0) * 100).astype(int)
    frame = pd.DataFrame({"r": c["replication"], "day": day, "src": src})
    per_day = frame.groupby(["r", "day"])["src"].agg(["nunique", "first"])
    assert (per_day["nunique"] == 1).all()  # a day's conversations come from one source day
    assert ((per_day.index.get_level_values("day") - per_day["first"]) % 7 == 0).all()
    # the time since midnight is kept: shift back by the whole days moved
    moved = pd.to_timedelta((day - src) * 86_400, unit="s")
    back = (c["created_at"] - moved).to_numpy()
    assert np.isin(back, conv["created_at"].to_numpy()).all()
    # replications differ (a replay would repeat the trace); each covers all 21 days
    assert per_day.groupby("r")["first"].apply(tuple).nunique() > 1
    assert (per_day.groupby("r").size() == 21).all()
    # resample="none" replays the trace in every replication
    same = simulate_desk(conv, asg, agents=50, calendar=UTC247, start=START, end=end,
                         replications=2, resample="none", rng=11)
    assert (same.replications["n"] == len(conv)).all()


def test_day_bootstrap_agrees_with_erlang_c_within_the_bootstrap_error():
    # A 28-day M/M/5 trace at load 4 (24 an hour, 10 minutes each). The day-bootstrap
    # replications estimate the trace's own P(wait); their spread (sd across replications,
    # each a full-length resample) is the bootstrap standard error of that estimate around
    # the truth (Efron and Tibshirani 1993, ch. 6).
    conv, asg = _trace(28, 24.0, 600.0, rng=5)
    res = simulate_desk(conv, asg, agents=5, calendar=UTC247, start=START,
                        end=START + pd.Timedelta(days=28), replications=30, rng=2)
    pw, wq_h, _ = erlang_c_closed_form(5, 24.0, 6.0, 0.0)
    rep = res.replications
    for stat, truth in (("p_wait", pw), ("mean_wait_hours", wq_h)):
        x = rep[stat].to_numpy()
        se = x.std(ddof=1)
        assert se > 0  # replications are not copies of one another
        assert abs(x.mean() - truth) < 3.5 * se, (stat, x.mean(), truth, se)
    with pytest.raises(ValueError, match="resample: expected one of"):
        simulate_desk(conv, asg, agents=5, calendar=UTC247, replications=2, resample="weeks")
    with pytest.raises(ValueError, match="resample: applies to a conversations table"):
        simulate_desk(ArrivalProfile.constant(10.0, aht_seconds=60.0), agents=1, start=START,
                      end=START + pd.Timedelta(days=1), resample="days")
    with pytest.raises(ValueError, match="at least one whole local day"):
        simulate_desk(conv, asg, agents=5, calendar=UTC247, start=START,
                      end=START + pd.Timedelta(hours=20), replications=2)


def test_overloaded_desk_warns_that_the_queue_is_unstable():
    # 100 an hour around the clock x 150 s = 700 agent hours a week against 5 agents x 40 open
    # hours = 200: the load is above capacity (Erlang C would raise UnstableQueueError).
    p = ArrivalProfile.constant(100.0, aht_seconds=150.0)
    with pytest.warns(FrtWarning, match=r"agents: the offered work \(\d+ agent hours"):
        simulate_desk(p, agents=5, calendar=OFFICE, start=START,
                      end=START + pd.Timedelta(days=7), rng=1)


def test_single_queue_fast_path_equals_the_two_queue_loop():
    p = ArrivalProfile.constant(240.0, aht_seconds=60.0)
    setup = _desk._prepare(p, None, calendar=UTC247, policies=None, fast_arms=("fast",),
                          unassigned_arm="fast", patience_seconds=None, start=START,
                          end=START + pd.Timedelta(hours=6), warmup=0, replications=1,
                          rng=np.random.default_rng(4))
    staff = _desk._staff(5, setup)
    smp = setup.samples[0]
    assert len(smp.jobs.def_arrival) == 0
    fast, _ = _engine.run_uniform(smp.jobs, 5)
    np.testing.assert_array_equal(_desk._run(smp, staff), fast)


def test_intervals_of_shares_stay_within_zero_and_one():
    # Three replications with shares within target 1.0, 1.0 and 0.97: the t interval of the
    # mean (0.99 +- 4.303 x 0.01732 / sqrt(3) = 0.99 +- 0.043) crosses 1; a share cannot.
    # Occupancy and waits are not shares and keep the plain t interval.
    reps = pd.DataFrame({"replication": [0, 1, 2], "arm": "fast"})
    for stat in _desk.STATISTICS:
        reps[stat] = [0.5, 0.6, 0.7]
    reps["share_within_target"] = [1.0, 1.0, 0.97]
    reps["p_abandon"] = [0.0, 0.0, 0.03]
    res = _desk.DeskResult(reps, pd.DataFrame(), pd.DataFrame(), 5, 0.95, ("fast",))
    mean, lo, hi = res.estimate("share_within_target")
    assert mean == pytest.approx(0.99)
    half = 4.302652729911275 * np.std([1.0, 1.0, 0.97], ddof=1) / math.sqrt(3)  # t(0.975, 2)
    assert lo == pytest.approx(0.99 - half)
    assert hi == 1.0
    assert res.estimate("p_abandon")[1] == 0.0
    _, lo, hi = res.estimate("occupancy")
    half = 4.302652729911275 * 0.1 / math.sqrt(3)  # sd of 0.5, 0.6, 0.7 is 0.1
    assert (lo, hi) == pytest.approx((0.6 - half, 0.6 + half))
    assert _desk._mean_ci(np.array([1.0, 1.0, 0.97]), 0.95, bounds=(0.0, 1.0))[2] == 1.0


def test_day_bootstrap_intervals_cover_the_truth_at_about_their_level():
    # Twenty 28-day M/M/5 traces at load 4 (Poisson, 24 an hour, 10 minutes each), each
    # replayed as 10 day-bootstrap replications. The spread of the replications is the
    # sampling error of the trace's own P(wait) (Efron and Tibshirani 1993, ch. 6), so the
    # 95% interval is mean +- t sd sqrt(1 + 1/R) and covers Erlang C's P(wait) in about 95%
    # of traces; the Monte Carlo interval mean +- t sd / sqrt(R) covered it in 5 of these 20.
    # With coverage 0.9, fewer than 15 of 20 has probability 4% (binomial); 0.3% at 0.95.
    pw, _, _ = erlang_c_closed_form(5, 24.0, 6.0, 0.0)
    covered = 0
    for s in range(20):
        conv, asg = _trace(28, 24.0, 600.0, rng=100 + s)
        res = simulate_desk(conv, asg, agents=5, calendar=UTC247, start=START,
                            end=START + pd.Timedelta(days=28), replications=10, rng=s)
        assert res.bootstrap
        mean, lo, hi = res.estimate("p_wait")
        x = res.replications["p_wait"].to_numpy()
        half = 2.2621571627409915 * x.std(ddof=1) * math.sqrt(1 + 1 / 10)  # t(0.975, 9)
        assert (lo, hi) == pytest.approx((mean - half, mean + half))
        covered += lo <= pw <= hi
    assert covered >= 15, covered
    # profile draws are independent replications of a known model: the plain t interval
    p = ArrivalProfile.constant(24.0, aht_seconds=600.0)
    res = simulate_desk(p, agents=5, calendar=UTC247, start=START,
                        end=START + pd.Timedelta(days=2), replications=4, rng=1)
    assert not res.bootstrap
    mean, lo, _ = res.estimate("p_wait")
    x = res.replications["p_wait"].to_numpy()
    assert mean - lo == pytest.approx(3.182446305284263 * x.std(ddof=1) / 2)  # t(0.975, 3)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"confidence": "0.95"}, r"confidence: must be in \(0, 1\), got '0.95'"),
    ({"patience_seconds": "60"}, r"patience_seconds: must be > 0 \(or None\), got '60'"),
    ({"warmup": "abc"}, r"warmup: must be a duration >= 0 .*got 'abc'"),
    # a string is a sequence of letters: 'fast' made every arm deferred, silently
    ({"fast_arms": "fast"}, "fast_arms: expected a sequence of arm names"),
    ({"fast_arms": ("quick",)}, r"fast_arms: arms \['quick'\] have no first-response policy"),
])
def test_bad_desk_arguments_are_named(kwargs, message):
    conv, asg = _table([("a", "fast", "2025-01-06 09:10", 5)])
    with pytest.raises(ValueError, match=message):
        simulate_desk(conv, asg, agents=1, **kwargs)
    with pytest.raises(ValueError, match=r"arrivals_per_hour: must be > 0, got '10'"):
        ArrivalProfile.constant("10", aht_seconds=60.0)


def test_day_bootstrap_of_a_single_week_warns_that_it_cannot_vary():
    # one whole day of each weekday: every replication is the same week, intervals of width 0
    conv, asg = _trace(7, 24.0, 600.0, rng=5)
    with pytest.warns(FrtWarning, match="single whole Monday, Tuesday, .* Sunday"):
        res = simulate_desk(conv, asg, agents=5, calendar=UTC247, start=START,
                            end=START + pd.Timedelta(days=7), replications=3, rng=2)
    assert res.replications["p_wait"].nunique() == 1
