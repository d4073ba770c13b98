"""Diagnostics shown beside the tests: was the experiment run as designed?

:func:`diagnose` answers four questions before anyone reads an effect:

1. **Sample ratio**: are the arms' sizes what the weights promise? (chi-square goodness of fit,
   flagged at p < 0.001; :func:`~frt_experiments.balance.sample_ratio_mismatch`).
2. **CSAT response rate**: did the arms rate their conversations equally often? A difference
   means the rated conversations are not comparable and CSAT may be biased by who answers the
   survey.
3. **First response time**: per arm, median and 90th percentile FRT in calendar and business
   hours and the share answered within the arm's target (:func:`~frt_experiments.policy.
   attainment_table`).
4. **Treatment delivered**: did the arms' FRTs differ as designed? (rule below).

The treatment counts as *delivered* when both hold:

- the control arm's median business-hours FRT is within the control policy's target (the fast
  arm really was answered fast), and
- the treatment arm's median business-hours FRT is above that same target (the typical
  treated conversation really waited longer than the fast arm's promise).

The control target is the policy's business-time target (4 business hours by default); for a
control policy with a calendar-day rule it is the median business time its deadlines allow.
Otherwise :class:`~frt_experiments.errors.TreatmentNotDeliveredWarning` is raised: an effect
(or its absence) then says nothing about a slower first response.

A trial with several slow arms is diagnosed once over all of them by :func:`diagnose_arms`
(:class:`ArmsDiagnostics`): the sample ratio of every arm against the design's weights, each
arm's FRT attainment judged against its own policy, each slow arm's response rate against the
control's, and the rule above for each slow arm against the control (treatment delivered per
arm). A slow arm *held within the fast promise* (its policy allows no more business time than
the control's target, e.g. answered just before 4 business hours beside a fast arm promised 4)
cannot wait longer than that target by design; it counts as delivered when its median FRT is
above :data:`HELD_MARGIN` (1.25) times the control's median: its typical conversation waited a
quarter longer than the fast arm's. :meth:`ArmsDiagnostics.for_arm` gives one slow arm's view
as a :class:`Diagnostics`.
"""

from __future__ import annotations

import datetime as _dt
import html
import math
import tomllib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc
from scipy import stats as stats_

from frt_experiments import schema
from frt_experiments._ids import arrow_strings, positions
from frt_experiments._markdown import md_cell
from frt_experiments.balance import SRMResult, covariate_balance, sample_ratio_mismatch
from frt_experiments.calendar import BusinessCalendar
from frt_experiments.errors import (
    BalanceWarning,
    DataError,
    DataWarning,
    InterferenceWarning,
    Problem,
    SampleRatioMismatchWarning,
    TreatmentNotDeliveredWarning,
)
from frt_experiments.interference import InterferenceCheck, interference_check
from frt_experiments.metrics import ArmStatistics, arm_statistics
from frt_experiments.policy import (
    FrtPolicy,
    attainment_by_code,
    default_policies,
    policy_from_spec,
)
from frt_experiments.stats.ratio import RatioEstimate, ratio_from_moments
from frt_experiments.stats.tests import two_proportion_ztest

__all__ = ["RESPONSE_RATE_THRESHOLD", "ArmsDiagnostics", "Diagnostics", "arm_policies",
           "default_calendar", "describe_calendar", "diagnose", "diagnose_arms"]

#: How much longer than the control's median a slow arm held within the control's target
#: must make its typical conversation wait to count as delivered (module docstring).
HELD_MARGIN = 1.25

#: Clustered p-value below which the arms' CSAT response rates are reported as different.
RESPONSE_RATE_THRESHOLD = 0.001


#: Share of answered conversations created and answered while the calendar is closed above
#: which the calendar is probably not the desk's (a warning).
CLOSED_SHARE_THRESHOLD = 0.5
#: Fewest answered conversations for that check.
MIN_CALENDAR_CHECK = 20
#: Answered conversations the check looks at, evenly spread (all when fewer).
CALENDAR_CHECK_SAMPLE = 50_000


def default_calendar() -> BusinessCalendar:
    """The simulator's desk: ``America/New_York``, ``Mon-Fri 09:00-17:00``, US holidays.

    Taken from the ``published`` scenario's ``[frt]`` table, so simulated trials are judged on
    the calendar that made them. Pass your own desk's calendar for real data.
    """
    # the preset's file itself: importing the simulator for it took 0.2-0.3 s of every analysis
    text = resources.files("frt_experiments").joinpath("scenarios", "published.toml")
    f = tomllib.loads(text.read_text(encoding="utf-8"))["frt"]

    def hhmm(h: float) -> str:
        return f"{int(h):02d}:{round(h % 1 * 60):02d}"

    return BusinessCalendar(f["timezone"], hours=f"Mon-Fri {hhmm(f['open_hour'])}-"
                            f"{hhmm(f['close_hour'])}", holidays=f["holidays"] or None)


def describe_calendar(calendar: BusinessCalendar) -> str:
    """One line naming a desk calendar, e.g. ``America/New_York, Mon-Fri 09:00-17:00, US
    holidays``: what the commands print and write beside figures that depend on it."""
    hol = calendar.holidays
    if hol is None:
        days = "no holidays"
    elif isinstance(hol, str):
        days = f"{hol} holidays"
    elif hasattr(hol, "_populate"):
        days = f"{type(hol).__name__} holidays"
    else:
        days = "given closed dates"
    hours = calendar.hours if isinstance(calendar.hours, str) else "custom opening hours"
    return f"{calendar.timezone}, {hours}, {days}"


