"""frt.predict_rollout and frt.rollout_frontier (issue 17, items 4 and 5): the delta-method
variance against its closed form, the prediction against the simulator's truth, the frontier's
table and recommendation, decide() and the report with a prediction, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import frt_experiments as frt
from frt_experiments.dose import ANSWERED, DOSE_SUM, customer_doses
from frt_experiments.errors import UnstableQueueError
from frt_experiments.rollout import COLUMNS, _predict
from frt_experiments.simulate import desk_truth, simulate_worlds

CAL = frt.BusinessCalendar("America/New_York", hours="Mon-Fri 09:00-17:00", holidays="US")
POLICIES = {"fast": "4h", "one_business_day": "one_business_day"}
CUSTOMERS = 4000


@pytest.fixture(scope="module")
def worlds():
    return simulate_worlds("published-desk", customers=CUSTOMERS, rng=11)


@pytest.fixture(scope="module")
def trial(worlds):
    return worlds.trial


@pytest.fixture(scope="module")
def dr(trial):
    return frt.dose_response(trial.customers, trial.conversations, trial.assignments,
                             calendar=CAL, policies=POLICIES)


@pytest.fixture(scope="module")
def prediction(worlds, trial, dr):
    return frt.predict_rollout(trial.conversations, trial.assignments, dr, calendar=CAL,
                               headcount=worlds.headcount,
                               rollout_headcount=worlds.rollout_headcount, replications=8,
                               rng=3)


@pytest.fixture(scope="module")
def frontier(trial, dr):
    return frt.rollout_frontier(trial.conversations, trial.assignments, dr, calendar=CAL,
                                revenue_per_year=1_300_000.0, targets=("4h", "8h", "12h"),
                                headcount=7, rollout_headcounts={"4h": 7, "8h": 5, "12h": 4},
                                replications=4, rng=5)


# --------------------------------------------------------------------------- the formula


def test_delta_method_variance_equals_its_closed_form_on_a_hand_case():
    a, b = 0.9, -0.02
    v = np.array([[1e-4, -5e-5], [-5e-5, 4e-4]])
    d, delta = 0.7, 0.25
    s = np.array([[1e-4, 1e-5], [1e-5, 4e-5]])  # Monte Carlo cov of (Delta, D_sq)
    out = _predict(a, b, v, d_sq=d, delta=delta, var_delta=s[0, 0], var_dsq=s[1, 1],
                   cov_delta_dsq=s[0, 1], alpha=0.05)
    # change = b Delta: var = Delta^2 V_bb + b^2 var(Delta) (Goodman 1960 without the
    # product of the variances, the delta method's first order)
    assert out["change"] == pytest.approx(-0.005, rel=1e-12)
    assert out["se"] ** 2 == pytest.approx(0.25**2 * 4e-4 + 0.02**2 * 1e-4, rel=1e-12)
    assert out["se_dose_response"] == pytest.approx(0.25 * 0.02, rel=1e-12)
    assert out["se_simulation"] == pytest.approx(0.02 * 0.01, rel=1e-12)
    # rel = b Delta / (a + b D): the gradient written out by hand
    level = a + b * d  # 0.886
    assert out["status_quo"] == pytest.approx(0.886, rel=1e-12)
    assert out["rel_change"] == pytest.approx(-0.005 / 0.886, rel=1e-12)
    ga = -b * delta / level**2
    gb = delta * a / level**2  # d/db of b Delta / (a + b D)
    gdelta = b / level
    gd = -(b**2) * delta / level**2
    var_rel = (ga**2 * v[0, 0] + 2 * ga * gb * v[0, 1] + gb**2 * v[1, 1]
               + gdelta**2 * s[0, 0] + 2 * gdelta * gd * s[0, 1] + gd**2 * s[1, 1])
    assert out["rel_se"] ** 2 == pytest.approx(var_rel, rel=1e-10)
    z = 1.959963984540054
    assert out["ci_low"] == pytest.approx(out["change"] - z * out["se"], rel=1e-12)
    assert out["rel_ci_high"] == pytest.approx(out["rel_change"] + z * out["rel_se"],
                                               rel=1e-12)


def test_delta_method_variance_matches_monte_carlo_of_the_formula():
    """The linearization holds: drawing (a, b, Delta, D) from their normal law, the spread of
    b Delta / (a + b D) matches rel_se to within 2% (small relative errors)."""
    a, b = 0.9, -0.02
    v = np.array([[1e-5, -5e-6], [-5e-6, 4e-5]])
    d, delta = 0.7, 0.25
    s = np.array([[1e-5, 1e-6], [1e-6, 4e-6]])
    out = _predict(a, b, v, d_sq=d, delta=delta, var_delta=s[0, 0], var_dsq=s[1, 1],
                   cov_delta_dsq=s[0, 1], alpha=0.05)
    gen = np.random.default_rng(1)
    ab = gen.multivariate_normal([a, b], v, 400_000)
    dd = gen.multivariate_normal([delta, d], s, 400_000)
    rel = ab[:, 1] * dd[:, 0] / (ab[:, 0] + ab[:, 1] * dd[:, 1])
    assert np.std(rel) == pytest.approx(out["rel_se"], rel=0.02)


# --------------------------------------------------------------------------- the prediction


def test_prediction_covers_the_simulators_rollout_effect(worlds, prediction):
    truth = desk_truth("published-desk", customers=CUSTOMERS, replications=6, rng=2)
    for o in ("csat", "questions", "nrr"):
        e = prediction.effect(o)
        value, se = truth.effect(o, "rollout")
        assert abs(e["change"] - value) < 3 * math.hypot(e["se"], se), o


def test_predicted_doses_are_the_worlds_doses(worlds, prediction):
    """The desk model's doses of the low-spend customers against the simulated worlds'."""
    def dose(name: str) -> float:
        t = worlds.world(name)
        d = customer_doses(t.conversations, t.assignments, calendar=CAL)
        return float(d[DOSE_SUM].sum() / d[ANSWERED].sum())

    low = prediction.doses.set_index("group").loc["low_spend"]
    assert low["dose_status_quo"] == pytest.approx(dose("status_quo"), abs=0.08)
    assert low["dose_rollout"] == pytest.approx(dose("rollout"), abs=0.08)
    assert low["dose_change"] > 0  # the rollout is slower for the low-spend customers


def test_prediction_table(prediction, dr):
    t = prediction.to_pandas()
    assert list(t.columns) == list(COLUMNS)
    assert len(t) == 6
    assert set(t["group"]) == {"low_spend", "outside"}
    assert (t["ci_low"] <= t["change"]).all()
    assert (t["change"] <= t["ci_high"]).all()
    assert np.allclose(t["se"] ** 2, t["se_dose_response"] ** 2 + t["se_simulation"] ** 2)
    for o in ("csat", "questions", "nrr"):
        e = prediction.effect(o)
        s = dr.outcomes[o].slope
        assert e["change"] == pytest.approx(
            s.effect * prediction.doses.set_index("group").loc["low_spend", "dose_change"])
        arm = dr.outcomes[o].arms.set_index("arm").loc["one_business_day"]
        assert e["trial_contrast"] == pytest.approx(arm["effect"])
    assert prediction.summary()["outcome"].tolist() == ["csat", "questions", "nrr"]
    text = prediction.text()
    assert "one_business_day" in text
    assert "trial's A/B contrast" in text
    assert repr(prediction).startswith("RolloutPrediction(")
    assert "<table" in prediction._repr_html_()


def test_a_staffing_plan_gives_the_headcounts(worlds, trial, dr, prediction):
    class Plan:  # the StaffingPlan protocol predict_rollout reads
        def agents(self, policy: str) -> int:
            return {"everyone_fast": worlds.headcount,
                    "rollout": worlds.rollout_headcount}[policy]

    p = frt.predict_rollout(trial.conversations, trial.assignments, dr, Plan(), calendar=CAL,
                            replications=8, rng=3)
    pd.testing.assert_frame_equal(p.table, prediction.table)


# --------------------------------------------------------------------------- the frontier


def test_frontier_table_and_recommendation(frontier):
    t = frontier.to_pandas()
    assert t["target"].tolist() == ["4h", "8h", "12h"]
    assert t["target_hours"].tolist() == [4.0, 8.0, 12.0]
    assert t["annual_savings"].tolist() == [0.0, 130_000.0, 195_000.0]
    assert np.allclose(t["revenue_at_risk"], -t["nrr_rel_change"] * 1_300_000.0)
    assert np.allclose(t["net_benefit"], t["annual_savings"] - t["revenue_at_risk"])
    assert (t["net_benefit_ci_low"] <= t["net_benefit"]).all()
    # the default CSAT rule: the estimate above the margin (the truth's rule, plugged in)
    assert frontier.csat_basis == "estimate"
    assert (t["csat_ok"] == (t["csat_rel_change"] > -0.02)).all()
    assert (t["csat_shown"] == (t["csat_rel_ci_low"] > -0.02)).all()
    ok = t[t["csat_ok"] & (t["net_benefit"] > 0)]
    best = None if ok.empty else ok.loc[ok["net_benefit"].idxmax(), "target"]
    assert frontier.recommended == best
    assert t["recommended"].sum() == (best is not None)
    if best is not None:  # whether non-inferiority is shown where it recommends
        row = t.set_index("target").loc[best]
        assert frontier.csat_lower_bound == row["csat_rel_ci_low"]
        assert frontier.csat_shown == bool(row["csat_rel_ci_low"] > -0.02)
    # the slower the target, the larger the low-spend customers' dose change
    assert t["dose_change"].is_monotonic_increasing
    assert frontier.summary().columns[0] == "target"
    assert "Recommended" in frontier.text() or "No target" in frontier.text()
    fig = frontier.plot()
    assert len(fig.axes) == 2


def test_frontier_csat_basis_ci_bound_is_stricter(trial, dr, frontier):
    f = frt.rollout_frontier(trial.conversations, trial.assignments, dr, calendar=CAL,
                             revenue_per_year=1_300_000.0, targets=("4h", "8h", "12h"),
                             csat_basis="ci_bound", headcount=7,
                             rollout_headcounts=[7, 5, 4], replications=4, rng=5)
    assert f.csat_basis == "ci_bound"
    assert (f.table["csat_ok"] <= frontier.table["csat_ok"]).all()
    assert (f.table["csat_ok"] == (f.table["csat_rel_ci_low"] > -0.02)).all()
    assert (f.table["csat_ok"] == f.table["csat_shown"]).all()
    # the same seeds: the same predictions, only the rule differs
    pd.testing.assert_series_equal(f.table["csat_rel_ci_low"], frontier.table["csat_rel_ci_low"])
    # the bound rule recommends only where non-inferiority is shown: never a caution
    assert f.csat_shown is (None if f.recommended is None else True)
    assert f.caution is None
    assert "not yet shown" not in f.text()


def _held(trial, dr, margin: float) -> frt.RolloutFrontier:
    return frt.rollout_frontier(trial.conversations, trial.assignments, dr, calendar=CAL,
                                revenue_per_year=1_300_000.0, targets=("4h", "8h", "12h"),
                                csat_margin=margin, headcount=7,
                                rollout_headcounts=[7, 5, 4], replications=4, rng=5)


def test_a_caution_when_non_inferiority_is_not_shown_at_the_recommended_target(trial, dr,
                                                                                frontier):
    """The same frontier judged against two margins, one just above the recommended target's
    lower CSAT bound (the caution) and one just below it (none)."""
    assert frontier.recommended is not None
    bound = frontier.csat_lower_bound
    for margin, cautioned in ((bound + 0.005, True), (bound - 0.005, False)):
        f = _held(trial, dr, margin)
        # the estimates lie above both margins where the bound is: the same recommendation
        assert f.recommended == frontier.recommended
        assert f.csat_lower_bound == bound
        assert f.csat_shown is (not cautioned)
        assert (f.caution is not None) is cautioned
        assert ("non-inferiority is not yet shown" in f.reason) is cautioned
        assert ("non-inferiority is not yet shown" in f.text()) is cautioned
        assert ("CSAT non-inferiority is shown there" in f.reason) is (not cautioned)
        if cautioned:
            assert f.caution is not None
            assert f.reason.endswith(f.caution)
            assert f"{bound:+.2%}" in f.caution
            assert f"{margin:+.2%} margin" in f.caution
            assert "a larger or longer trial would settle it" in f.caution
        labels = [t.get_text() for t in f.plot().axes[1].get_legend().get_texts()]
        assert any(lab.startswith(f"recommended: {f.recommended}") for lab in labels)
        assert any("not yet shown" in lab for lab in labels) is cautioned


def test_frontier_plans_the_headcounts(trial, dr):
    f = frt.rollout_frontier(trial.conversations, trial.assignments, dr, calendar=CAL,
                             revenue_per_year=1_300_000.0, targets=("4h", "12h"),
                             replications=2, weeks=2.0, rng=5)
    t = f.table
    assert t["agents_everyone_fast"].nunique() == 1
    # at the fast target nobody is deferred: the rollout needs everyone fast's agents
    assert t.loc[0, "agents_rollout"] == t.loc[0, "agents_everyone_fast"]
    assert t.loc[1, "agents_rollout"] < t.loc[1, "agents_everyone_fast"]


# --------------------------------------------------------------------------- decide, report


# the desk serves the slow arm whenever agents are free, so its median FRT is under the fast
# target and the diagnostics warn that the treatment was not delivered as designed
_NOT_DELIVERED = "ignore::frt_experiments.errors.TreatmentNotDeliveredWarning"


@pytest.mark.filterwarnings(_NOT_DELIVERED)
def test_decide_shows_the_prediction_beside_the_contrast(trial, prediction):
    result = frt.analyze(trial.customers, trial.conversations, trial.assignments)
    kwargs = {"low_spend_revenue_per_year": 1_300_000.0, "annual_staffing_savings": 65_000.0}
    plain = frt.decide(result, **kwargs)
    d = frt.decide(result, rollout=prediction, **kwargs)
    assert (d.verdict, d.csat_ok, d.revenue_ok) == (plain.verdict, plain.csat_ok,
                                                    plain.revenue_ok)
    e = prediction.effect("nrr")
    assert d.rollout_nrr_rel_diff == pytest.approx(e["rel_change"])
    assert d.rollout_revenue_at_risk == pytest.approx(-e["rel_change"] * 1_300_000.0)
    assert d.rollout_csat_rel_ci_low == pytest.approx(prediction.effect("csat")["rel_ci_low"])
    text = d.summary()
    assert "CSAT relative change, rollout (predicted)" in text
    assert "one_business_day for every low-spend customer" in text
    assert "rollout" not in plain.summary()
    assert math.isnan(plain.rollout_csat_rel_diff)
    with pytest.raises(TypeError, match="rollout"):
        frt.decide(result, rollout=object(), **kwargs)


@pytest.mark.filterwarnings(_NOT_DELIVERED)
def test_report_has_a_rollout_section(trial, frontier):
    result = frt.analyze(trial.customers, trial.conversations, trial.assignments)
    doc = frt.build_report(trial.customers, trial.conversations, trial.assignments, result,
                           rollout=frontier)
    md = doc.to_markdown(image_dir="figures")
    assert "Rollout: the predicted effect and the target that pays most" in md
    assert "net benefit" in md
    assert "![rollout_frontier](figures/rollout_frontier.png)" in md
    # the caution, highlighted once, when non-inferiority is not shown where it recommends
    if frontier.caution is None:
        assert "not yet shown" not in md
    else:
        assert md.count(frontier.caution) == 1
        assert "Caution:" in md
    with pytest.raises(TypeError, match="rollout"):
        frt.build_report(trial.customers, trial.conversations, trial.assignments, result,
                         rollout=object())


# --------------------------------------------------------------------------- bad input


def test_a_rollout_headcount_the_desk_cannot_sustain(worlds, trial, dr):
    with pytest.raises(UnstableQueueError, match=r"^rollout_headcount: 1 agents cannot carry"):
        frt.predict_rollout(trial.conversations, trial.assignments, dr, calendar=CAL,
                            headcount=worlds.headcount, rollout_headcount=1, replications=2)
    with pytest.raises(UnstableQueueError, match=r"rollout_headcounts\['12h'\]"):
        frt.rollout_frontier(trial.conversations, trial.assignments, dr, calendar=CAL,
                             revenue_per_year=1e6, targets=("8h", "12h"), headcount=7,
                             rollout_headcounts={"8h": 5, "12h": 1}, replications=2)


@pytest.mark.parametrize("target", ["2h", "60h", "six_business_days", "banana"])
def test_a_target_outside_the_calendars_range(trial, dr, target):
    with pytest.raises(ValueError, match=r"^targets: "):
        frt.rollout_frontier(trial.conversations, trial.assignments, dr, calendar=CAL,
                             revenue_per_year=1e6, targets=("8h", target), headcount=7,
                             rollout_headcounts=[5, 5], replications=2)


def test_a_dose_response_from_another_calendar(worlds, trial):
    always = frt.BusinessCalendar("America/New_York", hours="24/7")
    other = frt.dose_response(trial.customers, trial.conversations, trial.assignments,
                              calendar=always, policies=POLICIES)
    with pytest.raises(ValueError, match="another calendar"):
        frt.predict_rollout(trial.conversations, trial.assignments, other, calendar=CAL,
                            headcount=worlds.headcount,
                            rollout_headcount=worlds.rollout_headcount, replications=2)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({}, "give a staffing plan"),
    ({"headcount": 7}, "give a staffing plan"),
    ({"headcount": 0, "rollout_headcount": 5}, "headcount: must be a whole number"),
    ({"headcount": 7, "rollout_headcount": 5, "replications": 1}, "replications"),
    ({"headcount": 7, "rollout_headcount": 5, "treatment": "fast"}, "treatment"),
    ({"headcount": 7, "rollout_headcount": 5, "control": "slow"}, "control"),
])
def test_bad_arguments(trial, dr, kwargs, match):
    with pytest.raises(ValueError, match=match):
        frt.predict_rollout(trial.conversations, trial.assignments, dr, calendar=CAL, **kwargs)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"revenue_per_year": 0}, "revenue_per_year"),
    ({"csat_margin": 0.02}, "csat_margin"),
    ({"csat_basis": "bound"}, "csat_basis"),
    ({"headcount": 7}, "rollout_headcounts"),
    ({"headcount": 7, "rollout_headcounts": [5]}, "expected 2 headcounts"),
    ({"headcount": 7, "rollout_headcounts": {"8h": 5}}, "no headcount for target '12h'"),
])
def test_bad_frontier_arguments(trial, dr, kwargs, match):
    args = {"revenue_per_year": 1e6, "targets": ("8h", "12h"), "replications": 2} | kwargs
    with pytest.raises(ValueError, match=match):
        frt.rollout_frontier(trial.conversations, trial.assignments, dr, calendar=CAL, **args)
