"""The success criterion against hand-computed closed forms.

Revenue at risk = -(relative NRR change) x R; break-even NRR drop = S / R; CSAT passes unless
significantly worse, or (with a margin m) when rel_ci_low > m; success = CSAT passes or the
revenue at risk on the chosen basis is below S.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frt_experiments import Decision, ExperimentPlan, decide
from frt_experiments.errors import DataError

COLUMNS = ["metric", "control_arm", "treatment_arm", "n_control", "n_treatment", "control",
           "treatment", "diff", "diff_ci_low", "diff_ci_high", "rel_diff", "rel_ci_low",
           "rel_ci_high", "p_value", "significant", "method"]


def results(*, csat=(-0.0125, -0.03, 0.005, 0.16, False), nrr=(0.0, -0.01, 0.01, 0.99, False)):
    """A results.csv-shaped table; each metric given as (rel, rel_low, rel_high, p, sig)."""
    rows = []
    for metric, base, (rel, low, high, p, sig) in [
        ("questions", 1.0, (-0.04, -0.06, -0.02, 0.001, True)), ("csat", 0.88, csat),
        ("nrr", 0.97, nrr), ("efficiency", 2.0, (0.2, 0.15, 0.25, 1e-6, True))]:
        rows.append({"metric": metric, "control_arm": "fast",
                     "treatment_arm": "one_business_day", "n_control": 5000,
                     "n_treatment": 5000, "control": base, "treatment": base * (1 + rel),
                     "diff": base * rel, "diff_ci_low": base * low, "diff_ci_high": base * high,
                     "rel_diff": rel, "rel_ci_low": low, "rel_ci_high": high, "p_value": p,
                     "significant": sig, "method": "welch-delta"})
    return pd.DataFrame(rows, columns=COLUMNS)


def test_published_result_succeeds_on_csat():
    # published table: CSAT -1.25% (not significant), NRR 0%
    d = decide(results(), low_spend_revenue_per_year=1_000_000, annual_staffing_savings=50_000)
    assert isinstance(d, Decision)
    assert d.success
    assert d.verdict == "success"
    assert d.csat_ok
    assert d.csat_rule == "not significantly worse"
    assert "not significantly worse" in d.reason
    # closed forms: at risk = -r R; pessimistic = -low R = 0.01 * 1e6; break-even = 5e4 / 1e6
    assert d.revenue_at_risk == 0.0
    assert d.revenue_at_risk_pessimistic == pytest.approx(10_000.0)
    assert d.revenue_at_risk_optimistic == pytest.approx(-10_000.0)
    assert d.break_even_nrr_drop == pytest.approx(0.05)
    assert d.revenue_ok
    assert d.net_benefit == pytest.approx(40_000.0)


def test_csat_significantly_worse_but_savings_outweigh_revenue_at_risk():
    table = results(csat=(-0.03, -0.05, -0.01, 0.002, True),
                    nrr=(-0.005, -0.02, 0.01, 0.5, False))
    d = decide(table, low_spend_revenue_per_year=2_000_000, annual_staffing_savings=50_000)
    assert d.csat_significantly_worse
    assert not d.csat_ok
    assert d.revenue_at_risk == pytest.approx(10_000.0)  # 0.005 * 2e6
    assert d.revenue_at_risk_pessimistic == pytest.approx(40_000.0)  # 0.02 * 2e6 < 5e4
    assert d.revenue_ok
    assert d.success
    assert d.break_even_nrr_drop == pytest.approx(0.025)
    assert d.net_benefit == pytest.approx(10_000.0)
    assert "which meets the criterion" in d.reason


def test_failure_when_csat_worse_and_pessimistic_revenue_exceeds_savings():
    table = results(csat=(-0.03, -0.05, -0.01, 0.002, True),
                    nrr=(-0.02, -0.06, 0.02, 0.3, False))
    d = decide(table, low_spend_revenue_per_year=1_000_000, annual_staffing_savings=50_000)
    assert d.revenue_at_risk == pytest.approx(20_000.0)
    assert d.revenue_at_risk_pessimistic == pytest.approx(60_000.0)
    assert not d.revenue_ok
    assert not d.success
    assert d.verdict == "failure"
    assert d.net_benefit == pytest.approx(-10_000.0)
    # on the point estimate the same figures pass (20,000 < 50,000)
    e = decide(table, low_spend_revenue_per_year=1_000_000, annual_staffing_savings=50_000,
               basis="estimate")
    assert e.revenue_ok
    assert e.success
    assert e.net_benefit == pytest.approx(30_000.0)


def test_revenue_at_risk_equal_to_savings_is_not_smaller():
    table = results(csat=(-0.03, -0.05, -0.01, 0.002, True),
                    nrr=(-0.01, -0.05, 0.03, 0.6, False))
    d = decide(table, low_spend_revenue_per_year=1_000_000, annual_staffing_savings=50_000)
    assert d.revenue_at_risk_pessimistic == pytest.approx(50_000.0)
    assert not d.revenue_ok


def test_a_significant_csat_improvement_is_not_worse():
    table = results(csat=(0.03, 0.01, 0.05, 0.002, True), nrr=(-0.05, -0.1, 0.0, 0.05, False))
    d = decide(table, low_spend_revenue_per_year=1_000_000, annual_staffing_savings=0)
    assert not d.csat_significantly_worse
    assert d.csat_ok
    assert not d.revenue_ok
    assert d.success


@pytest.mark.parametrize(("low", "ok"), [(-0.019, True), (-0.02, False), (-0.021, False)])
def test_non_inferiority_margin_uses_the_lower_bound(low, ok):
    table = results(csat=(-0.005, low, 0.009, 0.4, False),
                    nrr=(-0.02, -0.06, 0.02, 0.3, False))
    d = decide(table, low_spend_revenue_per_year=1_000_000, annual_staffing_savings=10_000,
               csat_margin=-0.02)
    assert d.csat_rule == "non-inferiority"
    assert d.csat_margin == -0.02
    assert d.csat_ok is ok
    assert d.success is ok  # revenue fails: 60,000 > 10,000


def test_margin_comes_from_the_plan_and_the_argument_wins():
    table = results(csat=(-0.005, -0.025, 0.015, 0.6, False))
    plan = ExperimentPlan(name="frt", csat_margin=-0.02)
    d = decide(table, low_spend_revenue_per_year=1e6, annual_staffing_savings=0, plan=plan)
    assert d.csat_margin == -0.02
    assert not d.csat_ok
    d = decide(table, low_spend_revenue_per_year=1e6, annual_staffing_savings=0, plan=plan,
               csat_margin=-0.03)
    assert d.csat_margin == -0.03
    assert d.csat_ok


def test_reads_results_csv_and_result_objects(tmp_path):
    path = tmp_path / "results.csv"
    results().to_csv(path, index=False)
    table = pd.read_csv(path)
    d = decide(table, low_spend_revenue_per_year=1e6, annual_staffing_savings=5e4)
    assert d.revenue_at_risk_pessimistic == pytest.approx(10_000.0)
    for source in (path, str(path)):  # the file itself, as a path or a string
        assert decide(source, low_spend_revenue_per_year=1e6,
                      annual_staffing_savings=5e4) == d
    with pytest.raises(ValueError, match="is not a file"):
        decide(tmp_path / "none.csv", low_spend_revenue_per_year=1e6, annual_staffing_savings=0)

    class Result:
        def to_pandas(self):
            return results()

    assert decide(Result(), low_spend_revenue_per_year=1e6,
                  annual_staffing_savings=5e4).success
    # string booleans, as a spreadsheet round trip may write them
    table["significant"] = table["significant"].map({True: "TRUE", False: "false"})
    assert decide(table, low_spend_revenue_per_year=1e6, annual_staffing_savings=5e4).success


def test_missing_metric_rows_and_columns_are_named():
    table = results()
    with pytest.raises(DataError, match="no row for metric 'csat' nor 'nrr'"):
        decide(table[~table["metric"].isin(["csat", "nrr"])], low_spend_revenue_per_year=1e6,
               annual_staffing_savings=0)
    with pytest.raises(DataError, match=r"missing column.*rel_ci_low, p_value"):
        decide(table.drop(columns=["rel_ci_low", "p_value"]), low_spend_revenue_per_year=1e6,
               annual_staffing_savings=0)
    doubled = pd.concat([table, table[table["metric"] == "csat"]], ignore_index=True)
    with pytest.raises(DataError, match="2 rows are repeated metric 'csat'"):
        decide(doubled, low_spend_revenue_per_year=1e6, annual_staffing_savings=0)
    bad = table.copy()
    bad.loc[bad["metric"] == "nrr", "rel_ci_low"] = float("nan")
    with pytest.raises(DataError, match="column rel_ci_low: metric 'nrr'"):
        decide(bad, low_spend_revenue_per_year=1e6, annual_staffing_savings=0)
    bad = table.astype({"significant": object})
    bad.loc[bad["metric"] == "csat", "significant"] = "maybe"
    with pytest.raises(DataError, match="significant"):
        decide(bad, low_spend_revenue_per_year=1e6, annual_staffing_savings=0)


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"low_spend_revenue_per_year": 0}, "low_spend_revenue_per_year"),
    ({"low_spend_revenue_per_year": float("inf")}, "low_spend_revenue_per_year"),
    ({"annual_staffing_savings": float("nan")}, "annual_staffing_savings"),
    ({"annual_staffing_savings": "lots"}, "annual_staffing_savings"),
    ({"csat_margin": 0.02}, "csat_margin"),
    ({"basis": "median"}, "basis"),
])
def test_bad_arguments_name_the_argument(kwargs, name):
    args = {"low_spend_revenue_per_year": 1e6, "annual_staffing_savings": 5e4, **kwargs}
    with pytest.raises(ValueError, match=name):
        decide(results(), **args)
    with pytest.raises(TypeError, match="result"):
        decide([1, 2], low_spend_revenue_per_year=1e6, annual_staffing_savings=0)


def test_outputs_are_readable():
    d = decide(results(), low_spend_revenue_per_year=1_000_000, annual_staffing_savings=50_000)
    s = d.to_pandas()
    assert s["verdict"] == "success"
    assert s["break_even_nrr_drop"] == pytest.approx(0.05)
    assert "Break-even NRR drop" in d.summary()
    assert "5.00%" in d.summary()
    md = d.to_markdown()
    assert md.startswith("**Decision: success.**")
    assert "| Annual staffing savings | 50,000 |" in md
    assert repr(d).startswith("Decision(verdict='success'")


def test_html_repr_escapes_and_shows_the_verdict():
    d = decide(results(), low_spend_revenue_per_year=1e6, annual_staffing_savings=5e4)
    page = d._repr_html_()
    assert "<h4>Decision: success</h4>" in page
    assert "Break-even NRR drop" in page


@settings(max_examples=60, deadline=None)
@given(rel=st.floats(-0.2, 0.2), half=st.floats(0.0, 0.1),
       revenue=st.floats(1e3, 1e9), share=st.floats(0.0, 0.3))
def test_revenue_rule_closed_form(rel, half, revenue, share):
    savings = share * revenue
    table = results(csat=(-0.03, -0.05, -0.01, 0.002, True),
                    nrr=(rel, rel - half, rel + half, 0.5, False))
    d = decide(table, low_spend_revenue_per_year=revenue, annual_staffing_savings=savings)
    assert d.revenue_at_risk == pytest.approx(-rel * revenue, abs=1e-9 * revenue)
    assert d.revenue_at_risk_pessimistic >= d.revenue_at_risk >= d.revenue_at_risk_optimistic
    assert d.break_even_nrr_drop == pytest.approx(share)
    # revenue passes exactly when NRR's pessimistic bound is above minus the break-even drop
    assert d.revenue_ok == (d.revenue_at_risk_pessimistic < savings)
    assert d.success == d.revenue_ok  # CSAT is significantly worse here
    more = decide(table, low_spend_revenue_per_year=revenue,
                  annual_staffing_savings=savings * 2 + 1)
    assert more.success or not d.success  # more savings never turns success into failure


def test_decides_on_an_analysis_of_a_simulated_trial():
    analysis = pytest.importorskip("frt_experiments.analysis")
    from frt_experiments import simulate

    trial = simulate("published", customers=3000, rng=11)
    result = analysis.analyze(trial.customers, trial.conversations, trial.assignments)
    d = decide(result, low_spend_revenue_per_year=2e6, annual_staffing_savings=6e4)
    rows = result.to_pandas().set_index("metric")
    assert d.nrr_rel_ci_low == rows.loc["nrr", "rel_ci_low"]
    assert d.revenue_at_risk_pessimistic == pytest.approx(-rows.loc["nrr", "rel_ci_low"] * 2e6)
    worse = bool(rows.loc["csat", "significant"]) and rows.loc["csat", "diff"] < 0
    assert d.csat_ok == (not worse)
    assert d.success == (d.csat_ok or d.revenue_at_risk_pessimistic < 6e4)


def test_an_analysis_with_a_csat_margin_is_judged_by_that_margin():
    # CSAT -1.25% with a 95% CI of -3% to +0.5%: not significantly worse, but its lower bound
    # is below a -2% margin. An analysis run with csat_margin=-0.02 reported "not shown
    # non-inferior"; decide() on that result must use the same margin, not fall back to "not
    # significantly worse" (which would pass).
    class Analysed:
        margin_tests = (("nrr", SimpleNamespace(test="equivalence", scale="relative",
                                                margin=0.01)),
                        ("csat", SimpleNamespace(test="non-inferiority", scale="relative",
                                                 margin=-0.02)))

        def to_pandas(self):
            return results()

    d = decide(Analysed(), low_spend_revenue_per_year=1e6, annual_staffing_savings=0)
    assert d.csat_rule == "non-inferiority"
    assert d.csat_margin == -0.02
    assert not d.csat_ok
    assert not d.success  # revenue at risk 10,000 at the bound is not below 0 savings
    # an explicit margin or the plan's still wins; a table carries no margin
    assert decide(Analysed(), low_spend_revenue_per_year=1e6, annual_staffing_savings=0,
                  csat_margin=-0.05).csat_ok
    plan = ExperimentPlan(name="frt", csat_margin=-0.04)
    assert decide(Analysed(), low_spend_revenue_per_year=1e6, annual_staffing_savings=0,
                  plan=plan).csat_margin == -0.04
    assert decide(results(), low_spend_revenue_per_year=1e6,
                  annual_staffing_savings=0).csat_rule == "not significantly worse"


def test_one_sided_greater_results_are_decided_with_a_margin():
    # `frt analyze --plan` with alternative = "greater" writes one-sided intervals: rel_ci_high
    # is inf (results.csv says "inf"). The NRR lower bound is still the pessimistic bound; CSAT
    # is judged by the margin, and without one the error says why.
    table = results(csat=(-0.0266, -0.0554, float("inf"), 0.93, False),
                    nrr=(-0.0055, -0.0213, float("inf"), 0.71, False))
    d = decide(table, low_spend_revenue_per_year=1.2e6, annual_staffing_savings=30_000,
               csat_margin=-0.05)
    assert d.csat_rule == "non-inferiority"
    assert not d.csat_ok  # -5.54% is below -5%
    assert d.revenue_at_risk_pessimistic == pytest.approx(0.0213 * 1.2e6)  # 25,560
    assert d.revenue_ok
    assert d.success
    assert d.revenue_at_risk_optimistic == float("-inf")
    assert "+inf%" in d.summary()
    with pytest.raises(ValueError, match=r"csat_margin is needed.*one-sided for an improvement"):
        decide(table, low_spend_revenue_per_year=1.2e6, annual_staffing_savings=30_000)
    # an infinite lower bound or a NaN is still an error naming the column
    bad = results(nrr=(-0.0055, float("-inf"), 0.01, 0.71, False))
    with pytest.raises(DataError, match=r"column rel_ci_low: metric 'nrr' has a missing, "
                                        r"infinite or non-numeric value -inf"):
        decide(bad, low_spend_revenue_per_year=1.2e6, annual_staffing_savings=0)


def test_a_trial_whose_diagnostics_void_it_is_inconclusive():
    """Same figures, but the result's diagnostics report an undelivered treatment or a sample
    ratio mismatch: the verdict is 'inconclusive', never 'success', and the reason still says
    what the criterion would read."""

    class Result:
        def __init__(self, delivered, flagged):
            self.diagnostics = SimpleNamespace(
                treatment_delivered=delivered,
                srm=SimpleNamespace(flagged=flagged, p_value=1e-6))

        def to_pandas(self):
            return results()

    kw = {"low_spend_revenue_per_year": 1e6, "annual_staffing_savings": 5e4}
    assert decide(Result(True, False), **kw).verdict == "success"
    d = decide(Result(False, False), **kw)
    assert (d.verdict, d.success) == ("inconclusive", False)
    assert d.trust_problems == ("the treatment was not delivered (the arms' first responses "
                                "did not differ as designed)",)
    assert "would read: success" in d.reason
    d = decide(Result(True, True), **kw)
    assert d.verdict == "inconclusive"
    assert d.trust_problems == ("sample ratio mismatch (p = 1e-06)",)


def test_an_aa_trial_cannot_decide_the_policy():
    """In an A/A simulation both arms get the fast policy: the analysis' diagnostics find the
    treatment not delivered, so decide() will not call the slower policy a success."""
    from frt_experiments import analyze, simulate
    from frt_experiments.errors import TreatmentNotDeliveredWarning

    trial = simulate("aa", customers=3000, rng=11)
    with pytest.warns(TreatmentNotDeliveredWarning):
        result = analyze(trial.customers, trial.conversations, trial.assignments)
    d = decide(result, low_spend_revenue_per_year=2e6, annual_staffing_savings=6e4)
    assert d.verdict == "inconclusive"
    assert "treatment was not delivered" in d.reason


def test_a_rollout_that_costs_agents_has_negative_savings():
    """S = -50,000 (the rollout needs more agents): the revenue rule needs NRR to have risen
    by more than 5% of R = 1,000,000 at its pessimistic bound; break-even drop -5%."""
    kw = {"low_spend_revenue_per_year": 1e6, "annual_staffing_savings": -5e4}
    d = decide(results(csat=(-0.03, -0.05, -0.01, 0.001, True)), **kw)
    assert d.break_even_nrr_drop == pytest.approx(-0.05)
    assert not d.revenue_ok
    assert d.net_benefit == pytest.approx(-5e4 - 1e4)  # S minus 1% of R at risk
    assert d.verdict == "failure"
    up = decide(results(csat=(-0.03, -0.05, -0.01, 0.001, True),
                        nrr=(0.08, 0.06, 0.10, 0.001, True)), **kw)
    assert up.revenue_ok  # -0.06 R = -60,000 < -50,000
    assert up.verdict == "success"


def test_a_sound_90_10_trial_is_decided_and_a_mismatch_against_90_10_is_not(tmp_path):
    """A 90/10 trial (12,024 fast, 1,344 slow customers, hashed with weights 0.9/0.1): analysed
    against its weights -- given, from the plan or from the ledger's meta.json -- its sample
    ratio is sound and decide() gives a verdict; tested against 50/50 (no weights) it is
    flagged (p = 0) and inconclusive. Losing 300 slow-arm customers is a real mismatch
    against 90/10: inconclusive even with the weights."""
    import json

    from frt_experiments import analyze, load_scenario, read_design_weights, simulate
    from frt_experiments.errors import SampleRatioMismatchWarning

    scenario = load_scenario("published").with_(effects={"weights": [0.9, 0.1]})
    trial = simulate(scenario, customers=20_000, rng=1)
    tables = (trial.customers, trial.conversations, trial.assignments)
    kw = {"low_spend_revenue_per_year": 1.2e6, "annual_staffing_savings": 9e4}
    meta = tmp_path / "assignments.csv.meta.json"
    meta.write_text(json.dumps({"arms": ["fast", "one_business_day"], "weights": [0.9, 0.1]}))
    for how in ({"weights": {"fast": 0.9, "one_business_day": 0.1}},
                {"plan": ExperimentPlan(name="frt", weights={"fast": 0.9,
                                                             "one_business_day": 0.1})},
                {"weights": read_design_weights(tmp_path / "assignments.csv")}):
        d = decide(analyze(*tables, **how), **kw)
        assert d.verdict in ("success", "failure"), how
        assert d.trust_problems == ()
    with pytest.warns(SampleRatioMismatchWarning):
        unweighted = analyze(*tables)
    d = decide(unweighted, **kw)
    assert d.verdict == "inconclusive"
    assert d.trust_problems == ("sample ratio mismatch (p = 0)",)
    slow = trial.assignments.index[trial.assignments["arm"].eq("one_business_day")
                                   .to_numpy(bool)]
    lost = trial.assignments.drop(slow[:300])
    with pytest.warns(SampleRatioMismatchWarning, match="'one_business_day': 1044"):
        mismatched = analyze(trial.customers, trial.conversations, lost,
                             weights={"fast": 0.9, "one_business_day": 0.1})
    d = decide(mismatched, **kw)
    assert d.verdict == "inconclusive"
    assert d.trust_problems[0].startswith("sample ratio mismatch (p = 1.8e-14")


def test_a_metric_not_analysed_leaves_its_clause_unevaluated():
    """An export without revenue: NRR not analysed. CSAT passing decides alone; CSAT failing
    cannot be outweighed by an unknown revenue clause, so the verdict is inconclusive."""
    table = results()
    no_nrr = table[table["metric"] != "nrr"]
    d = decide(no_nrr, low_spend_revenue_per_year=1e6, annual_staffing_savings=0)
    assert d.not_evaluated == ("nrr",)
    assert d.csat_ok
    assert d.verdict == "success"
    assert "NRR was not analysed" in d.reason
    assert math.isnan(d.nrr_rel_diff)
    worse = no_nrr.copy()
    worse.loc[worse["metric"] == "csat", ["diff", "rel_diff", "rel_ci_low", "rel_ci_high",
                                          "p_value", "significant"]] = \
        [-0.05, -0.06, -0.09, -0.03, 0.001, True]
    d = decide(worse, low_spend_revenue_per_year=1e6, annual_staffing_savings=1e9)
    assert d.verdict == "inconclusive"
    assert "cannot be judged without the revenue clause" in d.reason
    no_csat = table[table["metric"] != "csat"]
    d = decide(no_csat, low_spend_revenue_per_year=1e6, annual_staffing_savings=1e9)
    assert d.not_evaluated == ("csat",)
    assert d.verdict == "success"
    assert "CSAT was not analysed" in d.reason


@pytest.mark.parametrize(("csat", "nrr", "savings", "carried"), [
    # CSAT not significantly worse, NRR flat: both clauses hold
    ((-0.0125, -0.03, 0.005, 0.16, False), (0.0, -0.01, 0.01, 0.99, False), 50_000, "both"),
    # CSAT flat, but revenue at risk 10,000 > savings 5,000: CSAT alone
    ((-0.0125, -0.03, 0.005, 0.16, False), (0.0, -0.01, 0.01, 0.99, False), 5_000, "csat"),
    # the harsh scenario's shape: CSAT and NRR significantly worse, savings above the loss
    ((-0.048, -0.063, -0.033, 1e-5, True), (-0.02, -0.033, -0.007, 0.003, True), 50_000,
     "revenue"),
    ((-0.048, -0.063, -0.033, 1e-5, True), (-0.02, -0.033, -0.007, 0.003, True), 5_000,
     "neither"),
])
def test_carried_by_names_the_clause_that_passed(csat, nrr, savings, carried):
    d = decide(results(csat=csat, nrr=nrr), low_spend_revenue_per_year=1_000_000,
               annual_staffing_savings=savings)
    assert d.carried_by == carried
    assert d.success == (carried != "neither")
    # NRR's caution follows the result's own significance and sign
    assert d.nrr_significantly_worse == (nrr[4] and nrr[0] < 0)
    assert d.csat_significantly_worse == (csat[4] and csat[0] < 0)


def test_nrr_significantly_better_is_no_caution():
    d = decide(results(nrr=(0.02, 0.01, 0.03, 0.001, True)),
               low_spend_revenue_per_year=1_000_000, annual_staffing_savings=0)
    assert not d.nrr_significantly_worse
    assert d.to_dict()["nrr_significantly_worse"] is False