@dataclass(frozen=True, repr=False)
class Diagnostics:
    """The run-as-designed checks of one experiment.

    Attributes:
        control, treatment: The compared arms.
        srm: Sample-ratio-mismatch test of the assigned customers per arm.
        counts: Assigned customers per arm (``arm``, ``customers``, ``expected``).
        response_rates: Per arm: ``customers``, ``conversations``, ``rated``,
            ``response_rate``; and for the treatment-minus-control difference (in every row):
            ``diff``, ``p_value`` (customer-clustered, delta method) and ``ztest_p_value``
            (two-proportion z test treating conversations as independent).
        frt: Per arm: ``n``, ``n_responded``, median and p90 FRT in calendar and business
            hours, ``share_within_target``, and ``target_business_hours`` of the arm's policy.
        balance: Covariate balance table (empty without customers).
        treatment_delivered: See the module docstring for the rule.
        control_target_business_hours: The control target the rule uses.
        warnings: Every message raised as a warning, in order.
        interference: The control arm's FRT during the trial against the same customers' before
            it (:func:`~frt_experiments.interference.interference_check`), when the
            conversations include pre-period ones; else ``None``.
    """

    control: str
    treatment: str
    srm: SRMResult
    counts: pd.DataFrame
    response_rates: pd.DataFrame
    frt: pd.DataFrame
    balance: pd.DataFrame
    treatment_delivered: bool
    control_target_business_hours: float
    warnings: list[str] = field(default_factory=list)
    interference: InterferenceCheck | None = None

    def to_pandas(self) -> pd.DataFrame:
        """One row per arm: customers, response rate and FRT attainment side by side."""
        rr = self.response_rates[[schema.ARM, "conversations", "rated", "response_rate"]]
        frt = self.frt.drop(columns=["n"])
        return (self.counts.merge(rr, on=schema.ARM, how="left")
                .merge(frt, on=schema.ARM, how="left"))

    def to_markdown(self) -> str:
        """Plain Markdown: sample ratio, response rates, FRT, balance and warnings."""
        s, rr = self.srm, self.response_rates
        parts = [
            "### Sample ratio",
            _md_table(self.counts, {"expected": "{:,.1f}"}),
            f"Chi-square {s.statistic:.3f} (df {s.df}), p = {s.p_value:.4g}"
            + (" -- **sample ratio mismatch** (p < 0.001)" if s.flagged else "."),
            "### CSAT response rate",
            _md_table(rr[[schema.ARM, "customers", "conversations", "rated", "response_rate"]],
                      {"response_rate": "{:.2%}"}),
            f"Difference ({self.treatment} - {self.control}) {rr['diff'].iloc[0]:+.2%}: "
            f"p = {rr['p_value'].iloc[0]:.4g} by customer (delta method), "
            f"p = {rr['ztest_p_value'].iloc[0]:.4g} by two-proportion z test "
            "(conversations as independent).",
            "### First response time",
            _md_table(self.frt, {c: "{:.2f}" for c in self.frt.columns if c.endswith("hours")}
                      | {"share_within_target": "{:.1%}"}),
            ("Treatment delivered" if self.treatment_delivered else "**Treatment NOT "
             "delivered**") + f" (control target {self.control_target_business_hours:.2f} "
            "business hours).",
        ]
        return "\n\n".join(parts + _markdown_tail(self.interference, self.balance,
                                                   self.warnings)) + "\n"

    def summary(self) -> str:
        """The Markdown report (readable as plain text)."""
        return self.to_markdown()

    def _repr_html_(self) -> str:
        s = self.srm
        parts = [
            "<h4>Sample ratio</h4>", self.counts.to_html(index=False),
            f"<p>chi-square {s.statistic:.3f}, p = {s.p_value:.4g}"
            + (" <b>sample ratio mismatch</b>" if s.flagged else "") + "</p>",
            "<h4>CSAT response rate</h4>", self.response_rates.to_html(index=False),
            "<h4>First response time</h4>", self.frt.to_html(index=False),
            f"<p>treatment delivered: <b>{self.treatment_delivered}</b></p>",
        ]
        if not self.balance.empty:
            parts += ["<h4>Covariate balance</h4>", self.balance.to_html(index=False)]
        parts += [f"<p>warning: {html.escape(w)}</p>" for w in self.warnings]
        return "\n".join(parts)

    def __repr__(self) -> str:
        med = self.frt.set_index(schema.ARM)["median_business_hours"]
        return (f"Diagnostics({self.control} vs {self.treatment}: srm_p={self.srm.p_value:.4g}, "
                f"median business FRT {med.get(self.control, np.nan):.2f} h vs "
                f"{med.get(self.treatment, np.nan):.2f} h, treatment_delivered="
                f"{self.treatment_delivered}, warnings={len(self.warnings)})")


_INTERFERENCE_FORMATS = ({"dose_diff": "{:+.4f}", "ci_low": "{:+.4f}", "ci_high": "{:+.4f}",
                          "p_value": "{:.3g}"}
                         | dict.fromkeys(("before_share_within_target",
                                          "during_share_within_target"), "{:.1%}")
                         | dict.fromkeys(("before_median_business_hours",
                                          "during_median_business_hours"), "{:.2f}"))


def _markdown_tail(interference: InterferenceCheck | None, balance: pd.DataFrame,
                   warned: list[str]) -> list[str]:
    """The diagnostics' last Markdown sections: interference, covariate balance, warnings."""
    parts = []
    if interference is not None:
        parts += ["### Interference: the control arm before and during the trial",
                  _md_table(interference.to_pandas(), _INTERFERENCE_FORMATS)]
    if not balance.empty:
        cols = ["covariate", "treatment_arm", "control", "treatment", "smd", "imbalanced"]
        parts += ["### Covariate balance",
                  _md_table(balance[cols], {"control": "{:.4g}", "treatment": "{:.4g}",
                                            "smd": "{:+.3f}"})]
    if warned:
        parts += ["### Warnings", "\n".join(f"- {w}" for w in warned)]
    return parts


