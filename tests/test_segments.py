"""Segment readouts (frt_experiments.segments): the cuts, equality with the overall analysis on
a segment's customers alone, Benjamini-Hochberg and Cochran's Q against statsmodels, the plan's
``[segments]`` and bad input."""

from __future__ import annotations

import math
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.meta_analysis import combine_effects
from statsmodels.stats.multitest import multipletests

import frt_experiments as frt
from frt_experiments._ids import code_point_order
from frt_experiments.analysis import analyze_rows
from frt_experiments.errors import DataError, ScenarioError, SegmentWarning
from frt_experiments.metrics import customer_rows
from frt_experiments.plan import ExperimentPlan, plan_to_toml, read_plan
from frt_experiments.segments import (
    MISSING_LEVEL,
    adjust_together,
    analyze_segments,
    cochran_q,
    plot_arms,
    segment_labels,
)
from frt_experiments.simulate import SimulatedTrial, simulate
from frt_experiments.stats.multiplicity import benjamini_hochberg, holm


@pytest.fixture(scope="module")
def trial() -> SimulatedTrial:
    return simulate("published", customers=6000, rng=11)


@pytest.fixture(scope="module")
def segmented(trial: SimulatedTrial) -> frt.ExperimentResult:
    return frt.analyze(trial.customers, trial.conversations, trial.assignments,
                       by=["segment", "spend_band", "contact_tercile"], diagnostics=False)


# ----------------------------------------------------------------------- multiplicity, Q
def test_benjamini_hochberg_equals_statsmodels() -> None:
    rng = np.random.default_rng(5)
    for m in (1, 2, 7, 40):
        p = rng.random(m) ** 3
        ref = multipletests(p, method="fdr_bh")[1]
        np.testing.assert_allclose(benjamini_hochberg(p), ref, rtol=0, atol=1e-15)
    # ties and exact zeros/ones
    p = np.array([0.0, 0.01, 0.01, 0.5, 1.0])
    np.testing.assert_allclose(benjamini_hochberg(p), multipletests(p, method="fdr_bh")[1])
    np.testing.assert_allclose(holm(p), multipletests(p, method="holm")[1])
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        benjamini_hochberg([0.2, 1.5])


def test_cochran_q_equals_statsmodels_meta_analysis() -> None:
    y = np.array([-0.031, -0.012, 0.004, -0.045])
    se = np.array([0.011, 0.008, 0.015, 0.02])
    res = combine_effects(y, se**2)
    q = cochran_q(y, se)
    assert q.q == pytest.approx(float(res.q), rel=1e-12)
    assert q.df == 3
    assert q.p_value == pytest.approx(float(sps.chi2.sf(res.q, 3)), rel=1e-12)
    assert q.pooled == pytest.approx(float(res.mean_effect_fe), rel=1e-12)
    assert q.i2 == pytest.approx(max(0.0, (res.q - 3) / res.q), rel=1e-12)
    with pytest.raises(ValueError, match="two or more"):
        cochran_q([0.1], [0.1])
    with pytest.raises(ValueError, match="positive finite"):
        cochran_q([0.1, 0.2], [0.1, 0.0])


