"""Several slow arms against one control: each comparison is the two-arm analysis of its pair,
the family adjustment is Holm (equal to frt.holm) or Dunnett (equal to SciPy's dunnett and to
the plain t test for one comparison), the family-wise error of an A/A trial with four arms stays
at alpha, the diagnostics are computed once over all arms (in memory and in an engine), and the
decision and the report handle the result."""

from __future__ import annotations

import datetime as dt
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy import stats

import frt_experiments as frt
from frt_experiments import schema
from frt_experiments.analysis import RESULT_COLUMNS, analyze_rows
from frt_experiments.arms import ARMS_COLUMNS, ArmsResult, combine, family_p_values
from frt_experiments.calendar import BusinessCalendar
from frt_experiments.diagnostics import ArmsDiagnostics, Diagnostics, default_calendar
from frt_experiments.errors import BalanceWarning, DataError, TreatmentNotDeliveredWarning
from frt_experiments.metrics import customer_rows
from frt_experiments.plan import ExperimentPlan
from frt_experiments.policy import FrtPolicy
from frt_experiments.report import build_report
from frt_experiments.simulate import simulate
from frt_experiments.stats.dunnett import dunnett_p_values

SLOW = ["four_hours", "one_business_day", "two_business_days"]
WEIGHTS = {"fast": 0.5, "four_hours": 1 / 6, "one_business_day": 1 / 6,
           "two_business_days": 1 / 6}
POLICIES = {"four_hours": "4h"}  # the other arms' names are policy names


def relabel(assignments: pd.DataFrame) -> pd.DataFrame:
    """The published trial's slow half split by bucket into three slow arms (fast kept)."""
    out = assignments.copy()
    b = out[schema.BUCKET].to_numpy(float)
    slow = out[schema.ARM] == "one_business_day"
    out.loc[slow, schema.ARM] = np.where(b[slow] < 2 / 3, "four_hours",
                                         np.where(b[slow] < 5 / 6, "one_business_day",
                                                  "two_business_days"))
    return out


@pytest.fixture(scope="module")
def trial():
    t = simulate("published", customers=3_000, rng=7).to_pandas()
    return t["customers"], t["conversations"], relabel(t["assignments"])


@pytest.fixture(scope="module")
def result(trial):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BalanceWarning)  # arms of ~350: |SMD| > 0.1 by chance
        return frt.analyze(*trial, treatment=SLOW, policies=POLICIES, weights=WEIGHTS)


def test_each_comparison_is_the_two_arm_analysis_of_its_pair(trial, result):
    customers, conversations, assignments = trial
    assert isinstance(result, ArmsResult)
    assert result.treatments == tuple(SLOW)
    assert result.control == "fast"
    for arm in SLOW:
        pair = assignments[assignments[schema.ARM].isin(["fast", arm])]
        alone = frt.analyze(customers, conversations, pair, treatment=arm, diagnostics=False)
        mine = result.by_arm[arm]
        pd.testing.assert_frame_equal(mine.to_pandas(), alone.to_pandas(), check_exact=True)
        assert mine.p_holm == alone.p_holm
        assert mine.window_end == alone.window_end
        rows = result.to_pandas()
        part = rows[rows["arm"] == arm].drop(columns=["arm", "p_adjusted",
                                                      "significant_adjusted"])
        pd.testing.assert_frame_equal(part.reset_index(drop=True), alone.to_pandas(),
                                      check_exact=True)
    assert tuple(result.to_pandas().columns) == ARMS_COLUMNS
    assert result["one_business_day"] is result.by_arm["one_business_day"]
    with pytest.raises(KeyError, match="no slow arm 'three_days'"):
        result["three_days"]