def _md_table(df: pd.DataFrame, formats: dict[str, str]) -> str:
    def cell(col: str, v: Any) -> str:
        if isinstance(v, float) and math.isnan(v):
            return ""
        if col in formats:
            return formats[col].format(v)
        if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
            return f"{int(v):,}"
        if isinstance(v, (float, np.floating)):
            return f"{float(v):.4g}"
        return md_cell(v)

    head = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    rows = ["| " + " | ".join(cell(c, v) for c, v in zip(df.columns, r, strict=True)) + " |"
            for r in df.itertuples(index=False)]
    return "\n".join([head, rule, *rows])


def _require(df: pd.DataFrame, name: str, columns: Sequence[str]) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError([Problem(name, None, f"missing required column "
                                 f"{', '.join(missing)}")])


def _response_rates(conversations: pd.DataFrame, arm_of: pd.Series, control: str,
                    treatment: str) -> pd.DataFrame:
    """Per-arm response rates and the clustered and unclustered tests of their difference.

    ``arm_of`` maps each customer (its index) to an arm; conversations of other customers are
    left out.
    """
    pos = positions(arrow_strings(conversations[schema.CUSTOMER_ID]),
                    arrow_strings(pd.Series(arm_of.index)))
    code = pd.Categorical(arm_of.astype("string"), categories=[control, treatment]).codes
    return _rates(pos, conversations[schema.CSAT].notna().to_numpy(bool), code, control,
                  treatment)


def _rates(pos: np.ndarray, rated: np.ndarray, code: np.ndarray, control: str,
           treatment: str) -> pd.DataFrame:
    """Response rates from each conversation's customer position ``pos`` (-1: none), whether it
    was ``rated``, and each customer's arm ``code`` (0 control, 1 treatment, -1 other)."""
    hit = pos >= 0
    rows = pd.DataFrame({
        "arm": pd.Categorical.from_codes(code, categories=[control, treatment]),
        "conversations": np.bincount(pos[hit], minlength=code.size).astype(float),
        "rated": np.bincount(pos[hit], weights=rated[hit].astype(float), minlength=code.size)})
    return rates_table(arm_statistics(rows, columns=["conversations", "rated"],
                                      arms=[control, treatment]), control, treatment)


def rates_table(stats: dict[str, ArmStatistics], control: str, treatment: str) -> pd.DataFrame:
    """The response-rate table from each arm's per-customer moments of ``conversations`` and
    ``rated`` (every conversation of the arm's customers; customers without one count with
    zeros), as :attr:`Diagnostics.response_rates` holds it. Shared by :func:`diagnose` and
    the engine's diagnostics."""
    rows: list[dict[str, Any]] = []
    est: dict[str, RatioEstimate | None] = {}
    for arm in (control, treatment):
        st = stats[arm]
        n = st.n
        x_sum, y_sum = (float(st.sums[st.index(c)]) for c in ("conversations", "rated"))
        est[arm] = None
        if x_sum > 0 and n >= 2:
            i, j = st.index("rated"), st.index("conversations")
            cov = st.cov
            est[arm] = ratio_from_moments(n, mean_y=y_sum / n, mean_x=x_sum / n,
                                          var_y=float(cov[i, i]), var_x=float(cov[j, j]),
                                          cov_xy=float(cov[i, j]))
        rows.append({schema.ARM: arm, "customers": int(n), "conversations": round(x_sum),
                     "rated": round(y_sum),
                     "response_rate": y_sum / x_sum if x_sum else np.nan})
    out = pd.DataFrame(rows)
    c, t = est[control], est[treatment]
    diff = out["response_rate"].iloc[1] - out["response_rate"].iloc[0]
    p_cluster = np.nan
    if c is not None and t is not None and c.variance + t.variance > 0:
        z = (t.ratio - c.ratio) / math.sqrt(c.variance + t.variance)
        p_cluster = float(2 * stats_.norm.sf(abs(z)))
    p_z = np.nan
    n_conv = out["conversations"].to_numpy()
    k = out["rated"].to_numpy()
    if (n_conv > 0).all() and 0 < k.sum() < n_conv.sum():
        p_z = two_proportion_ztest(k[::-1], n_conv[::-1]).p_value
    return out.assign(diff=diff, p_value=p_cluster, ztest_p_value=p_z)


def design_of(sizes: dict[str, int], *, control: str, treatment: str,
              weights: Sequence[float] | None, calendar: BusinessCalendar | None,
              policies: dict[str, FrtPolicy] | None
              ) -> tuple[list[str], np.ndarray, SRMResult, BusinessCalendar,
                         dict[str, FrtPolicy]]:
    """From the customers per arm: the arms in the diagnostics' order (control, treatment, the
    others sorted), their counts, the sample-ratio test, the calendar and the two compared
    arms' policies; shared by :func:`diagnose` and the engine's diagnostics.

    Raises:
        ValueError: A compared arm without customers, weights of the wrong length, a policy
            missing.
    """
    present = set(sizes)
    for name, arm in (("control", control), ("treatment", treatment)):
        if arm not in present:
            raise ValueError(f"{name}: arm {arm!r} has no customers in assignments (arms: "
                             f"{sorted(present)})")
    order = [control, treatment, *sorted(present - {control, treatment})]
    counts = np.array([int(sizes[a]) for a in order])
    if weights is not None and len(weights) != len(order):
        raise ValueError(f"weights: need one weight per arm {order}, got {list(weights)!r}")
    srm = sample_ratio_mismatch(counts, weights)
    cal = calendar if calendar is not None else default_calendar()
    pol = (policies if policies is not None
           else default_policies(cal, control=control, treatment=treatment))
    for arm in (control, treatment):
        if arm not in pol:
            raise ValueError(f"policies: no FRT policy for arm {arm!r} (have {sorted(pol)})")
    return order, counts, srm, cal, {control: pol[control], treatment: pol[treatment]}


