"""Headcount planning: the search finds the true minimum; plans agree with Erlang C."""

import datetime as dt
import itertools

import numpy as np
import pandas as pd
import pytest

from frt_experiments.calendar import BusinessCalendar
from frt_experiments.policy import default_policies
from frt_experiments.staffing import desk as _desk
from frt_experiments.staffing import plan as _plan
from frt_experiments.staffing.plan import (
    HeadcountProjection,
    StaffingPlan,
    plan_staffing,
    project_headcount,
    staffing_curve,
)
from frt_experiments.staffing.profile import ArrivalProfile

UTC247 = BusinessCalendar("UTC", hours="24/7")
OFFICE = BusinessCalendar("UTC", hours="Mon-Fri 09:00-17:00")
START = pd.Timestamp("2025-01-06", tz="UTC")


def _trial(rate_per_hour, aht_seconds, weeks, rng, *, outside_share=0.0):
    """Poisson conversations (exponential handle times) of customers split 50/50, plus an
    optional share of customers outside the experiment."""
    gen = np.random.default_rng(rng)
    draws = ArrivalProfile.constant(rate_per_hour, aht_seconds=aht_seconds).sample(
        START, START + pd.Timedelta(weeks=weeks), rng=gen)
    n = len(draws)
    ids = np.array([f"C{i:07d}" for i in range(n)])
    conv = pd.DataFrame({"conversation_id": [f"V{i}" for i in range(n)], "customer_id": ids,
                         "created_at": draws["created_at"],
                         "handle_seconds": draws["handle_seconds"]})
    u = gen.random(n)
    inside = u >= outside_share
    arm = np.where(gen.random(n) < 0.5, "fast", "one_business_day")
    asg = pd.DataFrame({"customer_id": ids[inside], "arm": arm[inside]})
    return conv, asg


def test_plan_matches_erlang_c_required_agents_on_a_247_desk():
    # 20 contacts/h, 15 min handle time, 80% within 10 min: Erlang C needs 7 agents (service
    # level 0.698 with 6, 0.915 with 7), as frt_experiments.staffing.erlang computes.
    conv, asg = _trial(20.0, 900.0, 20, rng=11)
    plan = plan_staffing(conv, asg, calendar=UTC247, fast_target=dt.timedelta(minutes=10),
                         service_levels={"fast": 0.8}, weeks=3, warmup_days=1, rng=5)
    erlang = pytest.importorskip("frt_experiments.staffing.erlang")
    expected = erlang.required_agents(20.0, 900.0, 600.0, 0.8).raw_agents
    assert expected == 7
    assert plan.agents("everyone_fast") == expected
    # the rollout defers everyone to a 24-hour deadline: only stability binds (load 5)
    assert 5 <= plan.agents("rollout") <= 6
    assert plan.agents_saved == expected - plan.agents("rollout")


def test_search_finds_the_same_minimum_as_a_linear_scan():
    conv, asg = _trial(30.0, 600.0, 3, rng=2, outside_share=0.3)
    sc = _plan._scenario(conv, asg, calendar=OFFICE, control="fast",
                         treatment="one_business_day")
    pols = default_policies(OFFICE, fast_target=dt.timedelta(hours=2))
    levels = {"fast": 0.9, "one_business_day": 0.95}
    for name in _plan.POLICIES:
        setup = _plan._setup(sc.profiles[name], calendar=OFFICE, policies=pols,
                             start=sc.start, weeks=2, warmup_days=2, replications=1,
                             rng=np.random.default_rng(1), control="fast")
        arm_levels = {a: levels[a] for a in setup.arms}
        found = _plan._min_agents(setup, arm_levels, guess=40)

        def feasible(n, setup=setup, arm_levels=arm_levels):
            start = _desk._run(setup.samples[0], _desk._staff(n, setup))
            share = _desk._share_met(setup.samples[0], start)
            return all(share[a] >= sl for a, sl in arm_levels.items())

        scan = next(n for n in range(1, 500) if feasible(n))
        assert found.agents == scan
        # from any starting guess and with a valid lower bound
        assert _plan._min_agents(setup, arm_levels, guess=1).agents == scan
        assert _plan._min_agents(setup, arm_levels, guess=400,
                                 lower=scan - 3).agents == scan


