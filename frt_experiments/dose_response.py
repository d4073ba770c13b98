"""What each extra hour of first response costs: the dose-response of a trial's arms.

The randomized arm moves the first-response time customers actually got (the *dose*,
:mod:`frt_experiments.dose`: per answered conversation ``log(1 + business hours)`` to the first
response, an arm's dose the mean over its answered conversations) and nothing else, so the arm
indicators are instruments for the dose and the effect of the dose on an outcome is estimated
without the confounding of an observational "outcome by FRT band" curve (slow answers go to
hard questions, and hard questions disappoint whatever the wait).

For each outcome -- CSAT (satisfied over rated), questions (conversations per customer) and NRR
(revenue at the end over revenue at the start) -- :func:`dose_response` reports:

- **the slope**: two-stage least squares of the outcome on the dose with the arm indicators as
  instruments and the customer as the unit (customer-clustered, i.e. heteroskedasticity-robust,
  variance; :func:`frt_experiments.stats.iv.two_stage_least_squares`). With two arms it is the
  Wald ratio (the A/B difference of the outcome over the A/B difference of the dose). Read it
  as the change of the outcome per unit of ``log(1 + h)``; ``per_doubling`` is the change when
  ``1 + h`` doubles (the slope times ``log 2``), e.g. from 1 to 3 business hours or from 7 to 15;
- **the first stage**: the F statistic of the arms' doses being equal; below 10 the instruments
  are weak (Staiger and Stock 1997), a :class:`~frt_experiments.errors.DataWarning` says so,
  and the slope's significance is then decided by the Anderson-Rubin test
  (:func:`~frt_experiments.stats.iv.anderson_rubin`), whose size holds whatever the first
  stage, rather than by the 2SLS t test, which over-rejects;
- **each arm's point**: its dose and outcome with 95% intervals, its effect against control
  (the difference of the outcome) and its own Wald ratio against control;
- with three arms or more, **the flexible form**: the piecewise-linear curve through the arms'
  points, the saturated model the arm instruments identify (each segment the Wald ratio of two
  neighbouring arms), and **the test of linearity** (Hansen's J of the straight line against
  it, :func:`~frt_experiments.stats.iv.linearity_test`).

Everything is computed from each arm's sufficient statistics (counts, means, variances and
covariances of the per-customer sums), so the same estimates can run where the data live.

References:
    Angrist, J. D. and Pischke, J.-S. (2009). Mostly Harmless Econometrics, ch. 4 (the Wald
    estimator, 2SLS with dummy instruments as a weighted regression of group means).
    Angrist, J. D. and Imbens, G. W. (1995). Two-stage least squares estimation of average
    causal effects in models with variable treatment intensity. JASA 90(430), 431-442 (what
    the slope averages when the dose-response is not a straight line).
    Staiger, D. and Stock, J. H. (1997). Econometrica 65(3), 557-586 (weak instruments).
    Anderson, T. W. and Rubin, H. (1949). Annals of Mathematical Statistics 20(1), 46-63.
    Hansen, L. P. (1982). Econometrica 50(4), 1029-1054 (the J test).
    Deng, A., Knoblich, U. and Lu, J. (2018). KDD '18, 233-242 (ratio metrics by the delta
    method on per-customer sums).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from frt_experiments import schema
from frt_experiments.calendar import BusinessCalendar
from frt_experiments.diagnostics import same_calendar
from frt_experiments.dose import ANSWERED, DOSE_SUM, customer_doses
from frt_experiments.errors import DataWarning
from frt_experiments.metrics import (
    CONVERSATIONS,
    RATED,
    SATISFIED,
    ArmStatistics,
    arm_statistics,
    customer_rows,
)
from frt_experiments.policy import FrtPolicy, policy_from_spec
from frt_experiments.stats.iv import (
    WEAK_INSTRUMENT_F,
    IVEstimate,
    LinearityTest,
    Outcome,
    _moments,
    anderson_rubin,
    linearity_test,
    two_stage_least_squares,
    wald_ratio,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from frt_experiments._document import Document

__all__ = ["DOSE", "OUTCOMES", "DoseResponseResult", "OutcomeDoseResponse", "dose_response"]

#: The dose: per answered conversation, ``log(1 + business hours)`` to the first response.
DOSE: Outcome = (DOSE_SUM, ANSWERED)

#: The outcomes and how each is built from the per-customer sums: a column (its mean per
#: customer) or ``(numerator, denominator)`` (a ratio of sums).
OUTCOMES: dict[str, Outcome] = {
    "csat": (SATISFIED, RATED),
    "questions": CONVERSATIONS,
    "nrr": (schema.REVENUE_END, schema.REVENUE_START),
}

_LABELS = {"csat": "CSAT (satisfied / rated)", "questions": "questions per customer",
           "nrr": "NRR (revenue end / start)"}

#: Columns of :meth:`DoseResponseResult.to_pandas`.
COLUMNS = ("outcome", "row", "arm", "customers", "dose", "dose_hours", "value", "value_ci_low",
           "value_ci_high", "effect", "se", "ci_low", "ci_high", "p_value", "per_doubling",
           "wald", "wald_ci_low", "wald_ci_high", "f_statistic", "weak", "p_value_ar",
           "linearity_j", "linearity_df", "linearity_p")


@dataclass(frozen=True)
class OutcomeDoseResponse:
    """The dose-response of one outcome.

    Attributes:
        outcome: ``csat``, ``questions`` or ``nrr``.
        slope: The 2SLS estimate (:class:`~frt_experiments.stats.iv.IVEstimate`).
        p_value_ar: The Anderson-Rubin p-value of a zero slope (valid with weak instruments).
        significant: Whether the slope differs from 0 at ``alpha``: by the 2SLS t test when
            the first stage is strong, by the Anderson-Rubin test when it is weak.
        arms: One row per arm: ``arm``, ``customers``, ``dose`` (and its ``dose_se``),
            ``value`` (the outcome, with ``value_se``), ``effect`` (against control, with its
            ``effect_se``, ``effect_ci_low``/``high`` and ``effect_p``), and the arm's own
            ``wald`` ratio against control (``wald_se``, ``wald_ci_low``/``high``; NaN for the
            control arm).
        linearity: Hansen's J test of a straight line (three arms or more), else ``None``.
    """

    outcome: str
    slope: IVEstimate
    p_value_ar: float
    significant: bool
    arms: pd.DataFrame
    linearity: LinearityTest | None

    @property
    def per_doubling(self) -> float:
        """The change of the outcome when ``1 + business hours`` doubles."""
        return self.slope.effect * math.log(2)

    @property
    def interval(self) -> tuple[float, float]:
        """The slope's interval, or NaNs when the first stage is weak (the 2SLS interval is
        then not to be trusted; significance is the Anderson-Rubin test's)."""
        if self.slope.weak:
            return math.nan, math.nan
        return self.slope.ci_low, self.slope.ci_high