def diagnose(
    customers: pd.DataFrame | None,
    conversations: pd.DataFrame,
    assignments: pd.DataFrame,
    *,
    control: str = schema.CONTROL_ARM,
    treatment: str = schema.TREATMENT_ARM,
    calendar: BusinessCalendar | None = None,
    policies: dict[str, FrtPolicy] | None = None,
    weights: Sequence[float] | None = None,
    as_of: Any = None,
) -> Diagnostics:
    """Check that the experiment ran as designed: sample ratio, response rates, FRT per arm.

    Args:
        customers: Customers with pre-period covariates for the balance table (or ``None``).
        conversations: Canonical conversations (``customer_id``, ``created_at``,
            ``first_response_at``, ``csat``).
        assignments: ``customer_id`` and ``arm`` (one row per customer).
        control, treatment: The arms compared.
        calendar: The desk's business calendar (default :func:`default_calendar`, the
            simulator's desk).
        policies: FRT policy per arm (default ``default_policies(calendar, control=control,
            treatment=treatment)``: the control arm fast, the treatment arm one business day,
            whatever their names).
        weights: Design weights of ``control``, ``treatment`` (and any other arm in
            ``assignments``, sorted by name) for the SRM test (default: equal).
        as_of: The data's cut-off (time-zone aware; default: the latest ``created_at`` or
            ``first_response_at`` in ``conversations``). A conversation unanswered then whose
            deadline is still ahead is pending, not missed, in the share within target.

    Returns:
        :class:`Diagnostics`. Warns :class:`~frt_experiments.errors.SampleRatioMismatchWarning`,
        :class:`~frt_experiments.errors.TreatmentNotDeliveredWarning`,
        :class:`~frt_experiments.errors.DataWarning` (response rates differ at clustered
        p < 0.001) and :class:`~frt_experiments.errors.BalanceWarning` (|SMD| > 0.1).

    References:
        Fabijan, A. et al. (2019). Diagnosing sample ratio mismatch in online controlled
        experiments. KDD '19 (SRM at p < 0.001). Agresti, A. (2013). Categorical Data Analysis,
        3rd ed., section 3.1 (two-proportion z test). Deng, A., Knoblich, U. and Lu, J. (2018).
        Applying the delta method in metric analytics. KDD '18 (response rate as a ratio of
        per-customer sums). Kohavi, R., Tang, D. and Xu, Y. (2020). Trustworthy Online
        Controlled Experiments, ch. 21 (guardrail and trust metrics).
    """
    _require(conversations, "conversations", (schema.CUSTOMER_ID, schema.CREATED_AT,
                                              schema.FIRST_RESPONSE_AT, schema.CSAT))
    _require(assignments, "assignments", (schema.CUSTOMER_ID, schema.ARM))
    if control == treatment:
        raise ValueError(f"control and treatment must differ, both are {control!r}")
    ids = assignments[schema.CUSTOMER_ID].astype("string")
    assigned = arrow_strings(ids)
    if pc.count_distinct(assigned, mode="all").as_py() != len(assigned):
        dup = ids.duplicated().to_numpy(bool)
        rows = tuple(int(i) for i in np.flatnonzero(dup)[:5])
        raise DataError([Problem("assignments", schema.CUSTOMER_ID,
                                 "repeating an earlier customer_id (diagnose one experiment "
                                 "at a time)", int(dup.sum()), rows)])
    arm_codes, arm_names = pd.factorize(assignments[schema.ARM].astype("string"))
    sizes = np.bincount(arm_codes[arm_codes >= 0], minlength=len(arm_names))
    order, counts, srm, cal, two = design_of(
        {str(a): int(sizes[i]) for i, a in enumerate(arm_names)}, control=control,
        treatment=treatment, weights=weights, calendar=calendar, policies=policies)
    # One hashed join of conversations to assignments serves every per-arm figure below.
    pos = during_trial(positions(arrow_strings(conversations[schema.CUSTOMER_ID]), assigned),
                       conversations[schema.CREATED_AT], assignments)
    code = pd.Categorical.from_codes(arm_codes, categories=arm_names).set_categories(
        [control, treatment]).codes
    conv_code = np.where(pos >= 0, code[np.maximum(pos, 0)], -1)
    created = conversations[schema.CREATED_AT]
    first = conversations[schema.FIRST_RESPONSE_AT]
    if as_of is None and len(created):
        as_of = max(created.max(), first.max()) if first.notna().any() else created.max()
    frt = attainment_by_code(created, first, conv_code, two, as_of=as_of,
                             abandoned_at=conversations.get(schema.ABANDONED_AT))
    rates = _rates(pos, conversations[schema.CSAT].notna().to_numpy(bool), code, control,
                   treatment)

    answered = (first.notna() & created.notna()).to_numpy(bool) & (conv_code >= 0)
    closed_check = None
    if answered.sum() >= MIN_CALENDAR_CHECK:
        where = np.flatnonzero(answered)
        if where.size > CALENDAR_CHECK_SAMPLE:  # a share: an even sample measures it to 0.2%
            where = where[np.linspace(0, where.size - 1, CALENDAR_CHECK_SAMPLE).astype(int)]
        a_created, a_first = created.iloc[where], first.iloc[where]
        closed = ((cal.business_duration(a_created, a_first) <= pd.Timedelta(0)).to_numpy(bool)
                  & (a_first > a_created).to_numpy(bool))
        closed_check = (int(closed.sum()), int(where.size), int(answered.sum()))
    balance = pd.DataFrame()
    if customers is not None:
        _require(customers, "customers", (schema.CUSTOMER_ID,))
        two_arms = assignments[assignments[schema.ARM].astype("string")
                               .isin([control, treatment]).fillna(False).to_numpy(bool)]
        balance = covariate_balance(customers, two_arms, arms=(control, treatment), warn=False)
    diag = assemble(control, treatment, order=order, counts=counts, srm=srm, frt=frt,
                    rates=rates, closed_check=closed_check, balance=balance, cal=cal,
                    held=is_held(frt, control, treatment))
    return _with_interference(diag, conversations, assignments, two[control])


