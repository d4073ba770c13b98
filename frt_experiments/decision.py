"""The success criterion of the slower-first-response experiment, and its cost-benefit verdict.

The published criterion (DESIGN section 1): the longer first response time is a success if it
has *no significant effect on CSAT*, **or** if *whatever retention it costs is outweighed by the
savings* from slower support headcount growth. :func:`decide` applies it to an analysis result
(``frt_experiments.analyze(...)`` or the ``results.csv`` of ``frt analyze``):

1. **CSAT.** Without a margin: CSAT passes unless it is significantly worse (the ``csat`` row is
   ``significant`` with a negative difference). With a relative non-inferiority margin ``m < 0``
   (from the argument, the experiment plan, or the margin the analysis result was tested with):
   CSAT passes when the lower confidence bound of its relative change lies above the margin,
   ``rel_ci_low > m`` -- the confidence-interval form of a non-inferiority test (Wellek 2010,
   ch. 2; EMA 2000; FDA 2016). With 95% two-sided intervals this is a one-sided test at 2.5%.
2. **Revenue.** The NRR relative change ``r`` (slow arm / fast arm - 1) applied to the annual
   recurring revenue ``R`` of the customers the policy would cover gives the annual revenue at risk
   ``-r R`` (positive: a loss). It is computed at the estimate and at both confidence bounds; the
   pessimistic one, ``-rel_ci_low R``, is compared with the annual staffing savings ``S`` by
   default (``basis="estimate"`` compares the point estimate). Revenue passes when the revenue at
   risk is smaller than ``S``. The break-even NRR drop is ``S / R``: the relative NRR loss at which
   the revenue lost equals the savings.

The criterion judges one slower policy against the fast one: the result of a trial with several
slow arms is refused with a message; decide each arm's comparison (``result.by_arm[arm]``).

The verdict is ``"success"`` when CSAT passes or revenue passes, ``"failure"`` otherwise, and
``"inconclusive"`` when the analysis result carries diagnostics that void the comparison: a
sample ratio mismatch or a treatment that was not delivered (Kohavi, Tang and Xu 2020, ch. 21).
The reason then still says what the criterion would read were the trial sound.

Assumptions worth stating to a reader: the relative NRR change measured over the analysis window
is taken as the annual relative revenue change (annualise it first if the window's churn would
compound); ``R`` is the revenue as it would stand under the fast arm (the analysis window's
retained revenue of the covered customers), so ``-r R`` is the revenue the slower policy loses.

References:
    Wellek, S. (2010). *Testing Statistical Hypotheses of Equivalence and Noninferiority*, 2nd ed.
    Chapman & Hall/CRC, ch. 2 (non-inferiority by confidence bounds).
    European Medicines Agency (2000). *Points to consider on switching between superiority and
    non-inferiority* (CPMP/EWP/482/99).
    U.S. Food and Drug Administration (2016). *Non-Inferiority Clinical Trials to Establish
    Effectiveness: Guidance for Industry*, section IV (the two-sided 95% interval's lower bound).
    Kohavi, R., Tang, D. and Xu, Y. (2020). *Trustworthy Online Controlled Experiments*.
    Cambridge University Press, ch. 7 (overall evaluation criteria that trade a metric's loss
    against a business gain).
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import pandas as pd

from frt_experiments._limits import load_json_text
from frt_experiments._markdown import md_cell, md_text
from frt_experiments.errors import DataError, Problem

__all__ = ["Decision", "decide"]

#: The sidecar beside ``results.csv`` that carries the analysis' trust flags: ``frt analyze``
#: and ``frt demo`` write it with ``results.csv``; :func:`decide` (given the path of
#: results.csv), ``frt decide`` and ``frt staffing plan --results`` read it.
TRUST_FILE = "trust.json"

#: Columns of the analysis result the decision reads.
REQUIRED_COLUMNS = ("metric", "control_arm", "treatment_arm", "diff", "rel_diff", "rel_ci_low",
                    "rel_ci_high", "p_value", "significant")
#: Metrics the criterion needs.
REQUIRED_METRICS = ("csat", "nrr")
_BASES = ("ci_bound", "estimate")
_SOURCE = "result"


def _same(a: Any, b: Any) -> bool:
    """Equal, or both NaN floats."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


