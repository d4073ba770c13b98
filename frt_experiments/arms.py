"""Trials with several slow arms: each slow arm against the control, adjusted as one family.

``frt.analyze(..., treatment=["four_hours", "one_business_day", "two_business_days"])`` (or a
plan whose ``[arms]`` names more than two arms) compares every slow arm with the control by the
two-arm analysis of that pair (:func:`frt_experiments.analysis.analyze_rows` on the same
per-customer rows: each comparison's numbers are those of ``frt.analyze`` on that pair alone),
diagnoses the trial once over all arms (:func:`frt_experiments.diagnostics.diagnose_arms`) and
returns an :class:`ArmsResult`.

Reading several slow arms and several metrics at ``alpha`` each would find some "effect" far
more often than ``alpha``; the p-values are therefore adjusted over the family of every slow
arm and every analysed metric, so that the chance of any false finding stays at most ``alpha``
(family-wise error rate, strong control):

- ``multiplicity="holm"`` (default): Holm's step-down procedure over all ``arms x metrics``
  raw p-values (Holm 1979): valid under any dependence between the tests.
- ``multiplicity="dunnett"``: within each metric, Dunnett's many-to-one adjustment across the
  slow arms (Dunnett 1955), which uses the comparisons' positive correlation through the shared
  control: ``corr(T_i, T_j) = v_c / sqrt((v_c + v_i)(v_c + v_j))`` from each comparison's own
  variances of the control's and the arm's estimates (:mod:`frt_experiments.stats.dunnett`;
  multivariate t with the smallest of the comparisons' Welch degrees of freedom), in a closed
  test whose local tests are Bonferroni across the metrics an intersection touches and
  Dunnett's max-t over its arms within each (Hothorn, Bretz and Westfall 2008, section 4),
  computed by the step-down shortcut: the smallest remaining Dunnett p-value (recomputed over
  each metric's arms still in play) times the number of metrics with hypotheses left, a metric
  counting until all of its arms are rejected (Romano and Wolf 2005). Dunnett rests on normal
  theory: a metric that any arm analysed by a randomization test is adjusted across its arms
  by Bonferroni instead, and :attr:`ArmsResult.notes` says so.

With one slow arm both rules reduce to Holm across the metrics, the two-arm result's
``p_holm``.

References:
    Holm, S. (1979). A simple sequentially rejective multiple test procedure. *Scandinavian
    Journal of Statistics* 6(2), 65-70.
    Dunnett, C. W. (1955). A multiple comparison procedure for comparing several treatments
    with a control. *Journal of the American Statistical Association* 50(272), 1096-1121.
    Hothorn, T., Bretz, F. and Westfall, P. (2008). Simultaneous inference in general
    parametric models. *Biometrical Journal* 50(3), 346-363.
    Marcus, R., Peritz, E. and Gabriel, K. R. (1976). On closed testing procedures with special
    reference to ordered analysis of variance. *Biometrika* 63(3), 655-660.
    Romano, J. P. and Wolf, M. (2005). Exact and approximate stepdown methods for multiple
    hypothesis testing. *Journal of the American Statistical Association* 100(469), 94-108.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from frt_experiments.analysis import (
    INDICATORS,
    METRICS,
    MULTIPLICITIES,
    RESULT_COLUMNS,
    ExperimentResult,
    MetricResult,
    _level,
    _markdown_table,
    _p,
    _pct,
)
from frt_experiments.stats.dunnett import dunnett_p_values
from frt_experiments.stats.multiplicity import holm

__all__ = ["ARMS_COLUMNS", "ArmsResult", "family_p_values"]

#: Columns of :meth:`ArmsResult.to_pandas` (and of ``results.csv`` of a trial with several slow
#: arms): the slow ``arm``, the two-arm columns, and the family-adjusted p-value with the
#: significance it gives at ``alpha``.
ARMS_COLUMNS = ("arm", *RESULT_COLUMNS, "p_adjusted", "significant_adjusted")

_RULES = {
    "holm": "Holm (1979) over every slow arm and metric",
    "dunnett": "Dunnett (1955) across the slow arms within each metric (correlation through "
               "the shared control), step-down with Bonferroni across the metrics",
}


def _step_down(block_p: Callable[[int, list[int]], np.ndarray],
               sizes: list[int]) -> list[np.ndarray]:
    """Adjusted p-values of the closed test whose local test of an intersection is Bonferroni
    across the metrics it touches and the within-metric adjustment (Dunnett's max-t) over its
    arms of each, by the step-down shortcut: at each step every metric with hypotheses left
    adjusts its remaining arms (``block_p(metric, arms)``), the smallest of those p-values
    times the number of metrics left is the next adjusted p-value (never below an earlier
    one), and that hypothesis leaves. A metric counts until all of its arms have left, so a
    true null beside a real effect in the same metric stays protected (Romano and Wolf 2005;
    with one arm per metric it is Holm's procedure)."""
    left = {g: list(range(n)) for g, n in enumerate(sizes) if n}
    out = [np.full(n, np.nan) for n in sizes]
    running = 0.0
    while left:
        best: tuple[float, int, int] | None = None
        for g, arms in left.items():
            p = block_p(g, arms)
            k = int(np.argmin(p))
            cand = (len(left) * float(p[k]), g, arms[k])
            if best is None or cand < best:
                best = cand
        assert best is not None
        value, g, i = best
        running = max(running, min(1.0, value))
        out[g][i] = running
        left[g].remove(i)
        if not left[g]:
            del left[g]
    return out


def _within(rows: list[MetricResult], normal: bool,
            alternative: str) -> Callable[[list[int]], np.ndarray]:
    """One metric's adjustment across a subset of its slow arms (positions in ``rows``):
    Dunnett's many-to-one p-values (normal comparisons), else Bonferroni; one arm: its own."""
    raw = np.array([m.p_value for m in rows])
    rho = np.clip([math.sqrt(max(m.var_control, 0.0)) / m.se if m.se > 0 else 0.0
                   for m in rows], 0.0, 1 - 1e-9)
    dfs = [m.df for m in rows if math.isfinite(m.df) and m.df > 0]
    df = min(dfs) if len(dfs) == len(rows) else math.inf

    def adjust(arms: list[int]) -> np.ndarray:
        p = raw[arms]
        if len(arms) == 1:
            return p
        if not normal:
            return np.minimum(1.0, len(arms) * p)
        d = dunnett_p_values([rows[i].statistic for i in arms], rho[arms], df=df,
                             alternative=alternative)
        return np.maximum(d, p)

    return adjust


def family_p_values(metrics: Sequence[Sequence[MetricResult]], *, multiplicity: str = "holm",
                    alternative: str = "two-sided") -> tuple[list[list[float]], list[str]]:
    """The family-adjusted p-values of several slow arms' comparisons (see the module).

    Args:
        metrics: Per slow arm, its :class:`~frt_experiments.analysis.MetricResult` rows.
        multiplicity: ``"holm"`` or ``"dunnett"``.
        alternative: The tests' alternative (Dunnett's tails).

    Returns:
        The adjusted p-values in the shape of ``metrics``, and notes on metrics adjusted by
        Bonferroni within (``"dunnett"`` on a metric with a randomization test).

    References:
        Holm (1979); Dunnett (1955); Hothorn, Bretz and Westfall (2008).
    """
    if multiplicity not in MULTIPLICITIES:
        raise ValueError(f"multiplicity must be one of {', '.join(MULTIPLICITIES)}, got "
                         f"{multiplicity!r}")
    flat = [(a, j, m) for a, rows in enumerate(metrics) for j, m in enumerate(rows)]
    out = [[math.nan] * len(rows) for rows in metrics]
    notes: list[str] = []
    if not flat:
        return out, notes
    if multiplicity == "holm":
        for (a, j, _), p in zip(flat, holm([m.p_value for _, _, m in flat]), strict=True):
            out[a][j] = float(p)
        return out, notes
    names = [n for n in METRICS if any(m.metric == n for _, _, m in flat)]
    names += sorted({m.metric for _, _, m in flat} - set(names))
    groups = [[(a, j, m) for a, j, m in flat if m.metric == n] for n in names]
    within: list[Callable[[list[int]], np.ndarray]] = []
    for name, group in zip(names, groups, strict=True):
        rows = [m for _, _, m in group]
        normal = all(m.inference == "normal" and m.se > 0 and math.isfinite(m.var_control)
                     for m in rows)
        if len(rows) > 1 and not normal:
            notes.append(f"{name}: Bonferroni across the slow arms instead of Dunnett (a "
                         "randomization test in some arm: Dunnett's joint normal distribution "
                         "does not apply)")
        within.append(_within(rows, normal, alternative))
    adjusted = _step_down(lambda g, arms: within[g](arms), [len(g) for g in groups])
    for group, ps in zip(groups, adjusted, strict=True):
        for (a, j, _), p in zip(group, ps, strict=True):
            out[a][j] = float(p)
    return out, notes


@dataclass(frozen=True, eq=False)  # holds frames (diagnostics): compared by identity
class ArmsResult:
    """The analysis of a trial with several slow arms, each against the control.

    Attributes:
        results: One :class:`~frt_experiments.analysis.ExperimentResult` per slow arm (that
            pair's two-arm analysis; its ``diagnostics`` the arm's view of the trial's).
        multiplicity: ``"holm"`` or ``"dunnett"`` (see the module docstring).
        p_adjusted: The family-adjusted p-values, per slow arm in the order of its metrics.
        diagnostics: The :class:`~frt_experiments.diagnostics.ArmsDiagnostics` over all arms,
            or ``None``.
        policies: Each arm's FRT policy name as the diagnostics judged it (``None`` without
            diagnostics).
        notes: What the adjustment did differently for some metric, if anything.
    """

    results: tuple[ExperimentResult, ...]
    multiplicity: str
    p_adjusted: tuple[tuple[float, ...], ...]
    diagnostics: Any = None
    policies: Mapping[str, str] | None = None
    notes: tuple[str, ...] = field(default=())

    # ------------------------------------------------------------------ arms
    @property
    def control(self) -> str:
        """The control arm."""
        return self.results[0].metrics[0].control_arm

    @property
    def treatments(self) -> tuple[str, ...]:
        """The slow arms, in the order they were given."""
        return tuple(r.metrics[0].treatment_arm for r in self.results)

    @property
    def by_arm(self) -> dict[str, ExperimentResult]:
        """Slow arm -> its two-arm result."""
        return dict(zip(self.treatments, self.results, strict=True))

    def __getitem__(self, arm: str) -> ExperimentResult:
        try:
            return self.by_arm[arm]
        except KeyError:
            raise KeyError(f"no slow arm {arm!r} (have {', '.join(self.treatments)})") from None

    @property
    def alpha(self) -> float:
        return self.results[0].alpha

    @property
    def alternative(self) -> str:
        return self.results[0].alternative

    @property
    def cuped(self) -> bool:
        return self.results[0].cuped

    @property
    def window_end(self) -> pd.Timestamp | None:
        return self.results[0].window_end

    @property
    def plan(self) -> Any:
        return self.results[0].plan

    @property
    def skipped(self) -> tuple[tuple[str, str], ...]:
        """``(arm: metric, reason)`` of the metrics an arm's analysis left out."""
        return tuple((f"{t}: {m}", why) for t, r in self.by_arm.items() for m, why in r.skipped)

    @property
    def rule(self) -> str:
        """The family adjustment in words."""
        k, m = len(self.results), len({x.metric for r in self.results for x in r.metrics})
        return f"{_RULES[self.multiplicity]} ({k} slow arms x {m} metrics)"

    # ------------------------------------------------------------------ tables
    def to_pandas(self) -> pd.DataFrame:
        """One row per slow arm and metric: :data:`ARMS_COLUMNS`."""
        frames = []
        for r, p in zip(self.results, self.p_adjusted, strict=True):
            df = r.to_pandas()
            df.insert(0, "arm", [m.treatment_arm for m in r.metrics])
            frames.append(df.assign(p_adjusted=list(p),
                                    significant_adjusted=[x < self.alpha for x in p]))
        return pd.concat(frames, ignore_index=True)[list(ARMS_COLUMNS)]

    @property
    def family(self) -> pd.DataFrame:
        """Raw and family-adjusted p-values side by side, with significance at ``alpha``."""
        df = self.to_pandas()
        return df[["arm", "metric", "p_value", "p_adjusted", "significant",
                   "significant_adjusted"]]

    @property
    def decisions(self) -> pd.DataFrame:
        """Each slow arm's margin decisions (CSAT non-inferiority, NRR equivalence), per arm.

        These are each comparison's own tests at its level, not adjusted across the arms."""
        frames = [r.decisions.assign(arm=t) for t, r in self.by_arm.items()]
        out = pd.concat(frames, ignore_index=True)
        return out[["arm", *(c for c in out.columns if c != "arm")]]

    def summary(self) -> pd.DataFrame:
        """The published-style table, one block of rows per slow arm, with the adjusted p."""
        level = _level(self.alpha)
        name = "Holm p" if self.multiplicity == "holm" else "Dunnett-Holm p"
        rows = []
        for r, ps in zip(self.results, self.p_adjusted, strict=True):
            for m, p in zip(r.metrics, ps, strict=True):
                rows.append([m.treatment_arm, INDICATORS.get(m.metric, m.metric),
                             _pct(m.rel_diff), f"[{_pct(m.rel_ci_low)}, {_pct(m.rel_ci_high)}]",
                             _p(m.p_value), _p(p), "yes" if m.significant else "no",
                             "yes" if p < self.alpha else "no"])
        return pd.DataFrame(rows, columns=["arm", "indicator", "relative change",
                                           f"{level} CI", "p-value", name, "significant",
                                           "significant (adjusted)"])

    def to_markdown(self) -> str:
        """The family table, the multiplicity rule, one block per slow arm, the diagnostics."""
        parts = [f"## {len(self.results)} slow arms vs {self.control}: relative change "
                 f"({_level(self.alpha)} confidence, {self.alternative})",
                 _markdown_table(self.summary()),
                 f"Multiplicity: p-values adjusted by {self.rule}; 'significant (adjusted)' "
                 f"holds the family-wise error rate at {self.alpha:g}, 'significant' is each "
                 "comparison alone. Each arm's block below is that comparison alone (its "
                 "Holm p adjusts across its own metrics only)."]
        parts += [f"Note: {n}." for n in self.notes]
        for r in self.results:
            block = replace(r, diagnostics=None).to_markdown().strip()
            parts.append("\n".join("#" + line if line.startswith("#") else line
                                   for line in block.splitlines()))
        if self.diagnostics is not None and hasattr(self.diagnostics, "to_markdown"):
            diag = str(self.diagnostics.to_markdown()).strip()
            diag = "\n".join("#" + line if line.startswith("#") else line
                             for line in diag.splitlines())
            parts += ["### Diagnostics (all arms)", diag]
        return "\n\n".join(parts) + "\n"

    def __repr__(self) -> str:
        head = (f"ArmsResult({', '.join(self.treatments)} vs {self.control}, alpha = "
                f"{self.alpha:g}, {self.alternative}, multiplicity = {self.multiplicity})")
        return head + "\n" + self.summary().to_string(index=False)

    def _repr_html_(self) -> str:
        title = html.escape(f"{', '.join(self.treatments)} vs {self.control}: relative change "
                            f"({_level(self.alpha)} confidence; {self.rule})")
        return f"<div><h4>{title}</h4>{self.summary().to_html(index=False, escape=True)}</div>"

    def plot(self) -> Any:
        """Forest plot: one row per slow arm and metric, filled when significant after the
        family adjustment (:func:`frt_experiments.plotting.plot_forest_arms`)."""
        from frt_experiments.plotting import plot_forest_arms  # noqa: PLC0415 (matplotlib)

        return plot_forest_arms(self.to_pandas(), title=f"Relative change by arm and metric "
                                f"({_level(self.alpha)} CI)")


def combine(results: Sequence[ExperimentResult], *, multiplicity: str = "holm",
            diagnostics: Any = None, policies: Mapping[str, str] | None = None) -> ArmsResult:
    """An :class:`ArmsResult` from each slow arm's two-arm result (same control, same
    settings), with the family adjustment."""
    if not results:
        raise ValueError("results: need at least one slow arm's result")
    controls = {r.metrics[0].control_arm for r in results}
    if len(controls) != 1:
        raise ValueError(f"results: the comparisons have different controls {sorted(controls)}")
    adjusted, notes = family_p_values([r.metrics for r in results], multiplicity=multiplicity,
                                      alternative=results[0].alternative)
    return ArmsResult(tuple(results), multiplicity, tuple(tuple(p) for p in adjusted),
                      diagnostics, None if policies is None else dict(policies), tuple(notes))