def is_held(frt: pd.DataFrame, control: str, treatment: str) -> bool:
    """Whether the treatment's policy allows no more business time than the control's target:
    an arm held within the fast promise (see :func:`assemble`)."""
    allowed = frt.set_index(schema.ARM)["target_business_hours"]
    return bool(allowed[treatment] <= allowed[control])


def during_trial(pos: np.ndarray, created: pd.Series, assignments: pd.DataFrame) -> np.ndarray:
    """``pos`` (each conversation's row in ``assignments``, -1 for none) with the conversations
    created before their customer's ``assigned_at`` (the pre-period) set to -1: the arms' FRT
    and response rates are the trial's. Unchanged without ``assigned_at``."""
    if schema.ASSIGNED_AT not in assignments.columns:
        return pos
    at = assignments[schema.ASSIGNED_AT].to_numpy(dtype="datetime64[ns]")
    hit = np.flatnonzero(pos >= 0)
    early = created.to_numpy(dtype="datetime64[ns]")[hit] < at[pos[hit]]
    out = pos.copy()
    out[hit[early]] = -1
    return out


def _with_interference(diag: Any, conversations: pd.DataFrame, assignments: pd.DataFrame,
                       policy: FrtPolicy) -> Any:
    """``diag`` with the interference check of the control arm (and its warning when the arm
    was materially faster during the trial), when the conversations include pre-period ones."""
    check = interference_check(conversations, assignments, policy=policy)
    if check is None:
        return diag
    extra = []
    if check.faster:
        extra.append(check.message())
        warnings.warn(check.message(), InterferenceWarning, stacklevel=3)
    return replace(diag, interference=check, warnings=[*diag.warnings, *extra])


def assemble(control: str, treatment: str, *, order: Sequence[str], counts: np.ndarray,
             srm: SRMResult, frt: pd.DataFrame, rates: pd.DataFrame,
             closed_check: tuple[int, int, int] | None, balance: pd.DataFrame,
             cal: BusinessCalendar, stacklevel: int = 4, held: bool = False) -> Diagnostics:
    """The verdicts and warnings of the diagnostics from their figures, shared by
    :func:`diagnose` (in memory) and the engine's diagnostics.

    ``held``: the treatment's policy allows no more than the control's target (an arm held
    within the fast promise, e.g. answered just before 4 business hours beside a 4-hour fast
    arm); its median must then exceed the control's median by :data:`HELD_MARGIN` rather than
    the control's target (module docstring).

    ``closed_check``: of the answered conversations checked, how many were created and
    answered while the calendar is closed, how many were checked, and how many were answered
    (``None`` below :data:`MIN_CALENDAR_CHECK` answered conversations).
    """
    counts_df = pd.DataFrame({schema.ARM: list(order), "customers": counts,
                              "expected": list(srm.expected)})
    target = float(frt["target_business_hours"].iloc[0])
    messages: list[str] = []

    def emit(text: str, category: type[Warning]) -> None:
        messages.append(text)
        warnings.warn(text, category, stacklevel=stacklevel)

    if srm.flagged:
        per_arm = dict(zip(order, counts.tolist(), strict=True))
        emit(f"sample ratio mismatch: customers per arm {per_arm} differ from the design "
             f"(chi-square {srm.statistic:.2f}, p = {srm.p_value:.2g} < 0.001); "
             "check the assignment and the data pipeline before reading effects",
             SampleRatioMismatchWarning)
    med = frt.set_index(schema.ARM)["median_business_hours"]
    med_c, med_t = float(med[control]), float(med[treatment])
    bar = HELD_MARGIN * med_c if held else target
    delivered = bool(med_c <= target and bar < med_t)
    if not delivered:
        why = []
        if not med_c <= target:
            why.append(f"{control}'s median FRT {med_c:.2f} business hours is not within its "
                       f"target {target:.2f}")
        if not bar < med_t:
            why.append(f"{treatment}'s median FRT {med_t:.2f} business hours is not above "
                       + (f"{HELD_MARGIN:g} x {control}'s median {med_c:.2f} (an arm held "
                          f"within {control}'s target {target:.2f})" if held else
                          f"{control}'s target {target:.2f}"))
        emit("treatment not delivered: " + "; ".join(why) + " -- the arms' first responses do "
             "not differ as designed", TreatmentNotDeliveredWarning)
    if closed_check is not None:
        n_closed, n_checked, n_answered = closed_check
        share = n_closed / n_checked
        if share > CLOSED_SHARE_THRESHOLD:
            counted = (f"{n_closed:,} of {n_checked:,}" if n_checked == n_answered
                       else f"about {share * n_answered:,.0f} of {n_answered:,}")
            emit(f"{counted} answered conversations "
                 f"({share:.0%}) were created and answered while the desk calendar "
                 f"({describe_calendar(cal)}) is "
                 "closed, so their business-hours FRT is 0: is this the desk's calendar? (give "
                 "its zone, hours and holidays: --desk-timezone, --hours, --holidays)",
                 DataWarning)
    p_rr = rates["p_value"].iloc[0]
    if np.isfinite(p_rr) and p_rr < RESPONSE_RATE_THRESHOLD:
        r = rates.set_index(schema.ARM)["response_rate"]
        emit(f"CSAT response rates differ: {control} {r[control]:.1%}, {treatment} "
             f"{r[treatment]:.1%} (p = {p_rr:.2g} by customer); rated conversations may not "
             "be comparable", DataWarning)
    if not balance.empty:
        bad = balance[balance["imbalanced"]]
        if len(bad):
            emit("covariate imbalance above |SMD| 0.1: " + ", ".join(
                f"{r.covariate} SMD {r.smd:+.3f}" for r in bad.itertuples()), BalanceWarning)
    return Diagnostics(control, treatment, srm, counts_df, rates, frt, balance, delivered,
                       target, messages)