@dataclass(frozen=True, repr=False)
class Decision:
    """The verdict of the published success criterion, with the figures behind it.

    Attributes:
        success: ``True`` when CSAT passes or revenue passes (and the trial can be trusted).
        verdict: ``"success"`` or ``"failure"``; ``"inconclusive"`` when the result's own
            diagnostics found the trial cannot support a decision (see ``trust_problems``).
        reason: One or two plain-language sentences explaining the verdict.
        control_arm, treatment_arm: The arms compared (treatment: the slower policy).
        csat_rule: ``"not significantly worse"`` or ``"non-inferiority"``.
        csat_margin: Relative non-inferiority margin used, or ``None``.
        csat_rel_diff, csat_rel_ci_low, csat_rel_ci_high, csat_p_value: CSAT's relative change,
            its confidence interval and p-value, from the result.
        csat_significantly_worse: The result marks CSAT significant with a negative difference.
        csat_ok: The CSAT part of the criterion holds.
        nrr_rel_diff, nrr_rel_ci_low, nrr_rel_ci_high: NRR's relative change and interval.
        low_spend_revenue_per_year: Annual recurring revenue ``R`` the policy would cover.
        annual_staffing_savings: Annual staffing savings ``S`` of the slower policy.
        revenue_at_risk: ``-nrr_rel_diff * R`` (positive: revenue lost per year).
        revenue_at_risk_pessimistic: ``-nrr_rel_ci_low * R``.
        revenue_at_risk_optimistic: ``-nrr_rel_ci_high * R``.
        break_even_nrr_drop: ``S / R``: the relative NRR drop at which revenue lost equals
            the savings.
        basis: ``"ci_bound"`` (the pessimistic bound is compared) or ``"estimate"``.
        revenue_ok: The revenue at risk on ``basis`` is smaller than ``S``.
        net_benefit: ``S`` minus the revenue at risk on ``basis``.
        trust_problems: What the result's diagnostics found that voids the comparison: a
            sample ratio mismatch, or a treatment not delivered (the arms' first responses did
            not differ as designed). Empty when none were found or none were run.
        trust_note: Why the trial's soundness could not be checked (a table or a results.csv
            without its ``trust.json``, an analysis without diagnostics), else ``""``. Not
            compared: decisions on the same figures are equal whatever their source.
        not_evaluated: ``"csat"`` and/or ``"nrr"`` when that metric was not analysed, so its
            clause could not be evaluated (its fields are NaN).
        rollout_policy: With a rollout prediction (:func:`frt_experiments.predict_rollout`):
            the rolled-out policy and the headcounts it was predicted at, else ``""``.
        rollout_csat_rel_diff, rollout_csat_rel_ci_low, rollout_csat_rel_ci_high,
        rollout_nrr_rel_diff, rollout_nrr_rel_ci_low, rollout_nrr_rel_ci_high: The predicted
            relative change of the low-spend customers' CSAT and NRR in the rollout against
            the status quo, with its interval (NaN without a prediction). Shown beside the
            trial's contrast; the verdict stays the published criterion's, on the contrast.
        rollout_revenue_at_risk: ``-rollout_nrr_rel_diff * R``.
        nrr_significantly_worse: The result marks NRR significant with a negative difference
            (a caution a reader sees beside a verdict the revenue clause may carry).

    The clause that carried the verdict is :attr:`carried_by`.
    """

    success: bool
    verdict: str
    reason: str
    control_arm: str
    treatment_arm: str
    csat_rule: str
    csat_margin: float | None
    csat_rel_diff: float
    csat_rel_ci_low: float
    csat_rel_ci_high: float
    csat_p_value: float
    csat_significantly_worse: bool
    csat_ok: bool
    nrr_rel_diff: float
    nrr_rel_ci_low: float
    nrr_rel_ci_high: float
    low_spend_revenue_per_year: float
    annual_staffing_savings: float
    revenue_at_risk: float
    revenue_at_risk_pessimistic: float
    revenue_at_risk_optimistic: float
    break_even_nrr_drop: float
    basis: str
    revenue_ok: bool
    net_benefit: float
    trust_problems: tuple[str, ...] = ()
    trust_note: str = field(default="", compare=False)
    not_evaluated: tuple[str, ...] = ()
    rollout_policy: str = ""
    rollout_csat_rel_diff: float = math.nan
    rollout_csat_rel_ci_low: float = math.nan
    rollout_csat_rel_ci_high: float = math.nan
    rollout_nrr_rel_diff: float = math.nan
    rollout_nrr_rel_ci_low: float = math.nan
    rollout_nrr_rel_ci_high: float = math.nan
    rollout_revenue_at_risk: float = math.nan
    nrr_significantly_worse: bool = False

    @property
    def carried_by(self) -> str:
        """Which clause of the criterion passed: ``"both"``, ``"csat"`` (CSAT within its margin,
        or not significantly worse, alone), ``"revenue"`` (the revenue at risk below the
        savings, alone) or ``"neither"``. Read it with :attr:`verdict`: an ``inconclusive``
        verdict says the trial cannot support what the clauses read."""
        if self.csat_ok and self.revenue_ok:
            return "both"
        return "csat" if self.csat_ok else "revenue" if self.revenue_ok else "neither"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_pandas(self) -> pd.Series:
        """Every field, one entry each."""
        return pd.Series(self.to_dict(), dtype=object, name="decision")

    def __eq__(self, other: object) -> bool:
        """Field by field, a NaN equal to a NaN (a figure that is absent on both sides): on
        Python 3.13 dataclasses compare fields with ``==``, where NaN != NaN."""
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(_same(getattr(self, f.name), getattr(other, f.name))
                   for f in fields(self) if f.compare)

    def __hash__(self) -> int:
        return hash(tuple("nan" if isinstance(v, float) and math.isnan(v) else v
                          for v in (getattr(self, f.name) for f in fields(self) if f.compare)))

    def _rows(self) -> list[tuple[str, str]]:
        margin = "" if self.csat_margin is None else f" (margin {self.csat_margin:+.2%})"
        at_risk = "pessimistic bound" if self.basis == "ci_bound" else "estimate"
        return [
            ("CSAT relative change", f"{self.csat_rel_diff:+.2%} (CI {self.csat_rel_ci_low:+.2%} "
                                     f"to {self.csat_rel_ci_high:+.2%}, p = "
                                     f"{self.csat_p_value:.3g})"),
            (f"CSAT {self.csat_rule}{margin}", _yes(self.csat_ok)),
            ("NRR relative change", f"{self.nrr_rel_diff:+.2%} (CI {self.nrr_rel_ci_low:+.2%} "
                                    f"to {self.nrr_rel_ci_high:+.2%})"),
            ("Low-spend revenue per year", _money(self.low_spend_revenue_per_year)),
            ("Revenue at risk per year (estimate)", _money(self.revenue_at_risk)),
            ("Revenue at risk per year (pessimistic bound)",
             _money(self.revenue_at_risk_pessimistic)),
            ("Annual staffing savings", _money(self.annual_staffing_savings)),
            ("Break-even NRR drop", f"{self.break_even_nrr_drop:.2%}"),
            (f"Revenue at risk ({at_risk}) below savings", _yes(self.revenue_ok)),
            ("Net benefit per year", _money(self.net_benefit)),
            *self._rollout_rows(),
            ("Verdict", self.verdict),
        ]

    def _rollout_rows(self) -> list[tuple[str, str]]:
        """The rollout's predicted changes beside the trial's contrast (with a prediction)."""
        if not self.rollout_policy:
            return []
        rows = [("Rollout predicted", self.rollout_policy)]
        for name, (rel, low, high) in (
                ("CSAT", (self.rollout_csat_rel_diff, self.rollout_csat_rel_ci_low,
                          self.rollout_csat_rel_ci_high)),
                ("NRR", (self.rollout_nrr_rel_diff, self.rollout_nrr_rel_ci_low,
                         self.rollout_nrr_rel_ci_high))):
            if math.isfinite(rel):
                rows.append((f"{name} relative change, rollout (predicted)",
                             f"{rel:+.2%} (CI {low:+.2%} to {high:+.2%})"))
        if math.isfinite(self.rollout_revenue_at_risk):
            rows.append(("Revenue at risk per year, rollout (predicted)",
                         _money(self.rollout_revenue_at_risk)))
        return rows

    def summary(self) -> str:
        """The verdict, its reason and the figures behind it, as plain text."""
        width = max(len(k) for k, _ in self._rows())
        lines = [f"Decision: {self.verdict} -- {self.reason}"]
        if self.trust_note:
            lines.append(f"Note: {self.trust_note}.")
        lines += [f"  {k:<{width}}  {v}" for k, v in self._rows()]
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """The verdict, its reason and a two-column Markdown table of the figures."""
        lines = [f"**Decision: {self.verdict}.** {md_text(self.reason)}", ""]
        if self.trust_note:
            lines += [f"Note: {md_text(self.trust_note)}.", ""]
        lines += ["| | |", "|---|---|"]
        lines += [f"| {md_cell(k)} | {md_cell(v)} |" for k, v in self._rows()]
        return "\n".join(lines) + "\n"

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
                       f"<td>{html.escape(v)}</td></tr>" for k, v in self._rows())
        return (f"<div><h4>Decision: {html.escape(self.verdict)}</h4>"
                f"<p>{html.escape(self.reason)}</p><table>{rows}</table></div>")

    def __repr__(self) -> str:
        return (f"Decision(verdict={self.verdict!r}, csat_ok={self.csat_ok}, "
                f"revenue_ok={self.revenue_ok}, revenue_at_risk_pessimistic="
                f"{self.revenue_at_risk_pessimistic:.6g}, annual_staffing_savings="
                f"{self.annual_staffing_savings:.6g}, break_even_nrr_drop="
                f"{self.break_even_nrr_drop:.4g})")


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _money(x: float) -> str:
    return f"-{abs(x):,.0f}" if x < 0 else f"{x:,.0f}"


