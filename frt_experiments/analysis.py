"""Analyse a trial: the four metrics at 95% confidence, customer-clustered, as the published table.

:func:`analyze` takes the canonical tables and returns an :class:`ExperimentResult`:

- ``questions`` -- conversations per customer (a mean), or per 30 days of exposure (a ratio)
  when customers were exposed for different lengths of time;
- ``csat`` -- satisfied ratings / all ratings (a ratio of per-customer sums);
- ``nrr`` -- Σ revenue at the end / Σ revenue at the start;
- ``efficiency`` -- conversations per agent hour, Σ conversations / Σ handle hours.

Arm B (``treatment``, default ``one_business_day``) is compared with arm A (``control``,
default ``fast``): differences are B - A, relative changes B / A - 1. The customer is the unit
of analysis: ratios use the delta method over customers, never conversations as independent
samples. Each metric gets Welch's t test (two-sided by default) and its interval, the relative
change with Fieller's interval from the same test (so significance and interval agree), and,
when pre-period covariates exist and the arms are large enough, CUPED on the (linearized)
values with ``θ`` pooled across arms and an HC2 variance. Where normal theory cannot be
trusted (few contributing customers, no variance, a skewed difference:
:mod:`frt_experiments.stats.validity`) a metric gets a randomization test instead
(:mod:`frt_experiments.stats.randomization`); ``method`` says which and why. Metrics the data
do not define are listed in ``skipped``. Holm-adjusted p-values across the analysed metrics
are reported beside the raw ones; CSAT non-inferiority and NRR equivalence (TOST) are decided
when margins are given (directly or by an experiment plan), by each metric's own method.

A trial with several slow arms (``treatment`` a list of arms, or a plan's ``[arms]``) is
analysed pair by pair with this code, each slow arm against the control, and the p-values are
adjusted across arms and metrics by Holm (1979) or by Dunnett (1955) within metrics, step-down
with Bonferroni across them: :mod:`frt_experiments.arms` (Hothorn, Bretz and Westfall 2008).

``control`` and ``treatment`` in the table are the arms' plain estimates; with CUPED the
``diff``, ``rel_diff``, their intervals and the p-value are those of the adjusted estimates
(so ``diff`` can differ slightly from ``treatment - control``; ``method`` says so).

References:
    Deng, A., Knoblich, U. and Lu, J. (2018). Applying the delta method in metric analytics.
    *KDD '18*, 233-242.
    Deng, A., Xu, Y., Kohavi, R. and Walker, T. (2013). Improving the sensitivity of online
    controlled experiments by utilizing pre-experiment data. *WSDM '13*, 123-132.
    Welch, B. L. (1947). *Biometrika* 34, 28-35.
    Holm, S. (1979). *Scandinavian Journal of Statistics* 6(2), 65-70.
    Fieller, E. C. (1954). *JRSS B* 16(2), 175-185.
    MacKinnon, J. G. and White, H. (1985). *Journal of Econometrics* 29, 305-325 (HC2).
    Chung, E. and Romano, J. P. (2013). *The Annals of Statistics* 41(2), 484-507.
    Schuirmann, D. J. (1987). *J. Pharmacokinet. Biopharm.* 15, 657-680 (TOST).
"""

from __future__ import annotations

import html
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from frt_experiments import schema
from frt_experiments._ids import code_point_order
from frt_experiments._markdown import md_cell, md_text
from frt_experiments.calendar import BusinessCalendar
from frt_experiments.diagnostics import arm_policies, diagnose_arms
from frt_experiments.diagnostics import diagnose as _diagnose_tables
from frt_experiments.engine import is_engine_table
from frt_experiments.errors import DataError, DataWarning, Problem
from frt_experiments.metrics import (
    CONVERSATIONS,
    EXPOSURE_DAYS,
    HANDLE_HOURS,
    RATED,
    SATISFIED,
    ArmStatistics,
    arm_statistics,
    customer_rows,
)
from frt_experiments.monitoring import judge_interim_results, repeated_ci
from frt_experiments.plan import (
    ALTERNATIVES,
    ExperimentPlan,
    allocation_problems,
    same_allocation,
)
from frt_experiments.policy import FrtPolicy
from frt_experiments.stats.cuped import cuped_adjust, regression_adjust
from frt_experiments.stats.multiplicity import holm
from frt_experiments.stats.randomization import (
    Reassignments,
    _Inverter,
    invert,
    reassignments,
    relative_bound,
    relative_tails,
)
from frt_experiments.stats.ratio import fieller_interval, ratio_gradient, ratio_t
from frt_experiments.stats.tests import MarginTestResult, _interval, _p_value, _welch_df
from frt_experiments.stats.validity import NormalCheck, normal_check

if TYPE_CHECKING:
    from frt_experiments.arms import ArmsResult

__all__ = ["INDICATORS", "METRICS", "RESULT_COLUMNS", "ROW_COLUMNS", "ExperimentResult",
           "MetricResult", "analyze", "analyze_rows"]

#: Choices of ``multiplicity`` with several slow arms (:mod:`frt_experiments.arms`).
MULTIPLICITIES = ("holm", "dunnett")
#: Choices of ``inference``: chosen per metric, normal theory, or randomization tests.
INFERENCES = ("auto", "normal", "randomization")
#: Customers in the smaller arm per CUPED covariate below which CUPED is not used.
MIN_CUSTOMERS_PER_COVARIATE = 20
#: Up to this many customers CUPED's variance is the row-level HC2 one; above it the
#: leverage it adds is negligible and the arms' sufficient statistics give it.
HC2_MAX_CUSTOMERS = 20_000
#: Up to this many customers the normal-theory rule reads every customer's linearized value;
#: beyond, an even sample of this many (its skewness to a few percent), so that large trials
#: cost what the sufficient statistics cost.
ROW_CHECK_MAX = 50_000
#: The metrics, in the order of the published table.
METRICS = ("questions", "csat", "nrr", "efficiency")
#: The published table's wording of each metric.
INDICATORS = {
    "questions": "questions asked (conversations per customer)",
    "csat": "CSAT",
    "nrr": "net revenue retention",
    "efficiency": "efficiency (conversations per agent hour)",
}
#: Columns of :meth:`ExperimentResult.to_pandas` and of ``results.csv`` (DESIGN section 4).
RESULT_COLUMNS = ("metric", "control_arm", "treatment_arm", "n_control", "n_treatment",
                  "control", "treatment", "diff", "diff_ci_low", "diff_ci_high", "rel_diff",
                  "rel_ci_low", "rel_ci_high", "p_value", "significant", "method")

#: numerator, denominator (None: a mean), what the denominator is called in messages
_DEFINITIONS: dict[str, tuple[str, str | None, str]] = {
    "questions": (CONVERSATIONS, None, "customers"),
    "csat": (SATISFIED, RATED, "ratings"),
    "nrr": (schema.REVENUE_END, schema.REVENUE_START, "revenue at the start"),
    "efficiency": (CONVERSATIONS, HANDLE_HOURS, "handle time"),
}


@dataclass(frozen=True)
class MetricResult:
    """One metric's comparison (the fields of one row of ``results.csv``, and more).

    Besides :data:`RESULT_COLUMNS`: ``se`` and ``df`` of the difference, the t ``statistic``,
    ``variance_reduction`` achieved by CUPED (0 without it), the ``covariates`` used and
    ``log_se``, the delta-method standard error of the log ratio (the relative interval is
    Fieller's, or the randomization test's), ``inference`` (``"normal"`` or
    ``"randomization"``: what was used), ``skewness``, the skewness of the difference
    estimator that the normal-theory rule judged, and ``var_control``, the variance of the
    control arm's (adjusted) estimate: the part of ``se**2`` that comparisons of several slow
    arms with one control share (their correlation, :mod:`frt_experiments.stats.dunnett`).
    """

    metric: str
    control_arm: str
    treatment_arm: str
    n_control: int
    n_treatment: int
    control: float
    treatment: float
    diff: float
    diff_ci_low: float
    diff_ci_high: float
    rel_diff: float
    rel_ci_low: float
    rel_ci_high: float
    p_value: float
    significant: bool
    method: str
    se: float
    df: float
    statistic: float
    variance_reduction: float
    covariates: tuple[str, ...]
    log_se: float = math.nan
    inference: str = "normal"
    skewness: float = math.nan
    var_control: float = math.nan