# ------------------------------------------------------------------------------ the cuts
def test_labels_of_columns_bands_and_terciles(trial: SimulatedTrial) -> None:
    rows = customer_rows(trial.customers, trial.conversations, trial.assignments)
    labels = segment_labels(rows, ["segment", "spend_band", "contact_tercile"],
                            customers=trial.customers, spend_bands=[25, 50])
    assert labels.index.equals(rows.index)
    levels = labels.attrs["levels"]
    assert levels["spend_band"] == ["< 25", "25 to < 50", ">= 50"]
    spend = rows["revenue_start"].to_numpy(float)
    np.testing.assert_array_equal(labels["spend_band"] == "< 25", spend < 25)
    np.testing.assert_array_equal(labels["spend_band"] == ">= 50", spend >= 50)
    # terciles of the pre-period count, ties kept together: whole-number levels
    pre = rows["pre_conversations"].to_numpy(float)
    a, b = np.quantile(pre, [1 / 3, 2 / 3])
    assert set(labels["contact_tercile"]) == set(levels["contact_tercile"])
    low = levels["contact_tercile"][0]
    assert low == f"<= {int(a)}"
    np.testing.assert_array_equal(labels["contact_tercile"] == low, pre <= a)
    np.testing.assert_array_equal(labels["contact_tercile"] == levels["contact_tercile"][-1],
                                  pre > b)
    seg = trial.customers.set_index("customer_id")["segment"].reindex(rows.index)
    np.testing.assert_array_equal(labels["segment"].to_numpy(), seg.astype(str).to_numpy())
    # default spend bands: the terciles, each a third of the customers
    default = segment_labels(rows, "spend_band")
    shares = default["spend_band"].value_counts(normalize=True)
    assert shares.min() == pytest.approx(1 / 3, abs=0.002)


def test_missing_values_are_their_own_level(trial: SimulatedTrial) -> None:
    customers = trial.customers.copy()
    customers["region"] = np.where(np.arange(len(customers)) % 5 == 0, None,
                                   np.where(np.arange(len(customers)) % 2 == 0, "EU", "US"))
    rows = customer_rows(customers, trial.conversations, trial.assignments)
    labels = segment_labels(rows, "region", customers=customers)
    assert labels.attrs["levels"]["region"] == ["EU", "US", MISSING_LEVEL]
    assert (labels["region"] == MISSING_LEVEL).sum() > 0


# ----------------------------------------------------- equal to the analysis of the segment
@pytest.mark.parametrize("level", ["smb", "mid"])
def test_readout_equals_the_analysis_of_the_segment_alone(
        trial: SimulatedTrial, segmented: frt.ExperimentResult,
        level: str) -> None:
    keep = trial.customers.loc[trial.customers["segment"] == level, "customer_id"]
    alone = frt.analyze(trial.customers[trial.customers["customer_id"].isin(keep)],
                        trial.conversations[trial.conversations["customer_id"].isin(keep)],
                        trial.assignments[trial.assignments["customer_id"].isin(keep)],
                        diagnostics=False)
    seg = segmented.by_segment
    got = seg.table.loc[(seg.table["dimension"] == "segment") & (seg.table["level"] == level)]
    want = alone.to_pandas()
    assert list(got["metric"]) == list(want["metric"])
    for col in ("n_control", "n_treatment", "control", "treatment", "diff", "diff_ci_low",
                "diff_ci_high", "rel_diff", "rel_ci_low", "rel_ci_high", "p_value"):
        np.testing.assert_allclose(got[col].to_numpy(float), want[col].to_numpy(float),
                                   rtol=1e-12, atol=0, err_msg=col)
    assert list(got["method"]) == list(want["method"])
    assert seg.results[("segment", level)].to_pandas().equals(want)


def test_shares_adjustment_and_heterogeneity(segmented: frt.ExperimentResult) -> None:
    seg = segmented.by_segment
    t = seg.table
    for dim in seg.by:
        per = t.loc[t["dimension"] == dim].drop_duplicates("level")
        assert per["share"].sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(t["p_adjusted"], multipletests(t["p_value"],
                                                             method="fdr_bh")[1])
    assert (t["significant"] == (t["p_adjusted"] < 0.05)).all()
    h = seg.heterogeneity
    row = h.loc[(h["dimension"] == "spend_band") & (h["metric"] == "questions")].iloc[0]
    lv = t.loc[(t["dimension"] == "spend_band") & (t["metric"] == "questions")]
    res = seg.results
    y = np.log1p(lv["rel_diff"].to_numpy(float))  # the adjusted ratio log_se belongs to
    se = [res[("spend_band", x)]["questions"].log_se for x in lv["level"]]
    ref = combine_effects(y, np.asarray(se) ** 2)
    assert row["q"] == pytest.approx(float(res_q := ref.q), rel=1e-12)
    assert row["p_value"] == pytest.approx(float(sps.chi2.sf(res_q, len(lv) - 1)), rel=1e-12)
    # the Q tests adjusted together, by the readouts' method (statsmodels' fdr_bh)
    np.testing.assert_allclose(h["p_adjusted"], multipletests(h["p_value"],
                                                             method="fdr_bh")[1])
    assert seg.to_pandas().equals(t)
    assert "Heterogeneity" in seg.to_markdown()
    assert "segment x metric readouts" in repr(seg)


def test_holm_option_and_plot(trial: SimulatedTrial) -> None:
    res = frt.analyze(trial.customers, trial.conversations, trial.assignments, by="segment",
                      fdr="holm", diagnostics=False, metrics=["questions", "csat"])
    t = res.by_segment.table
    np.testing.assert_allclose(t["p_adjusted"], holm(t["p_value"].to_numpy(float)))
    h = res.by_segment.heterogeneity
    np.testing.assert_allclose(h["p_adjusted"], multipletests(h["p_value"], method="holm")[1])
    assert res.by_segment.fdr == "holm"
    import matplotlib

    matplotlib.use("Agg")
    fig = res.by_segment.plot()
    assert len(fig.axes) == 2
    assert [a.get_title() for a in fig.axes] == ["questions", "csat"]
    import matplotlib.pyplot as plt

    plt.close(fig)


# --------------------------------------------------------------------------- bad input
def test_a_missing_segment_column_is_named(trial: SimulatedTrial) -> None:
    with pytest.raises(DataError, match="column region: segments: no such column") as exc:
        frt.analyze(trial.customers, trial.conversations, trial.assignments, by="region",
                    diagnostics=False)
    assert "segment" in str(exc.value)
    assert "spend_band" in str(exc.value)
    customers = trial.customers.drop(columns="pre_conversations")
    with pytest.raises(DataError, match="pre_conversations"):
        frt.analyze(customers, trial.conversations, trial.assignments, by="contact_tercile",
                    diagnostics=False)


def test_a_small_segment_is_reported_not_analysed(trial: SimulatedTrial) -> None:
    customers = trial.customers.copy()
    tiny = customers["customer_id"].isin(trial.assignments["customer_id"].iloc[:12])
    customers["tier"] = np.where(tiny, "enterprise", "self-serve")
    with pytest.warns(SegmentWarning, match="tier = enterprise"):
        res = frt.analyze(customers, trial.conversations, trial.assignments, by="tier",
                          diagnostics=False, metrics=["questions"])
    seg = res.by_segment
    assert set(seg.table["level"]) == {"self-serve"}
    (dim, level, metric, why), = seg.not_analysed
    assert (dim, level, metric) == ("tier", "enterprise", "*")
    assert "at least 10 per arm" in why
    assert seg.not_analysed_frame().shape == (1, 4)


def test_arguments_are_checked(trial: SimulatedTrial) -> None:
    args = (trial.customers, trial.conversations, trial.assignments)
    with pytest.raises(ValueError, match="fdr must be one of"):
        frt.analyze(*args, by="segment", fdr="bonferroni", diagnostics=False)
    with pytest.raises(ValueError, match="give by="):
        frt.analyze(*args, fdr="bh", diagnostics=False)
    with pytest.raises(ValueError, match="more than once"):
        frt.analyze(*args, by=["segment", "segment"], diagnostics=False)
    with pytest.raises(ValueError, match="strictly increasing"):
        frt.analyze(*args, by="spend_band", spend_bands=[50, 25], diagnostics=False)
    with pytest.raises(ValueError, match="min_customers"):
        frt.analyze(*args, by="segment", min_segment_customers=1, diagnostics=False)