# ---------------------------------------------------------------------- several slow arms
def same_calendar(a: BusinessCalendar, b: BusinessCalendar) -> bool:
    """Whether two calendars are the same desk: one object, or the same zone, hours, holidays
    and closed dates."""
    if a is b:
        return True
    return (a.timezone == b.timezone and a.hours == b.hours
            and repr(a._country) == repr(b._country)
            and np.array_equal(a._explicit, b._explicit))


def arm_policies(arms: Sequence[str], calendar: BusinessCalendar | None,
                 policies: Mapping[str, FrtPolicy | str] | None
                 ) -> tuple[BusinessCalendar, dict[str, FrtPolicy]]:
    """The desk calendar and each compared arm's FRT policy (``arms``: control first).

    ``policies`` maps an arm to an :class:`~frt_experiments.policy.FrtPolicy` or to a policy
    name (:func:`~frt_experiments.policy.policy_from_spec`, put on the calendar). An arm
    without one gets, for the control, the fast policy (4 business hours, as
    :func:`~frt_experiments.policy.default_policies`), for a slow arm the policy its name
    reads as (``one_business_day``, ``two_business_days``, ``4h``, ...). The calendar is
    ``calendar``, else the policies' own, else :func:`default_calendar`.

    Raises:
        ValueError: An arm without a policy, an unknown policy name, a policy for an arm that
            is not compared, or a policy on another calendar than the diagnostics'.
    """
    given = dict(policies or {})
    stray = [a for a in given if a not in arms]
    if stray:
        raise ValueError(f"policies: arm {stray[0]!r} is not one of the compared arms "
                         f"({', '.join(arms)})")
    own = [p.calendar for p in given.values() if isinstance(p, FrtPolicy)]
    cal = calendar if calendar is not None else (own[0] if own else default_calendar())
    out: dict[str, FrtPolicy] = {}
    for i, arm in enumerate(arms):
        p = given.get(arm)
        if p is None:
            if i == 0:
                p = FrtPolicy(arm, cal, rule="business_time", target=_dt.timedelta(hours=4))
            else:
                try:
                    p = policy_from_spec(arm, arm, cal)
                except ValueError:
                    raise ValueError(f"arm {arm!r} has no FRT policy: give one (policies="
                                     f"{{{arm!r}: '4h'}}, --policy {arm}=NAME or the plan's "
                                     "[arms]; names such as '4h', 'one_business_day', "
                                     "'two_business_days', 'end_of_next_business_day')"
                                     ) from None
        elif isinstance(p, str):
            p = policy_from_spec(arm, p, cal)
        elif not isinstance(p, FrtPolicy):
            raise TypeError(f"policies: arm {arm!r}: expected an FrtPolicy or a policy name, "
                            f"got {type(p).__name__}")
        elif not same_calendar(p.calendar, cal):
            raise ValueError(f"policies: arm {arm!r}'s policy is on another calendar "
                             f"({describe_calendar(p.calendar)}) than the diagnostics' "
                             f"({describe_calendar(cal)}); put every arm's policy on the desk "
                             "calendar")
        if p.arm != arm:
            p = FrtPolicy(arm, p.calendar, rule=p.rule, target=p.target, days=p.days)
        out[arm] = p
    return cal, out