@dataclass
class DoseResponseResult:
    """The dose-response of a trial's outcomes (see the module docstring).

    Attributes:
        control: The control arm.
        arms: The arms, control first, then by increasing dose.
        policies: Each arm's FRT policy name (``None`` when none were given).
        outcomes: ``{outcome: OutcomeDoseResponse}``.
        skipped: Outcomes the tables cannot give, with the reason.
        alpha: Level of the intervals.
    """

    control: str
    arms: tuple[str, ...]
    policies: dict[str, str] | None
    outcomes: dict[str, OutcomeDoseResponse]
    skipped: dict[str, str] = field(default_factory=dict)
    alpha: float = 0.05

    def summary(self) -> pd.DataFrame:
        """One row per outcome: the slope with its interval, per doubling of ``1 + hours``, the
        first-stage F, the p-values, the linearity test, and each slow arm's effect."""
        rows = []
        for name, o in self.outcomes.items():
            s = o.slope
            row: dict[str, Any] = {
                "outcome": name, "slope": s.effect, "ci_low": o.interval[0],
                "ci_high": o.interval[1],
                "per_doubling": o.per_doubling, "p_value": s.p_value,
                "p_value_ar": o.p_value_ar, "significant": o.significant,
                "first_stage_f": s.f_statistic, "weak": s.weak,
                "linearity_p": o.linearity.p_value if o.linearity is not None else np.nan}
            for _, a in o.arms.iloc[1:].iterrows():
                row[f"effect_{a['arm']}"] = a["effect"]
            rows.append(row)
        return pd.DataFrame(rows)

    def to_pandas(self) -> pd.DataFrame:
        """The long table of ``dose_response.csv``: per outcome, one ``slope`` row (the 2SLS
        line, with the first stage, the Anderson-Rubin p-value and the linearity test) and one
        ``arm`` row per arm (its dose and outcome, its effect against control and its Wald
        ratio). ``dose_hours`` is ``exp(dose) - 1``, the business hours whose ``log(1 + h)`` is
        the arm's dose."""
        out = []
        for name, o in self.outcomes.items():
            s, lin = o.slope, o.linearity
            out.append({
                "outcome": name, "row": "slope", "arm": "", "customers":
                int(o.arms["customers"].sum()), "effect": s.effect, "se": s.se,
                "ci_low": o.interval[0], "ci_high": o.interval[1], "p_value": s.p_value,
                "per_doubling": o.per_doubling, "f_statistic": s.f_statistic, "weak": s.weak,
                "p_value_ar": o.p_value_ar,
                "linearity_j": lin.statistic if lin is not None else np.nan,
                "linearity_df": lin.df if lin is not None else np.nan,
                "linearity_p": lin.p_value if lin is not None else np.nan})
            z = stats.norm.ppf(1 - self.alpha / 2)
            for _, a in o.arms.iterrows():
                out.append({
                    "outcome": name, "row": "arm", "arm": a["arm"],
                    "customers": int(a["customers"]), "dose": a["dose"],
                    "dose_hours": math.expm1(a["dose"]), "value": a["value"],
                    "value_ci_low": a["value"] - z * a["value_se"],
                    "value_ci_high": a["value"] + z * a["value_se"],
                    "effect": a["effect"], "se": a["effect_se"], "ci_low": a["effect_ci_low"],
                    "ci_high": a["effect_ci_high"], "p_value": a["effect_p"],
                    "wald": a["wald"], "wald_ci_low": a["wald_ci_low"],
                    "wald_ci_high": a["wald_ci_high"]})
        df = pd.DataFrame(out, columns=list(COLUMNS))
        df["weak"] = df["weak"].astype("boolean")
        return df

    def text(self) -> str:
        """The result in words, one paragraph per outcome."""
        lines = [f"Dose: log(1 + business hours) to first response; arms {', '.join(self.arms)} "
                 f"(control {self.control}); {100 * (1 - self.alpha):g}% intervals."]
        for name, o in self.outcomes.items():
            s = o.slope
            verdict = "differs from 0" if o.significant else "does not differ from 0"
            strength = (f"first stage F = {s.f_statistic:,.1f}"
                        + (" (WEAK: significance by the Anderson-Rubin test)" if s.weak else ""))
            band = ("no interval: weak first stage" if s.weak
                    else f"{s.ci_low:+.4g} to {s.ci_high:+.4g}")
            line = (f"{_LABELS[name]}: slope {s.effect:+.4g} per unit of dose ({band}), "
                    f"{o.per_doubling:+.4g} per doubling of 1 + hours; {verdict} (p = "
                    f"{s.p_value:.3g}, Anderson-Rubin p = {o.p_value_ar:.3g}); {strength}")
            if o.linearity is not None:
                line += (f"; straight line: J = {o.linearity.statistic:.2f} on "
                         f"{o.linearity.df} df, p = {o.linearity.p_value:.3g}")
            lines.append(line + ".")
        for name, why in self.skipped.items():
            lines.append(f"{name}: not estimated ({why}).")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"DoseResponseResult(arms={list(self.arms)})\n{self.text()}"

    def plot(self, outcomes: Sequence[str] | None = None) -> Figure:
        """Per outcome, the straight line with its 95% band over the doses the arms span, the
        piecewise-linear curve through the arms' points (three arms or more) and each arm's
        point with its 95% interval; the dose axis is labelled in business hours."""
        from matplotlib.figure import Figure  # noqa: PLC0415 - matplotlib only when plotting

        from frt_experiments.plotting import arm_color  # noqa: PLC0415

        names = [n for n in (outcomes or self.outcomes) if n in self.outcomes]
        fig = Figure(figsize=(4.2 * max(len(names), 1), 3.8), layout="constrained")
        axes = fig.subplots(1, max(len(names), 1), squeeze=False)[0]
        z = stats.norm.ppf(1 - self.alpha / 2)
        for ax, name in zip(axes, names, strict=False):
            o = self.outcomes[name]
            a = o.arms
            lo, hi = float(a["dose"].min()), float(a["dose"].max())
            pad = 0.08 * (hi - lo if hi > lo else 1.0)
            x = np.linspace(max(lo - pad, 0.0), hi + pad, 200)
            fit, band_lo, band_hi = o.slope.line(x)
            ax.fill_between(x, band_lo, band_hi, color="0.85", label=f"{100 * (1 - self.alpha):g}"
                            "% band (2SLS)")
            ax.plot(x, fit, color="0.25", lw=1.5, label="straight line (2SLS)")
            if len(a) >= 3:
                ax.plot(a["dose"], a["value"], color="0.45", lw=1, ls="--",
                        label="through the arms (saturated)")
            for _, r in a.iterrows():
                c = arm_color(str(r["arm"]), tuple(self.arms))
                ax.errorbar(r["dose"], r["value"], yerr=z * r["value_se"],
                            xerr=z * r["dose_se"], fmt="o", color=c, capsize=3,
                            label=str(r["arm"]))
            ticks = [h for h in (0, 1, 2, 4, 8, 16, 24, 48) if lo - pad <= math.log1p(h)
                     <= hi + pad]
            if len(ticks) >= 2:
                ax.set_xticks([math.log1p(h) for h in ticks], [f"{h:g}" for h in ticks])
            ax.set_xlabel("first response, business hours (log(1 + h) scale)")
            ax.set_ylabel(_LABELS[name])
            verdict = "weak first stage" if o.slope.weak else f"F = {o.slope.f_statistic:,.0f}"
            ax.set_title(f"{name}: {o.per_doubling:+.3g} per doubling ({verdict})", fontsize=9)
            ax.grid(alpha=0.3)
        if names:
            axes[0].legend(fontsize=7, loc="best")
        return fig

    def add_to(self, doc: Document) -> None:
        """Add the dose-response to a report (:func:`frt_experiments.build_report`)."""
        doc.text("What each extra hour of first response costs, instrumented by the arms "
                 "(two-stage least squares with customer-level robust errors; dose "
                 "log(1 + business hours) per answered conversation).")
        for line in self.text().splitlines():
            doc.text(line)
        table = self.summary()
        num = table.select_dtypes("number").columns
        table[num] = table[num].apply(lambda col: col.map(lambda v: float(f"{v:.4g}")))
        doc.table(table)
        doc.figure(self.plot(), "dose_response")


