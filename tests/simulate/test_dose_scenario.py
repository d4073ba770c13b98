"""K-arm scenarios, the ``dose`` preset and its truth: simulations against ``dose_truth`` at
tolerances of the simulation's own standard errors, the two-arm presets drawing as before, and
bad scenarios refused in one line."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from frt_experiments import schema
from frt_experiments.cli import main
from frt_experiments.dose import ANSWERED, DOSE_SUM, customer_doses
from frt_experiments.errors import ScenarioError
from frt_experiments.metrics import arm_statistics, customer_rows
from frt_experiments.simulate import (
    SimulatedTrial,
    dose_truth,
    frt_cdf,
    load_scenario,
    scenario_to_toml,
    share_within_deadline,
    simulate,
)
from frt_experiments.simulate.conversations import _real_calendar
from frt_experiments.simulate.first_response import arm_expectation, deadlines, draw_frt_hours
from frt_experiments.stats.iv import _moments, two_stage_least_squares

ARMS = ("fast", "four_hours", "one_business_day", "two_business_days")
DOSE = (DOSE_SUM, ANSWERED)
OUTCOMES = {"csat": ("satisfied", "rated"), "questions": "conversations",
            "nrr": (schema.REVENUE_END, schema.REVENUE_START)}

#: SHA-256 of the three tables (CSV) of simulate(name, customers=3000, months=2, rng=7), computed
#: with the code of commit 2928467, before K arms: the two-arm presets draw exactly as before.
BEFORE_K_ARMS = {
    "published": "27de676761a85090db64646ec06a60fb97024d4403a965f6655c889712330337",
    "aa": "a3e9115bf95868b67207335c32effcece0a209398565e74521a458f5721b31c1",
    "harsh": "d4724dceb3d3a1cd8083e2257c1bebb36bfceadb50b0ce6d59a7428a5ca627cd",
}


def _digest(trial: SimulatedTrial) -> str:
    h = hashlib.sha256()
    for df in (trial.customers, trial.assignments, trial.conversations):
        h.update(df.to_csv(index=False).encode())
    return h.hexdigest()


@pytest.mark.parametrize("name", sorted(BEFORE_K_ARMS))
def test_two_arm_presets_draw_exactly_as_before_k_arms(name: str) -> None:
    assert _digest(simulate(name, customers=3000, months=2, rng=7)) == BEFORE_K_ARMS[name]


def _statistics(trial: SimulatedTrial) -> dict:
    rows = customer_rows(trial.customers, trial.conversations, trial.assignments,
                         validate=False)
    doses = customer_doses(trial.conversations, trial.assignments,
                           calendar=_real_calendar(trial.scenario))
    rows = rows.join(doses.drop(columns=schema.ARM))
    return arm_statistics(rows, columns=["conversations", "rated", "satisfied",
                                         schema.REVENUE_START, schema.REVENUE_END, *DOSE],
                          arms=list(trial.scenario.effects.arms))


@pytest.fixture(scope="module")
def large() -> SimulatedTrial:
    return simulate("dose", customers=300_000, rng=20250106)


@pytest.fixture(scope="module")
def large_stats(large):
    return _statistics(large)


def test_dose_preset_has_four_policy_arms(tmp_path: Path) -> None:
    sc = load_scenario("dose")
    assert sc.effects.arms == ARMS
    assert sc.frt.arm_policies() == ("fast", "4h", "one_business_day", "two_business_days")
    assert [sc.frt.policy_hours(p) for p in sc.frt.arm_policies()] == [None, 4.0, 8.0, 16.0]
    path = tmp_path / "resolved.toml"
    path.write_text(scenario_to_toml(sc))
    assert load_scenario(path) == sc


@pytest.mark.parametrize("outcome", ["dose", *OUTCOMES])
def test_dose_preset_means_per_arm_agree_with_the_truth(large_stats, outcome: str) -> None:
    truth = dose_truth("dose")
    what = DOSE if outcome == "dose" else OUTCOMES[outcome]
    m = _moments(large_stats, what, DOSE)
    for i, arm in enumerate(truth.arms):
        got = m.d[i] if outcome == "dose" else m.y[i]
        var = m.vd[i] if outcome == "dose" else m.vy[i]
        want = arm.dose if outcome == "dose" else arm.outcome(outcome)
        # 4 delta-method standard errors of the arm's ratio of sums (or mean)
        assert abs(got - want) < 4 * np.sqrt(var / m.n[i]), (arm.arm, got, want)


@pytest.mark.parametrize("outcome", list(OUTCOMES))
def test_two_stage_least_squares_finds_the_true_slope(large_stats, outcome: str) -> None:
    truth = dose_truth("dose")
    est = two_stage_least_squares(large_stats, outcome=OUTCOMES[outcome], dose=DOSE)
    assert abs(est.effect - truth.slopes[outcome]) < 4 * est.se
    assert est.f_statistic > 1e4


def test_naive_regression_on_the_realized_frt_is_confounded(large, large_stats) -> None:
    # Conversation-level least squares of satisfied on log(1 + FRT) among rated conversations:
    # the difficulty slows the answer and lowers satisfaction, so it is steeper than the truth
    # by more than 4 of its own standard errors, while 2SLS is within 4 of its own.
    conv = large.conversations.merge(large.assignments[[schema.CUSTOMER_ID]],
                                     on=schema.CUSTOMER_ID)
    rated = conv[schema.CSAT].notna().to_numpy()
    x = np.log1p(conv[schema.FIRST_RESPONSE_BUSINESS_SECONDS].to_numpy(float)[rated] / 3600)
    y = schema.satisfied(conv).to_numpy(float)[rated]
    xc = x - x.mean()
    naive = float(xc @ (y - y.mean()) / (xc @ xc))
    resid = y - y.mean() - naive * xc
    se = float(np.sqrt(np.sum(xc**2 * resid**2)) / (xc @ xc))  # HC0
    truth = dose_truth("dose").slopes["csat"]
    assert naive - truth < -4 * se
    est = two_stage_least_squares(large_stats, outcome=OUTCOMES["csat"], dose=DOSE)
    assert abs(est.effect - truth) < 4 * est.se


def test_dose_truth_is_realistic_and_ordered() -> None:
    t = dose_truth("dose")
    assert t.relative("csat", "one_business_day") == pytest.approx(-0.0125, abs=1e-9)
    assert -0.06 < t.relative("questions", "one_business_day") < -0.02
    assert -0.01 < t.relative("nrr", "one_business_day") < 0
    doses = [a.dose for a in t.arms]
    assert doses == sorted(doses)
    for o in ("csat", "questions", "nrr"):
        effects = [t.effect(o, a) for a in ARMS]
        assert effects[0] == 0
        assert effects == sorted(effects, reverse=True)
        assert t.slopes[o] < 0
    assert [a.share for a in t.arms] == [0.25] * 4
    frame = t.to_pandas()
    assert list(frame.index) == list(ARMS)
    assert "true 2SLS slopes" in t.summary()
    assert "DoseTruth(scenario='dose'" in repr(t)


def test_two_arm_truth_is_the_wald_ratio_and_aa_has_none() -> None:
    t = dose_truth("published")
    slow = t.arm("one_business_day")
    # the published calibration's quadrature is within 1e-6 of the truth's (truth module)
    assert t.relative("csat", "one_business_day") == pytest.approx(-0.0125, abs=1e-6)
    assert t.relative("questions", "one_business_day") == pytest.approx(-0.04, abs=1e-12)
    assert t.slopes["csat"] == pytest.approx((slow.csat - t.control.csat)
                                             / (slow.dose - t.control.dose), rel=1e-12)
    aa = dose_truth("aa")
    assert all(aa.effect(o, "one_business_day") == 0 for o in ("csat", "questions", "nrr"))
    assert all(np.isnan(s) for s in aa.slopes.values())


def test_churn_and_follow_ups_follow_their_generating_functions() -> None:
    # A strong churn response, no contraction or expansion: NRR is the survival, whose FRT
    # part is the generating function of the follow-up chains (effects module docstring).
    sc = load_scenario("dose").with_(revenue={"churn_per_log_hour": 0.05, "contraction": 0.0,
                                              "expansion": 0.0},
                                     conversations={"followup": 0.5, "followup_slope": 0.4})
    trial = simulate(sc, customers=120_000, rng=3)
    st = _statistics(trial)
    truth = dose_truth(sc)
    for what, name in ((OUTCOMES["nrr"], "nrr"), (OUTCOMES["questions"], "questions")):
        m = _moments(st, what, DOSE)
        for i, arm in enumerate(truth.arms):
            assert abs(m.y[i] - arm.outcome(name)) < 4 * np.sqrt(m.vy[i] / m.n[i]), (name, arm)
    assert truth.relative("nrr", "two_business_days") < -0.02  # the test can see an error


def test_quadrature_matches_monte_carlo_of_the_frt_draws() -> None:
    frt = load_scenario("dose").frt
    n = 400_000
    rng = np.random.default_rng(8)
    for i, policy in enumerate(frt.arm_policies()):
        z = rng.standard_normal(n)
        h = draw_frt_hours(frt, np.ones(n, bool), rng, deadline=deadlines(frt, np.full(n, i)),
                           difficulty=z)
        for f in (np.log1p, lambda x: np.exp(-0.3 * np.log1p(x))):
            x = f(h)
            want = arm_expectation(lambda hh, zz, f=f: f(hh), frt, policy)
            assert abs(x.mean() - want) < 4 * x.std() / np.sqrt(n), policy
        # a function of the difficulty too: the quadrature over z
        x = np.log1p(h) * z
        want = arm_expectation(lambda hh, zz: np.log1p(hh) * zz, frt, policy, difficulty=True)
        assert abs(x.mean() - want) < 4 * x.std() / np.sqrt(n), policy


def test_frt_per_arm_has_the_shape_its_policy_implies(large) -> None:
    sc = large.scenario
    conv = large.conversations.merge(large.assignments[[schema.CUSTOMER_ID, schema.ARM]],
                                     on=schema.CUSTOMER_ID)
    hours = conv[schema.FIRST_RESPONSE_BUSINESS_SECONDS].to_numpy(float) / 3600
    grid = np.array([1.0, 2.0, 3.0, 3.5, 4.0, 5.0, 7.0, 8.0, 9.0, 14.0, 15.5, 16.0, 18.0])
    for arm, policy in zip(ARMS, sc.frt.arm_policies(), strict=True):
        x = hours[(conv[schema.ARM] == arm).to_numpy()]
        want = frt_cdf(grid, sc.frt, policy)
        got = (x[:, None] <= grid).mean(axis=0)
        se = np.sqrt(want * (1 - want) / x.size)
        assert np.all(np.abs(got - want) <= 4.5 * se + 1e-12), (arm, got, want)
        deadline = sc.frt.policy_hours(policy)
        if deadline is not None:
            # (1 - q) P(H <= D), H log-normal with sigma sqrt(0.45**2 + 0.4**2): 0.8314 within
            # 4 business hours, 0.9401 within one business day, 0.9500 within two
            f = sc.frt
            share = share_within_deadline(f, policy)
            sigma = np.hypot(f.fast_sigma, f.difficulty_sigma)
            closed = (1 - f.slow_late_share) * norm.cdf(np.log(deadline / f.fast_median_hours)
                                                        / sigma)
            assert share == pytest.approx(closed, abs=1e-12)
            assert abs(np.mean(x <= deadline) - share) < 4 * np.sqrt(share * (1 - share)
                                                                     / x.size)


@pytest.mark.parametrize(("policy", "hours"), [
    ("fast", None), ("4h", 4.0), ("90m", 1.5), ("4 business hours", 4.0), ("2.5h", 2.5),
    ("one_business_day", 8.0), ("next_business_day", 8.0), ("two_business_days", 16.0),
    ("3_business_days", 24.0), (" One_Business_Day ", 8.0),
])
def test_policy_forms(policy: str, hours: float | None) -> None:
    assert load_scenario("published").frt.policy_hours(policy) == hours


@pytest.mark.parametrize(("text", "message"), [
    ('[effects]\narms = ["fast", "slow", "slower"]\nweights = [1.0, 1.0, 1.0]\n'
     '[frt]\npolicies = ["fast", "4h"]\n',
     "frt.policies must give one policy per entry of effects.arms = [fast, slow, slower] (3), "
     "got 2"),
    ('[effects]\narms = ["fast", "slow", "slower"]\nweights = [1.0, 1.0, 1.0]\n',
     "frt.policies is not given: each of the 3 arms of effects.arms = [fast, slow, slower] "
     "needs a policy there"),
    ('[frt]\npolicies = ["fast", "soon"]\n',
     "frt.policies: arm 'one_business_day': policy 'soon' is not one of fast, <N>h"),
    ('[frt]\npolicies = ["fast", "0h"]\n',
     "frt.policies: arm 'one_business_day': policy '0h': the deadline must be positive"),
    ('[effects]\narms = ["fast"]\nweights = [1.0]\n',
     "effects.arms = [fast] must name two arms or more (control first)"),
    ('[effects]\narms = ["fast", "fast"]\nweights = [1.0, 1.0]\n',
     "effects.arms = [fast, fast] names arm 'fast' twice"),
    ('[csat]\ntarget_arm = "nope"\n',
     "csat.target_arm = 'nope' must be one of effects.arms = [fast, one_business_day]"),
    ('[conversations]\nfollowup = 1.0\n', "conversations.followup = 1.0 must be < 1.0"),
    ('[revenue]\nchurn_per_log_hour = -0.1\n',
     "revenue.churn_per_log_hour = -0.1 must be >= 0.0"),
])
def test_bad_k_arm_scenarios_are_one_line_naming_the_key(tmp_path: Path, capsys, text: str,
                                                          message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=r"^bad\.toml: ") as info:
        load_scenario(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert main(["simulate", "--scenario", str(path), "--out", str(tmp_path / "out"),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_cli_simulates_the_dose_preset_with_four_arms(tmp_path: Path, capsys) -> None:
    out = tmp_path / "dose"
    assert main(["simulate", "--scenario", "dose", "--customers", "4000", "--months", "2",
                 "--seed", "3", "--out", str(out), "--no-progress"]) == 0
    assert "SimulatedTrial(scenario='dose', customers=4,000" in capsys.readouterr().out
    asg = schema.read_table(out / "assignments.csv", "assignments")
    assert set(asg[schema.ARM]) == set(ARMS)
    shares = asg[schema.ARM].value_counts(normalize=True)
    n = len(asg)
    assert np.all(np.abs(shares - 0.25) < 4 * np.sqrt(0.25 * 0.75 / n))
    resolved = load_scenario(out / "scenario.toml")
    assert resolved.frt.arm_policies() == load_scenario("dose").frt.arm_policies()
    conv = schema.read_table(out / "conversations.csv", "conversations")
    frt = conv.merge(asg, on=schema.CUSTOMER_ID).groupby(schema.ARM)[
        schema.FIRST_RESPONSE_BUSINESS_SECONDS].median() / 3600
    assert list(frt.loc[list(ARMS)]) == sorted(frt)  # slower policies, slower answers


def test_desk_hook_sees_every_arm_but_the_first_as_slow() -> None:
    seen: list[np.ndarray] = []

    def model(created: pd.Series, slow: np.ndarray) -> np.ndarray:
        seen.append(slow)
        return np.where(slow, 7200.0, 60.0)

    trial = simulate("dose", customers=2000, months=1, rng=5, frt_model=model)
    conv = trial.conversations.merge(trial.assignments, on=schema.CUSTOMER_ID)
    fast = conv[schema.ARM] == "fast"
    assert (conv.loc[fast, schema.FIRST_RESPONSE_BUSINESS_SECONDS] == 60).all()
    assert (conv.loc[~fast, schema.FIRST_RESPONSE_BUSINESS_SECONDS] == 7200).all()
    assert len(seen) > 1  # one call per generation of follow-ups