@dataclass(frozen=True, eq=False)  # holds frames (diagnostics): compared by identity
class ExperimentResult:
    """The analysis of one trial.

    Attributes:
        metrics: One :class:`MetricResult` per metric, in the order of :data:`METRICS`.
        alpha: Level of the tests (intervals have coverage ``1 - alpha``).
        alternative: Alternative of the difference tests.
        cuped: Whether CUPED was requested.
        p_holm: Holm-adjusted p-values, in the order of ``metrics``.
        margin_tests: ``(metric, MarginTestResult)`` pairs: CSAT non-inferiority and NRR
            equivalence when their margins were given.
        diagnostics: The :func:`frt_experiments.diagnostics.diagnose` result, or ``None``.
        window_end: End of the analysis window.
        plan: The experiment plan the analysis followed, if any.
        inference: The inference asked for (each metric's ``inference`` says what was used).
        skipped: ``(metric, reason)`` of the metrics not analysed (the data do not support
            them: no ratings, no revenue, no handle time); Holm's adjustment and the margin
            decisions cover the analysed metrics only.
        by_segment: The pre-registered segment readouts
            (:class:`~frt_experiments.segments.SegmentResult`) when ``by`` was given (or the
            plan has ``[segments]``), else ``None``.
    """

    metrics: tuple[MetricResult, ...]
    alpha: float
    alternative: str
    cuped: bool
    p_holm: tuple[float, ...]
    margin_tests: tuple[tuple[str, MarginTestResult], ...] = ()
    diagnostics: Any = None
    window_end: pd.Timestamp | None = None
    plan: ExperimentPlan | None = None
    inference: str = "auto"
    skipped: tuple[tuple[str, str], ...] = ()
    by_segment: Any = None

    # ------------------------------------------------------------------ tables
    def to_pandas(self) -> pd.DataFrame:
        """One row per metric with exactly the columns of :data:`RESULT_COLUMNS`."""
        rows = [{c: getattr(m, c) for c in RESULT_COLUMNS} for m in self.metrics]
        df = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
        return df.astype({"n_control": "int64", "n_treatment": "int64", "significant": bool})

    def __getitem__(self, metric: str) -> MetricResult:
        for m in self.metrics:
            if m.metric == metric:
                return m
        why = dict(self.skipped).get(metric)
        if why is not None:
            raise KeyError(f"metric {metric!r} was not analysed: {why}")
        raise KeyError(f"no metric {metric!r} (have {', '.join(m.metric for m in self.metrics)})")

    @property
    def holm(self) -> pd.DataFrame:
        """Raw and Holm-adjusted p-values side by side, with significance at ``alpha``."""
        p = [m.p_value for m in self.metrics]
        return pd.DataFrame({"metric": [m.metric for m in self.metrics], "p_value": p,
                             "p_holm": list(self.p_holm),
                             "significant": [x < self.alpha for x in p],
                             "significant_holm": [x < self.alpha for x in self.p_holm]})

    @property
    def variance_reduction(self) -> pd.Series:
        """Share of each metric's difference variance removed by CUPED (0 without it)."""
        return pd.Series({m.metric: m.variance_reduction for m in self.metrics},
                         name="variance_reduction")

    @property
    def decisions(self) -> pd.DataFrame:
        """CSAT non-inferiority and NRR equivalence (TOST) decisions; empty without margins."""
        cols = ["metric", "test", "margin", "estimate", "ci_low", "ci_high", "p_value",
                "alpha", "conclusion"]
        rows = []
        for metric, t in self.margin_tests:
            d = asdict(t)
            rows.append({"metric": metric, **{k: d[k] for k in cols[1:-1]},
                         "conclusion": t.conclusion})
        return pd.DataFrame(rows, columns=cols)

    def sequential(self, *, look: int | None = None,
                   information: Sequence[float] | None = None) -> pd.DataFrame:
        """Each metric judged against the plan's group-sequential efficacy boundary.

        The fixed-sample ``significant`` column spends all of ``alpha`` at once; a plan with
        ``looks > 1`` spends it over the looks (Lan-DeMets), so at look ``k`` a metric is
        significant only when its z statistic crosses that look's boundary (e.g. 2.031 rather
        than 1.960 at the last of five O'Brien-Fleming looks).

        Args:
            look: Which look this analysis is (1-based; default: the plan's last look).
            information: Information fractions reached at looks 1..``look`` (e.g. customers
                analysed / planned); the boundaries are then recomputed for them.

        Returns:
            One row per metric: metric, z, bound, nominal_p, decision
            (:func:`frt_experiments.monitoring.judge_interim_results`), and the repeated
            confidence intervals of the difference (``rci_low``, ``rci_high``) and of the
            relative change (``rel_rci_low``, ``rel_rci_high``): this look's interval widened
            to its boundary (:func:`frt_experiments.monitoring.repeated_ci`), so that the
            intervals of every look hold their level together.
            For a metric analysed by a randomization test these intervals still rest on
            normal theory (its ``se`` and ``log_se``); read them with its ``method``.

        Raises:
            ValueError: The analysis had no plan, or ``look`` is not one of its looks.

        References:
            Lan and DeMets (1983); Jennison and Turnbull (2000), section 7.2 and chapter 9
            (repeated confidence intervals); Jennison and Turnbull (1989), JRSS B 51, 305-361.
        """
        if self.plan is None:
            raise ValueError("sequential: this analysis has no experiment plan; analyse with "
                             "plan=... (frt analyze --plan)")
        k = self.plan.looks or 1
        out = judge_interim_results(self.to_pandas(), look=k if look is None else look,
                                    plan=self.plan, information=information)
        bound = out["bound"].to_numpy(float)
        alt = self.plan.alternative
        diff = np.array([m.diff for m in self.metrics])
        se = np.array([m.se for m in self.metrics])
        log_ratio = np.log1p(np.array([m.rel_diff for m in self.metrics]))
        log_se = np.array([m.log_se for m in self.metrics])
        lo, hi = repeated_ci(diff, se, bound, alternative=alt)
        rlo, rhi = repeated_ci(log_ratio, log_se, bound, alternative=alt)
        return out.assign(rci_low=lo, rci_high=hi, rel_rci_low=np.expm1(rlo),
                          rel_rci_high=np.expm1(rhi))

    def summary(self) -> pd.DataFrame:
        """The published-style table: indicator, relative change with its interval, p-values.

        Relative changes and intervals are formatted in percent; ``significant`` is judged on
        the raw p-value at ``alpha`` (Holm-adjusted p-values beside it). Metrics that were not
        analysed are listed with ``not analysed: <reason>`` in ``significant``.
        """
        level = _level(self.alpha)
        table = pd.DataFrame({
            "indicator": [INDICATORS.get(m.metric, m.metric) for m in self.metrics],
            "relative change": [_pct(m.rel_diff) for m in self.metrics],
            f"{level} CI": [f"[{_pct(m.rel_ci_low)}, {_pct(m.rel_ci_high)}]"
                            for m in self.metrics],
            "p-value": [_p(m.p_value) for m in self.metrics],
            "Holm p": [_p(p) for p in self.p_holm],
            "significant": ["yes" if m.significant else "no" for m in self.metrics],
        })
        if not self.skipped:
            return table
        done = {m.metric: i for i, m in enumerate(self.metrics)}
        gone = dict(self.skipped)
        rows = []
        for metric in [*METRICS, *(m for m in done if m not in METRICS)]:
            if metric in done:
                rows.append(table.iloc[done[metric]].tolist())
            elif metric in gone:
                rows.append([INDICATORS.get(metric, metric), "-", "-", "-", "-",
                             f"not analysed: {gone[metric]}"])
        return pd.DataFrame(rows, columns=table.columns)

    def to_markdown(self) -> str:
        """The summary, the decisions and the diagnostics as Markdown (no extra dependency)."""
        m0 = self.metrics[0]
        parts = [f"## {md_text(m0.treatment_arm)} vs {md_text(m0.control_arm)}: relative "
                 f"change ({_level(self.alpha)} confidence, {self.alternative})",
                 _markdown_table(self.summary())]
        notes = [md_text(f"{m.metric}: {m.method}") for m in self.metrics]
        parts.append("Methods: " + "; ".join(notes) + ".")
        dec = self.decisions
        if not dec.empty:
            shown = pd.DataFrame({
                "metric": dec["metric"], "test": dec["test"],
                "margin": [_pct(x) if t == "non-inferiority" else f"±{abs(x):.2%}"
                           for x, t in zip(dec["margin"], dec["test"], strict=True)],
                "relative change": [_pct(x) for x in dec["estimate"]],
                "interval": [f"[{_pct(a)}, {_pct(b)}]"
                             for a, b in zip(dec["ci_low"], dec["ci_high"], strict=True)],
                "p-value": [_p(x) for x in dec["p_value"]],
                "conclusion": dec["conclusion"]})
            parts += ["### Decisions", _markdown_table(shown)]
        if self.diagnostics is not None and hasattr(self.diagnostics, "to_markdown"):
            diag = str(self.diagnostics.to_markdown()).strip()
            diag = "\n".join("#" + line if line.startswith("#") else line
                              for line in diag.splitlines())  # nest under Diagnostics
            parts += ["### Diagnostics", diag]
        return "\n\n".join(parts) + "\n"

    def __repr__(self) -> str:
        m0 = self.metrics[0]
        head = (f"ExperimentResult({m0.treatment_arm} vs {m0.control_arm}, "
                f"n = {m0.n_treatment:,} vs {m0.n_control:,}, alpha = {self.alpha:g}, "
                f"{self.alternative}, cuped = {self.cuped})")
        return head + "\n" + self.summary().to_string(index=False)

    def _repr_html_(self) -> str:
        m0 = self.metrics[0]
        title = html.escape(f"{m0.treatment_arm} vs {m0.control_arm}: relative change "
                            f"({_level(self.alpha)} confidence)")
        body = self.summary().to_html(index=False, escape=True)
        dec = self.decisions
        extra = "" if dec.empty else "<h5>Decisions</h5>" + dec.to_html(index=False)
        return f"<div><h4>{title}</h4>{body}{extra}</div>"

    # ------------------------------------------------------------------ plot
    def plot(self, ax: Any = None) -> Any:
        """Forest plot of the relative changes (%) with their intervals.

        Without ``ax`` returns a new :class:`matplotlib.figure.Figure`
        (:func:`frt_experiments.plotting.plot_forest`); with ``ax`` draws on it and returns
        it. Infinite (one-sided) bounds are drawn to the plot's edge.
        """
        # matplotlib loads with the first plot, not with every analysis (0.4-0.5 s)
        from frt_experiments.plotting import arm_color, plot_forest  # noqa: PLC0415

        df = self.to_pandas()
        if ax is None:  # plot_forest draws open (one-sided) ends itself and labels the bound
            return plot_forest(df, title=f"Relative change by metric ({_level(self.alpha)} "
                                         "confidence intervals)")
        finite = df[["rel_ci_low", "rel_ci_high"]].replace([np.inf, -np.inf], np.nan)
        span = float(np.nanmax(np.abs(np.r_[finite.to_numpy().ravel(), df["rel_diff"]])))
        span = span if math.isfinite(span) and span > 0 else 1e-3
        df["rel_ci_low"] = df["rel_ci_low"].clip(lower=-2 * span)
        df["rel_ci_high"] = df["rel_ci_high"].clip(upper=2 * span)
        d = df.iloc[::-1].reset_index(drop=True)
        y = np.arange(len(d))
        color = arm_color(str(d["treatment_arm"].iloc[0]))
        sig = d["significant"].to_numpy(bool)
        est = d["rel_diff"].to_numpy(float) * 100
        ax.hlines(y, d["rel_ci_low"] * 100, d["rel_ci_high"] * 100, color=color, lw=2)
        ax.scatter(est[sig], y[sig], s=50, color=color, zorder=3, label="significant")
        ax.scatter(est[~sig], y[~sig], s=50, facecolor="white", edgecolor=color, zorder=3,
                   label="not significant")
        ax.axvline(0, color="#444444", lw=1)
        ax.set_yticks(y, d["metric"].tolist())
        ax.set_xlabel(f"relative change, {d['treatment_arm'].iloc[0]} vs "
                      f"{d['control_arm'].iloc[0]} (%)")
        return ax