def test_plan_curve_and_projection_agree_and_read_well():
    conv, asg = _trial(40.0, 480.0, 4, rng=3, outside_share=0.4)
    kw = {"calendar": OFFICE, "weeks": 2, "warmup_days": 2, "rng": 9}
    plan = plan_staffing(conv, asg, cost_per_agent=50_000, **kw)
    assert isinstance(plan, StaffingPlan)
    assert plan.annual_savings == plan.agents_saved * 50_000
    hours = plan.table.set_index("policy")["scheduled_hours_per_week"]
    assert hours["everyone_fast"] == pytest.approx(plan.agents("everyone_fast") * 40.0)
    assert plan.agent_hours_saved_per_year == pytest.approx(plan.agents_saved * 40.0 * 52)
    t = plan.table.set_index("policy")
    assert t.loc["everyone_fast", "share_within_target_fast"] >= 0.9
    assert t.loc["rollout", "share_within_target_one_business_day"] >= 0.95
    assert "saved" in plan.summary()
    assert plan.summary().startswith("Staffing plan (2 simulated weeks x 1 replication;")
    assert repr(plan).startswith("StaffingPlan(everyone_fast=")
    assert "<table" in plan._repr_html_()

    curve = staffing_curve(conv, asg, targets_hours=(1, 4, 24), **kw)
    assert list(curve.columns) == ["target_hours", "policy", "agents", "deferred"]
    for _, g in curve.groupby("policy"):
        assert g.sort_values("target_hours")["agents"].is_monotonic_decreasing
    at4 = curve[curve["target_hours"] == 4].set_index("policy")["agents"]
    assert at4["everyone_fast"] == plan.agents("everyone_fast")  # same rng, same arrivals
    assert at4["rollout"] == plan.agents("rollout")

    proj = project_headcount(conv, asg, months=12, step_months=6, monthly_growth=0.05,
                             cost_per_agent=50_000, **kw)
    assert isinstance(proj, HeadcountProjection)
    tab = proj.to_pandas()
    assert sorted(tab["month"].unique()) == [0, 6, 12]
    for _, g in tab.groupby("policy"):
        assert g["agents"].is_monotonic_increasing
    first = tab[tab["month"] == 0].set_index("policy")["agents"]
    assert first["everyone_fast"] == plan.agents("everyone_fast")
    assert list(proj.savings.columns) == ["month", "agents_saved", "annual_savings"]
    assert "12 months" in proj.summary()
    assert "<table" in proj._repr_html_()


def test_bad_input_names_the_argument():
    conv, asg = _trial(10.0, 300.0, 1, rng=1)
    with pytest.raises(ValueError, match="service_levels: 'fast' must be in"):
        plan_staffing(conv, asg, calendar=OFFICE, service_levels={"fast": 1.5})
    with pytest.raises(ValueError, match="no customer in arm 'one_business_day'"):
        plan_staffing(conv, asg[asg["arm"] == "fast"], calendar=OFFICE)
    with pytest.raises(ValueError, match="targets_hours"):
        staffing_curve(conv, asg, calendar=OFFICE, targets_hours=(0, 4))
    with pytest.raises(ValueError, match="months"):
        project_headcount(conv, asg, calendar=OFFICE, months=0)
    with pytest.raises(ValueError, match=r"service_levels: unknown arms \['vip'\]"):
        staffing_curve(conv, asg, calendar=OFFICE, service_levels={"vip": 0.9})
    with pytest.raises(ValueError, match="growth: must be a positive volume multiplier"):
        plan_staffing(conv, asg, calendar=OFFICE, growth=0)


