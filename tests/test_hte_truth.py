"""Effects that differ by customer (issue 19 part 3): the ``[heterogeneity]`` options, the
``hte`` and ``hte-null`` presets, and their truth (:func:`segment_truth`,
:func:`customer_truth`, :func:`policy_value`) against the closed-form truth of
:func:`dose_truth`, against theory, and against seeded simulations within multiples of the
simulation's own standard error."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from frt_experiments import schema
from frt_experiments.errors import ScenarioError
from frt_experiments.metrics import customer_rows
from frt_experiments.net_benefit import NetBenefit
from frt_experiments.simulate import (
    PRESETS,
    customer_truth,
    dose_truth,
    load_scenario,
    policy_value,
    scenario_to_toml,
    segment_truth,
    simulate,
)
from frt_experiments.simulate.customer_truth import overall_truth
from frt_experiments.simulate.heterogeneity import customer_modifiers
from frt_experiments.simulate.population import draw_population
from frt_experiments.simulate.scenario import scenario_from_mapping

METRICS = ("csat", "questions", "nrr")


def test_presets_are_listed_and_load() -> None:
    assert {"hte", "hte-null"} <= set(PRESETS)
    hte, null = load_scenario("hte"), load_scenario("hte-null")
    assert hte.heterogeneity.active
    assert null.population == hte.population
    assert null.frt == hte.frt
    assert "[heterogeneity]" in scenario_to_toml(hte)
    assert "[heterogeneity]" not in scenario_to_toml(load_scenario("published"))


def test_toml_round_trip(tmp_path) -> None:
    sc = load_scenario("hte")
    path = tmp_path / "hte.toml"
    path.write_text(scenario_to_toml(sc))
    assert load_scenario(path) == sc


@pytest.mark.parametrize(("section", "message"), [
    ({"heterogeneity": {"segment_churn": [0.1]}},
     "heterogeneity.segment_churn must be empty or give one number per entry of "
     "population.segments (2), got 1"),
    ({"heterogeneity": {"rate_churn": 3.0}}, "heterogeneity.rate_churn = 3.0 must be <= 1.0"),
    ({"heterogeneity": {"spend_csat": 0.1}, "desk": {"agents": 10}},
     "not simulated with the desk in the loop"),
    ({"heterogeneity": {"segment_csat": "x"}}, "heterogeneity.segment_csat must be a list"),
])
def test_bad_heterogeneity_named(section: dict, message: str) -> None:
    with pytest.raises(ScenarioError, match="heterogeneity") as err:
        scenario_from_mapping(section, source="bad.toml")
    assert message in str(err.value)


def test_modifiers_follow_the_documented_formula() -> None:
    sc = load_scenario("hte")
    h, p = sc.heterogeneity, sc.population
    seg = np.array([0, 1, 2, 2])
    spend = np.array([60.0, 30.0, 90.0, 10.0])
    rate = np.array([0.7, 1.4, 0.35, 2.0])
    m = customer_modifiers(sc, seg, spend, rate)
    ls, lc = np.log(spend / p.spend_median), np.log(rate / p.contact_rate)
    np.testing.assert_allclose(m.csat_shift, np.array(h.segment_csat)[seg], rtol=0, atol=1e-15)
    np.testing.assert_allclose(m.churn, np.exp(np.array(h.segment_churn)[seg]
                                               + h.spend_churn * ls), rtol=1e-14)
    np.testing.assert_allclose(m.questions, sc.effects.questions * np.exp(
        np.array(h.segment_questions)[seg] + h.rate_questions * lc), rtol=1e-14)


@pytest.mark.parametrize("name", ["published", "harsh", "aa",
                                  pytest.param("dose", marks=pytest.mark.slow)])
def test_pooled_truth_equals_dose_truth(name: str) -> None:
    """Without heterogeneity the quadrature over customers reproduces dose_truth's closed
    forms (every arm, every outcome) to 1e-9."""
    sc = load_scenario(name)
    truth = dose_truth(sc)
    for position, arm in enumerate(truth.arms):
        got = overall_truth(sc, position)
        for metric in METRICS:
            assert got[metric] == pytest.approx(arm.outcome(metric), abs=1e-9, rel=0)


def test_segment_truth_pools_to_the_overall_and_to_dose_truth() -> None:
    t = segment_truth("hte")
    assert list(t.columns) == ["segment", "metric", "control", "treatment", "diff", "rel_diff",
                               "share"]
    assert len(t) == 9
    assert t.groupby("metric")["share"].sum().to_numpy() == pytest.approx(1.0, abs=1e-12)
    overall = segment_truth("hte", by=None).set_index("metric")
    q = t[t.metric == "questions"]
    # questions: the mean per customer pools with the levels' shares
    assert float((q.share * q.treatment).sum()) == pytest.approx(
        overall.loc["questions", "treatment"], abs=1e-12)
    # csat: ratings pooled, each level weighted by its share of the conversations
    c = t[t.metric == "csat"].reset_index(drop=True)
    w = c.share * q.treatment.to_numpy()
    assert float((w * c.treatment).sum() / w.sum()) == pytest.approx(
        overall.loc["csat", "treatment"], abs=1e-12)
    truth = dose_truth("hte")
    for metric in METRICS:
        assert overall.loc[metric, "treatment"] == pytest.approx(
            truth.arms[1].outcome(metric), abs=1e-12)
        assert overall.loc[metric, "control"] == pytest.approx(
            truth.arms[0].outcome(metric), abs=1e-9)
    by_zone = segment_truth("hte", by="timezone")
    assert by_zone["timezone"].nunique() == 4
    assert by_zone.groupby("metric")["diff"].nunique().eq(1).all()


def test_hte_differs_and_hte_null_does_not() -> None:
    t = segment_truth("hte").pivot(index="segment", columns="metric", values="diff")
    # starter hardly responds, mid strongly (points of CSAT and NRR)
    assert abs(t.loc["starter", "csat"]) < 0.002
    assert t.loc["mid", "csat"] < -0.05
    assert t.loc["mid", "nrr"] < -0.07
    null = segment_truth("hte-null")
    for metric in METRICS:
        diffs = null[null.metric == metric]["diff"].to_numpy()
        assert np.ptp(diffs) < 1e-12
    a = segment_truth("hte", by=None).set_index("metric")
    b = segment_truth("hte-null", by=None).set_index("metric")
    np.testing.assert_allclose(a[["control", "treatment"]], b[["control", "treatment"]],
                               rtol=0, atol=1e-9)


def _estimates(trial) -> pd.DataFrame:
    """Per segment, arm and metric: the analysis's estimate and its standard error (delta
    method for the ratios, customers independent)."""
    rows = customer_rows(trial.customers, trial.conversations, trial.assignments,
                         validate=False)
    seg = trial.customers.set_index(schema.CUSTOMER_ID)[schema.SEGMENT]
    rows["segment"] = seg.reindex(rows.index).to_numpy()
    out = []
    for (segment, arm), g in rows.groupby(["segment", schema.ARM], observed=True):
        n = len(g)
        for metric, (num, den) in {"csat": ("satisfied", "rated"),
                                   "questions": ("conversations", None),
                                   "nrr": (schema.REVENUE_END, schema.REVENUE_START)}.items():
            y = g[num].to_numpy(float)
            if den is None:
                est, se = y.mean(), y.std(ddof=1) / math.sqrt(n)
            else:
                x = g[den].to_numpy(float)
                est = y.sum() / x.sum()
                se = (y - est * x).std(ddof=1) / math.sqrt(n) / x.mean()
            out.append({"segment": segment, "arm": arm, "metric": metric, "estimate": est,
                        "se": se})
    return pd.DataFrame(out)


def _check_against_truth(name: str, customers: int, seed: int) -> None:
    trial = simulate(name, customers=customers, rng=seed)
    est = _estimates(trial).set_index(["segment", "arm", "metric"])
    truth = segment_truth(name)
    arms = trial.scenario.effects.arms
    for _, r in truth.iterrows():
        for arm, col in ((arms[0], "control"), (arms[1], "treatment")):
            e = est.loc[(r["segment"], arm, r["metric"])]
            assert abs(e.estimate - r[col]) < 4 * e.se, (name, r["segment"], arm, r["metric"],
                                                         e.estimate, r[col], e.se)
        a, b = est.loc[(r["segment"], arms[1], r["metric"])], \
            est.loc[(r["segment"], arms[0], r["metric"])]
        se = math.hypot(a.se, b.se)
        assert abs(a.estimate - b.estimate - r["diff"]) < 4 * se


def test_simulation_agrees_with_segment_truth_fast() -> None:
    _check_against_truth("hte", 30_000, 19)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["hte", "hte-null"])
def test_simulation_agrees_with_segment_truth_large(name: str) -> None:
    """300,000 customers (about 200,000 assigned): each segment's per-arm estimate and
    difference within 4 standard errors of the truth."""
    _check_against_truth(name, 300_000, 2026)


def test_customer_truth_of_a_trial() -> None:
    trial = simulate("hte", customers=4000, rng=5)
    ct = customer_truth(trial)
    assert len(ct) == 4000
    assert (ct[schema.CUSTOMER_ID] == trial.customers[schema.CUSTOMER_ID]).all()
    assert ct["arm"].notna().sum() == len(trial.assignments)
    assert (ct["eligible"] == ct["arm"].notna()).all()
    # the control's conversations are rate x months / (1 - rho), rho = 0 here
    np.testing.assert_allclose(ct["conversations_fast"], ct["rate"] * 5.0, rtol=1e-12)
    # NRR under fast is every customer's homogeneous closed form
    assert ct["nrr_fast"].to_numpy() == pytest.approx(dose_truth("published").arms[0].nrr,
                                                       abs=1e-12)
    # a different seed does not match the customers table
    with pytest.raises(ValueError, match="not the ones its scenario"):
        customer_truth(replace(trial, seed=6))
    with pytest.raises(ValueError, match="integer seed"):
        customer_truth(replace(trial, seed=None))


def test_customer_truth_pools_to_segment_truth() -> None:
    """A drawn population's per-customer truths, pooled per segment as the analysis pools,
    agree with the quadrature within 4 Monte Carlo standard errors."""
    sc = load_scenario("hte")
    pop = draw_population(sc, 200_000, np.random.default_rng(3))
    ct = customer_truth(pop, sc)
    ct = ct[ct["eligible"]]
    truth = segment_truth(sc).set_index(["segment", "metric"])
    for segment, g in ct.groupby("segment"):
        n = len(g)
        for label, col in (("fast", "control"), ("slow", "treatment")):
            conv = g[f"conversations_{label}"].to_numpy()
            rated = g[f"rated_{label}"].to_numpy()
            csat = g[f"csat_{label}"].to_numpy()
            rev, start = g[f"revenue_end_{label}"].to_numpy(), g["revenue_start"].to_numpy()
            checks = {"questions": (conv, None), "csat": (rated * csat, rated),
                      "nrr": (rev, start)}
            for metric, (y, x) in checks.items():
                if x is None:
                    est, se = y.mean(), y.std(ddof=1) / math.sqrt(n)
                else:
                    est = y.sum() / x.sum()
                    se = (y - est * x).std(ddof=1) / math.sqrt(n) / x.mean()
                assert abs(est - truth.loc[(segment, metric), col]) <= 4 * se + 1e-12


def test_policy_value_of_all_none_and_oracle() -> None:
    sc = load_scenario("hte")
    benefit = NetBenefit(saving_per_conversation=2.0, revenue_months=12.0)
    none = policy_value(sc, "none", benefit=benefit, customers=200_000)
    assert none.value == 0.0
    assert none.deferred_share == 0.0
    everyone = policy_value(sc, "all", benefit=benefit, customers=200_000)
    # closed form: saving x questions(slow) - months x E[spend | eligible] x (NRR fast - slow)
    t = segment_truth(sc, by=None).set_index("metric")
    p = sc.population
    z = math.log(sc.eligibility.max_spend / p.spend_median) / p.spend_sigma
    spend = p.spend_median * math.exp(p.spend_sigma ** 2 / 2) * norm.cdf(z - p.spend_sigma) \
        / norm.cdf(z)
    expected = (2.0 * t.loc["questions", "treatment"]
                - 12.0 * spend * (t.loc["nrr", "control"] - t.loc["nrr", "treatment"]))
    assert abs(everyone.value - expected) < 4 * everyone.mc_se
    assert everyone.csat_change == pytest.approx(t.loc["csat", "diff"], abs=4e-4)
    oracle = policy_value(sc, "oracle", benefit=benefit, customers=200_000)
    assert oracle.value > max(0.0, everyone.value)
    starter = policy_value(sc, lambda f: (f["segment"] == "starter").to_numpy(),
                           benefit=benefit, customers=200_000)
    assert everyone.value < starter.value < oracle.value
    assert 0.40 < starter.deferred_share < 0.50
    with pytest.raises(ValueError, match="one boolean per eligible customer"):
        policy_value(sc, np.ones(3, bool), customers=200_000)
