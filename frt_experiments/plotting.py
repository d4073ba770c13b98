"""Plots of a trial's data, with one colour per arm across the whole toolkit.

Every function returns a :class:`matplotlib.figure.Figure` built with the object API (no global
pyplot state), so it works the same in scripts, notebooks and report builders. Axes carry units.

- :func:`plot_frt_distribution` -- first response time by arm, calendar and business hours.
- :func:`plot_csat_by_frt` -- satisfaction by first-response band (the dose-response).
- :func:`plot_questions_over_time` -- conversations per customer per week, by arm.
- :func:`plot_sequential_bounds` -- group-sequential efficacy boundaries against information.
- :func:`plot_forest` -- relative change of every metric with its confidence interval.
- :func:`plot_staffing_curve` -- agents needed against the first-response target, per policy.
- :func:`plot_backlog` -- conversations waiting for a first response over time, by arm.
- :func:`plot_headcount` -- agents needed as customers grow, per staffing policy.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter
from scipy.stats import norm

from frt_experiments import schema
from frt_experiments.staffing.plan import EVERYONE_FAST, ROLLOUT
from frt_experiments.stats.sequential import SequentialBounds

__all__ = [
    "ARM_COLORS",
    "POLICY_LABELS",
    "arm_color",
    "conversations_by_arm",
    "forest_alt_text",
    "plot_backlog",
    "plot_csat_by_frt",
    "plot_forest",
    "plot_forest_arms",
    "plot_forest_by_metric",
    "plot_frt_distribution",
    "plot_headcount",
    "plot_questions_over_time",
    "plot_sequential_bounds",
    "plot_staffing_curve",
]

#: Colours of the default arms (colour-blind safe pair); other arms cycle through the rest.
ARM_COLORS: dict[str, str] = {
    schema.CONTROL_ARM: "#1b6ca8",
    schema.TREATMENT_ARM: "#e66101",
}
_EXTRA = ("#5e3c99", "#1a9641", "#b2182b", "#666666")

#: First-response bands (business hours) for the dose-response plot.
FRT_BANDS_HOURS: tuple[float, ...] = (0, 1, 2, 4, 8, 16, 24, 48, np.inf)


def arm_color(arm: str, arms: Sequence[str] = ()) -> str:
    """The colour of ``arm``: fixed for the default arms, stable by position otherwise."""
    if arm in ARM_COLORS:
        return ARM_COLORS[arm]
    others = [a for a in arms if a not in ARM_COLORS] or [arm]
    return _EXTRA[others.index(arm) % len(_EXTRA)] if arm in others else _EXTRA[0]


def conversations_by_arm(conversations: pd.DataFrame, assignments: pd.DataFrame) -> pd.DataFrame:
    """Conversations of assigned customers with their ``arm`` and FRT columns added.

    Adds ``arm``, ``frt_calendar_hours`` and, when the table has
    ``first_response_business_seconds``, ``frt_business_hours``.
    """
    arms = assignments[[schema.CUSTOMER_ID, schema.ARM]].drop_duplicates(schema.CUSTOMER_ID)
    out = conversations.merge(arms, on=schema.CUSTOMER_ID, how="inner")
    delta = out[schema.FIRST_RESPONSE_AT] - out[schema.CREATED_AT]
    out["frt_calendar_hours"] = delta.dt.total_seconds() / 3600.0
    if schema.FIRST_RESPONSE_BUSINESS_SECONDS in out:
        out["frt_business_hours"] = out[schema.FIRST_RESPONSE_BUSINESS_SECONDS] / 3600.0
    return out


def _plain_number(x: float, _pos: object = None) -> str:
    """Tick label of a log axis as a plain number (0.1, 1, 10, 100)."""
    return f"{x:g}"


def _arms(df: pd.DataFrame) -> list[str]:
    present = list(pd.unique(df[schema.ARM].dropna()))
    known = [a for a in ARM_COLORS if a in present]
    return known + sorted(a for a in present if a not in ARM_COLORS)


def plot_frt_distribution(
    conversations: pd.DataFrame,
    assignments: pd.DataFrame,
    *,
    targets_hours: dict[str, float] | None = None,
) -> Figure:
    """Empirical CDFs of first response time by arm, in calendar and in business hours.

    Args:
        conversations: Canonical conversations table.
        assignments: Canonical assignments table.
        targets_hours: Optional FRT target per arm (business hours), drawn as dashed lines.
    """
    df = conversations_by_arm(conversations, assignments)
    panels = [("frt_calendar_hours", "calendar hours")]
    if "frt_business_hours" in df:
        panels.append(("frt_business_hours", "business hours"))
    fig = Figure(figsize=(5.2 * len(panels), 3.8), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (col, unit) in zip(axes, panels, strict=True):
        for arm in _arms(df):
            x = np.sort(df.loc[df[schema.ARM] == arm, col].dropna().to_numpy())
            if x.size == 0:
                continue
            y = np.arange(1, x.size + 1) / x.size
            ax.step(np.maximum(x, 1e-3), y, where="post", color=arm_color(arm, _arms(df)),
                    label=f"{arm} (median {np.median(x):.1f} h)")
            if targets_hours and arm in targets_hours and unit == "business hours":
                ax.axvline(targets_hours[arm], color=arm_color(arm, _arms(df)), ls="--", lw=1)
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(_plain_number))  # 1, 10, not 10^0, 10^1
        ax.set_xlabel(f"first response time ({unit}, log scale)")
        ax.set_ylabel("share answered within this time")
        ax.set_ylim(0, 1.01)
        ax.grid(alpha=0.3)
        # Upper left: the CDFs start at 0 on the left, so that corner is empty.
        ax.legend(loc="upper left", fontsize=8)
    fig.suptitle("First response time by arm")
    return fig


def plot_csat_by_frt(
    conversations: pd.DataFrame,
    assignments: pd.DataFrame,
    *,
    bands_hours: Sequence[float] = FRT_BANDS_HOURS,
    min_ratings: int = 100,
) -> Figure:
    """Share of satisfied ratings by first-response band, per arm, with 95% Wilson intervals.

    Uses business hours when the table has them, calendar hours otherwise. This is
    conversation-level description (the dose-response), not the experiment's test. Bands with
    fewer than ``min_ratings`` ratings in an arm are not drawn (at the default 100 a share near
    88% has an interval of about +-6.5 points, so no sparse band squeezes the others), and
    bands drawn for neither arm are left off the axis.

    References:
        Wilson, E. B. (1927). Probable inference, the law of succession, and statistical
        inference. JASA 22(158), 209-212.
    """
    df = conversations_by_arm(conversations, assignments)
    col, unit = (("frt_business_hours", "business hours") if "frt_business_hours" in df
                 else ("frt_calendar_hours", "calendar hours"))
    df = df.assign(sat=schema.satisfied(df)).dropna(subset=["sat", col])
    edges = np.asarray(bands_hours, dtype=float)
    labels = [f"{a:g}-{b:g}" if np.isfinite(b) else f"{a:g}+" for a, b in
              itertools.pairwise(edges)]
    df["band"] = pd.cut(df[col], edges, right=False, labels=labels)
    arms = _arms(df)
    grouped = df.groupby([schema.ARM, "band"], observed=False)["sat"]
    n_all = grouped.size().unstack("band").reindex(index=arms, columns=labels, fill_value=0)
    k_all = grouped.sum().unstack("band").reindex(index=arms, columns=labels, fill_value=0)
    shown = (n_all >= min_ratings).any(axis=0).to_numpy()
    fig = Figure(figsize=(7.5, 4.0), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / max(len(arms), 1)
    for i, arm in enumerate(arms):
        n = n_all.loc[arm].to_numpy(dtype=float)[shown]
        k = k_all.loc[arm].to_numpy(dtype=float)[shown]
        with np.errstate(invalid="ignore", divide="ignore"):
            p = k / n
            z = 1.959963984540054
            centre = (k + z * z / 2) / (n + z * z)
            half = z * np.sqrt(n * p * (1 - p) + z * z / 4) / (n + z * z)
        x = np.arange(shown.sum()) + (i - (len(arms) - 1) / 2) * width
        ok = n >= min_ratings
        ax.errorbar(x[ok], 100 * p[ok], yerr=100 * np.vstack([p - (centre - half),
                                                               centre + half - p])[:, ok],
                    fmt="o", color=arm_color(arm, arms), label=arm, capsize=3)
    ax.set_xticks(np.arange(shown.sum()), [lab for lab, s in zip(labels, shown, strict=True)
                                           if s])
    ax.set_xlabel(f"first response time band ({unit}; bands with at least {min_ratings:,} "
                  "ratings in an arm)")
    ax.set_ylabel("satisfied ratings (%)")
    ax.set_title("CSAT by first response time (95% Wilson intervals)")
    ax.grid(alpha=0.3, axis="y")
    # Below the axes: error bars of sparse bands reach any corner of the plot.
    fig.legend(handles=ax.get_legend_handles_labels()[0], loc="outside lower center",
               ncols=max(len(arms), 1), fontsize=8, frameon=False)
    return fig


def plot_questions_over_time(
    conversations: pd.DataFrame,
    assignments: pd.DataFrame,
    *,
    freq: str = "W",
) -> Figure:
    """Conversations per assigned customer per period (default weekly), by arm."""
    df = conversations_by_arm(conversations, assignments)
    sizes = assignments.groupby(schema.ARM)[schema.CUSTOMER_ID].nunique()
    period = df[schema.CREATED_AT].dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period(freq)
    counts = df.groupby([period.rename("period"), schema.ARM]).size().unstack(fill_value=0)
    # Drop partial periods at either end: they would show as spurious dips.
    first, last = df[schema.CREATED_AT].min(), df[schema.CREATED_AT].max()
    starts = counts.index.start_time.tz_localize("UTC")
    ends = counts.index.end_time.tz_localize("UTC")
    counts = counts[(starts >= first.floor("D")) & (ends <= last)]
    fig = Figure(figsize=(7.5, 3.8), layout="constrained")
    ax = fig.subplots()
    for arm in _arms(df):
        if arm not in counts:
            continue
        per_customer = counts[arm] / sizes[arm]
        ax.plot(per_customer.index.to_timestamp(), per_customer.to_numpy(), marker=".",
                color=arm_color(arm, _arms(df)), label=f"{arm} ({sizes[arm]:,} customers)")
    lo, hi = ax.get_ylim()  # zoomed to the data (not from 0) so a few percent is visible
    pad = 0.6 * (hi - lo)
    ax.set_ylim(max(lo - pad, 0), hi + pad)
    ax.set_xlabel("week" if freq.upper().startswith("W") else "period")
    ax.set_ylabel("conversations per customer per week" if freq.upper().startswith("W")
                  else "conversations per customer per period")
    ax.set_title("Question volume over time by arm")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def plot_sequential_bounds(plans: Sequence[SequentialBounds] | SequentialBounds) -> Figure:
    """Efficacy boundaries (z scale) against the information fraction, one line per plan.

    The dotted line is the fixed-design critical value at the same alpha, for comparison.
    """
    items = [plans] if isinstance(plans, SequentialBounds) else list(plans)
    if not items:
        raise ValueError("plans: give at least one SequentialBounds")
    fig = Figure(figsize=(6.5, 3.8), layout="constrained")
    ax = fig.subplots()
    for i, b in enumerate(items):
        ax.plot(b.information, np.abs(b.bounds), marker="o", color=_EXTRA[i % len(_EXTRA)],
                label=f"{b.spending} ({b.looks} looks)")
    first = items[0]
    sides = 2 if first.alternative == "two-sided" else 1
    ax.axhline(norm.isf(first.alpha / sides), color="#444444", ls=":", lw=1,
               label=f"fixed design ({first.alpha:g}, {first.alternative})")
    ax.set_xlabel("information fraction (share of planned sample)")
    ax.set_ylabel("efficacy boundary |z|")
    ax.set_xlim(0, 1.05)
    ax.set_ylim(bottom=0)
    ax.set_title("Group-sequential boundaries (Lan-DeMets alpha spending)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


#: Column names of an analysis results table used by :func:`plot_forest`.
_FOREST_COLUMNS = ("metric", "rel_diff", "rel_ci_low", "rel_ci_high", "significant")


def plot_forest(results: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Relative change (treatment against control, in %) of each metric with its interval.

    ``results`` is an analysis results table (``ExperimentResult.to_pandas()`` or a
    ``results.csv``), one row per metric. Significant changes are drawn filled in the treatment
    arm's colour, the others hollow; the vertical line marks no change. A one-sided interval's
    open end (an infinite bound, or the -100% floor of a relative change) is drawn as an arrow
    to the plot's edge, and its label prints the bound itself (``+inf``, ``-100.00``), so the
    axis is scaled to the finite ends and the estimates.
    """
    missing = [c for c in _FOREST_COLUMNS if c not in results.columns]
    if missing:
        raise ValueError(f"results: missing column(s) {', '.join(missing)} for a forest plot")
    if results.empty:
        raise ValueError("results: no metric rows to plot")
    df = results.iloc[::-1].reset_index(drop=True)  # first metric on top
    y = np.arange(len(df))
    est = df["rel_diff"].to_numpy(float) * 100
    lo = df["rel_ci_low"].to_numpy(float) * 100
    hi = df["rel_ci_high"].to_numpy(float) * 100
    open_lo = ~np.isfinite(lo) | (lo <= -100.0)  # a ratio's one-sided lower bound is 0
    open_hi = ~np.isfinite(hi)
    sig = df["significant"].astype(bool).to_numpy()
    treat = str(df["treatment_arm"].iloc[0]) if "treatment_arm" in df else schema.TREATMENT_ARM
    ctrl = str(df["control_arm"].iloc[0]) if "control_arm" in df else schema.CONTROL_ARM
    color = arm_color(treat)
    closed = np.r_[est, lo[~open_lo], hi[~open_hi]]
    closed = closed[np.isfinite(closed)]
    span = max(float(np.max(np.abs(closed))) if closed.size else 0.0, 1e-3)
    left, right = -1.15 * span, 1.9 * span  # room for the labels on the right
    fig = Figure(figsize=(6.5, 0.7 * len(df) + 1.4), layout="constrained")
    ax = fig.subplots()
    ax.hlines(y, np.where(open_lo, left, lo), np.where(open_hi, right, hi), color=color, lw=2)
    ax.scatter(np.full(open_lo.sum(), left), y[open_lo], marker="<", s=40, color=color,
               clip_on=False, zorder=3)
    ax.scatter(np.full(open_hi.sum(), right), y[open_hi], marker=">", s=40, color=color,
               clip_on=False, zorder=3)
    ax.scatter(est[sig], y[sig], s=55, color=color, zorder=3, label="significant")
    ax.scatter(est[~sig], y[~sig], s=55, facecolor="white", edgecolor=color, lw=1.8, zorder=3,
               label="not significant")
    for yi, e, l_, h, up in zip(y, est, lo, hi, open_hi, strict=True):
        text = f"{e:+.2f}% [{l_:+.2f}, {h:+.2f}]"
        box = {"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8}
        if up:  # the line runs to the right edge: label above the estimate
            ax.annotate(text, (e, yi), xytext=(0, 7), textcoords="offset points",
                        ha="center", va="bottom", fontsize=8, bbox=box)
        else:
            ax.annotate(text, (h, yi), xytext=(6, 0), textcoords="offset points",
                        va="center", fontsize=8, bbox=box)
    ax.axvline(0, color="#444444", lw=1)
    ax.set_xlim(left, right)
    ax.set_yticks(y, df["metric"].astype(str).tolist())
    ax.set_ylim(-0.6, len(df) - 0.4)
    ax.set_xlabel(f"relative change, {treat} vs {ctrl} (%)")
    ax.set_title(title or "Relative change by metric (95% confidence intervals)")
    ax.grid(alpha=0.3, axis="x")
    # Below the axes: inside, any corner can hold a metric's estimate or label.
    fig.legend(handles=ax.collections[-2:], loc="outside lower center", ncols=2, fontsize=8,
               frameon=False)
    return fig


def _pct(x: float) -> str:
    return "+inf" if x == np.inf else "-inf" if x == -np.inf else f"{100 * x:+.2f}%"


def plot_forest_by_metric(
    results: pd.DataFrame,
    *,
    margins: Mapping[str, Sequence[tuple[float, str]]] | None = None,
    title: str | None = None,
) -> Figure:
    """Relative change of each metric with its interval, one panel per metric on its own scale.

    One shared axis draws a 1% interval (CSAT, NRR) narrower than its marker beside a 20% one
    (efficiency); here each metric gets a panel whose axis spans its own interval, no change
    (0) and its ``margins``. ``margins`` maps a metric to ``(value, label)`` pairs drawn as
    dashed vertical lines, e.g. CSAT's non-inferiority margin ``(-0.02, "margin -2%")`` or
    NRR's break-even drop. Significant changes are filled, the others hollow; an open
    (one-sided) end is drawn as an arrow to the panel's edge.
    """
    missing = [c for c in _FOREST_COLUMNS if c not in results.columns]
    if missing:
        raise ValueError(f"results: missing column(s) {', '.join(missing)} for a forest plot")
    if results.empty:
        raise ValueError("results: no metric rows to plot")
    margins = dict(margins or {})
    treat = (str(results["treatment_arm"].iloc[0]) if "treatment_arm" in results
             else schema.TREATMENT_ARM)
    ctrl = (str(results["control_arm"].iloc[0]) if "control_arm" in results
            else schema.CONTROL_ARM)
    color = arm_color(treat)
    n = len(results)
    fig = Figure(figsize=(7.5, 1.15 * n + 1.0), layout="constrained")
    axes = fig.subplots(n, 1, squeeze=False)[:, 0]
    for ax, row in zip(axes, results.itertuples(index=False), strict=True):
        metric = str(row.metric)
        est, lo, hi = (100 * float(v) for v in (row.rel_diff, row.rel_ci_low, row.rel_ci_high))
        open_lo, open_hi = not np.isfinite(lo) or lo <= -100.0, not np.isfinite(hi)
        lines = [(100 * float(v), str(label)) for v, label in margins.get(metric, ())]
        ends = [est, 0.0, *(v for v, _ in lines)]
        ends += [x for x, is_open in ((lo, open_lo), (hi, open_hi)) if not is_open]
        low, high = min(ends), max(ends)
        pad = max(0.12 * (high - low), 0.05)
        left, right = low - pad, high + pad
        ax.hlines(0, left if open_lo else lo, right if open_hi else hi, color=color, lw=2.5)
        if open_lo:
            ax.scatter([left], [0], marker="<", s=45, color=color, clip_on=False, zorder=3)
        if open_hi:
            ax.scatter([right], [0], marker=">", s=45, color=color, clip_on=False, zorder=3)
        sig = bool(row.significant)
        ax.scatter([est], [0], s=60, zorder=4, color=color if sig else "white",
                   edgecolor=color, lw=1.8)
        ax.axvline(0, color="#444444", lw=1)
        for value, label in lines:
            ax.axvline(value, color="#b2182b", lw=1.3, ls="--")
            ax.annotate(label, (value, 0.55), xytext=(3, 0), textcoords="offset points",
                        fontsize=7.5, color="#b2182b", va="center")
        ax.set_xlim(left, right)
        ax.set_ylim(-1, 1)
        ax.set_yticks([])
        ax.set_ylabel(metric, rotation=0, ha="right", va="center", fontsize=10)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _p: f"{x:+.4g}%"))
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(alpha=0.3, axis="x")
        ax.set_title(f"{est:+.2f}% [{_pct(row.rel_ci_low)}, {_pct(row.rel_ci_high)}]"
                     + (" significant" if sig else " not significant"),
                     fontsize=8.5, loc="left")
    axes[-1].set_xlabel(f"relative change, {treat} vs {ctrl} (%); each panel on its own "
                        "scale")
    fig.suptitle(title or "Relative change by metric (95% confidence intervals)", fontsize=11)
    return fig