# ------------------------------------------------------------------------------- plan
def test_plan_segments_round_trip_and_are_used(tmp_path: pytest.TempPathFactory,
                                               trial: SimulatedTrial) -> None:
    plan = ExperimentPlan("frt-low-spend", segments={"by": ["segment", "spend_band"],
                                                     "spend_bands": [30.0], "fdr": "holm"})
    path = tmp_path / "plan.toml"
    path.write_text(plan_to_toml(plan))
    back = read_plan(path)
    assert back == plan
    assert hash(back) == hash(plan)
    assert "[segments]" in path.read_text()
    res = frt.analyze(trial.customers, trial.conversations, trial.assignments, plan=back,
                      diagnostics=False, metrics=["questions"])
    seg = res.by_segment
    assert seg.by == ("segment", "spend_band")
    assert seg.fdr == "holm"
    assert set(seg.table.loc[seg.table["dimension"] == "spend_band", "level"]) == {
        "< 30", ">= 30"}
    assert "segments: by segment, spend_band (Holm)" in back.summary()


@pytest.mark.parametrize(("body", "message"), [
    ('[segments]\nspend_bands = [1.0]\n', "segments.by is missing"),
    ('[segments]\nby = "segment"\n', "segments.by must be a list"),
    ('[segments]\nby = ["segment"]\nfdr = "bonferroni"\n', "segments.fdr must be"),
    ('[segments]\nby = ["segment"]\nspend_bands = [5, 1]\n', "strictly increasing"),
    ('[segments]\nby = ["segment"]\ncuts = 3\n', "unknown key segments.cuts"),
])
def test_plan_segments_are_validated(tmp_path: pytest.TempPathFactory, body: str,
                                     message: str) -> None:
    path = tmp_path / "plan.toml"
    path.write_text('[experiment]\nname = "x"\n' + body)
    with pytest.raises(ScenarioError, match=message):
        read_plan(path)


def test_a_plan_segment_not_in_the_data_is_an_error(trial: SimulatedTrial) -> None:
    plan = ExperimentPlan("frt-low-spend", segments={"by": ["country"]})
    with pytest.raises(DataError, match="column country: segments: no such column"):
        frt.analyze(trial.customers, trial.conversations, trial.assignments, plan=plan,
                    diagnostics=False)


# -------------------------------------------------------------------- several slow arms
def test_each_slow_arm_gets_its_readouts() -> None:
    t = simulate("dose", customers=4000, rng=2)
    res = frt.analyze(t.customers, t.conversations, t.assignments,
                      treatment=sorted(set(t.assignments["arm"]) - {"fast"}),
                      by="segment", diagnostics=False, metrics=["questions"])
    for arm_result in res.results:
        seg = arm_result.by_segment
        assert seg.treatment_arm == arm_result.metrics[0].treatment_arm
        rows = customer_rows(t.customers, t.conversations, t.assignments)
        labels = segment_labels(rows, "segment", customers=t.customers)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            again = analyze_segments(rows.iloc[code_point_order(rows.index)],
                                     labels.iloc[code_point_order(rows.index)],
                                     treatment=seg.treatment_arm, metrics=["questions"])
        np.testing.assert_allclose(again.table["p_value"], seg.table["p_value"], rtol=1e-12)