def _policies(policies: Mapping[str, Any] | None, arms: Sequence[str],
              calendar: BusinessCalendar) -> dict[str, str] | None:
    """Each arm's policy name, checked: every assigned arm has one, all on ``calendar``."""
    if policies is None:
        return None
    out: dict[str, str] = {}
    for arm, p in policies.items():
        if isinstance(p, FrtPolicy):
            if not same_calendar(p.calendar, calendar):
                raise ValueError(f"policies: the policy of arm {arm!r} is on another calendar "
                                 f"({p.calendar!r}) than the dose's ({calendar!r})")
            out[str(arm)] = p.spec
        else:
            out[str(arm)] = policy_from_spec(str(arm), p, calendar).spec
    missing = [a for a in arms if a not in out]
    if missing:
        raise ValueError(f"policies: no FRT policy for arm {missing[0]!r} (have "
                         f"{', '.join(map(repr, out))})")
    return out


def _arm_rows(st: dict[str, ArmStatistics], control: str, outcome: Outcome,
              alpha: float) -> pd.DataFrame:
    m = _moments(st, outcome, DOSE)
    arms = list(st)
    c = arms.index(control)
    z = stats.norm.ppf(1 - alpha / 2)
    rows = []
    for i, arm in enumerate(arms):
        effect = m.y[i] - m.y[c] if i != c else np.nan
        effect_se = math.sqrt(m.vy[i] / m.n[i] + m.vy[c] / m.n[c]) if i != c else np.nan
        row = {"arm": arm, "customers": int(m.n[i]), "dose": m.d[i],
               "dose_se": math.sqrt(m.vd[i] / m.n[i]), "value": m.y[i],
               "value_se": math.sqrt(m.vy[i] / m.n[i]), "effect": effect,
               "effect_se": effect_se, "effect_ci_low": effect - z * effect_se,
               "effect_ci_high": effect + z * effect_se,
               "effect_p": (float(2 * stats.norm.sf(abs(effect) / effect_se))
                            if i != c and effect_se > 0 else np.nan),
               "wald": np.nan, "wald_se": np.nan, "wald_ci_low": np.nan, "wald_ci_high": np.nan}
        if i != c and m.d[i] != m.d[c]:
            w = wald_ratio(st[control], st[arm], outcome=outcome, dose=DOSE, alpha=alpha)
            row |= {"wald": w.effect, "wald_se": w.se, "wald_ci_low": w.ci_low,
                    "wald_ci_high": w.ci_high}
        rows.append(row)
    return pd.DataFrame(rows)