def _level(alpha: float) -> str:
    return f"{100 * (1 - alpha):g}%"


def _pct(x: float) -> str:
    if math.isinf(x):
        return "+∞" if x > 0 else "-∞"
    return f"{100 * x:+.2f}%"


def _p(p: float) -> str:
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def _markdown_table(df: pd.DataFrame) -> str:
    cells = df.astype(str).map(md_cell)
    head = "| " + " | ".join(str(c) for c in df.columns) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(r) + " |" for r in cells.itertuples(index=False, name=None)]
    return "\n".join([head, rule, *body])


# ---------------------------------------------------------------------- computation
def _problem(metric: str, rule: str) -> DataError:
    return DataError([Problem(f"metric {metric}", None, rule)])


def _linearization(st: ArmStatistics, metric: str, numerator: str, denominator: str | None,
                   what: str) -> tuple[float, np.ndarray]:
    """(estimate, coefficient vector g) such that gᵀ v is the linearized per-customer value."""
    mu = st.mean
    g = np.zeros(len(mu))
    iy = st.index(numerator)
    if denominator is None:
        g[iy] = 1.0
        return float(mu[iy]), g
    ix = st.index(denominator)
    if mu[ix] == 0:
        raise _problem(metric, f"arm {st.arm!r} has no {what} (the denominator "
                               f"Σ{denominator} is zero), so {metric} is undefined there")
    gy, gx = ratio_gradient(float(mu[iy]), float(mu[ix]))
    # conversations per exposure *day* are reported per 30 days
    scale = 30.0 if denominator == EXPOSURE_DAYS else 1.0
    g[iy] += scale * gy
    g[ix] += scale * gx
    return float(scale * mu[iy] / mu[ix]), g


def _linearized(stats: tuple[ArmStatistics, ArmStatistics], values: np.ndarray,
                gs: list[np.ndarray], ests: list[float], treated: np.ndarray) -> np.ndarray:
    """Per-customer ``est + gᵀ(v - v̄)`` of each customer's arm: the linearized value,
    centred on the arm's estimate (only the columns ``g`` uses are read)."""
    nz = np.flatnonzero((gs[0] != 0) | (gs[1] != 0))
    block = values[:, nz]
    out = np.empty(len(treated))
    for arm, (st, g, est) in enumerate(zip(stats, gs, ests, strict=True)):
        part = est + (block - st.mean[nz]) @ g[nz]
        sel = treated if arm else ~treated
        out[sel] = part[sel]
    return out


