"""The simulator with the desk in the loop (issue 17): three worlds on common random numbers,
the A/A identity, the direction of the interference, split pools removing the bias within
Monte Carlo error, and bad headcounts refused in one line naming the argument."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from frt_experiments import schema
from frt_experiments.cli import main
from frt_experiments.errors import ScenarioError, UnstableQueueError
from frt_experiments.simulate import (
    Worlds,
    desk_truth,
    load_scenario,
    simulate,
    simulate_worlds,
)

OUTCOMES = ("csat", "questions", "nrr")
WORLD_NAMES = ("status_quo", "trial", "rollout")


@pytest.fixture(scope="module")
def loaded() -> Worlds:
    """The preset at 6,000 customers (8 agents, 7 in the rollout): a loaded desk."""
    return simulate_worlds("published-desk", customers=6000, rng=11)


def _keys(df: pd.DataFrame) -> pd.DataFrame:
    return (df[[schema.CUSTOMER_ID, schema.CREATED_AT, schema.HANDLE_SECONDS]]
            .sort_values([schema.CUSTOMER_ID, schema.CREATED_AT]).reset_index(drop=True))


def test_worlds_share_customers_and_arrivals() -> None:
    """Without follow-ups every world has the same conversations, arriving at the same times
    with the same handle times for customers served alike; the customers are the same."""
    sc = load_scenario("published-desk").with_(conversations={"followup": 0.0})
    w = simulate_worlds(sc, customers=4000, rng=3)
    cust = [w.world(n).customers.drop(columns=schema.REVENUE_END) for n in WORLD_NAMES]
    assert cust[0].equals(cust[1])
    assert cust[0].equals(cust[2])
    created = [w.world(n).conversations.sort_values(schema.CONVERSATION_ID)[
        [schema.CUSTOMER_ID, schema.CREATED_AT]].reset_index(drop=True) for n in WORLD_NAMES]
    assert created[0].equals(created[1])
    assert created[0].equals(created[2])
    control = set(w.assignments.loc[w.assignments[schema.ARM] == "fast", schema.CUSTOMER_ID])
    sq, tr = (_keys(w.world(n).conversations) for n in ("status_quo", "trial"))
    alike = ~sq[schema.CUSTOMER_ID].isin(set(w.assignments[schema.CUSTOMER_ID]) - control)
    assert sq[alike].equals(tr[alike])  # same handle times where served alike
    assert not sq[~alike][schema.HANDLE_SECONDS].equals(tr[~alike][schema.HANDLE_SECONDS])
    # the FRT is the desk's: the trial's slow arm waits longer than the status quo's customers
    assert w.interference.loc[("one_business_day", "trial"), "mean_business_hours"] > \
        w.interference.loc[("fast", "status_quo"), "mean_business_hours"]


def test_simulate_is_the_trial_world(loaded: Worlds) -> None:
    trial = simulate("published-desk", customers=6000, rng=11)
    for name in ("customers", "assignments", "conversations"):
        pd.testing.assert_frame_equal(trial.to_pandas()[name], loaded.trial.to_pandas()[name])
    assert trial.scenario.desk.agents == 8  # 28 per 20,000 customers, scaled
    assert loaded.headcount == 8
    assert loaded.rollout_headcount == 7
    assert all(u == 0 and r <= 8 for r, u in loaded.runs.values())  # follow-ups settled


def test_aa_status_quo_and_rollout_differ_only_by_the_staffing() -> None:
    """With no effect anywhere the three worlds are one world at one headcount, and a smaller
    rollout headcount changes the first responses (and what follows from them) only."""
    aa = load_scenario("published-desk").with_(frt={"slow_policy": "fast"},
                                               effects={"handle_time": 1.0})
    same = simulate_worlds(aa, customers=4000, rng=5, headcount=6, rollout_headcount=6)
    for name in ("customers", "conversations"):
        sq = same.status_quo.to_pandas()[name]
        assert sq.equals(same.rollout.to_pandas()[name])
        assert sq.equals(same.trial.to_pandas()[name])
    assert (same.effects[["rollout", "trial", "bias", "contrast"]].abs().to_numpy()[:, :3]
            == 0).all()
    fewer = simulate_worlds(aa, customers=4000, rng=5, headcount=6, rollout_headcount=5)
    assert fewer.status_quo.customers.equals(same.status_quo.customers)
    sq, ro = fewer.status_quo.conversations, fewer.rollout.conversations
    primaries = set(zip(sq[schema.CUSTOMER_ID], sq[schema.CREATED_AT], strict=True)) & \
        set(zip(ro[schema.CUSTOMER_ID], ro[schema.CREATED_AT], strict=True))
    assert len(primaries) > 0.9 * len(sq)  # the same arrivals, up to follow-ups
    slower = fewer.interference.loc[("fast", "trial"), "mean_business_hours"]
    assert ro[schema.FIRST_RESPONSE_BUSINESS_SECONDS].mean() > \
        sq[schema.FIRST_RESPONSE_BUSINESS_SECONDS].mean()
    assert slower == pytest.approx(
        fewer.interference.loc[("fast", "status_quo"), "mean_business_hours"])
    assert (fewer.effects["trial"] == 0).all()  # the trial is still the status quo


def test_control_arm_is_served_faster_in_the_trial(loaded: Worlds) -> None:
    inter = loaded.interference
    sq, tr = inter.loc[("fast", "status_quo")], inter.loc[("fast", "trial")]
    assert tr["mean_business_hours"] < 0.8 * sq["mean_business_hours"]
    assert tr["median_business_hours"] < sq["median_business_hours"]
    assert tr["share_within_target"] > sq["share_within_target"]
    # faster answers bring more follow-ups: the control's questions rise, so the contrast
    # overstates the fall of questions the rollout would bring
    value, se = loaded.effect("questions", "control_part")
    assert value < -4 * se
    b, b_se = loaded.effect("questions", "bias")
    assert b < -3 * b_se
    assert loaded.effects.loc["questions", "bias"] == pytest.approx(
        loaded.effects.loc["questions", "trial"] - loaded.effects.loc["questions", "rollout"])
    text = loaded.summary()
    assert "True effects" in text
    assert "within_target" in text
    assert "<table" in loaded._repr_html_()


def test_split_pools_remove_the_bias_within_monte_carlo_error() -> None:
    """Eight agents in the status quo and the trial, six in the rollout: split pools of 4 (half
    the status quo's) and 3 (half the rollout's); ten replications each way on the same
    seeds."""
    kw = {"customers": 5000, "headcount": 8, "rollout_headcount": 6, "replications": 10,
          "rng": 3}
    shared = desk_truth("published-desk", pools="shared", **kw)
    split = desk_truth("published-desk", pools="split", **kw)
    b, se = shared.effect("questions", "bias")
    assert abs(b) > 4 * se
    for o in OUTCOMES:
        b, se = split.effect(o, "bias")
        assert abs(b) < 3 * se, (o, b, se)
    r_shared, r_split = shared.effect("csat", "rollout"), split.effect("csat", "rollout")
    assert r_shared == r_split  # the status quo and the rollout are the same worlds
    inter = split.interference
    assert inter.loc[("fast", "trial"), "share_within_target"] == pytest.approx(
        inter.loc[("fast", "status_quo"), "share_within_target"], abs=0.02)
    assert "DeskTruth" in split.summary()


def test_split_pools_staff_each_pool_as_its_world() -> None:
    w = simulate_worlds("published-desk", customers=4000, rng=2, headcount=8,
                        rollout_headcount=6, pools="split")
    assert w.agents["trial"] == (4, 3)
    assert w.agents["status_quo"] == (8,)
    assert w.agents["rollout"] == (6,)


def test_roster_runs_and_scales_to_pools() -> None:
    roster = np.zeros(168, dtype=int)
    for day in range(5):
        roster[day * 24 + 9: day * 24 + 17] = 8
    w = simulate_worlds("published-desk", customers=4000, rng=2, headcount=roster,
                        rollout_headcount=np.where(roster > 0, roster - 2, 0), pools="split")
    fast_pool, slow_pool = w.agents["trial"]
    assert int(np.max(fast_pool)) == 4
    assert int(np.max(slow_pool)) == 3
    assert "roster 0-8" in repr(w)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"headcount": 2}, r"^headcount: 2 agents cannot carry the offered work .* the queue is "
                       r"unstable \(load \d\.\d\d >= 1\); give at least \d+ agents$"),
    ({"rollout_headcount": 2}, r"^rollout_headcount: 2 agents cannot carry"),
    ({"headcount": 6, "rollout_headcount": 2, "pools": "split"},
     r"^rollout_headcount: 1 agents \(pool one_business_day\) cannot carry"),
])
def test_unsustainable_headcount_is_refused_naming_the_argument(kwargs: dict, match: str
                                                                 ) -> None:
    with pytest.raises(UnstableQueueError, match=match) as info:
        simulate_worlds("published-desk", customers=4000, rng=1, **kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"headcount": 0}, ValueError, r"^headcount: must be >= 1 agent, got 0$"),
    ({"headcount": [3] * 10}, ValueError, r"^headcount: a roster must be 168 whole numbers "
                                          r">= 0 .* got 10 values$"),
    ({"rollout_headcount": [-1] * 168}, ValueError, r"^rollout_headcount: a roster must be"),
    ({"headcount": [0] * 168}, ValueError, r"^headcount: a roster must be .*an agent in some"),
    ({"headcount": "many"}, TypeError, r"^headcount: expected a number of agents or a roster"),
    ({"pools": "halves"}, ValueError, r"^pools: expected one of shared, split, got 'halves'$"),
])
def test_bad_headcounts_are_one_line(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match) as info:
        simulate_worlds("published-desk", customers=2000, rng=1, **kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("text", "message"), [
    ("[desk]\nagents = 5\nroster = [0.5, 1.0]\n", "desk.roster must be empty or 168 shares"),
    ("[desk]\nagents = 5\npools = \"halves\"\n", "desk.pools = 'halves' must be one of"),
    ("[desk]\nagents = -1\n", "desk.agents = -1 must be >= 0"),
    ("[desk]\nrollout_arm = \"fast\"\n", "desk.rollout_arm = 'fast' must be one of the arms"),
])
def test_bad_desk_sections_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=r"bad\.toml") as info:
        load_scenario(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_desk_scenario_rejects_a_desk_it_cannot_carry() -> None:
    with pytest.raises(UnstableQueueError, match=r"^desk\.agents: 1 agents cannot carry"):
        simulate(load_scenario("published-desk").with_(desk={"agents": 1}), customers=20000,
                 rng=1)
    with pytest.raises(ValueError, match=r"^headcount: scenario 'published' has no desk"):
        simulate_worlds("published", customers=1000, rng=1)


def test_no_desk_scenario_runs_with_a_headcount() -> None:
    w = simulate_worlds("published", customers=3000, rng=4, headcount=6)
    assert w.rollout_headcount == 6
    assert w.interference.loc[("fast", "trial"), "mean_business_hours"] < \
        w.interference.loc[("fast", "status_quo"), "mean_business_hours"]


def test_cli_simulates_the_desk_preset(tmp_path: Path, capsys) -> None:
    out = tmp_path / "desk"
    assert main(["simulate", "--scenario", "published-desk", "--customers", "3000",
                 "--months", "2", "--seed", "3", "--out", str(out), "--no-progress"]) == 0
    assert "scenario='published-desk'" in capsys.readouterr().out
    resolved = load_scenario(out / "scenario.toml")
    assert resolved.desk.agents == 4
    assert resolved.desk.rollout_agents == 4