def _number(name: str, value: Any, *, strictly_positive: bool) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    ok = math.isfinite(v) and (v > 0 if strictly_positive else True)
    if not ok or isinstance(value, bool):
        rule = "a positive finite amount" if strictly_positive else "a finite amount"
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    return v


def _as_frame(result: Any) -> pd.DataFrame:
    if isinstance(result, str | os.PathLike):
        path = Path(result)
        if not path.is_file():
            raise ValueError(f"result: {path} is not a file (give results.csv of frt analyze, "
                             "a DataFrame or an analysis result)")
        frame = pd.read_csv(path)
    elif isinstance(result, pd.DataFrame):
        frame = result
    elif hasattr(result, "to_pandas"):
        frame = result.to_pandas()
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"result.to_pandas() must return a DataFrame, got "
                            f"{type(frame).__name__}")
    else:
        raise TypeError(f"result must be an analysis result with to_pandas() or a DataFrame "
                        f"of results.csv, got {type(result).__name__}")
    if "metric" not in frame.columns and frame.index.name == "metric":
        frame = frame.reset_index()
    return frame


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    return {"true": True, "false": False, "1": True, "0": False}.get(text)


def _metric_rows(frame: pd.DataFrame) -> dict[str, pd.Series]:
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError([Problem(_SOURCE, None, f"missing column(s) {', '.join(missing)}; the "
                                 f"decision needs {', '.join(REQUIRED_COLUMNS)}")])
    metrics = frame["metric"].astype(str)
    problems = []
    rows: dict[str, pd.Series] = {}
    for name in REQUIRED_METRICS:
        positions = [int(i) for i in (metrics == name).to_numpy().nonzero()[0]]
        if not positions:
            continue  # not analysed: its clause cannot be evaluated (decide() says so)
        if len(positions) > 1:
            problems.append(Problem(_SOURCE, "metric", f"repeated metric {name!r}",
                                    count=len(positions), rows=tuple(positions)))
        else:
            rows[name] = frame.iloc[positions[0]]
    if not rows and not problems:
        problems.append(Problem(_SOURCE, "metric", "has no row for metric 'csat' nor 'nrr' "
                                "(the decision needs at least one of "
                                f"{', '.join(REQUIRED_METRICS)})"))
    if problems:
        raise DataError(problems)
    for name, row in rows.items():
        for col in ("diff", "rel_diff", "rel_ci_low", "rel_ci_high", "p_value"):
            value = pd.to_numeric(pd.Series([row[col]]), errors="coerce").iloc[0]
            # a one-sided 'greater' analysis has an open upper bound, rel_ci_high = inf
            open_upper = col == "rel_ci_high" and value == math.inf
            if pd.isna(value) or not (math.isfinite(float(value)) or open_upper):
                shown = row[col] if isinstance(row[col], str) else float(value)
                problems.append(Problem(_SOURCE, col, f"metric {name!r} has a missing, "
                                        f"infinite or non-numeric value {shown!r}"))
        if _boolean(row["significant"]) is None:
            problems.append(Problem(_SOURCE, "significant", f"metric {name!r} has "
                                    f"{row['significant']!r}, not true or false"))
        low, high = pd.to_numeric(pd.Series([row["rel_ci_low"], row["rel_ci_high"]]),
                                  errors="coerce")
        if pd.notna(low) and pd.notna(high) and low > high:
            problems.append(Problem(_SOURCE, "rel_ci_low", f"metric {name!r} has rel_ci_low "
                                    f"{low} above rel_ci_high {high}"))
    if problems:
        raise DataError(problems)
    return rows