def test_targets_at_or_beyond_the_deferred_deadline_defer_nobody():
    # On a 09:00-17:00 desk the deferred deadline (next business day, same clock time) is 8
    # business hours. At an 8- or 24-hour fast target deferring gives nobody more time, so the
    # rollout is everyone fast: same agents, no savings (before the fix the one-day deadline
    # bound and the "rollout" needed more agents than everyone fast).
    conv, asg = _trial(40.0, 480.0, 4, rng=3, outside_share=0.4)
    kw = {"calendar": OFFICE, "weeks": 2, "warmup_days": 2, "rng": 9}
    curve = staffing_curve(conv, asg, targets_hours=(2, 4, 8, 24), **kw)
    wide = curve.pivot(index="target_hours", columns="policy", values="agents")
    flag = curve[curve["policy"] == "rollout"].set_index("target_hours")["deferred"]
    assert flag.to_dict() == {2.0: True, 4.0: True, 8.0: False, 24.0: False}
    assert not curve.loc[curve["policy"] == "everyone_fast", "deferred"].any()
    assert (wide.loc[[8.0, 24.0], "rollout"] == wide.loc[[8.0, 24.0], "everyone_fast"]).all()
    assert (wide["rollout"] <= wide["everyone_fast"]).all()
    assert wide["rollout"].is_monotonic_decreasing
    plan = plan_staffing(conv, asg, fast_target=dt.timedelta(hours=8), **kw)
    assert plan.agents_saved == 0
    assert plan.agents("rollout") == plan.agents("everyone_fast") == wide.loc[8.0,
                                                                               "everyone_fast"]
    assert list(plan.table["deferred"]) == [False, False]
    assert "nobody deferred" in plan.summary()
    # a just-longer deadline is the deadline, not the target: at 7 h deferral still applies
    setup = _plan._with_fast_target(
        _plan._setup(_plan._scenario(conv, asg, calendar=OFFICE, control="fast",
                                     treatment="one_business_day").profiles["rollout"],
                     calendar=OFFICE, policies=default_policies(OFFICE), start=START, weeks=1,
                     warmup_days=0, replications=1, rng=np.random.default_rng(1),
                     control="fast"), "fast", 7 * 3600.0)
    smp = setup.samples[0]
    deferred = smp.allowed[~smp.fast]
    assert deferred.min() >= 7 * 3600.0
    np.testing.assert_allclose(np.median(deferred), 8 * 3600.0)
    np.testing.assert_array_equal(smp.jobs.def_deadline, smp.b[~smp.fast] + deferred)


def test_projection_months_share_their_arrivals():
    # Common random numbers: each month's arrivals contain the previous month's, and the
    # volume grows as (1 + g)^m up to Poisson noise of the added arrivals.
    conv, asg = _trial(40.0, 480.0, 4, rng=3, outside_share=0.4)
    sc = _plan._scenario(conv, asg, calendar=OFFICE, control="fast",
                         treatment="one_business_day")
    common = {"calendar": OFFICE, "policies": default_policies(OFFICE), "start": sc.start,
              "weeks": 2, "warmup_days": 1, "replications": 2, "control": "fast"}
    base = _plan._setup(sc.profiles["rollout"], rng=np.random.default_rng(1), **common)
    top = 1.5
    extra = _plan._setup(sc.profiles["rollout"].scaled(top - 1), rng=np.random.default_rng(2),
                         **common)
    u = np.random.default_rng(3)
    marks = [u.random(len(s.b)) for s in base.samples]
    extra_marks = [u.random(len(s.b)) for s in extra.samples]
    grown = [_plan._grown(base, extra, marks, extra_marks, growth=g, top=top)
             for g in (0.8, 1.0, 1.2, 1.5)]
    for k in range(2):
        sets = [set(zip(s.samples[k].created.tolist(), s.samples[k].handle.tolist(),
                        strict=True)) for s in grown]
        assert all(a <= b for a, b in itertools.pairwise(sets))
        np.testing.assert_array_equal(grown[1].samples[k].created, base.samples[k].created)
        n = np.array([len(s) for s in sets], dtype=float)
        added = n[3] - n[1]  # Poisson with mean 0.5 x base volume
        assert abs(added - 0.5 * n[1]) < 4 * np.sqrt(0.5 * n[1])
        smp = grown[2].samples[k]
        assert np.all(np.diff(smp.created) >= 0)
        np.testing.assert_array_equal(smp.jobs.fast_arrival, smp.b[smp.fast])