def test_two_arms_stay_the_default(trial):
    customers, conversations, _ = trial
    t = simulate("published", customers=3_000, rng=7).to_pandas()
    default = frt.analyze(customers, conversations, t["assignments"], diagnostics=False)
    assert type(default) is frt.ExperimentResult
    assert tuple(default.to_pandas().columns) == RESULT_COLUMNS
    # a plan naming the two default arms gives the same result and the same diagnostics
    plan = ExperimentPlan(name="x", arms={"fast": "4h", "one_business_day": "one_business_day"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BalanceWarning)
        a = frt.analyze(customers, conversations, t["assignments"])
        b = frt.analyze(customers, conversations, t["assignments"], plan=plan)
    assert type(b) is frt.ExperimentResult
    pd.testing.assert_frame_equal(a.to_pandas(), b.to_pandas(), check_exact=True)
    pd.testing.assert_frame_equal(a.diagnostics.frt, b.diagnostics.frt, check_exact=True)
    assert a.diagnostics.warnings == b.diagnostics.warnings


def test_holm_over_arms_and_metrics_is_frt_holm_of_the_raw_p_values(result):
    df = result.to_pandas()
    np.testing.assert_array_equal(df["p_adjusted"], frt.holm(df["p_value"].to_numpy()))
    assert (df["significant_adjusted"] == (df["p_adjusted"] < 0.05)).all()
    assert (df["p_adjusted"] >= df["p_value"]).all()
    assert result.multiplicity == "holm"
    assert "Holm (1979)" in result.rule


def test_dunnett_then_holm(trial, result):
    d = combine(result.results, multiplicity="dunnett")
    p = d.to_pandas()
    assert (p["p_adjusted"] >= p["p_value"] - 1e-12).all()
    # never above Bonferroni over the whole family; Dunnett uses the correlation
    assert (p["p_adjusted"] <= np.minimum(1, len(p) * p["p_value"]) + 1e-12).all()
    # one slow arm: both rules are Holm across that arm's metrics
    one = frt.analyze(*trial, treatment=["one_business_day"], multiplicity="dunnett",
                      diagnostics=False, weights=WEIGHTS)
    np.testing.assert_allclose(one.p_adjusted[0], one.results[0].p_holm, rtol=1e-9)
    # metrics that went to randomization tests are adjusted by Bonferroni there (said)
    randomized = {m.metric for r in result.results for m in r.metrics
                  if m.inference == "randomization"}
    assert {n.split(":")[0] for n in d.notes} == randomized


def test_dunnett_one_comparison_is_the_t_test_and_independence_is_sidak():
    for df in (3.0, 30.0, 1e4, math.inf):
        p = dunnett_p_values([2.2], [0.6], df=df)[0]
        assert p == pytest.approx(2 * stats.t.sf(2.2, df), abs=1e-10)
        g = dunnett_p_values([2.2], [0.6], df=df, alternative="greater")[0]
        assert g == pytest.approx(stats.t.sf(2.2, df), abs=1e-10)
    raw = 2 * stats.norm.sf([2.0, 1.0, 0.5])
    np.testing.assert_allclose(dunnett_p_values([2.0, -1.0, 0.5], [0, 0, 0]),
                               1 - (1 - raw) ** 3, atol=1e-12)
    with pytest.raises(ValueError, match="rho must lie in"):
        dunnett_p_values([1.0], [1.0])


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_dunnett_equals_scipy_on_its_own_statistics(alternative):
    # scipy.stats.dunnett (pooled variance, df = N - k) on raw normal samples: its statistics
    # and the correlations of its design, sqrt(n_i / (n_i + n_0)), give its p-values
    rng = np.random.default_rng(1)
    samples = [rng.normal(0, 1, n) for n in (40, 25, 30, 35)]
    samples[1] = samples[1] + 0.6
    ref = stats.dunnett(*samples[1:], control=samples[0], alternative=alternative,
                        rng=np.random.default_rng(0))
    n = np.array([len(s) for s in samples])
    rho = np.sqrt(n[1:] / (n[1:] + n[0]))
    mine = dunnett_p_values(ref.statistic, rho, df=n.sum() - len(n), alternative=alternative)
    np.testing.assert_allclose(mine, ref.pvalue, atol=1e-4)


def test_dunnett_through_the_analysis_agrees_with_scipy_for_equal_variances():
    # Welch's per-pair variances and df instead of the pooled ones: close for equal variances
    rng = np.random.default_rng(2)
    samples = [rng.normal(20, 3, 400) for _ in range(4)]
    samples[2] = samples[2] + 0.5
    rows = pd.DataFrame({schema.ARM: np.repeat(["fast", "a", "b", "c"], 400),
                         "conversations": np.concatenate(samples)})
    res = [analyze_rows(rows, treatment=a, metrics=["questions"], cuped=False,
                        inference="normal") for a in "abc"]
    mine = np.array([p[0] for p in combine(res, multiplicity="dunnett").p_adjusted])
    ref = stats.dunnett(*samples[1:], control=samples[0], rng=np.random.default_rng(0))
    # step-down: the first step is scipy's single-step Dunnett p-value of the largest |t|; the
    # later ones adjust over the arms left, so they lie between the raw and the single-step
    first = int(np.argmin(ref.pvalue))
    assert mine[first] == pytest.approx(ref.pvalue[first], abs=5e-3)
    raw = np.array([r.metrics[0].p_value for r in res])
    assert (mine >= raw - 1e-12).all()
    assert (mine <= ref.pvalue + 5e-3).all()
    # the last step is one arm alone, its raw p-value (never below an earlier step's)
    last = int(np.argmax(raw))
    assert mine[last] == pytest.approx(max(raw[last], np.sort(mine)[-2]), rel=1e-9)
    assert mine[1] > res[1].metrics[0].p_value  # adjusted: 0.094 against 0.037 alone


def _aa_family_wise_error(replications: int, seed: int) -> dict[str, float]:
    # a fresh A/A trial per replication, its customers randomized into four arms: the
    # family-wise error rate over trials (re-randomizing one fixed trial would measure the
    # rate conditional on its data, which need not be 5% for 335 skewed customers per arm)
    arms = np.array(["fast", "a", "b", "c"])
    hits = {"holm": 0, "dunnett": 0}
    for i in range(replications):
        t = simulate("aa", customers=2_000, rng=seed * 100_000 + i).to_pandas()
        rows = customer_rows(t["customers"], t["conversations"], t["assignments"],
                             validate=False)
        rng = np.random.default_rng(seed * 100_000 + i)
        r = rows.assign(arm=arms[rng.permutation(len(rows)) % 4])
        res = [analyze_rows(r, treatment=a, inference="normal", cuped=False)
               for a in arms[1:]]
        for rule in hits:
            adjusted, _ = family_p_values([x.metrics for x in res], multiplicity=rule)
            hits[rule] += any(p < 0.05 for ps in adjusted for p in ps)
    return {rule: h / replications for rule, h in hits.items()}


def _check_family_wise_error(rates: dict[str, float], replications: int) -> None:
    se = math.sqrt(0.05 * 0.95 / replications)
    for rule, rate in rates.items():
        assert rate <= 0.05 + 2 * se, (rule, rate)


def test_family_wise_error_of_an_aa_trial_with_four_arms():
    # 3 slow arms x 4 metrics: unadjusted, any false finding would come in about 40% of trials
    _check_family_wise_error(_aa_family_wise_error(100, seed=5), 100)


@pytest.mark.slow
def test_family_wise_error_of_an_aa_trial_with_four_arms_long():
    _check_family_wise_error(_aa_family_wise_error(500, seed=6), 500)


def test_diagnostics_once_over_all_arms(result):
    d = result.diagnostics
    assert isinstance(d, ArmsDiagnostics)
    assert list(d.counts[schema.ARM]) == ["fast", *SLOW]
    assert list(d.counts["expected"]) == pytest.approx(
        [d.counts["customers"].sum() * w for w in WEIGHTS.values()])
    frt_table = d.frt.set_index(schema.ARM)
    assert list(frt_table["policy"]) == ["4h", "4h", "one_business_day", "two_business_days"]
    assert frt_table.loc["four_hours", "target_business_hours"] == 4.0
    assert frt_table.loc["one_business_day", "target_business_hours"] == pytest.approx(8.0)
    assert frt_table.loc["two_business_days", "target_business_hours"] == pytest.approx(16.0)
    assert d.delivered == dict.fromkeys(SLOW, True)
    assert d.treatment_delivered
    rr = d.response_rates.set_index(schema.ARM)
    assert math.isnan(rr.loc["fast", "diff"])
    assert rr.loc["one_business_day", "diff"] == pytest.approx(
        rr.loc["one_business_day", "response_rate"] - rr.loc["fast", "response_rate"])
    view = d.for_arm("two_business_days")
    assert isinstance(view, Diagnostics)
    assert view.treatment == "two_business_days"
    assert result.by_arm["two_business_days"].diagnostics is view
    assert "Treatment delivered per arm" in d.to_markdown()
    assert set(d.to_pandas()[schema.ARM]) == {"fast", *SLOW}


def test_a_slow_arm_answered_fast_is_named_not_delivered(trial):
    customers, conversations, _ = trial
    t = simulate("published", customers=3_000, rng=7).to_pandas()["assignments"]
    fast = t[schema.ARM] == "fast"
    t.loc[fast & (t[schema.BUCKET] >= 0.25), schema.ARM] = "four_hours"  # served fast
    weights = {"fast": 0.25, "four_hours": 0.25, "one_business_day": 0.5}
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        r = frt.analyze(customers, conversations, t, treatment=["four_hours",
                                                                "one_business_day"],
                        policies=POLICIES, weights=weights)
    assert any(issubclass(w.category, TreatmentNotDeliveredWarning)
               and "four_hours's median FRT" in str(w.message) for w in seen)
    assert r.diagnostics.delivered["four_hours"] is False
    with pytest.raises(ValueError, match="one slower policy at a time"):
        frt.decide(r, low_spend_revenue_per_year=1e6, annual_staffing_savings=1e5)
    d = frt.decide(r.by_arm["four_hours"], low_spend_revenue_per_year=1e6,
                   annual_staffing_savings=1e5)
    assert d.verdict == "inconclusive"
    assert "not delivered" in d.reason


def test_several_arms_on_duckdb_equal_the_in_memory_analysis(tmp_path, trial, result):
    pytest.importorskip("duckdb")
    from test_engine_analysis import _same_diagnostics, _same_result
    from test_engine_rows import _on_duckdb

    from frt_experiments.engine import IBIS_PANDAS_WARNING

    customers, conversations, assignments = trial
    t = _on_duckdb(tmp_path, {"customers": customers, "conversations": conversations,
                              "assignments": assignments})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", IBIS_PANDAS_WARNING)
        warnings.simplefilter("ignore", BalanceWarning)
        b = frt.analyze(t["customers"], t["conversations"], t["assignments"], treatment=SLOW,
                        policies=POLICIES, weights=WEIGHTS)
    for arm in SLOW:
        _same_result(result.by_arm[arm], b.by_arm[arm])
    _same_diagnostics(result.diagnostics.for_arm("one_business_day"),
                      b.diagnostics.for_arm("one_business_day"))
    pd.testing.assert_frame_equal(result.diagnostics.frt, b.diagnostics.frt, rtol=1e-9)
    assert result.diagnostics.warnings == b.diagnostics.warnings


def test_bad_arms_and_policies(trial):
    args = trial
    with pytest.raises(ValueError, match="arm 'four_hours' has no FRT policy"):
        frt.analyze(*args, treatment=SLOW)
    with pytest.raises(ValueError, match="arm 'four_hours': unknown FRT policy '4 days'"):
        frt.analyze(*args, treatment=SLOW, policies={"four_hours": "4 days"})
    berlin = BusinessCalendar("Europe/Berlin")
    with pytest.raises(ValueError, match="arm 'four_hours''s policy is on another calendar"):
        frt.analyze(*args, treatment=SLOW, calendar=default_calendar(), policies={
            "four_hours": FrtPolicy("four_hours", berlin, target=dt.timedelta(hours=4))})
    with pytest.raises(ValueError, match="at least two arms"):
        frt.analyze(*args, treatment=[])
    with pytest.raises(ValueError, match="arm 'fast' is the control"):
        frt.analyze(*args, treatment=["fast", "four_hours"])
    with pytest.raises(DataError, match="treatment arm 'three_days' has no customers"):
        frt.analyze(*args, treatment=["four_hours", "three_days"], policies=POLICIES)
    with pytest.raises(ValueError, match="multiplicity must be one of holm, dunnett"):
        frt.analyze(*args, treatment=SLOW, multiplicity="bonferroni")
    with pytest.warns(UserWarning, match="'one_business_day'.*left out"):  # DataWarning
        frt.analyze(*args, treatment=["four_hours", "two_business_days"],
                    policies=POLICIES, diagnostics=False)


def test_plan_arms_drive_the_analysis(trial, result):
    plan = ExperimentPlan(name="x", arms={"fast": "4h", **POLICIES,
                                          "one_business_day": "one_business_day",
                                          "two_business_days": "two_business_days"},
                          weights=WEIGHTS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BalanceWarning)
        r = frt.analyze(*trial, plan=plan)
    assert isinstance(r, ArmsResult)
    assert r.treatments == tuple(SLOW)
    pd.testing.assert_frame_equal(r.to_pandas(), result.to_pandas(), check_exact=True)
    assert r.policies == {"fast": "4h", "four_hours": "4h",
                          "one_business_day": "one_business_day",
                          "two_business_days": "two_business_days"}
    with pytest.raises(ValueError, match="disagrees with the plan's \\[arms\\]"):
        frt.analyze(*trial, plan=plan, control="four_hours")


def test_tables_text_and_plot(result):
    s = result.summary()
    assert list(s["arm"].unique()) == SLOW
    assert "Holm p" in s.columns
    md = result.to_markdown()
    assert md.startswith("## 3 slow arms vs fast")
    for arm in SLOW:
        assert f"### {arm} vs fast" in md
    assert "Multiplicity: p-values adjusted by Holm (1979)" in md
    assert "### Diagnostics (all arms)" in md
    assert "ArmsResult(four_hours, one_business_day, two_business_days vs fast" in repr(result)
    assert "<h4>" in result._repr_html_()
    assert set(result.decisions.columns) >= {"arm", "metric"}
    assert isinstance(result.plot(), Figure)
    assert set(result.family.columns) == {"arm", "metric", "p_value", "p_adjusted",
                                          "significant", "significant_adjusted"}


class _Stub:
    """What the dose-response result offers the report: add_to(doc)."""

    def add_to(self, doc) -> None:
        doc.text("stub dose-response: slope -0.004 per log-hour")


def test_report_of_several_arms_with_a_dose_response_section(tmp_path, trial, result):
    customers, conversations, assignments = trial
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BalanceWarning)
        doc = build_report(customers, conversations, assignments, result,
                           dose_response=_Stub())
    doc.write(tmp_path)
    md = next(tmp_path.glob("*.md")).read_text()
    assert "each slow arm against the fast arm" in md
    assert "adjusted across arms and metrics by Holm (1979)" in md
    assert "Treatment delivered per arm" in md
    assert "two_business_days: yes" in md
    diag, dose, sat = (md.index(h) for h in ("Diagnostics", "Dose-response",
                                             "Satisfaction and volume"))
    assert diag < dose < sat
    assert "stub dose-response: slope -0.004" in md
    with pytest.raises(TypeError, match="dose_response: expected an object with add_to"):
        build_report(customers, conversations, assignments, result, dose_response=object())