def _analysis_csat_margin(result: Any) -> float | None:
    """The relative CSAT non-inferiority margin an analysis result was tested against, if any
    (``ExperimentResult.margin_tests``; a results.csv table carries none)."""
    if isinstance(result, pd.DataFrame):
        return None
    for metric, test in getattr(result, "margin_tests", None) or ():
        if (metric == "csat" and getattr(test, "test", None) == "non-inferiority"
                and getattr(test, "scale", "relative") == "relative"):
            return float(test.margin)
    return None


def decide(result: Any, *, low_spend_revenue_per_year: float, annual_staffing_savings: float,
           csat_margin: float | None = None, plan: Any = None,
           basis: str = "ci_bound", rollout: Any = None) -> Decision:
    """Apply the published success criterion to an analysis result.

    Success if CSAT is not significantly worse (or, with a margin, is non-inferior), **or** if
    the annual revenue at risk -- NRR's relative change applied to the low-spend revenue base --
    is smaller than the annual staffing savings. See the module docstring for the formulas.

    Args:
        result: An analysis result with ``to_pandas()`` (``frt_experiments.analyze``), a
            DataFrame with the columns of ``results.csv``, or the path of that file; it uses
            the ``csat`` and ``nrr`` rows. A metric that was not analysed (no row) leaves its
            clause unevaluated (``not_evaluated``): the verdict is a success when the other
            clause passes, else ``inconclusive``.
            Relative changes are treatment (the slower arm) / control - 1. One-sided analyses
            are read as they are: ``"greater"`` leaves ``rel_ci_high`` infinite (its one-sided
            lower bounds are used; CSAT then needs a margin), ``"less"`` puts ``rel_ci_low`` at
            -100%, so NRR's pessimistic revenue at risk is the whole base.
        low_spend_revenue_per_year: Annual recurring revenue ``R`` of the customers the slower
            policy would cover (> 0).
        annual_staffing_savings: Annual savings ``S`` from the slower policy's headcount, e.g.
            from the staffing plan. Negative when the rollout needs more agents than everyone
            fast: revenue then passes only if NRR rose by more than ``-S / R``.
        csat_margin: Relative non-inferiority margin for CSAT, in (-1, 0] (e.g. ``-0.02``). When
            ``None``, ``plan.csat_margin`` is used if a plan is given, else the margin of the
            result's own CSAT non-inferiority test (an ``ExperimentResult`` analysed with a
            ``csat_margin`` or a plan); without any, CSAT passes unless it is significantly
            worse.
        plan: Optional :class:`frt_experiments.ExperimentPlan` supplying ``csat_margin``.
        basis: ``"ci_bound"`` (default: compare the revenue at risk at NRR's pessimistic
            confidence bound) or ``"estimate"`` (at the point estimate).
        rollout: Optional :class:`~frt_experiments.rollout.RolloutPrediction`
            (:func:`frt_experiments.predict_rollout`): the rollout's predicted relative change
            of CSAT and NRR and its revenue at risk are shown beside the trial's contrast. The
            verdict is unchanged (the published criterion reads the trial's contrast); the
            prediction says how far the rollout may differ from it.

    Returns:
        :class:`Decision`.

    Raises:
        DataError: If columns or the ``csat``/``nrr`` rows are missing, repeated or not numbers.
        ValueError: The result holds several slow arms (an
            :class:`~frt_experiments.arms.ArmsResult` or its results.csv): decide one arm at a
            time, ``decide(result.by_arm[arm], ...)``. If an amount, the margin or ``basis`` is
            invalid, or if CSAT was analysed
            one-sided for an improvement (``alternative="greater"``: ``rel_ci_high`` is
            infinite and ``significant`` cannot flag a worse CSAT) and no margin is given.

    References:
        Wellek (2010), ch. 2; FDA (2016), section IV; Kohavi, Tang and Xu (2020), ch. 7.

    Examples:
        >>> import pandas as pd
        >>> table = pd.DataFrame({
        ...     "metric": ["csat", "nrr"], "control_arm": "fast",
        ...     "treatment_arm": "one_business_day", "diff": [-0.011, -0.002],
        ...     "rel_diff": [-0.0125, -0.002], "rel_ci_low": [-0.03, -0.01],
        ...     "rel_ci_high": [0.005, 0.006], "p_value": [0.16, 0.6],
        ...     "significant": [False, False]})
        >>> d = decide(table, low_spend_revenue_per_year=2_000_000,
        ...            annual_staffing_savings=120_000)
        >>> d.verdict, d.revenue_at_risk_pessimistic, d.break_even_nrr_drop
        ('success', 20000.0, 0.06)
    """
    revenue = _number("low_spend_revenue_per_year", low_spend_revenue_per_year,
                      strictly_positive=True)
    savings = _number("annual_staffing_savings", annual_staffing_savings,
                      strictly_positive=False)
    if basis not in _BASES:
        raise ValueError(f"basis must be one of {', '.join(_BASES)}, got {basis!r}")
    if csat_margin is None and plan is not None:
        csat_margin = getattr(plan, "csat_margin", None)
    if csat_margin is None:
        # an analysis run with a CSAT margin (its own or its plan's) is judged by that margin,
        # not silently by "not significantly worse"
        csat_margin = _analysis_csat_margin(result)
    if csat_margin is not None:
        m = float(csat_margin) if isinstance(csat_margin, int | float) else math.nan
        if isinstance(csat_margin, bool) or not (-1.0 < m <= 0.0):
            raise ValueError(f"csat_margin must be a relative margin in (-1, 0] (e.g. -0.02), "
                             f"got {csat_margin!r}")
        csat_margin = m

    frame = _as_frame(result)
    _one_slow_arm(result, frame)
    rows = _metric_rows(frame)
    skipped = dict(getattr(result, "skipped", ()) or ())
    missing = {name: skipped.get(name, "not in the results") for name in REQUIRED_METRICS
               if name not in rows}
    nan_row = pd.Series({"rel_diff": math.nan, "rel_ci_low": math.nan, "rel_ci_high": math.nan,
                         "p_value": math.nan, "diff": math.nan, "significant": False})
    csat, nrr = rows.get("csat", nan_row), rows.get("nrr", nan_row)
    arms_row = rows["csat"] if "csat" in rows else rows["nrr"]
    c_rel, c_low, c_high, c_p, c_diff = (float(csat[k]) for k in
                                         ("rel_diff", "rel_ci_low", "rel_ci_high", "p_value",
                                          "diff"))
    n_rel, n_low, n_high = (float(nrr[k]) for k in ("rel_diff", "rel_ci_low", "rel_ci_high"))
    worse = bool(_boolean(csat["significant"])) and c_diff < 0
    nrr_worse = bool(_boolean(nrr["significant"])) and float(nrr["diff"]) < 0
    if "csat" in rows and csat_margin is None and math.isinf(c_high):
        raise ValueError(
            "csat_margin is needed: the result tests CSAT one-sided for an improvement "
            "(alternative 'greater', rel_ci_high = inf), so it cannot show CSAT significantly "
            "worse; give a non-inferiority margin (CSAT passes when rel_ci_low > margin) or "
            "analyse two-sided")

    if csat_margin is None:
        rule = "not significantly worse"
        csat_ok = not worse
        csat_text = (f"CSAT is {'significantly worse' if worse else 'not significantly worse'} "
                     f"({c_rel:+.2%}, CI {c_low:+.2%} to {c_high:+.2%}, p = {c_p:.3g})")
    else:
        rule = "non-inferiority"
        csat_ok = c_low > csat_margin
        csat_text = (f"CSAT is {'non-inferior' if csat_ok else 'not shown non-inferior'}: the "
                     f"lower bound of its relative change ({c_low:+.2%}) lies "
                     f"{'above' if csat_ok else 'at or below'} the margin ({csat_margin:+.2%})")

    at_risk = -n_rel * revenue
    at_risk_low = -n_low * revenue  # pessimistic: the lower bound of NRR's change
    at_risk_high = -n_high * revenue
    compared = at_risk_low if basis == "ci_bound" else at_risk
    revenue_ok = compared < savings
    which = "at NRR's pessimistic bound" if basis == "ci_bound" else "at NRR's estimate"
    revenue_text = (f"the annual revenue at risk {which} ({_money(compared)}) is "
                    f"{'smaller' if revenue_ok else 'not smaller'} than the annual staffing "
                    f"savings ({_money(savings)}); break-even NRR drop {savings / revenue:.2%}")
    if "csat" in missing:
        csat_ok = False
        csat_text = f"CSAT was not analysed ({missing['csat']})"
    if "nrr" in missing:
        revenue_ok = False
        revenue_text = f"NRR was not analysed ({missing['nrr']}), so revenue is not evaluated"
    success = csat_ok or revenue_ok
    trust, trust_note = _trust(result)
    if csat_ok and revenue_ok:
        reason = f"{csat_text}, and {revenue_text}."
    elif csat_ok:
        reason = f"{csat_text}; that alone meets the criterion ({revenue_text})."
    elif revenue_ok:
        reason = f"{csat_text}, but {revenue_text}, which meets the criterion."
    else:
        reason = f"{csat_text}, and {revenue_text}."
    reason = reason[0].upper() + reason[1:]
    verdict = "success" if success else "failure"
    if missing and not success:
        verdict = "inconclusive"
        reason += (f" The criterion cannot be judged without the "
                   f"{' and '.join('CSAT' if m == 'csat' else 'revenue' for m in missing)} "
                   "clause.")
    if trust:
        reason = (f"The trial cannot support a decision: {'; '.join(trust)}. Were it sound, "
                  f"the criterion would read: {verdict}. {reason}")
        success, verdict = False, "inconclusive"

    return Decision(
        success=success, verdict=verdict, reason=reason,
        control_arm=str(arms_row["control_arm"]), treatment_arm=str(arms_row["treatment_arm"]),
        csat_rule=rule, csat_margin=csat_margin, csat_rel_diff=c_rel, csat_rel_ci_low=c_low,
        csat_rel_ci_high=c_high, csat_p_value=c_p, csat_significantly_worse=worse,
        csat_ok=csat_ok, nrr_rel_diff=n_rel, nrr_rel_ci_low=n_low, nrr_rel_ci_high=n_high,
        low_spend_revenue_per_year=revenue, annual_staffing_savings=savings,
        revenue_at_risk=at_risk, revenue_at_risk_pessimistic=at_risk_low,
        revenue_at_risk_optimistic=at_risk_high, break_even_nrr_drop=savings / revenue,
        basis=basis, revenue_ok=revenue_ok,
        net_benefit=savings - compared if "nrr" in rows else math.nan,
        trust_problems=trust, trust_note=trust_note, not_evaluated=tuple(missing),
        nrr_significantly_worse=nrr_worse, **_rollout_fields(rollout, revenue))