def dose_response(
    customers: pd.DataFrame,
    conversations: pd.DataFrame,
    assignments: pd.DataFrame,
    *,
    calendar: BusinessCalendar,
    policies: Mapping[str, FrtPolicy | str] | None = None,
    control: str = schema.CONTROL_ARM,
    arms: Sequence[str] | None = None,
    outcomes: Sequence[str] | None = None,
    alpha: float = 0.05,
    window_end: pd.Timestamp | str | None = None,
    validate: bool = True,
) -> DoseResponseResult:
    """The dose-response of CSAT, questions and NRR on the first-response time, instrumented by
    the trial's arms (see the module docstring).

    Args:
        customers, conversations, assignments: The canonical tables (pandas).
        calendar: The desk's business calendar, on which the dose is measured.
        policies: Each arm's FRT policy (:class:`~frt_experiments.policy.FrtPolicy` or a name
            such as ``"4h"`` or ``"two_business_days"``); when given, every analysed arm must
            have one and all must be on ``calendar``. Shown with the result.
        control: The control arm (the fast one).
        arms: The arms to use (default every assigned arm); at least two, including control.
        outcomes: Among ``csat``, ``questions``, ``nrr`` (default those the tables give).
        alpha: Level of the intervals (two-sided).
        window_end: End of the outcome window (default the latest ``created_at``).
        validate: Validate the tables first.

    Returns:
        A :class:`DoseResponseResult` with ``summary()``, ``to_pandas()``, ``text()`` and
        ``plot()``.

    Raises:
        ValueError: Fewer than two arms, control not among them, an arm without a policy or
            with a policy on another calendar, an arm without answered conversations, or a dose
            that does not differ between the arms (no first stage).
        DataError: A table breaks a schema rule.

    Warns:
        DataWarning: The first stage is weak (F below 10) for an outcome.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if not isinstance(calendar, BusinessCalendar):
        raise TypeError(f"calendar: expected a BusinessCalendar, got {type(calendar).__name__}")
    for name, t in (("customers", customers), ("conversations", conversations),
                    ("assignments", assignments)):
        if not isinstance(t, pd.DataFrame):
            raise TypeError(f"{name}: expected a pandas DataFrame (engine tables are not yet "
                            f"taken by dose_response), got {type(t).__name__}")
    wanted = list(OUTCOMES) if outcomes is None else list(outcomes)
    unknown = [o for o in wanted if o not in OUTCOMES]
    if unknown or not wanted:
        raise ValueError(f"outcomes: expected some of {', '.join(OUTCOMES)}, got {outcomes!r}")
    rows = customer_rows(customers, conversations, assignments, window_end=window_end,
                         validate=validate)
    doses = customer_doses(conversations, assignments, calendar=calendar,
                           window_end=window_end)
    rows[DOSE_SUM] = doses[DOSE_SUM].to_numpy()
    rows[ANSWERED] = doses[ANSWERED].to_numpy()
    present = [str(a) for a in pd.unique(rows[schema.ARM].dropna())]
    use = present if arms is None else [str(a) for a in arms]
    if len(set(use)) < 2:
        raise ValueError(f"arms: the dose-response needs at least two arms, got {use}")
    absent = [a for a in use if a not in present]
    if absent:
        raise ValueError(f"arms: arm {absent[0]!r} is not in the assignments (arms: "
                         f"{', '.join(present)})")
    if control not in use:
        raise ValueError(f"control: arm {control!r} is not among the arms ({', '.join(use)})")
    names = _policies(policies, use, calendar)
    columns = [SATISFIED, RATED, CONVERSATIONS, DOSE_SUM, ANSWERED]
    columns += [c for c in (schema.REVENUE_START, schema.REVENUE_END) if c in rows.columns]
    st = arm_statistics(rows, columns=columns, arms=use)
    for arm, s in st.items():
        if s.n < 2:
            raise ValueError(f"arm {arm!r}: at least 2 customers are needed, got {s.n}")
        if s.sums[s.index(ANSWERED)] == 0:
            raise ValueError(f"arm {arm!r}: no answered conversation in the window, so its "
                             "dose is undefined")
    dose = {a: s.sums[s.index(DOSE_SUM)] / s.sums[s.index(ANSWERED)] for a, s in st.items()}
    order = [control, *sorted((a for a in use if a != control), key=lambda a: dose[a])]
    st = {a: st[a] for a in order}
    if len(set(dose.values())) == 1:
        raise ValueError(f"dose: the arms' doses are all {dose[control]:.6g}: no arm moves the "
                         "first-response time, so there is no first stage and no dose-response")
    skipped: dict[str, str] = {}
    results: dict[str, OutcomeDoseResponse] = {}
    for name in wanted:
        how = OUTCOMES[name]
        cols = (how,) if isinstance(how, str) else how
        if any(c not in columns for c in cols):
            skipped[name] = "the tables have no revenue_start and revenue_end"
            continue
        if isinstance(how, tuple) and any(s.sums[s.index(how[1])] <= 0 for s in st.values()):
            bad = next(a for a, s in st.items() if s.sums[s.index(how[1])] <= 0)
            skipped[name] = f"arm {bad!r} has no {how[1]}"
            continue
        slope = two_stage_least_squares(st, outcome=how, dose=DOSE, alpha=alpha)
        ar = anderson_rubin(st, outcome=how, dose=DOSE).p_value
        if slope.weak and not any(r.slope.weak for r in results.values()):  # one dose: once
            warnings.warn(f"dose-response: the first stage is weak (F = {slope.f_statistic:.2f}"
                          f" < {WEAK_INSTRUMENT_F:g} across arms {', '.join(st)}); the arms "
                          "barely move the first-response time, so the slopes have no interval "
                          "to trust and their significance is the Anderson-Rubin test's",
                          DataWarning, stacklevel=2)
        significant = (ar < alpha) if slope.weak else (slope.p_value < alpha)
        lin = (linearity_test(st, outcome=how, dose=DOSE) if len(st) >= 3 else None)
        results[name] = OutcomeDoseResponse(name, slope, ar, bool(significant),
                                            _arm_rows(st, control, how, alpha), lin)
    if names is not None:
        names = {a: names[a] for a in order}
    return DoseResponseResult(control, tuple(order), names, results, skipped, alpha)