def test_dunnett_keeps_the_family_wise_error_beside_a_real_effect():
    # two metrics, two slow arms; arm a really moves CSAT and the other three comparisons are
    # true nulls. A metric must count across the metrics until all its arms are rejected:
    # dropping CSAT from the count once arm a was rejected judged NRR at the full alpha
    # (6.4% false findings); the step-down closed test keeps it at 5%
    from dataclasses import fields, replace

    from frt_experiments.analysis import MetricResult

    names = [f.name for f in fields(MetricResult)]
    base = dict.fromkeys(names, 0.0) | {
        "metric": "csat", "control_arm": "fast", "treatment_arm": "a", "n_control": 1000,
        "n_treatment": 1000, "method": "", "covariates": (), "inference": "normal",
        "significant": False}
    base = MetricResult(**base)
    rng = np.random.default_rng(5)
    reps, rho = 4_000, math.sqrt(1 / 6)
    false = 0
    for _ in range(reps):
        arms = [[], []]
        for metric in ("csat", "nrr"):
            z = rho * rng.standard_normal() + math.sqrt(1 - rho**2) * rng.standard_normal(2)
            if metric == "csat":
                z[0] += 12
            for i in range(2):
                arms[i].append(replace(base, metric=metric, treatment_arm="ab"[i],
                                       statistic=float(z[i]), se=1.0, var_control=rho**2,
                                       p_value=float(2 * stats.norm.sf(abs(z[i]))),
                                       df=math.inf))
        adj, _ = family_p_values(arms, multiplicity="dunnett")
        assert adj[0][0] < 0.05  # the real effect is found
        false += (adj[1][0] < 0.05) or (adj[0][1] < 0.05) or (adj[1][1] < 0.05)
    assert false / reps <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / reps)