def _rollout_fields(rollout: Any, revenue: float) -> dict[str, Any]:
    """The Decision's ``rollout_*`` fields from a rollout prediction (none without one)."""
    if rollout is None:
        return {}
    if not (hasattr(rollout, "effect") and hasattr(rollout, "policy")):
        raise TypeError(f"rollout: expected the result of frt.predict_rollout(...), got "
                        f"{type(rollout).__name__}")
    out: dict[str, Any] = {
        "rollout_policy": (f"{rollout.policy} for every low-spend customer at "
                           f"{rollout.rollout_headcount} agents (status quo everyone fast at "
                           f"{rollout.headcount})")}
    for name in ("csat", "nrr"):
        try:
            e = rollout.effect(name)
        except ValueError:
            continue  # not predicted: its rows stay NaN
        out |= {f"rollout_{name}_rel_diff": float(e["rel_change"]),
                f"rollout_{name}_rel_ci_low": float(e["rel_ci_low"]),
                f"rollout_{name}_rel_ci_high": float(e["rel_ci_high"])}
    if "rollout_nrr_rel_diff" in out:
        out["rollout_revenue_at_risk"] = -out["rollout_nrr_rel_diff"] * revenue
    return out


def _one_slow_arm(result: Any, frame: pd.DataFrame) -> None:
    """Refuse the results of several slow arms: the criterion judges one slower policy."""
    arms = (list(pd.unique(frame["treatment_arm"].astype(str)))
            if "treatment_arm" in frame.columns else [])
    if len(arms) <= 1:
        return
    shown = ", ".join(arms)
    how = ("decide(result.by_arm[ARM], ...)" if hasattr(result, "by_arm") else
           "frt analyze --treatment ARM for that arm's results.csv, then frt decide on it")
    raise ValueError(f"the results compare {len(arms)} slow arms with the control ({shown}); "
                     f"the criterion judges one slower policy at a time: {how}")