def _arm_moments(x: np.ndarray, treated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-arm (control, treatment) means and sample variances of ``x`` (one pass each)."""
    code = treated.astype(np.intp)
    n = np.bincount(code, minlength=2).astype(float)
    mean = np.bincount(code, weights=x, minlength=2) / np.maximum(n, 1)
    d = x - mean[code]
    var = np.bincount(code, weights=d * d, minlength=2) / np.maximum(n - 1, 1)
    return mean, var


def _usable_covariates(covariates: list[str], stats: tuple[ArmStatistics, ArmStatistics]
                       ) -> tuple[list[str], str]:
    """Covariates with variance within arms, if the arms are large enough for them.

    CUPED estimates one coefficient per covariate; with fewer than
    :data:`MIN_CUSTOMERS_PER_COVARIATE` customers per covariate in the smaller arm the
    estimate overfits (Harrell 2015, section 4.4: 10-20 observations per parameter), so none
    is used.
    """
    if not covariates:
        return [], ""
    keep = []
    for c in covariates:
        i = stats[0].index(c)
        scale = max(1.0, *(abs(float(st.mean[i])) for st in stats))
        if max(st.cross[i, i] / max(st.n - 1, 1) for st in stats) > (1e-9 * scale) ** 2:
            keep.append(c)
    if not keep:
        return [], "CUPED not used: no pre-period covariate varies within the arms"
    small = int(min(st.n for st in stats))
    if small < MIN_CUSTOMERS_PER_COVARIATE * len(keep):
        return [], (f"CUPED not used: {small} customers in the smaller arm for {len(keep)} "
                    f"covariate{'s' if len(keep) > 1 else ''} (needs "
                    f"{MIN_CUSTOMERS_PER_COVARIATE} per covariate)")
    return keep, ""


def _cuped_moments(stats: tuple[ArmStatistics, ArmStatistics], gs: list[np.ndarray],
                   ests: list[float], used: list[str]
                   ) -> tuple[np.ndarray, np.ndarray, float, float, np.ndarray]:
    """CUPED from the arms' sufficient statistics (large trials): pooled ``θ`` as the
    regression's, each arm's adjusted variance with ``p`` covariates' worth of degrees of
    freedom removed in proportion to its size (the leverage HC2 adds is below
    ``(2 + p) / N``, under 0.03% of the variance at :data:`HC2_MAX_CUSTOMERS`).
    Returns (adjusted means, covariance of them, df, variance reduction, θ)."""
    ic = [stats[0].index(c) for c in used]
    n = np.array([st.n for st in stats], dtype=float)
    p = len(used)
    var_y = np.array([float(g @ st.cov @ g) for g, st in zip(gs, stats, strict=True)])
    adj = cuped_adjust(
        n, mean_y=np.array(ests), var_y=var_y,
        mean_x=np.array([st.mean[ic] for st in stats]),
        cov_xx=np.array([st.cov[np.ix_(ic, ic)] for st in stats]),
        cov_xy=np.array([st.cov[ic] @ g for g, st in zip(gs, stats, strict=True)]))
    nu = np.clip(n - 1 - p * n / n.sum(), 1.0, None)
    var = adj.variances * (n - 1) / nu / n
    cov = np.diag(var)
    den = float(np.sum(var * var / nu))
    df = float(var.sum() ** 2 / den) if den > 0 else math.inf
    raw = float((var_y / n).sum())
    reduction = 1.0 - float(var.sum()) / raw if raw > 0 else 0.0
    return adj.means, cov, df, reduction, adj.theta


@dataclass
class _Comparison:
    """A metric's comparison with what its margin tests need."""

    result: MetricResult
    cov: np.ndarray  # covariance of the (adjusted) arm estimates
    means: tuple[float, float]  # the (adjusted) arm estimates
    inverter: Any = None  # randomization: the prepared test


def _compare(metric: str, stats_c: ArmStatistics, stats_t: ArmStatistics,
             definition: tuple[str, str | None, str], covariates: list[str], *,
             values: np.ndarray, columns: list[str], treated: np.ndarray, alpha: float,
             alternative: str, method: str, inference: str,
             reassigned: Any) -> _Comparison:
    numerator, denominator, what = definition
    ests, gs = [], []
    for st in (stats_c, stats_t):
        est, g = _linearization(st, metric, numerator, denominator, what)
        if est == 0 and st is stats_c:  # a treatment at 0 is a -100% change, tested as such
            raise _problem(metric, f"control arm {st.arm!r} has {metric} = 0 (no "
                                   f"{numerator.replace('_', ' ')}), so the relative change "
                                   "is undefined")
        ests.append(est)
        gs.append(g)
    n_c, n_t = stats_c.n, stats_t.n
    n_all = n_c + n_t
    used, cuped_note = _usable_covariates(covariates, (stats_c, stats_t))
    # The rule's third moments are read on every customer up to ROW_CHECK_MAX, on an even
    # sample of them beyond (the variances always come from every customer).
    rows_at = (slice(None) if n_all <= ROW_CHECK_MAX
               else np.linspace(0, n_all - 1, ROW_CHECK_MAX).astype(np.intp))
    vals, tr = values[rows_at], treated[rows_at]
    psi = _linearized((stats_c, stats_t), vals, gs, ests, tr)
    psi_mean, psi_var = _arm_moments(psi, tr)
    if n_all > ROW_CHECK_MAX:  # every customer's variance, from the sufficient statistics
        psi_var = np.array([float(g @ st.cov @ g) for g, st in zip(gs, (stats_c, stats_t),
                                                                    strict=True)])
    xcov = vals[:, [columns.index(c) for c in used]]
    reduction = 0.0
    if used and n_all <= HC2_MAX_CUSTOMERS:
        ra = regression_adjust(psi, tr, xcov)
        means, cov, df, resid = ra.means, ra.cov, ra.df, ra.residuals
        reduction = ra.variance_reduction
        method += (f"; CUPED on {len(used)} pre-period covariate{'s' if len(used) > 1 else ''}"
                   f", HC2 ({reduction:.1%} less variance)")
    elif used:
        means, cov, df, reduction, theta = _cuped_moments((stats_c, stats_t), gs, ests, used)
        xm = np.array([stats_c.mean[[stats_c.index(c) for c in used]],
                       stats_t.mean[[stats_t.index(c) for c in used]]])
        resid = psi - psi_mean[tr.astype(np.intp)] - (xcov - xm[tr.astype(np.intp)]) @ theta
        method += (f"; CUPED on {len(used)} pre-period covariate{'s' if len(used) > 1 else ''}"
                   f" ({reduction:.1%} less variance)")
    else:
        means = np.array(ests)
        cov = np.diag(psi_var / np.array([n_c, n_t]))
        df = _welch_df(cov[0, 0], cov[1, 1], n_c, n_t)
        resid = psi - psi_mean[tr.astype(np.intp)]
        if cuped_note:
            method += "; " + cuped_note
    for m, st in zip(means, (stats_c, stats_t), strict=True):
        if m < 0 or (m == 0 and (st is stats_c or used)):
            raise _problem(metric, f"arm {st.arm!r}: the CUPED-adjusted {metric} is "
                                   f"{m:.4g}, not positive; analyse with cuped=False")
    contributing = None
    if denominator is not None and denominator != EXPOSURE_DAYS:
        contributing = values[:, columns.index(denominator)] > 0
    check = normal_check(resid, tr, arms=(stats_c.arm, stats_t.arm),
                         contributing=None if contributing is None else contributing[rows_at],
                         sizes=(n_c, n_t), contributors=None if contributing is None else (
                             int(np.count_nonzero(contributing[~treated])),
                             int(np.count_nonzero(contributing[treated]))))
    for i, st in enumerate((stats_c, stats_t)):
        # no variance before any adjustment: CUPED's residuals would hide it (θ'X noise)
        if psi_var[i] <= (1e-12 * max(1.0, abs(float(ests[i])))) ** 2:
            check = NormalCheck(False, math.inf, check.contributors,
                                f"arm {st.arm!r}: its customers' values have no variance")
            break
    var_d = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    se = math.sqrt(max(var_d, 0.0))
    diff = float(means[1] - means[0])
    log_se = math.inf if means[1] == 0 else math.sqrt(max(
        cov[0, 0] / means[0] ** 2 + cov[1, 1] / means[1] ** 2
        - 2 * cov[0, 1] / (means[0] * means[1]), 0.0))
    use_normal = inference == "normal" or (inference == "auto" and check.ok)
    if inference == "normal" and math.isinf(check.skewness):
        raise ValueError(f"inference='normal' cannot analyse {metric}: {check.reason}, so "
                         f"normal theory would treat its {metric} as known exactly; use "
                         "inference='auto' or 'randomization'")
    inverter = None
    if use_normal:
        t = diff / se
        p = _p_value(t, df, alternative) if not math.isnan(t) else 1.0
        lo, hi = _interval(diff, se, df, alpha, alternative)
        rlo, rhi = fieller_interval(means[0], means[1], var_control=cov[0, 0],
                                    var_treatment=cov[1, 1], cov=cov[0, 1], df=df,
                                    alpha=alpha, alternative=alternative)
        method += "; relative interval by Fieller"
        if inference == "auto":
            method += f"; normal theory (skewness {check.skewness:.3f})"
    else:
        y = values[:, columns.index(numerator)]
        x = (np.ones(len(treated)) if denominator is None
             else values[:, columns.index(denominator)])
        scale = 30.0 if denominator == EXPOSURE_DAYS else 1.0
        inverter = _Inverter(np.column_stack([scale * y, x, xcov]), treated,
                             reassigned(), len(used), proportion=metric == "csat")
        r = invert(inverter, alpha=alpha, alternative=alternative)
        t, p, lo, hi, rlo, rhi = (r.statistic, r.p_value, r.diff_ci_low, r.diff_ci_high,
                                  r.rel_ci_low, r.rel_ci_high)
        how = (f"exact over all {r.permutations:,} re-assignments" if r.exact
               else f"{r.permutations:,} random re-assignments")
        method = (f"randomization test ({how} of the customers; studentized {method}); "
                  "intervals at its critical values"
                  + ("" if inference == "randomization"
                     else f"; normal theory not used: {check.reason}"))
    res = MetricResult(
        metric, stats_c.arm, stats_t.arm, n_c, n_t, ests[0], ests[1], diff, lo, hi,
        float(means[1] / means[0] - 1), rlo, rhi, p, bool(p < alpha), method, se, df,
        float(t), float(reduction), tuple(used), log_se,
        "normal" if use_normal else "randomization", check.skewness, float(cov[0, 0]))
    return _Comparison(res, cov, (float(means[0]), float(means[1])), inverter)


def _margin_tests(comparisons: dict[str, _Comparison], *, alpha: float, alternative: str,
                  csat_margin: float | None, nrr_margin: float | None
                  ) -> list[tuple[str, MarginTestResult]]:
    """CSAT non-inferiority and NRR equivalence, by the method of each metric's row.

    Normal theory: Fieller's pivot ``(t - ρ c) / sd`` at the margin with the row's degrees of
    freedom, so the decision agrees with Fieller's interval (non-inferior exactly when the
    lower bound clears the margin). Randomization: the row's randomization test at the margin
    and its inverted bound.
    """
    out: list[tuple[str, MarginTestResult]] = []
    for metric, margin, test in (("csat", csat_margin, "non-inferiority"),
                                 ("nrr", nrr_margin, "equivalence")):
        if margin is None:
            continue
        comp = comparisons[metric]
        r = comp.result
        one = (alpha / 2 if alternative == "two-sided" else alpha) \
            if test == "non-inferiority" else alpha
        if comp.inverter is None:
            means = comp.means
            kw = {"var_control": comp.cov[0, 0], "var_treatment": comp.cov[1, 1],
                  "cov": comp.cov[0, 1]}

            def pivot(rho: float, means: tuple[float, float] = means,
                      kw: dict[str, float] = kw) -> float:
                return ratio_t(means[0], means[1], rho, **kw)

            if test == "non-inferiority":
                stat = pivot(1 + margin) if margin < 0 else -pivot(1 + margin)
                p = float(stats.t.sf(stat, r.df))
                lo, hi = fieller_interval(*means, **kw, df=r.df, alpha=one,
                                          alternative="greater" if margin < 0 else "less")
            else:
                s_lo, s_hi = pivot(1 - margin), -pivot(1 + margin)
                stat = min(s_lo, s_hi)
                p = float(max(stats.t.sf(s_lo, r.df), stats.t.sf(s_hi, r.df)))
                lo, hi = fieller_interval(*means, **kw, df=r.df, alpha=2 * one)
            df = r.df
        else:
            inv = comp.inverter
            if test == "non-inferiority":
                side = -1 if margin < 0 else 1
                stat, p_hi, p_lo = relative_tails(inv, margin)
                p = p_hi if margin < 0 else p_lo
                bound = relative_bound(inv, side, one)
                lo, hi = (bound, math.inf) if side < 0 else (-1.0, bound)
            else:
                s_lo, p_lo_side, _ = relative_tails(inv, -margin)
                s_hi, _, p_hi_side = relative_tails(inv, margin)
                stat = min(s_lo, -s_hi)
                p = max(p_lo_side, p_hi_side)
                lo = relative_bound(inv, -1, one)
                hi = relative_bound(inv, +1, one)
            df = math.nan
        out.append((metric, MarginTestResult(test, float(margin), "relative", r.rel_diff,
                                             float(lo), float(hi), float(stat), float(df),
                                             float(p), float(one), bool(p < one))))
    return out


def _settings(alpha: float, alternative: str, csat_margin: float | None,
              nrr_margin: float | None, plan: ExperimentPlan | None
              ) -> tuple[float, str, float | None, float | None]:
    if plan is not None:
        if not isinstance(plan, ExperimentPlan):
            raise TypeError(f"plan must be an ExperimentPlan, got {type(plan).__name__}")
        if alpha not in (0.05, plan.alpha):
            raise ValueError(f"alpha={alpha!r} disagrees with the plan's alpha {plan.alpha!r}; "
                             "give one of them")
        alpha, alternative = plan.alpha, plan.alternative
        csat_margin = plan.csat_margin if csat_margin is None else csat_margin
        nrr_margin = plan.nrr_margin if nrr_margin is None else nrr_margin
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be a number in (0, 1), got {alpha!r}")
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {', '.join(ALTERNATIVES)}, "
                         f"got {alternative!r}")
    if csat_margin is not None and not -1 < csat_margin < 0:
        raise ValueError("csat_margin must be a relative non-inferiority margin in (-1, 0) "
                         f"(e.g. -0.02: at most 2% lower), got {csat_margin!r}")
    if nrr_margin is not None and not 0 < nrr_margin < 1:
        raise ValueError("nrr_margin must be a relative equivalence margin in (0, 1) "
                         f"(e.g. 0.01: within ±1%), got {nrr_margin!r}")
    return float(alpha), alternative, csat_margin, nrr_margin