@pytest.mark.parametrize(("fdr", "method"), [("bh", "fdr_bh"), ("holm", "holm")])
def test_several_slow_arms_are_adjusted_as_one_family(fdr: str, method: str) -> None:
    # every arm's readouts are written to one segments.csv and counted together: their
    # p-values are adjusted together (statsmodels' multipletests on the concatenation), the
    # heterogeneity tests likewise
    t = simulate("dose", customers=4000, rng=2)
    arms = sorted(set(t.assignments["arm"]) - {"fast"})
    res = frt.analyze(t.customers, t.conversations, t.assignments, treatment=arms,
                      by=["segment", "contact_tercile"], fdr=fdr, diagnostics=False,
                      metrics=["questions", "csat"])
    segs = [r.by_segment for r in res.results]
    p = np.concatenate([s.table["p_value"].to_numpy() for s in segs])
    got = np.concatenate([s.table["p_adjusted"].to_numpy() for s in segs])
    np.testing.assert_allclose(got, multipletests(p, method=method)[1], rtol=1e-12, atol=1e-15)
    assert (np.concatenate([s.table["significant"].to_numpy() for s in segs])
            == (got < 0.05)).all()
    q = np.concatenate([s.heterogeneity["p_value"].to_numpy() for s in segs])
    q_adj = np.concatenate([s.heterogeneity["p_adjusted"].to_numpy() for s in segs])
    np.testing.assert_allclose(q_adj, multipletests(q, method=method)[1], rtol=1e-12,
                               atol=1e-15)
    alone = adjust_together([analyze_segments(
        *_rows_and_labels(t, ["segment", "contact_tercile"]), treatment=segs[0].treatment_arm,
        fdr=fdr, metrics=["questions", "csat"])])[0]
    np.testing.assert_allclose(alone.table["p_value"], segs[0].table["p_value"], rtol=1e-12)
    assert alone.family is None
    if fdr == "holm":  # a larger family never lowers Holm's adjusted p-values (BH's can move
        # either way: other arms' small p-values raise the share of discoveries)
        assert (alone.table["p_adjusted"].to_numpy()
                <= segs[0].table["p_adjusted"].to_numpy() + 1e-15).all()
    n = len(p)
    assert all(s.family == (n, len(q), len(arms)) for s in segs)
    text = segs[1].to_markdown()
    assert f"adjusted across {n} segment x metric tests of the {len(arms)} slow arms" in text
    assert (f"{len(q)} dimension x metric tests of the {len(arms)} slow arms together"
            in segs[0]._adjusted_over(heterogeneity=True))
    fig = plot_arms(segs)
    try:
        titles = [a.get_title() for a in fig.axes]
        assert titles == [f"{arm}: {m}" for arm in arms for m in ("questions", "csat")]
        assert "adjusted across the arms" in fig._suptitle.get_text()
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def _rows_and_labels(t: SimulatedTrial, by: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = customer_rows(t.customers, t.conversations, t.assignments)
    rows = rows.iloc[code_point_order(rows.index)]
    return rows, segment_labels(rows, by, customers=t.customers)


def test_adjusting_arms_together_checks_its_input(trial: SimulatedTrial) -> None:
    rows, labels = _rows_and_labels(trial, ["segment"])
    bh = analyze_segments(rows, labels, metrics=["questions"])
    assert adjust_together([bh]) == [bh]  # one arm: unchanged
    holm_ = analyze_segments(rows, labels, metrics=["questions"], fdr="holm")
    with pytest.raises(ValueError, match="different methods"):
        adjust_together([bh, holm_])
    with pytest.raises(ValueError, match="different slow arms with one control"):
        adjust_together([bh, bh])
    with pytest.raises(ValueError, match="no segment was analysed in any arm"):
        plot_arms([replace(bh, table=bh.table.iloc[:0])])


def test_analyze_rows_on_a_level_matches(trial: SimulatedTrial) -> None:
    rows = customer_rows(trial.customers, trial.conversations, trial.assignments)
    labels = segment_labels(rows, "spend_band", spend_bands=[40.0])
    seg = analyze_segments(rows, labels, metrics=["nrr"])
    mask = labels["spend_band"].to_numpy() == ">= 40"
    ref = analyze_rows(rows.loc[mask], metrics=["nrr"])
    got = seg.table.loc[seg.table["level"] == ">= 40"].iloc[0]
    assert got["p_value"] == ref["nrr"].p_value
    assert math.isclose(got["rel_diff"], ref["nrr"].rel_diff, rel_tol=0, abs_tol=0)
    assert pd.api.types.is_bool_dtype(seg.table["significant"])
