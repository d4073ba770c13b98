"""Plots: units on every axis, one colour per arm across plots, the numbers they draw."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

from frt_experiments import plotting, schema
from frt_experiments._document import Document
from frt_experiments.simulate import simulate
from frt_experiments.stats.sequential import sequential_bounds


@pytest.fixture(scope="module")
def trial():
    return simulate("published", customers=3_000, months=2, rng=7)


def _results() -> pd.DataFrame:
    return pd.DataFrame({
        "metric": ["questions", "csat", "nrr", "efficiency"],
        "control_arm": "fast", "treatment_arm": "one_business_day",
        "rel_diff": [-0.04, -0.0125, 0.0, 0.20],
        "rel_ci_low": [-0.06, -0.02, -0.01, 0.17],
        "rel_ci_high": [-0.02, -0.005, 0.01, 0.23],
        "significant": [True, True, False, True],
    })


def _labelled(fig) -> None:
    for ax in fig.axes:
        assert ax.get_xlabel(), "x axis without a label"
        assert ax.get_ylabel(), "y axis without a label"


def _line_colors(fig) -> set[str]:
    return {to_hex(line.get_color()) for ax in fig.axes for line in ax.get_lines()
            if line.get_label() and not line.get_label().startswith("_")}


def test_arm_colours_are_the_same_in_every_trial_plot(trial):
    want = {plotting.ARM_COLORS["fast"], plotting.ARM_COLORS["one_business_day"]}
    for fig in (plotting.plot_frt_distribution(trial.conversations, trial.assignments),
                plotting.plot_questions_over_time(trial.conversations, trial.assignments)):
        _labelled(fig)
        assert _line_colors(fig) == want
    fig = plotting.plot_csat_by_frt(trial.conversations, trial.assignments, min_ratings=5)
    _labelled(fig)
    legend = fig.legends[0]
    assert {to_hex(h.get_color()) for h in legend.legend_handles} == want


def test_frt_distribution_has_calendar_and_business_panels(trial):
    fig = plotting.plot_frt_distribution(trial.conversations, trial.assignments)
    units = [ax.get_xlabel() for ax in fig.axes]
    assert any("calendar hours" in u for u in units)
    assert any("business hours" in u for u in units)
    # Each CDF ends at 1: every answered conversation is counted once.
    for ax in fig.axes:
        for line in ax.get_lines():
            if line.get_label().startswith("_"):
                continue
            assert line.get_ydata()[-1] == pytest.approx(1.0)


def test_forest_draws_each_estimate_at_its_relative_change():
    res = _results()
    fig = plotting.plot_forest(res)
    ax = fig.axes[0]
    assert "relative change" in ax.get_xlabel()
    assert "%" in ax.get_xlabel()
    pts = np.vstack([c.get_offsets() for c in ax.collections if len(c.get_offsets())
                     and c.get_offsets().shape[1] == 2 and hasattr(c, "get_sizes")
                     and len(c.get_sizes())])
    drawn = sorted(pts[:, 0].round(6))
    assert drawn == sorted((res["rel_diff"] * 100).round(6))
    assert [t.get_text() for t in ax.get_yticklabels()] == list(res["metric"][::-1])


def test_forest_rejects_a_table_without_intervals():
    with pytest.raises(ValueError, match="rel_ci_low"):
        plotting.plot_forest(_results().drop(columns="rel_ci_low"))
    with pytest.raises(ValueError, match="no metric rows"):
        plotting.plot_forest(_results().iloc[:0])


def test_staffing_curve_colours_policies_like_the_arms():
    curve = pd.DataFrame({"target_hours": [1, 4, 24] * 2,
                          "policy": ["everyone fast"] * 3 + ["experiment"] * 3,
                          "agents": [30, 22, 17, 25, 19, 15]})
    fig = plotting.plot_staffing_curve(curve)
    _labelled(fig)
    marker_lines = [ln for ln in fig.axes[0].get_lines() if not ln.get_label().startswith("_")]
    assert [to_hex(ln.get_color()) for ln in marker_lines] == [
        plotting.ARM_COLORS["fast"], plotting.ARM_COLORS["one_business_day"]]
    assert list(marker_lines[0].get_ydata()) == [30, 22, 17]
    with pytest.raises(ValueError, match="agents"):
        plotting.plot_staffing_curve(curve.drop(columns="agents"))


def test_sequential_bounds_plot_shows_the_boundaries():
    b = sequential_bounds(5)
    fig = plotting.plot_sequential_bounds(b)
    line = fig.axes[0].get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), np.abs(b.bounds))
    with pytest.raises(ValueError, match="plans"):
        plotting.plot_sequential_bounds([])


def test_document_is_self_contained_and_written_atomically(tmp_path):
    doc = Document("Trial report").section("Results").verdict("Ship it").text("a < b")
    doc.table(pd.DataFrame({"metric": ["csat"], "rel_diff": [-0.0125]}))
    doc.figure(plotting.plot_forest(_results()), "forest")
    paths = doc.write(tmp_path)
    html = paths["html"].read_text()
    assert "data:image/png;base64," in html
    assert "src='http" not in html
    assert "a &lt; b" in html  # text is escaped
    md = paths["markdown"].read_text()
    assert "**Verdict:** Ship it" in md
    assert "| csat | -0.0125 |" in md
    assert "![forest](figures/forest.png)" in md
    assert (tmp_path / "figures" / "forest.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figures", "report.html", "report.md"]


def test_schema_arms_have_fixed_colours():
    assert set(plotting.ARM_COLORS) == {schema.CONTROL_ARM, schema.TREATMENT_ARM}
    assert plotting.arm_color("other", ["other"]) not in plotting.ARM_COLORS.values()


def test_backlog_plot_draws_each_arm_over_the_first_days():
    idx = pd.date_range("2025-01-06", periods=24 * 30, freq="h", tz="UTC")
    backlog = pd.DataFrame({"one_business_day": np.arange(idx.size) % 24,
                            "fast": np.arange(idx.size) % 5}, index=idx)
    fig = plotting.plot_backlog(backlog, days=7)
    _labelled(fig)
    lines = {ln.get_label(): ln for ln in fig.axes[0].get_lines()}
    assert list(lines) == ["fast", "one_business_day"]  # the arms' fixed order
    assert to_hex(lines["fast"].get_color()) == plotting.ARM_COLORS["fast"]
    assert len(lines["fast"].get_ydata()) == 7 * 24
    with pytest.raises(ValueError, match="DatetimeIndex"):
        plotting.plot_backlog(backlog.reset_index(drop=True))


def test_headcount_plot_follows_the_projection():
    proj = pd.DataFrame({"month": [0, 6, 12] * 2, "policy": ["everyone_fast"] * 3 + ["rollout"] * 3,
                         "agents": [44, 54, 64, 37, 42, 49]})
    fig = plotting.plot_headcount(proj)
    _labelled(fig)
    lines = fig.axes[0].get_lines()
    assert [list(ln.get_ydata()) for ln in lines] == [[44, 54, 64], [37, 42, 49]]
    assert to_hex(lines[1].get_color()) == plotting.ARM_COLORS["one_business_day"]
    with pytest.raises(ValueError, match="month"):
        plotting.plot_headcount(proj.drop(columns="month"))


def test_csat_by_frt_leaves_off_bands_no_arm_reaches(trial):
    fig = plotting.plot_csat_by_frt(trial.conversations, trial.assignments, min_ratings=5)
    ax = fig.axes[0]
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    df = plotting.conversations_by_arm(trial.conversations, trial.assignments)
    rated = df[schema.satisfied(df).notna()]
    band = pd.cut(rated["frt_business_hours"], plotting.FRT_BANDS_HOURS, right=False)
    counts = rated.groupby([schema.ARM, band], observed=False).size().unstack(fill_value=0)
    edges = plotting.FRT_BANDS_HOURS
    labels = [f"{a:g}-{b:g}" if np.isfinite(b) else f"{a:g}+"
              for a, b in itertools.pairwise(edges)]
    want = [lab for lab, reached in zip(labels, (counts >= 5).any(axis=0), strict=True)
            if reached]
    assert ticks == want
    assert len(want) < len(labels)  # the slow arm's long tail is empty in this trial
    # Each drawn point sits on its own band's tick, and is the band's share satisfied.
    fast = rated[rated[schema.ARM] == "fast"]
    first = fast[band[fast.index] == band.cat.categories[0]]
    share = 100 * schema.satisfied(first).mean()
    line = ax.get_lines()[0]  # the fast arm's markers
    assert line.get_ydata()[0] == pytest.approx(share)


def test_frt_distribution_ticks_read_as_hours_and_legend_sits_in_the_empty_corner(trial):
    fig = plotting.plot_frt_distribution(trial.conversations, trial.assignments)
    for ax in fig.axes:
        assert ax.get_legend()._loc == 2  # upper left: the CDFs start at 0 there
        fmt = ax.xaxis.get_major_formatter()
        assert [fmt(v, 0) for v in (0.1, 1.0, 10.0, 100.0)] == ["0.1", "1", "10", "100"]


def test_staffing_policies_are_explained_in_the_legend():
    curve = pd.DataFrame({"target_hours": [1, 4] * 2,
                          "policy": ["everyone_fast"] * 2 + ["rollout"] * 2,
                          "agents": [30, 22, 25, 19]})
    legend = plotting.plot_staffing_curve(curve).axes[0].get_legend()
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts == [plotting.POLICY_LABELS["everyone_fast"], plotting.POLICY_LABELS["rollout"]]
    assert "deferred one business day" in texts[1]
    fig = plotting.plot_staffing_curve(curve, labels={"rollout": "slow for low spend"})
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()][1] == (
        "slow for low spend")
    proj = curve.rename(columns={"target_hours": "month"})
    texts = [t.get_text() for t in plotting.plot_headcount(proj).axes[0].get_legend().get_texts()]
    assert texts[0] == plotting.POLICY_LABELS["everyone_fast"]


def test_forest_draws_one_sided_intervals_open_and_labels_the_true_bound():
    res = _results()
    res["rel_ci_high"] = np.inf  # alternative="greater"
    fig = plotting.plot_forest(res)
    ax = fig.axes[0]
    _, hi = ax.get_xlim()
    assert np.isfinite(hi)
    # Scaled to the finite ends and the estimates (efficiency's +20%), not to a clipped bound.
    assert hi == pytest.approx(1.9 * 20.0)
    texts = [t.get_text() for t in ax.texts]
    assert "+20.00% [+17.00, +inf]" in texts
    assert not any("+38" in t for t in texts)
    lines = ax.collections[0].get_segments()
    assert all(seg[1][0] == pytest.approx(hi) for seg in lines)  # each runs to the edge
    # alternative="less": the relative change's lower bound is the -100% floor.
    res = _results()
    res["rel_ci_low"] = -1.0
    ax = plotting.plot_forest(res).axes[0]
    assert ax.get_xlim()[0] == pytest.approx(-1.15 * 23.0)
    assert "-4.00% [-100.00, -2.00]" in [t.get_text() for t in ax.texts]


def test_backlog_plot_reads_the_desk_clock():
    idx = pd.date_range("2025-01-06", periods=24 * 3, freq="h", tz="UTC")
    backlog = pd.DataFrame({"fast": np.arange(idx.size) % 24}, index=idx)
    fig = plotting.plot_backlog(backlog, timezone="America/New_York")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "time (America/New_York)"
    # Midnight UTC is 19:00 the evening before in New York (winter, UTC-5).
    from matplotlib.dates import num2date
    first = num2date(ax.get_lines()[0].get_xdata(orig=False)[0], tz="America/New_York")
    assert (first.day, first.hour) == (5, 19)
    with pytest.raises(ValueError, match="timezone: unknown time zone 'Nope/Zone'"):
        plotting.plot_backlog(backlog, timezone="Nope/Zone")
    with pytest.raises(ValueError, match="naive"):
        plotting.plot_backlog(backlog.tz_localize(None), timezone="UTC")