def analyze(
    customers: pd.DataFrame,
    conversations: pd.DataFrame,
    assignments: pd.DataFrame,
    *,
    alpha: float = 0.05,
    cuped: bool = True,
    control: str | None = None,
    treatment: str | Sequence[str] | None = None,
    csat_margin: float | None = None,
    nrr_margin: float | None = None,
    plan: ExperimentPlan | None = None,
    window_end: pd.Timestamp | str | None = None,
    alternative: str = "two-sided",
    diagnostics: bool = True,
    validate: bool = True,
    calendar: BusinessCalendar | None = None,
    weights: Mapping[str, float] | None = None,
    inference: str = "auto",
    permutations: int = 9_999,
    rng: int | np.random.Generator | None = 0,
    metrics: Sequence[str] | None = None,
    policies: Mapping[str, FrtPolicy | str] | None = None,
    multiplicity: str = "holm",
    by: str | Sequence[str] | None = None,
    spend_bands: Sequence[float] | None = None,
    fdr: str | None = None,
    min_segment_customers: int | None = None,
) -> ExperimentResult | ArmsResult:
    """Analyse a trial: questions, CSAT, NRR and efficiency, treatment against control.

    With several slow arms (``treatment`` a list of arms, or a plan whose ``[arms]`` has more
    than two) every slow arm is compared with the control by the two-arm analysis of that pair,
    and the p-values are adjusted across arms and metrics (:mod:`frt_experiments.arms`).

    Args:
        customers, conversations, assignments: The canonical tables: pandas DataFrames, or
            Ibis tables of one engine (``con.table("conversations")``,
            ``con.read_parquet(...)``; DuckDB, PostgreSQL, Spark), on which the tables are
            checked, the conversations reduced to per-customer rows and the diagnostics
            computed in the engine (:mod:`frt_experiments.engine.analysis`); the numbers are
            those of the in-memory path.
        alpha: Level of the tests; intervals have coverage ``1 - alpha``.
        cuped: Adjust by CUPED with the pre-period covariates present (``pre_conversations``,
            ``pre_rated``, ``pre_satisfied``, ``pre_handle_seconds``).
        control: The control arm (default: the plan's first arm in ``[arms]``, else
            ``fast``).
        treatment: The slow arm (default: ``one_business_day``; with a plan whose ``[arms]``
            names two arms, its second), or a list of slow arms, each compared with the
            control (default with a plan of more than two arms: its slow arms). Changes are
            treatment against control.
        csat_margin: Relative CSAT non-inferiority margin (e.g. ``-0.02``); tested one-sided
            at ``alpha / 2`` for a two-sided plan (so the two-sided interval must clear it),
            at ``alpha`` otherwise -- the convention :mod:`frt_experiments.design` sizes with.
        nrr_margin: Relative NRR equivalence margin (e.g. ``0.01``); TOST at ``alpha`` per
            side (the ``1 - 2 alpha`` interval must lie within ``±margin``).
        plan: An :class:`~frt_experiments.plan.ExperimentPlan`: its ``alpha``,
            ``alternative``, margins and ``weights`` are used (explicit margins take
            precedence; explicit ``weights`` that disagree with the plan's are an error).
        window_end: End of the analysis window (default: the latest conversation).
        alternative: Alternative of the difference tests (``"two-sided"``, ``"greater"``,
            ``"less"``).
        diagnostics: Run :func:`frt_experiments.diagnostics.diagnose` beside the tests (its
            warnings are raised as warnings).
        validate: Validate the tables first (turn off only for already validated tables).
        inference: ``"auto"`` (default): per metric, normal theory where it holds
            (:func:`frt_experiments.stats.validity.normal_check`: enough contributing
            customers, per-customer values with variance and a small enough skewness),
            otherwise a randomization test with intervals at its critical values
            (:mod:`frt_experiments.stats.randomization`); ``"normal"``: Welch and the delta
            method throughout (an arm without variance is then an error); ``"randomization"``:
            randomization tests throughout. Each row's ``method`` says what was used and why.
        permutations: Random re-assignments of a randomization test (when the re-assignments
            are too many to enumerate: more than 100,000).
        rng: Seed of the re-assignments (default 0: the same data give the same p-values).
        metrics: The metrics to analyse (e.g. ``["questions", "csat"]``); each must be
            computable, else a DataError. Default: every metric the tables support; the others
            are listed in ``result.skipped`` with the reason (no ratings, no revenue, no handle
            time, a denominator or value of zero in an arm).
        calendar: The desk's business calendar, on which the diagnostics measure FRT in
            business hours and judge each arm's target (default: the simulator's desk,
            ``America/New_York`` Mon-Fri 09:00-17:00 with US holidays -- pass your own for
            real data).
        weights: The designed allocation, arm -> share of the customers (e.g.
            ``{"fast": 0.9, "one_business_day": 0.1}``; read a ledger's with
            :func:`frt_experiments.ledger.read_design_weights`): positive shares summing to 1,
            one for every arm in ``assignments``. The diagnostics test the sample ratio
            against it (default: the plan's, else equal arms).
        policies: Each compared arm's FRT policy for the diagnostics: arm ->
            :class:`~frt_experiments.policy.FrtPolicy` or a policy name (``"4h"``,
            ``"two_business_days"``, ... put on ``calendar``; see
            :func:`frt_experiments.diagnostics.arm_policies`). Default: the plan's ``[arms]``;
            else the control fast (4 business hours) and a slow arm the policy its name reads
            as (with two arms: ``one_business_day`` whatever its name, as before). Every
            policy must be on the diagnostics' calendar.
        multiplicity: With several slow arms, how p-values are adjusted across arms and
            metrics: ``"holm"`` (Holm over every arm and metric) or ``"dunnett"`` (Dunnett's
            many-to-one adjustment within each metric, step-down across metrics); see
            :mod:`frt_experiments.arms`. With one slow arm both are Holm across metrics.
        by: Pre-registered segment readouts (:mod:`frt_experiments.segments`): dimensions to
            read every metric by -- columns of ``customers`` (``"segment"``, ``"country"``),
            ``"spend_band"`` or ``"contact_tercile"`` -- a list or a comma-separated text
            (default: the plan's ``[segments] by``). The result's ``by_segment`` holds them
            (each slow arm's, with several).
        spend_bands: Cut points of ``revenue_start`` for ``spend_band`` (default: the plan's
            ``[segments] spend_bands``, else the terciles).
        fdr: How the segment readouts' p-values are adjusted across segments x metrics:
            ``"bh"`` (Benjamini-Hochberg, the default) or ``"holm"`` (default: the plan's).
        min_segment_customers: Customers a segment needs per arm to be analysed (default 10);
            one with fewer is reported as not analysed, with a
            :class:`~frt_experiments.errors.SegmentWarning`.

    Returns:
        :class:`ExperimentResult`; with several slow arms (a list of them), an
        :class:`~frt_experiments.arms.ArmsResult` holding one per arm.

    Raises:
        DataError: A table breaks a schema rule; an arm has no customers or fewer than two;
            a metric's denominator is zero in an arm (e.g. no ratings) or its value is zero.
        ValueError: A bad argument; ``weights`` not a sound allocation of the assigned arms,
            or disagreeing with the plan's; an arm without a policy or with a policy on another
            calendar; fewer than two arms.

    References:
        Deng, Knoblich and Lu (2018); Deng, Xu, Kohavi and Walker (2013); Welch (1947);
        Holm (1979); Schuirmann (1987). See the module docstring.
    """
    alpha, alternative, csat_margin, nrr_margin = _settings(alpha, alternative, csat_margin,
                                                            nrr_margin, plan)
    if multiplicity not in MULTIPLICITIES:
        raise ValueError(f"multiplicity must be one of {', '.join(MULTIPLICITIES)}, got "
                         f"{multiplicity!r}")
    control, treatments, several = _compared_arms(control, treatment, plan)
    segmenting = _segment_settings(by, spend_bands, fdr, min_segment_customers, plan)
    if policies is None and plan is not None and plan.arms is not None:
        policies = {a: spec for a, spec in plan.arms.items() if a in (control, *treatments)}
    if weights is not None:
        problems = allocation_problems(weights, "weights")
        if problems:
            raise ValueError(problems[0])
        if plan is not None and plan.weights is not None \
                and not same_allocation(weights, plan.weights):
            raise ValueError(f"weights={dict(weights)!r} disagree with the plan's weights "
                             f"{plan.weights!r}; give one of them")
    elif plan is not None:
        weights = plan.weights
    _check_flags(cuped=cuped, diagnostics=diagnostics, validate=validate)
    engine: Any = None  # the engine module when the tables live in an engine
    sent: Any = None
    if any(is_engine_table(t) for t in (customers, conversations, assignments)):
        from frt_experiments.engine import analysis as engine  # noqa: PLC0415 (Ibis is heavy)

        sent = engine.Tables(customers, conversations, assignments)
        customers, conversations, assignments = sent.tables
    else:
        for name, table in (("customers", customers), ("conversations", conversations),
                            ("assignments", assignments)):
            if not isinstance(table, pd.DataFrame):
                raise TypeError(f"{name} must be a pandas DataFrame or an Ibis table (the "
                                f"canonical {name} table), got {type(table).__name__}")
    try:
        if engine is not None:
            if validate:
                engine.validate(customers, conversations, assignments)
            per_arm = engine.arm_counts(assignments)
        else:
            if validate:
                customers = schema.validate_customers(customers)
                conversations = schema.validate_conversations(conversations)
                assignments = schema.validate_assignments(assignments)
            per_arm = assignments[schema.ARM].dropna().astype(str).value_counts()
        if several:
            design = _design_arms(per_arm, control, treatments, weights)
        else:
            design = _design(per_arm, control, treatments[0], weights)
        trial_counts = None  # the engine's per-customer counts for the response rates
        if engine is not None:
            rows, trial_counts = engine.rows_and_trial_counts(
                customers, conversations, assignments, window_end, trial_counts=diagnostics)
        else:
            rows = customer_rows(customers, conversations, assignments, window_end=window_end,
                                 validate=False)
            rows = rows.iloc[code_point_order(rows.index)]  # the engine's order: the same p-values
        results = [analyze_rows(rows, alpha=alpha, cuped=cuped, control=control, treatment=t,
                                csat_margin=csat_margin, nrr_margin=nrr_margin,
                                alternative=alternative, inference=inference,
                                permutations=permutations, rng=rng, metrics=metrics)
                   for t in treatments]
        if segmenting is not None:
            results = _with_segments(results, rows, customers, engine, segmenting, alpha=alpha,
                                     cuped=cuped, alternative=alternative, inference=inference,
                                     permutations=permutations, rng=rng, metrics=metrics)
        cal, pol = calendar, None
        if diagnostics and (several or policies is not None):
            cal, pol = arm_policies([control, *treatments], calendar, policies)
        diag: Any = None
        if diagnostics and several:
            if engine is not None:
                from frt_experiments.engine.diagnostics import (  # noqa: PLC0415
                    diagnose_arms as diagnose_arms_in_engine,
                )

                diag = diagnose_arms_in_engine(customers, conversations, assignments,
                                               control=control, treatments=treatments,
                                               calendar=cal, policies=pol, as_of=window_end,
                                               weights=design, trial_counts=trial_counts)
            else:
                diag = diagnose_arms(customers, conversations, assignments, control=control,
                                     treatments=treatments, calendar=cal, policies=pol,
                                     as_of=window_end, weights=design)
        elif diagnostics:
            if engine is not None:
                from frt_experiments.engine.diagnostics import (  # noqa: PLC0415
                    diagnose as diagnose_in_engine,
                )

                diag = diagnose_in_engine(customers, conversations, assignments, control=control,
                                          treatment=treatments[0], calendar=cal,
                                          policies=pol, as_of=window_end, weights=design,
                                          trial_counts=trial_counts)
            else:
                diag = _diagnose_tables(customers, conversations, assignments, control=control,
                                        treatment=treatments[0], calendar=cal, policies=pol,
                                        as_of=window_end, weights=design)
        end = (engine.window_end(conversations, window_end) if engine is not None
               else _end(conversations, window_end))
        if not several:
            return replace(results[0], diagnostics=diag, window_end=end, plan=plan)
        from frt_experiments.arms import combine  # noqa: PLC0415 (arms imports this module)

        return combine([replace(r, diagnostics=None if diag is None else diag.for_arm(t),
                                window_end=end, plan=plan)
                        for r, t in zip(results, treatments, strict=True)],
                       multiplicity=multiplicity, diagnostics=diag,
                       policies=None if pol is None else {a: p.spec for a, p in pol.items()})
    finally:
        if sent is not None:
            sent.close()