def _trust_problems(result: Any) -> tuple[str, ...]:
    """Problems the result's diagnostics found that void the comparison (Kohavi, Tang and Xu
    2020, ch. 21: a sample ratio mismatch or an undelivered treatment makes effects
    untrustworthy)."""
    diag = getattr(result, "diagnostics", None)
    if diag is None:
        return ()
    found = []
    srm = getattr(diag, "srm", None)
    if srm is not None and getattr(srm, "flagged", False):
        found.append(f"sample ratio mismatch (p = {srm.p_value:.2g})")
    delivered = getattr(diag, "delivered", None)
    if isinstance(delivered, dict) and not all(delivered.values()):  # several slow arms
        missed = [arm for arm, ok in delivered.items() if not ok]
        found.append(f"the treatment was not delivered in arm{'s' if len(missed) > 1 else ''} "
                     f"{', '.join(missed)} (its first responses did not differ from the "
                     "control's as designed)")
    elif getattr(diag, "treatment_delivered", True) is False:
        found.append("the treatment was not delivered (the arms' first responses did not "
                     "differ as designed)")
    return tuple(found)


def _no_diagnostics_note(result: Any) -> str:
    if isinstance(result, pd.DataFrame):
        return ("a results table carries no diagnostics, so the sample ratio and the "
                "treatment's delivery were not checked (pass the analysis result, or the path "
                f"of results.csv with its {TRUST_FILE})")
    return ("the analysis ran without diagnostics, so the sample ratio and the treatment's "
            "delivery were not checked")


