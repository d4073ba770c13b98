"""Headcount planning: the search finds the true minimum; plans agree with Erlang C."""

import datetime as dt

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
    assert repr(plan).startswith("StaffingPlan(everyone_fast=")
    assert "<table" in plan._repr_html_()

    curve = staffing_curve(conv, asg, targets_hours=(1, 4, 24), **kw)
    assert list(curve.columns) == ["target_hours", "policy", "agents"]
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