def _segment_settings(by: str | Sequence[str] | None, spend_bands: Sequence[float] | None,
                      fdr: str | None, min_customers: int | None, plan: ExperimentPlan | None
                      ) -> dict[str, Any] | None:
    """The segment readout's settings from the arguments and the plan's ``[segments]``, or
    ``None`` when no segment is asked for."""
    from frt_experiments.segments import (  # noqa: PLC0415
        FDR_METHODS,
        MIN_CUSTOMERS,
        _dimensions,
    )

    planned = plan.segments if plan is not None else None
    named = "by="
    if by is None and planned is not None:
        by, named = planned.get("by"), "the plan's [segments] by"
    if by is None:
        for name, value in (("spend_bands", spend_bands), ("fdr", fdr),
                            ("min_segment_customers", min_customers)):
            if value is not None:
                raise ValueError(f"{name} is a setting of the segment readouts: give by= "
                                 "(or a plan with [segments]) too")
        return None
    if spend_bands is not None and "spend_band" not in _dimensions(by):
        # given here for this readout (a plan's spend_bands serve whichever by is asked for)
        raise ValueError(f"spend_bands cuts the spend_band dimension, which {named} does not "
                         f"name ({by!r}): add spend_band to it, or leave spend_bands out")
    if spend_bands is None and planned is not None:
        spend_bands = planned.get("spend_bands")
    if fdr is None:
        fdr = planned.get("fdr", "bh") if planned is not None else "bh"
    if fdr not in FDR_METHODS:
        raise ValueError(f"fdr must be one of {', '.join(FDR_METHODS)}, got {fdr!r}")
    return {"by": by, "spend_bands": spend_bands, "fdr": fdr,
            "min_customers": MIN_CUSTOMERS if min_customers is None else min_customers}