def _trust(result: Any) -> tuple[tuple[str, ...], str]:
    """The trust problems of ``result`` and, when they could not be checked, why."""
    if isinstance(result, str | os.PathLike):
        return read_trust(result)
    if getattr(result, "diagnostics", None) is None:
        return (), _no_diagnostics_note(result)
    return _trust_problems(result), ""


def trust_record(result: Any, results_csv: bytes, *,
                 desk_calendar: str | None = None) -> dict[str, Any]:
    """What ``trust.json`` holds for an analysis result whose results.csv is ``results_csv``.

    ``trust_problems`` are the strings :func:`decide` reports for the result itself, so the
    verdict from results.csv with this sidecar is the verdict from the result;
    ``results_sha256`` ties the sidecar to its results.csv. ``desk_calendar`` describes the
    calendar the diagnostics measured business hours on.
    """
    diag = getattr(result, "diagnostics", None)
    record: dict[str, Any] = {
        "format": 1,
        "results_sha256": hashlib.sha256(results_csv).hexdigest(),
        "diagnostics": diag is not None,
        "trust_problems": list(_trust_problems(result)),
    }
    if diag is not None:
        srm = diag.srm
        p = float(srm.p_value)
        several = getattr(diag, "treatments", None)
        if several is not None:  # several slow arms: each one's delivery
            record["treatments"] = [str(a) for a in several]
            record["treatment_delivered_by_arm"] = {str(a): bool(ok)
                                                    for a, ok in diag.delivered.items()}
        record.update({
            "control": str(diag.control),
            "treatment": (", ".join(str(a) for a in several) if several is not None
                          else str(diag.treatment)),
            "sample_ratio_p_value": p if math.isfinite(p) else None,
            "sample_ratio_mismatch": bool(srm.flagged),
            "treatment_delivered": bool(diag.treatment_delivered),
        })
    if desk_calendar is not None:
        record["desk_calendar"] = desk_calendar
    return record