@dataclass(frozen=True, repr=False)
class ArmsDiagnostics:
    """The run-as-designed checks of a trial with several slow arms, over all of them.

    Attributes:
        control: The control arm.
        treatments: The slow arms, each compared with the control.
        srm: Sample-ratio-mismatch test of the customers of every arm against the weights.
        counts: Assigned customers per arm (``arm``, ``customers``, ``expected``).
        response_rates: Per arm ``customers``, ``conversations``, ``rated``,
            ``response_rate``, and for a slow arm its difference from the control's
            (``diff``, clustered ``p_value``, ``ztest_p_value``; empty for the control).
        frt: Per arm the FRT attainment of its own ``policy`` (the columns of
            :attr:`Diagnostics.frt` and the policy's name).
        balance: Covariate balance of each slow arm against the control.
        delivered: Slow arm -> whether its treatment was delivered (the module's rule).
        control_target_business_hours: The control target the rule uses.
        warnings: Every message raised as a warning, in order.
        per_arm: Slow arm -> its comparison's :class:`Diagnostics` (see :meth:`for_arm`).
        interference: The control arm before and during the trial (see
            :attr:`Diagnostics.interference`).
    """

    control: str
    treatments: tuple[str, ...]
    srm: SRMResult
    counts: pd.DataFrame
    response_rates: pd.DataFrame
    frt: pd.DataFrame
    balance: pd.DataFrame
    delivered: Mapping[str, bool]
    control_target_business_hours: float
    warnings: list[str] = field(default_factory=list)
    per_arm: Mapping[str, Diagnostics] = field(default_factory=dict)
    interference: InterferenceCheck | None = None

    @property
    def treatment_delivered(self) -> bool:
        """Whether every slow arm's treatment was delivered."""
        return all(self.delivered.values())

    def for_arm(self, arm: str) -> Diagnostics:
        """One slow arm against the control as a two-arm :class:`Diagnostics` (the sample
        ratio of all arms; that arm's FRT, response rate, balance and delivery)."""
        if arm not in self.per_arm:
            raise KeyError(f"no slow arm {arm!r} (have {', '.join(self.treatments)})")
        one = self.per_arm[arm]
        if self.interference is None or one.interference is not None:
            return one
        extra = [w for w in self.warnings if w.startswith("interference:")]
        return replace(one, interference=self.interference, warnings=[*one.warnings, *extra])

    def to_pandas(self) -> pd.DataFrame:
        """One row per arm: customers, response rate, FRT attainment and delivery."""
        rr = self.response_rates[[schema.ARM, "conversations", "rated", "response_rate"]]
        out = (self.counts.merge(rr, on=schema.ARM, how="left")
               .merge(self.frt.drop(columns=["n"]), on=schema.ARM, how="left"))
        out["treatment_delivered"] = [self.delivered.get(a) for a in out[schema.ARM]]
        return out

    def to_markdown(self) -> str:
        """Plain Markdown: sample ratio, response rates, FRT per arm, delivery, balance."""
        s, rr = self.srm, self.response_rates
        slow = rr[rr[schema.ARM] != self.control]
        parts = [
            "### Sample ratio",
            _md_table(self.counts, {"expected": "{:,.1f}"}),
            f"Chi-square {s.statistic:.3f} (df {s.df}), p = {s.p_value:.4g}"
            + (" -- **sample ratio mismatch** (p < 0.001)" if s.flagged else "."),
            "### CSAT response rate",
            _md_table(rr[[schema.ARM, "customers", "conversations", "rated", "response_rate"]],
                      {"response_rate": "{:.2%}"}),
            "\n".join(f"- {r.arm} - {self.control}: {r.diff:+.2%}, p = {r.p_value:.4g} by "
                      f"customer (delta method), p = {r.ztest_p_value:.4g} by two-proportion "
                      "z test" for r in slow.itertuples()),
            "### First response time per arm (each arm's own policy)",
            _md_table(self.frt, {c: "{:.2f}" for c in self.frt.columns if c.endswith("hours")}
                      | {"share_within_target": "{:.1%}"}),
            "### Treatment delivered per arm",
            "\n".join(f"- {arm}: " + ("delivered" if ok else "**NOT delivered**")
                      for arm, ok in self.delivered.items())
            + f"\n\n(control target {self.control_target_business_hours:.2f} business hours)",
        ]
        return "\n\n".join(parts + _markdown_tail(self.interference, self.balance,
                                                   self.warnings)) + "\n"

    def summary(self) -> str:
        """The Markdown report (readable as plain text)."""
        return self.to_markdown()

    def _repr_html_(self) -> str:
        parts = ["<h4>Sample ratio</h4>", self.counts.to_html(index=False),
                 f"<p>chi-square {self.srm.statistic:.3f}, p = {self.srm.p_value:.4g}</p>",
                 "<h4>CSAT response rate</h4>", self.response_rates.to_html(index=False),
                 "<h4>First response time per arm</h4>", self.frt.to_html(index=False)]
        parts += [f"<p>warning: {html.escape(w)}</p>" for w in self.warnings]
        return "\n".join(parts)

    def __repr__(self) -> str:
        med = self.frt.set_index(schema.ARM)["median_business_hours"]
        arms = ", ".join(f"{a} {med.get(a, np.nan):.2f} h" for a in (self.control,
                                                                     *self.treatments))
        return (f"ArmsDiagnostics({self.control} vs {', '.join(self.treatments)}: srm_p="
                f"{self.srm.p_value:.4g}, median business FRT {arms}, delivered="
                f"{dict(self.delivered)}, warnings={len(self.warnings)})")


def design_of_arms(sizes: Mapping[str, int], arms: Sequence[str], *,
                   weights: Sequence[float] | None) -> tuple[list[str], np.ndarray, SRMResult]:
    """From the customers per arm: the arms in the diagnostics' order (the compared ones, then
    the others sorted), their counts and the sample-ratio test.

    Raises:
        ValueError: A compared arm without customers, or weights of the wrong length.
    """
    present = set(sizes)
    for i, arm in enumerate(arms):
        if arm not in present:
            raise ValueError(f"{'control' if i == 0 else 'treatment'}: arm {arm!r} has no "
                             f"customers in assignments (arms: {sorted(present)})")
    order = [*arms, *sorted(present - set(arms))]
    counts = np.array([int(sizes[a]) for a in order])
    if weights is not None and len(weights) != len(order):
        raise ValueError(f"weights: need one weight per arm {order}, got {list(weights)!r}")
    return order, counts, sample_ratio_mismatch(counts, weights)