def _with_segments(results: list[ExperimentResult], rows: pd.DataFrame, customers: Any,
                   engine: Any, settings: dict[str, Any], **analysis: Any
                   ) -> list[ExperimentResult]:
    """Each comparison's result with its segment readouts (:mod:`frt_experiments.segments`);
    with several slow arms, their p-values adjusted as one family (``adjust_together``)."""
    from frt_experiments.segments import (  # noqa: PLC0415 (only when segments are asked)
        DERIVED,
        _dimensions,
        adjust_together,
        analyze_segments,
        segment_labels,
    )

    dims = _dimensions(settings["by"])
    columns = [d for d in dims if d not in DERIVED]
    table = customers
    if engine is not None and columns:
        have = [str(c) for c in customers.columns]
        lacking = [c for c in columns if c not in have]
        if lacking:  # named as segment_labels names it for a frame
            table = pd.DataFrame(columns=have)
        else:
            table = customers.select(schema.CUSTOMER_ID, *columns).to_pyarrow().to_pandas()
    labels = segment_labels(rows, dims, customers=table if columns else None,
                            spend_bands=settings["spend_bands"])
    readouts = adjust_together([analyze_segments(
        rows, labels, control=r.metrics[0].control_arm, treatment=r.metrics[0].treatment_arm,
        fdr=settings["fdr"], min_customers=settings["min_customers"], **analysis)
        for r in results])
    return [replace(r, by_segment=seg) for r, seg in zip(results, readouts, strict=True)]


def _compared_arms(control: str | None, treatment: str | Sequence[str] | None,
                   plan: ExperimentPlan | None) -> tuple[str, list[str], bool]:
    """The control, the slow arms and whether the arms are several (a list of slow arms, or a
    plan with more than two arms), from the arguments and the plan's ``[arms]``."""
    planned = list(plan.arms) if plan is not None and plan.arms is not None else None
    if control is None:
        control = planned[0] if planned else schema.CONTROL_ARM
    elif planned and control != planned[0]:
        raise ValueError(f"control={control!r} disagrees with the plan's [arms], whose control "
                         f"(first arm) is {planned[0]!r}; give one of them")
    if not isinstance(control, str) or not control:
        raise ValueError(f"control must be an arm name, got {control!r}")
    if treatment is None:
        if planned:
            treatment = planned[1] if len(planned) == 2 else planned[1:]
        else:
            treatment = schema.TREATMENT_ARM
    if isinstance(treatment, str):
        if control == treatment:
            raise ValueError(f"control and treatment must differ, both are {control!r}")
        if planned and treatment not in planned:
            raise ValueError(f"treatment {treatment!r} is not one of the plan's [arms] "
                             f"({', '.join(planned)})")
        return control, [treatment], False
    if not isinstance(treatment, Sequence):
        raise TypeError(f"treatment must be an arm name or a list of them, got "
                        f"{type(treatment).__name__}")
    slow = list(treatment)
    bad = [t for t in slow if not isinstance(t, str) or not t]
    if bad:
        raise ValueError(f"treatment: arm names must be non-empty strings, got {bad[0]!r}")
    if not slow:
        raise ValueError(f"treatment: a trial needs at least two arms, control {control!r} "
                         "and one or more slow arms; got no slow arm")
    if control in slow:
        raise ValueError(f"treatment: arm {control!r} is the control; list the slow arms only")
    if len(set(slow)) != len(slow):
        twice = next(t for t in slow if slow.count(t) > 1)
        raise ValueError(f"treatment: arm {twice!r} is given twice")
    if planned:
        unknown = [t for t in slow if t not in planned]
        if unknown:
            raise ValueError(f"treatment: arm {unknown[0]!r} is not one of the plan's [arms] "
                             f"({', '.join(planned)})")
    return control, slow, True


def _design_arms(per_arm: pd.Series, control: str, treatments: Sequence[str],
                 weights: Mapping[str, float] | None) -> list[float] | None:
    """:func:`_design` for several slow arms: every compared arm present, other arms named,
    and the design weights in the order of :func:`frt_experiments.diagnostics.diagnose_arms`
    (the compared arms, then the others sorted)."""
    arms = [control, *treatments]
    for i, arm in enumerate(arms):
        if arm not in per_arm.index:
            have = ", ".join(str(a) for a in sorted(per_arm.index)) or "none"
            role = "control" if i == 0 else "treatment"
            raise DataError([Problem("assignments", schema.ARM, f"{role} arm {arm!r} has no "
                                     f"customers (arms present: {have})")])
    stray = per_arm[~per_arm.index.isin(arms)]
    if len(stray) and weights is None:
        shown = ", ".join(f"{a!r} ({n:,} customer{'' if n == 1 else 's'})"
                          for a, n in stray.head(5).items())
        several = len(stray) > 1
        warnings.warn(f"assignments: arm{'s' if several else ''} {shown} "
                      f"{'are' if several else 'is'} not among the compared arms "
                      f"({', '.join(arms)}): its customers are left out of the comparisons",
                      DataWarning, stacklevel=3)
    if weights is None:
        return None
    present = [str(a) for a in per_arm.index]
    problems = allocation_problems(weights, "weights", present)
    if problems:
        raise ValueError(problems[0])
    others = sorted(set(present) - set(arms))
    return [float(weights[a]) for a in (*arms, *others) if a in weights]


def _design(per_arm: pd.Series, control: str, treatment: str,
            weights: Mapping[str, float] | None) -> list[float] | None:
    """Check the assigned arms against the compared ones and the weights; the design weights
    of the arms in diagnose's order (``None`` without weights).

    ``per_arm``: assigned customers per arm name (missing arms left out), largest first.
    Arms outside the comparison are named, even without diagnostics: a typo ('Fast' for
    'fast') would otherwise drop its customers without a word (with weights, an arm without a
    share is an error).
    """
    stray = per_arm[~per_arm.index.isin([control, treatment])]
    if len(stray) and weights is None:
        def _shown(arms: pd.Series) -> str:
            return ", ".join(f"{a!r} ({n:,} customer{'' if n == 1 else 's'})"
                             for a, n in arms.head(5).items())

        near = stray[[str(a).strip().casefold() in {control.casefold(), treatment.casefold()}
                      for a in stray.index]]
        if len(near):
            raise DataError([Problem("assignments", schema.ARM, f"arm {_shown(near)} differs "
                                     f"from control {control!r} or treatment {treatment!r} "
                                     "only in case or spaces: correct the assignments")])
        if {control, treatment} <= set(per_arm.index):
            warnings.warn(f"assignments: arm {_shown(stray)} is neither control {control!r} nor "
                          f"treatment {treatment!r}: its customers are left out of the "
                          "comparison", DataWarning, stacklevel=3)
    if weights is None:
        return None
    arms = [str(a) for a in per_arm.index]
    problems = allocation_problems(weights, "weights", arms)
    if problems:
        raise ValueError(problems[0])
    others = sorted(set(arms) - {control, treatment})  # diagnose's order of the arms
    return [float(weights[a]) for a in (control, treatment, *others) if a in weights]


#: Columns :func:`analyze_rows` reads (``exposure_days`` and pre-period covariates optional;
#: of the others only ``arm`` and ``conversations`` are required, see :data:`METRIC_COLUMNS`).
ROW_COLUMNS = (schema.ARM, CONVERSATIONS, RATED, SATISFIED, HANDLE_HOURS, schema.REVENUE_START,
               schema.REVENUE_END)
#: The per-customer columns each metric needs.
METRIC_COLUMNS = {
    "questions": (CONVERSATIONS,),
    "csat": (RATED, SATISFIED),
    "nrr": (schema.REVENUE_START, schema.REVENUE_END),
    "efficiency": (CONVERSATIONS, HANDLE_HOURS),
}
#: What a metric lacks when its columns are absent (the reason it is not analysed).
_LACKING = {"csat": "no ratings (no csat column)", "nrr": "no revenue (no revenue_start and "
            "revenue_end in customers)", "efficiency": "no handle time (no handle_seconds "
            "column)"}