def trust_json(result: Any, results_csv: bytes, *, desk_calendar: str | None = None) -> str:
    """:func:`trust_record` as the text of ``trust.json``."""
    return json.dumps(trust_record(result, results_csv, desk_calendar=desk_calendar),
                      indent=2) + "\n"


def read_trust_record(results: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The ``trust.json`` record beside ``results`` (``None`` when there is none).

    Raises:
        DataError: The sidecar exists but is not a trust record.
    """
    side = Path(results).with_name(TRUST_FILE)
    if not side.is_file():
        return None
    try:
        record = load_json_text(side.read_text(encoding="utf-8"), side.name)
        ok = (isinstance(record, dict) and isinstance(record.get("trust_problems"), list)
              and isinstance(record.get("results_sha256"), str))
    except (OSError, ValueError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError([Problem(TRUST_FILE, None, f"cannot be read ({msg}); remove it or "
                                 "run frt analyze again")]) from None
    if not ok:
        raise DataError([Problem(TRUST_FILE, None, "is not a trust record of frt analyze "
                                 "(trust_problems, results_sha256); remove it or run frt "
                                 "analyze again")])
    return record


def read_trust(results: str | os.PathLike[str]) -> tuple[tuple[str, ...], str]:
    """The trust problems recorded in ``trust.json`` beside the results file ``results``.

    Returns ``(problems, note)``: ``note`` says why trust could not be checked (no sidecar,
    as for results.csv of an older version or made by hand; a sidecar written for another
    results file; an analysis run without diagnostics), else ``""``.
    """
    path = Path(results)
    record = read_trust_record(path)
    if record is None:
        return (), (f"trust could not be checked: {path.name} has no {TRUST_FILE} beside it "
                    "(results of an older version or made by hand), so the sample ratio and "
                    "the treatment's delivery were not checked")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if record["results_sha256"] != digest:
        return (), (f"trust could not be checked: the {TRUST_FILE} beside {path.name} was "
                    "written for another version of it (changed since frt analyze wrote it)")
    if not record.get("diagnostics", True):
        return (), ("trust could not be checked: the analysis ran without diagnostics "
                    "(--no-diagnostics)")
    return tuple(str(p) for p in record["trust_problems"]), ""