def test_plan_reports_replication_intervals_of_the_share_within_target():
    conv, asg = _trial(40.0, 480.0, 4, rng=3, outside_share=0.4)
    plan = plan_staffing(conv, asg, calendar=OFFICE, weeks=1, warmup_days=2, replications=4,
                         rng=2)
    iv = plan.intervals
    assert list(iv.columns) == ["policy", "arm", "service_level", "share_within_target",
                                "ci_low", "ci_high", "replications"]
    assert set(zip(iv["policy"], iv["arm"], strict=True)) == {
        ("everyone_fast", "fast"), ("rollout", "fast"), ("rollout", "one_business_day")}
    assert (iv["replications"] == 4).all()
    assert ((iv["ci_low"] <= iv["share_within_target"])
            & (iv["share_within_target"] <= iv["ci_high"])).all()
    assert (iv["ci_high"] > iv["ci_low"]).any()  # replications differ
    # the interval is the t interval of the per-replication shares at the chosen headcount;
    # its mean is the plan's share and it meets the service level on average
    t = plan.table.set_index("policy")
    for r in iv.to_dict("records"):
        assert r["share_within_target"] == pytest.approx(
            t.loc[r["policy"], f"share_within_target_{r['arm']}"], rel=1e-12)
        assert r["share_within_target"] >= r["service_level"]
    assert "[" in plan.summary()
    one = plan_staffing(conv, asg, calendar=OFFICE, weeks=1, warmup_days=2, rng=2)
    assert one.intervals["ci_low"].isna().all()


def test_policies_share_the_outside_customers_arrivals():
    # Common random numbers across policies: with the same seed, the customers outside the
    # experiment arrive at the same times with the same handle times under both policies.
    conv, asg = _trial(40.0, 480.0, 2, rng=3, outside_share=0.4)
    sc = _plan._scenario(conv, asg, calendar=OFFICE, control="fast",
                         treatment="one_business_day")
    common = {"calendar": OFFICE, "policies": default_policies(OFFICE), "start": sc.start,
              "weeks": 1, "warmup_days": 1, "replications": 2, "control": "fast"}
    seed = _plan._seeds(np.random.default_rng(7))
    assert seed[0] == seed[1]
    fast = _plan._setup(sc.profiles["everyone_fast"], rng=np.random.default_rng(seed[0]),
                        **common)
    roll = _plan._setup(sc.profiles["rollout"], rng=np.random.default_rng(seed[1]), **common)
    for f, r in zip(fast.samples, roll.samples, strict=True):
        outside = set(zip(r.created[r.fast].tolist(), r.handle[r.fast].tolist(), strict=True))
        assert len(outside) > 100
        assert outside <= set(zip(f.created.tolist(), f.handle.tolist(), strict=True))
    assert not np.array_equal(fast.samples[0].created, fast.samples[1].created)
    with pytest.raises(ValueError, match="one generator per stream"):
        sc.profiles["rollout"]._draw(0, 10**12, [np.random.default_rng(1)])


@pytest.mark.parametrize(("call", "message"), [
    (lambda c, a: plan_staffing(c, a, calendar=OFFICE, weeks="4"), r"weeks: .*got '4'"),
    (lambda c, a: plan_staffing(c, a, calendar=OFFICE, cost_per_agent="65k"),
     r"cost_per_agent: .*got '65k'"),
    (lambda c, a: plan_staffing(c, a, calendar=OFFICE, service_levels={"fast": "0.9"}),
     r"service_levels: 'fast' must be in \(0, 1\), got '0.9'"),
    (lambda c, a: staffing_curve(c, a, calendar=OFFICE, targets_hours="4,8"),
     "targets_hours: must be positive numbers"),
    (lambda c, a: project_headcount(c, a, calendar=OFFICE, monthly_growth="3%"),
     r"monthly_growth: .*got '3%'"),
])
def test_values_that_are_not_numbers_are_named(call, message):
    # strings where numbers belong: a ValueError naming the argument, not numpy's TypeError
    conv, asg = _trial(10.0, 300.0, 1, rng=1)
    with pytest.raises(ValueError, match=message):
        call(conv, asg)