def analyze_rows(
    rows: pd.DataFrame,
    *,
    alpha: float = 0.05,
    cuped: bool = True,
    control: str = schema.CONTROL_ARM,
    treatment: str = schema.TREATMENT_ARM,
    csat_margin: float | None = None,
    nrr_margin: float | None = None,
    plan: ExperimentPlan | None = None,
    alternative: str = "two-sided",
    inference: str = "auto",
    permutations: int = 9_999,
    strata: str | None = None,
    rng: int | np.random.Generator | None = 0,
    metrics: Sequence[str] | None = None,
) -> ExperimentResult:
    """Analyse per-customer rows (:func:`frt_experiments.metrics.customer_rows`) directly.

    The statistical half of :func:`analyze`, for rows built elsewhere (a warehouse query, a
    simulation): columns ``arm``, ``conversations``, ``rated``, ``satisfied``,
    ``handle_hours``, ``revenue_start``, ``revenue_end``, optionally ``exposure_days`` and the
    pre-period covariates. Arguments as for :func:`analyze` (``strata``: a column of ``rows``
    holding the design's strata, within which the randomization test re-assigns); no
    diagnostics.

    References:
        Deng, Knoblich and Lu (2018); Deng, Xu, Kohavi and Walker (2013); Welch (1947);
        Holm (1979); Schuirmann (1987); Fieller (1954); Chung and Romano (2013).
    """
    alpha, alternative, csat_margin, nrr_margin = _settings(alpha, alternative, csat_margin,
                                                            nrr_margin, plan)
    _check_flags(cuped=cuped)
    if inference not in INFERENCES:
        raise ValueError(f"inference must be one of {', '.join(INFERENCES)}, got {inference!r}")
    if isinstance(permutations, bool) or not isinstance(permutations, int | np.integer) \
            or permutations < 99:
        raise ValueError(f"permutations must be an integer >= 99, got {permutations!r}")
    if strata is not None and strata not in rows.columns:
        raise ValueError(f"strata: rows have no column {strata!r}")
    if not isinstance(rows, pd.DataFrame):
        raise TypeError("rows must be a pandas DataFrame of per-customer rows (see "
                        f"frt_experiments.metrics.customer_rows), got {type(rows).__name__}")
    if control == treatment:
        raise ValueError(f"control and treatment must differ, both are {control!r}")
    wanted = _wanted_metrics(metrics)
    missing = [c for c in (schema.ARM, CONVERSATIONS) if c not in rows.columns]
    if missing:
        raise ValueError(f"rows: missing column(s) {', '.join(missing)} (see "
                         "frt_experiments.metrics.customer_rows)")
    skipped: dict[str, str] = {}
    for metric in list(wanted):
        lack = [c for c in METRIC_COLUMNS[metric] if c not in rows.columns]
        if lack:
            if metrics is not None:
                raise DataError([Problem(f"metric {metric}", None, f"{_LACKING[metric]}: the "
                                         f"rows have no {', '.join(lack)}")])
            skipped[metric] = _LACKING[metric]
            wanted.remove(metric)
    if "csat" in wanted and not (rows[RATED].to_numpy(dtype=float) > 0).any():
        if metrics is not None:
            raise DataError([Problem("metric csat", None, "no ratings: no conversation of an "
                                     "assigned customer was rated")])
        skipped["csat"] = "no ratings (no conversation was rated)"
        wanted.remove("csat")
    has_exposure = EXPOSURE_DAYS in rows.columns
    covariates = [c for c in schema.PRE_COVARIATES if c in rows.columns] if cuped else []
    columns = [c for c in (CONVERSATIONS, RATED, SATISFIED, HANDLE_HOURS, schema.REVENUE_START,
                           schema.REVENUE_END) if c in rows.columns]
    columns += [*([EXPOSURE_DAYS] if has_exposure else []), *covariates]
    _check_rows(rows, columns)
    st = arm_statistics(rows, columns=columns, arms=[control, treatment])
    for name, arm in (("control", control), ("treatment", treatment)):
        n_arm = st[arm].n
        if n_arm < 2:
            have = sorted(str(a) for a in rows[schema.ARM].dropna().unique())
            raise DataError([Problem("assignments", schema.ARM,
                                     f"{name} arm {arm!r} has {n_arm} customer"
                                     f"{'' if n_arm == 1 else 's'}; at least 2 are needed "
                                     f"(arms present: {', '.join(have) or 'none'})")])
    definitions = dict(_DEFINITIONS)
    per_30_days = False
    if has_exposure:
        i = st[control].index(EXPOSURE_DAYS)
        means = [st[a].mean[i] for a in (control, treatment)]
        spread = max(st[a].cross[i, i] for a in (control, treatment))
        scale = max(abs(m) for m in means)
        per_30_days = bool(scale > 0 and (spread > 1e-18 * scale**2 * len(rows)
                                          or abs(means[0] - means[1]) > 1e-9 * scale))
    if per_30_days:
        definitions["questions"] = (CONVERSATIONS, EXPOSURE_DAYS, "exposure")
    methods = {
        "questions": ("Welch t on conversations per 30 days of exposure (delta method)"
                      if per_30_days else "Welch t on conversations per customer"),
        "csat": "Welch t, delta method over customers (satisfied / rated)",
        "nrr": "Welch t, delta method over customers (revenue end / start)",
        "efficiency": "Welch t, delta method over customers (conversations / handle hours)",
    }
    in_trial = rows[schema.ARM].isin([control, treatment]).to_numpy(bool)
    sub = rows if in_trial.all() else rows.loc[in_trial]
    treated = (sub[schema.ARM] == treatment).to_numpy(bool)
    values = np.asfortranarray(sub[columns].to_numpy(dtype=float))  # column slices contiguous
    labels = None if strata is None else sub[strata].astype(str).to_numpy()
    cache: list[Reassignments] = []

    def reassigned() -> Reassignments:  # drawn once, shared by the metrics that need it
        if not cache:
            cache.append(reassignments(treated, strata=labels, permutations=permutations,
                                       rng=rng))
        return cache[0]

    comparisons: dict[str, _Comparison] = {}
    for metric in wanted:
        try:
            comparisons[metric] = _compare(
                metric, st[control], st[treatment], definitions[metric], covariates,
                values=values, columns=columns, treated=treated, alpha=alpha,
                alternative=alternative, method=methods[metric], inference=inference,
                reassigned=reassigned)
        except DataError as exc:  # the data do not define the metric (no ratings in an arm)
            if metrics is not None:
                raise
            skipped[metric] = "; ".join(p.rule for p in exc.problems)
    if not comparisons:
        raise DataError([Problem("metrics", None, "none can be analysed: " + "; ".join(
            f"{m}: {why}" for m, why in skipped.items()))])
    results = [comparisons[m].result for m in METRICS if m in comparisons]
    margin_tests = _margin_tests(comparisons, alpha=alpha, alternative=alternative,
                                 csat_margin=csat_margin if "csat" in comparisons else None,
                                 nrr_margin=nrr_margin if "nrr" in comparisons else None)
    return ExperimentResult(tuple(results), alpha, alternative, bool(cuped),
                            tuple(float(p) for p in holm([r.p_value for r in results])),
                            tuple(margin_tests), None, None, plan, inference,
                            tuple((m, skipped[m]) for m in METRICS if m in skipped))


def _wanted_metrics(metrics: Sequence[str] | None) -> list[str]:
    if metrics is None:
        return list(METRICS)
    if isinstance(metrics, str):
        metrics = [m.strip() for m in metrics.split(",")]
    chosen = list(metrics)
    unknown = [m for m in chosen if m not in METRICS]
    if unknown or not chosen or len(set(chosen)) != len(chosen):
        raise ValueError(f"metrics must name distinct metrics among {', '.join(METRICS)}, got "
                         f"{list(metrics)!r}")
    return [m for m in METRICS if m in chosen]


def _check_flags(**flags: object) -> None:
    for name, value in flags.items():
        if not isinstance(value, bool | np.bool_):
            raise TypeError(f"{name} must be True or False, got {value!r}")


def _check_rows(rows: pd.DataFrame, columns: list[str]) -> None:
    """Per-customer sums must be numbers, finite and non-negative (DataError otherwise).

    Cheap when the rows are good (each column's min and max); offending rows are located
    only for a column that fails.
    """
    numeric = [c for c in columns if pd.api.types.is_numeric_dtype(rows[c])]
    problems = [Problem("rows", c, f"must hold numbers (per-customer sums), not {rows[c].dtype}")
                for c in columns if c not in numeric]
    suspect = []
    for col in numeric:  # column by column: a frame of the columns would copy them first
        v = rows[col].to_numpy(dtype=float, na_value=np.nan)
        lo, hi = (v.min(), v.max()) if v.size else (0.0, 0.0)  # a NaN propagates to both
        if not (np.isfinite(lo) and np.isfinite(hi) and lo >= 0):
            suspect.append(col)
    for col in suspect:
        v = rows[col].to_numpy(dtype=float, na_value=np.nan)
        where = np.flatnonzero(~(np.isfinite(v) & (v >= 0)))
        problems.append(Problem("rows", str(col), "missing, infinite or negative (per-customer "
                                "sums are finite and >= 0)", int(where.size),
                                tuple(int(i) for i in where[:5])))
    if problems:
        raise DataError(problems)


def _end(conversations: pd.DataFrame, window_end: object) -> pd.Timestamp | None:
    if window_end is not None:
        return pd.Timestamp(window_end).tz_convert("UTC")
    created = conversations.get(schema.CREATED_AT)
    if created is None or len(created) == 0:
        return None
    ts = pd.to_datetime(created, utc=True, errors="coerce").max()
    return None if pd.isna(ts) else pd.Timestamp(ts)