def diagnose_arms(
    customers: pd.DataFrame | None,
    conversations: pd.DataFrame,
    assignments: pd.DataFrame,
    *,
    control: str = schema.CONTROL_ARM,
    treatments: Sequence[str],
    calendar: BusinessCalendar | None = None,
    policies: Mapping[str, FrtPolicy | str] | None = None,
    weights: Sequence[float] | None = None,
    as_of: Any = None,
) -> ArmsDiagnostics:
    """:func:`diagnose` for a trial with several slow arms, computed once over all of them.

    Args:
        treatments: The slow arms (each compared with ``control``).
        policies: Each arm's FRT policy or policy name (see :func:`arm_policies`).
        weights: Design weights of ``control``, the ``treatments`` in their order, and any
            other arm in ``assignments`` sorted by name (default: equal).
        customers, conversations, assignments, control, calendar, as_of: As for
            :func:`diagnose`.

    Returns:
        :class:`ArmsDiagnostics`, with the warnings of :func:`diagnose` (the treatment not
        delivered named per arm).

    References:
        As :func:`diagnose`.
    """
    _require(conversations, "conversations", (schema.CUSTOMER_ID, schema.CREATED_AT,
                                              schema.FIRST_RESPONSE_AT, schema.CSAT))
    _require(assignments, "assignments", (schema.CUSTOMER_ID, schema.ARM))
    arms = [control, *treatments]
    if len(set(arms)) != len(arms) or not treatments:
        raise ValueError(f"arms: need a control and at least one other arm, all different, "
                         f"got control {control!r} and treatments {list(treatments)!r}")
    cal, pol = arm_policies(arms, calendar, policies)
    ids = assignments[schema.CUSTOMER_ID].astype("string")
    assigned = arrow_strings(ids)
    if pc.count_distinct(assigned, mode="all").as_py() != len(assigned):
        dup = ids.duplicated().to_numpy(bool)
        raise DataError([Problem("assignments", schema.CUSTOMER_ID,
                                 "repeating an earlier customer_id (diagnose one experiment "
                                 "at a time)", int(dup.sum()),
                                 tuple(int(i) for i in np.flatnonzero(dup)[:5]))])
    codes, names = pd.factorize(assignments[schema.ARM].astype("string"))
    sizes = np.bincount(codes[codes >= 0], minlength=len(names))
    order, counts, srm = design_of_arms({str(a): int(sizes[i]) for i, a in enumerate(names)},
                                        arms, weights=weights)
    pos = during_trial(positions(arrow_strings(conversations[schema.CUSTOMER_ID]), assigned),
                       conversations[schema.CREATED_AT], assignments)
    code = pd.Categorical.from_codes(codes, categories=names).set_categories(arms).codes
    conv_code = np.where(pos >= 0, code[np.maximum(pos, 0)], -1)
    created = conversations[schema.CREATED_AT]
    first = conversations[schema.FIRST_RESPONSE_AT]
    if as_of is None and len(created):
        as_of = max(created.max(), first.max()) if first.notna().any() else created.max()
    frt = attainment_by_code(created, first, conv_code, pol, as_of=as_of,
                             abandoned_at=conversations.get(schema.ABANDONED_AT))
    hit = pos >= 0
    rated = conversations[schema.CSAT].notna().to_numpy(bool)
    rows = pd.DataFrame({
        "arm": pd.Categorical.from_codes(code, categories=arms),
        "conversations": np.bincount(pos[hit], minlength=code.size).astype(float),
        "rated": np.bincount(pos[hit], weights=rated[hit].astype(float), minlength=code.size)})
    stats = arm_statistics(rows, columns=["conversations", "rated"], arms=arms)
    rates = {t: rates_table(stats, control, t) for t in treatments}
    answered = (first.notna() & created.notna()).to_numpy(bool) & (conv_code >= 0)
    closed_check = None
    if answered.sum() >= MIN_CALENDAR_CHECK:
        where = np.flatnonzero(answered)
        if where.size > CALENDAR_CHECK_SAMPLE:
            where = where[np.linspace(0, where.size - 1, CALENDAR_CHECK_SAMPLE).astype(int)]
        a_created, a_first = created.iloc[where], first.iloc[where]
        closed = ((cal.business_duration(a_created, a_first) <= pd.Timedelta(0)).to_numpy(bool)
                  & (a_first > a_created).to_numpy(bool))
        closed_check = (int(closed.sum()), int(where.size), int(answered.sum()))
    balance = pd.DataFrame()
    if customers is not None:
        _require(customers, "customers", (schema.CUSTOMER_ID,))
        compared = assignments[assignments[schema.ARM].astype("string").isin(arms)
                               .fillna(False).to_numpy(bool)]
        balance = covariate_balance(customers, compared, arms=arms, warn=False)
    diag = assemble_arms(control, list(treatments), order=order, counts=counts, srm=srm,
                         frt=frt, rates=rates, closed_check=closed_check, balance=balance,
                         cal=cal, policies=pol)
    return _with_interference(diag, conversations, assignments, pol[control])


def assemble_arms(control: str, treatments: Sequence[str], *, order: Sequence[str],
                  counts: np.ndarray, srm: SRMResult, frt: pd.DataFrame,
                  rates: Mapping[str, pd.DataFrame], closed_check: tuple[int, int, int] | None,
                  balance: pd.DataFrame, cal: BusinessCalendar, policies: Mapping[str, FrtPolicy],
                  stacklevel: int = 4) -> ArmsDiagnostics:
    """The verdicts and warnings of :func:`diagnose_arms` from its figures (shared with the
    engine): each slow arm judged by :func:`assemble`, the warnings raised once each."""
    per_arm: dict[str, Diagnostics] = {}
    messages: list[tuple[str, type[Warning]]] = []
    for t in treatments:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            pair = frt[frt[schema.ARM].isin([control, t])].reset_index(drop=True)
            part = (balance[balance["treatment_arm"] == t].reset_index(drop=True)
                    if not balance.empty else balance)
            per_arm[t] = assemble(control, t, order=order, counts=counts, srm=srm, frt=pair,
                                  rates=rates[t], closed_check=closed_check, balance=part,
                                  cal=cal, held=is_held(pair, control, t))
        for w in seen:
            text = str(w.message)
            if issubclass(w.category, BalanceWarning):  # name the pair the covariates are of
                text = f"{t} vs {control}: {text}"
            item = (text, w.category)
            if item not in messages:
                messages.append(item)
    for text, category in messages:
        warnings.warn(text, category, stacklevel=stacklevel)
    frt = frt.assign(policy=[policies[a].spec for a in frt[schema.ARM]])
    first = rates[treatments[0]]
    rows = [first.iloc[[0]].assign(diff=np.nan, p_value=np.nan, ztest_p_value=np.nan)]
    rows += [rates[t].iloc[[1]] for t in treatments]
    return ArmsDiagnostics(
        control, tuple(treatments), srm,
        pd.DataFrame({schema.ARM: list(order), "customers": counts,
                      "expected": list(srm.expected)}),
        pd.concat(rows, ignore_index=True), frt, balance,
        {t: per_arm[t].treatment_delivered for t in treatments},
        float(frt["target_business_hours"].iloc[0]), [m for m, _ in messages], per_arm)