def forest_alt_text(results: pd.DataFrame,
                    margins: Mapping[str, Sequence[tuple[float, str]]] | None = None) -> str:
    """What :func:`plot_forest_by_metric` shows, in words and numbers (the image's alt text)."""
    margins = dict(margins or {})
    parts = []
    for row in results.itertuples(index=False):
        sig = "significant" if row.significant else "not significant"
        text = (f"{row.metric} {_pct(row.rel_diff)} (interval {_pct(row.rel_ci_low)} to "
                f"{_pct(row.rel_ci_high)}, {sig}")
        for value, label in margins.get(str(row.metric), ()):
            text += f"; {label} at {_pct(value)}"
        parts.append(text + ")")
    return ("Forest plot, one panel per metric on its own scale, relative change of the slow "
            "arm against the fast arm with its interval: " + "; ".join(parts) + ".")


def plot_forest_arms(results: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Relative change (%) of every slow arm against the control, one row per arm and metric.

    ``results`` is a results table of several slow arms (``ArmsResult.to_pandas()`` or its
    ``results.csv``: ``arm``, ``metric``, ``rel_diff``, ``rel_ci_low``, ``rel_ci_high`` and
    ``significant_adjusted`` or ``significant``). Rows are grouped by metric, each arm in its
    own colour; an estimate is drawn filled when significant after the family adjustment
    (hollow otherwise). Open (one-sided) ends are drawn to the plot's edge as arrows.
    """
    need = ("arm", "metric", "rel_diff", "rel_ci_low", "rel_ci_high")
    missing = [c for c in need if c not in results.columns]
    if missing:
        raise ValueError(f"results: missing column(s) {', '.join(missing)} for a forest plot")
    if results.empty:
        raise ValueError("results: no rows to plot")
    arms = list(pd.unique(results["arm"].astype(str)))
    metrics = list(pd.unique(results["metric"].astype(str)))
    df = results.assign(_m=results["metric"].map(metrics.index),
                        _a=results["arm"].astype(str).map(arms.index))
    df = df.sort_values(["_m", "_a"], kind="stable").iloc[::-1].reset_index(drop=True)
    sig_col = "significant_adjusted" if "significant_adjusted" in df else "significant"
    sig = (df[sig_col].astype(bool).to_numpy() if sig_col in df
           else np.zeros(len(df), dtype=bool))
    y = np.arange(len(df), dtype=float)
    est = df["rel_diff"].to_numpy(float) * 100
    lo = df["rel_ci_low"].to_numpy(float) * 100
    hi = df["rel_ci_high"].to_numpy(float) * 100
    open_lo = ~np.isfinite(lo) | (lo <= -100.0)
    open_hi = ~np.isfinite(hi)
    closed = np.r_[est, lo[~open_lo], hi[~open_hi]]
    closed = closed[np.isfinite(closed)]
    span = max(float(np.max(np.abs(closed))) if closed.size else 0.0, 1e-3)
    left, right = -1.15 * span, 1.15 * span
    fig = Figure(figsize=(6.5, 0.32 * len(df) + 1.6), layout="constrained")
    ax = fig.subplots()
    handles = []
    for arm in arms:
        k = (df["arm"].astype(str) == arm).to_numpy()
        color = arm_color(arm, arms)
        ax.hlines(y[k], np.where(open_lo, left, lo)[k], np.where(open_hi, right, hi)[k],
                  color=color, lw=2)
        ax.scatter(est[k & sig], y[k & sig], s=40, color=color, zorder=3)
        ax.scatter(est[k & ~sig], y[k & ~sig], s=40, facecolor="white", edgecolor=color,
                   lw=1.6, zorder=3)
        for side, edge, marker in ((open_lo, left, "<"), (open_hi, right, ">")):
            ax.scatter(np.full(int((k & side).sum()), edge), y[k & side], marker=marker, s=30,
                       color=color, clip_on=False, zorder=3)
        handles.append(Line2D([], [], color=color, marker="o", lw=2, label=arm))
    groups = df["_m"].to_numpy()
    for m in np.unique(groups):  # a rule between the metrics' groups
        low = float(y[groups == m].min())
        if low > 0:
            ax.axhline(low - 0.5, color="#bbbbbb", lw=0.8)
    ax.axvline(0, color="#444444", lw=1)
    ax.set_xlim(left, right)
    ax.set_yticks(y, [f"{m}: {a}" for m, a in zip(df["metric"], df["arm"], strict=True)],
                  fontsize=8)
    ax.set_ylim(-0.6, len(df) - 0.4)
    ctrl = str(df["control_arm"].iloc[0]) if "control_arm" in df else schema.CONTROL_ARM
    ax.set_xlabel(f"relative change against {ctrl} (%)\nfilled: significant after the "
                  "adjustment across arms and metrics")
    ax.set_title(title or "Relative change by arm and metric (95% CI)", fontsize=10)
    ax.grid(alpha=0.3, axis="x")
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(arms), 4),
               fontsize=8, frameon=False)
    return fig


#: Legend labels of the staffing policies of :func:`frt_experiments.plan_staffing`.
POLICY_LABELS: dict[str, str] = {
    EVERYONE_FAST: "everyone fast (no one deferred)",
    ROLLOUT: "rollout (low-spend customers deferred one business day)",
}


def _policy_label(policy: object, labels: dict[str, str] | None) -> str:
    return (labels or {}).get(str(policy), POLICY_LABELS.get(str(policy), str(policy)))


def plot_staffing_curve(
    curve: pd.DataFrame,
    *,
    colors: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> Figure:
    """Agents needed against the first-response target, one line per staffing policy.

    ``curve`` has columns ``target_hours`` (business hours), ``policy`` and ``agents``. By
    default the first policy listed is drawn in the fast arm's colour and the second in the
    slow arm's, matching the other plots (pass ``colors`` to map policies explicitly). The
    legend says what :func:`frt_experiments.plan_staffing`'s policies mean (``labels`` maps
    policy names to other legend text).
    """
    missing = [c for c in ("target_hours", "policy", "agents") if c not in curve.columns]
    if missing:
        raise ValueError(f"curve: missing column(s) {', '.join(missing)} for a staffing curve")
    policies = list(pd.unique(curve["policy"]))
    palette = _policy_palette(policies, colors)
    fig = Figure(figsize=(6.5, 3.8), layout="constrained")
    ax = fig.subplots()
    for p in policies:
        d = curve[curve["policy"] == p].sort_values("target_hours")
        ax.step(d["target_hours"], d["agents"], where="post", color=palette[p], alpha=0.35)
        ax.plot(d["target_hours"], d["agents"], "o", color=palette[p],
                label=_policy_label(p, labels))
    ax.set_xscale("log")
    targets = np.sort(pd.unique(curve["target_hours"].astype(float)))
    ax.set_xticks(targets, [f"{t:g}" for t in targets])
    ax.set_xlabel("first-response target of the fast queue (business hours, log scale)")
    ax.set_ylabel("agents needed")
    ax.set_ylim(bottom=0)
    ax.set_title("Staffing curve: agents against FRT target")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def _policy_palette(policies: Sequence[str], colors: dict[str, str] | None) -> dict[str, str]:
    """First policy in the fast arm's colour, second in the slow arm's, then the extras."""
    default = [ARM_COLORS[schema.CONTROL_ARM], ARM_COLORS[schema.TREATMENT_ARM], *_EXTRA]
    return {p: (colors or {}).get(p, default[i % len(default)]) for i, p in enumerate(policies)}


def plot_backlog(
    backlog: pd.DataFrame,
    *,
    days: float | None = 21,
    timezone: str | None = None,
) -> Figure:
    """Conversations waiting for a first response, hour by hour, one line per arm.

    ``backlog`` is ``DeskResult.backlog`` (a time index, one column per arm). Only the first
    ``days`` are drawn (``None``: all) so nights and weekends stay visible. ``timezone`` (e.g.
    the desk calendar's, ``calendar.timezone``) sets the clock of the time axis, so opening
    hours and nights fall where the desk sees them; default: the index's own zone.
    """
    if not isinstance(backlog, pd.DataFrame) or backlog.empty:
        raise ValueError("backlog: expected a non-empty DataFrame with one column per arm")
    if not isinstance(backlog.index, pd.DatetimeIndex):
        raise ValueError("backlog: expected a DatetimeIndex (hourly times)")
    df = backlog
    if timezone is not None:
        if df.index.tz is None:
            raise ValueError("timezone: the backlog's times are naive; give them a zone first")
        try:
            df = df.tz_convert(timezone)
        except (KeyError, ValueError) as exc:  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(f"timezone: unknown time zone {timezone!r}") from exc
    if days is not None:
        df = df[df.index < df.index[0] + pd.Timedelta(days=days)]
    fig = Figure(figsize=(8.5, 3.8), layout="constrained")
    ax = fig.subplots()
    arms = [a for a in ARM_COLORS if a in df.columns] + sorted(
        str(c) for c in df.columns if c not in ARM_COLORS)
    for arm in arms:
        ax.plot(df.index, df[arm].to_numpy(), color=arm_color(arm, arms), lw=1.2, label=arm)
    ax.set_ylim(bottom=0)
    tz = df.index.tz
    ax.set_xlabel(f"time ({tz})" if tz is not None else "time")
    ax.set_ylabel("conversations waiting for a first reply")
    ax.set_title("Backlog by arm (builds overnight and at weekends, cleared in open hours)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def plot_headcount(
    projection: pd.DataFrame,
    *,
    colors: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> Figure:
    """Agents needed month by month as customers grow, one line per staffing policy.

    ``projection`` has columns ``month``, ``policy`` and ``agents``
    (``HeadcountProjection.table``); ``colors`` and ``labels`` as in
    :func:`plot_staffing_curve`.
    """
    missing = [c for c in ("month", "policy", "agents") if c not in projection.columns]
    if missing:
        raise ValueError(f"projection: missing column(s) {', '.join(missing)}")
    policies = list(pd.unique(projection["policy"]))
    palette = _policy_palette(policies, colors)
    fig = Figure(figsize=(6.5, 3.8), layout="constrained")
    ax = fig.subplots()
    for p in policies:
        d = projection[projection["policy"] == p].sort_values("month")
        ax.plot(d["month"], d["agents"], marker="o", color=palette[p],
                label=_policy_label(p, labels))
    ax.set_xlabel("months from now (customer growth)")
    ax.set_ylabel("agents needed")
    ax.set_ylim(bottom=0)
    ax.set_title("Headcount projection by staffing policy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig
