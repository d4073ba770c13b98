"""From the trial to the rollout: the rollout's predicted effect and the target that pays most.

The trial's A/B contrast is not the rollout's effect: the arms share one desk, so deferring the
slow arm speeds up the fast one (:mod:`frt_experiments.simulate.worlds`), and the rollout runs
on fewer agents. What carries over from the trial is the **dose-response**
(:func:`frt_experiments.dose_response`): the change of CSAT, questions and NRR per unit of dose,
``log(1 + business hours)`` to the first response per answered conversation, instrumented by the
arms. What the rollout changes is the dose, and that comes out of the desk.

**The desk in two worlds.** From the trial's conversations, :func:`predict_rollout` builds the
arrivals of each world as :func:`frt_experiments.staffing.plan_staffing` does (hour-of-week
Poisson profiles, :class:`~frt_experiments.staffing.ArrivalProfile`): the customers outside the
experiment as they came, and the low-spend customers as one arm scaled up by the inverse of its
share of the assigned customers -- the control arm for the **status quo** (everyone fast, at
``headcount``), the rollout arm for the **rollout** (every low-spend customer on the slow
policy, at ``rollout_headcount``), so the arm's own volume and handle times enter. Each world is
run by :func:`~frt_experiments.staffing.simulate_desk` (``replications`` independent runs over
the trial's window after a warm-up); the dose of a group is the mean of ``log(1 + business
hours)`` over its answered conversations. Per replication ``r`` the low-spend customers' doses
``D_sq[r]`` and ``D_ro[r]`` give the dose change ``Delta = mean(D_ro - D_sq)`` with its Monte
Carlo variance ``var(D_ro - D_sq) / R`` (Law 2015, 9.4).

**The prediction.** With the dose-response line ``y = a + b d`` of an outcome (2SLS intercept
``a``, slope ``b``, their covariance ``V``), the low-spend customers' outcome moves from ``a +
b D_sq`` to ``a + b D_ro``::

    change     = b Delta
    var        = Delta**2 V_bb + b**2 var(Delta)
    rel_change = b Delta / (a + b D_sq)

and the relative change's variance is ``g' V g + h' S h`` with the gradients ``g`` in ``(a,
b)`` and ``h`` in ``(Delta, D_sq)`` and ``S`` the Monte Carlo covariance of ``(Delta,
D_sq)``: the delta method (Oehlert 1992; Deng, Knoblich and Lu 2018), the two sources
independent (the trial's sampling and the simulation's random numbers). The first term is the
estimation uncertainty of the dose-response, the second the simulation's; both are reported
(``se_dose_response``, ``se_simulation``). The intervals are normal at ``1 - alpha``.

The customers **outside** the experiment keep the fast policy, but the rollout's desk serves
them otherwise (fewer agents, the low-spend work deferred): their dose changes too, and the
table gives their predicted change by the same line -- an extrapolation, since the
dose-response was estimated on low-spend customers. The headline (and what
:func:`frt_experiments.decide` shows) is the low-spend customers', the rollout's effect as
:func:`~frt_experiments.simulate.simulate_worlds` defines it.

Assumptions: the outcome depends on the first response through the dose (a straight line over
the doses in between; with more than two trial arms the linearity test says whether it holds),
the slow policy's other effects (on handle time or questions by the label) are those the trial
arm had, and the desk model's arrivals (hour-of-week Poisson, the trial's follow-up volume) are
the rollout's. The interval leaves out the sampling error of those arrival profiles (estimated
from the trial's conversations): small beside the slope's on a desk of tens of agents, not on
one of three or four, where the status quo's load, taken from the trial's control arm (served
faster in the trial, so with more follow-ups), also runs high.

**The target that pays most.** :func:`rollout_frontier` repeats the prediction for a grid of
slow-arm targets (e.g. 4, 8 and 16 business hours, one and two business days). At each target
the agents needed come from :func:`~frt_experiments.staffing.plan_staffing` with the rollout
arm on that target (or are given), the rollout's desk is run at that headcount, and::

    net_benefit = (agents_everyone_fast - agents_rollout) cost_per_agent
                  + nrr_rel_change revenue_per_year

(the staffing savings minus the revenue at risk, ``-nrr_rel_change revenue_per_year``, as
:func:`frt_experiments.decide` prices it; its band from NRR's interval, the headcounts taken as
planned). The recommended target is the one of largest net benefit (at the estimate) among
those whose CSAT passes, if that net benefit is positive; otherwise none: keep everyone fast.

**Which CSAT rule.** The question the frontier answers is *which target is best*: the largest
true net benefit among the targets whose true CSAT change lies above ``csat_margin``. By default
(``csat_basis="estimate"``) CSAT passes where the *estimated* relative change lies above the
margin, so the recommendation is that rule with the estimates plugged in for the truth: the
empirical success rule of statistical treatment choice, a rule judged by its regret (the
expected shortfall against the best choice) rather than by a test's error rates (Manski 2004);
that the choice should follow expected net benefit whether or not the difference is
significant, the uncertainty pricing instead the value of more evidence, is Claxton's (1999)
argument. Its cost: a target whose true CSAT change lies just below the margin passes about
half the time. The conservative alternative, ``csat_basis="ci_bound"``, passes CSAT only where
the lower bound of its interval lies above the margin: a non-inferiority test (Wellek 2010, ch.
2), which answers a different question (*can we show CSAT holds?*) and, on a trial too small to
show it, stops at a cautious target. On 200 simulated ``published-desk`` trials of 20,000
customers (``benchmarks/bench_rollout.py``) the estimate rule recommended the truth's best
target in 65.5% of trials and the bound rule in 6.0%: the best target there (16 business hours,
at the benchmark's headcounts) moves CSAT by -1.5%, which 20,000 customers cannot show above a
-2% margin. Whichever rule is used, the frontier says whether non-inferiority is *shown* at
the recommended target (``csat_shown``, with the bound ``csat_lower_bound``), and cautions when
it is not: the recommendation is then the best bet on the evidence, and a larger or longer
trial would settle the CSAT question.

References:
    Oehlert, G. W. (1992). A note on the delta method. The American Statistician 46(1), 27-29.
    Deng, A., Knoblich, U. and Lu, J. (2018). Applying the delta method in metric analytics.
    KDD '18, 233-242.
    Angrist, J. D. and Pischke, J.-S. (2009). Mostly Harmless Econometrics, ch. 4 (2SLS with
    arm instruments; the slope the prediction rests on).
    Law, A. M. (2015). Simulation Modeling and Analysis, 5th ed., section 9.4 (independent
    replications, Monte Carlo standard errors).
    Blake, T. and Coey, D. (2014). Why marketplace experimentation is harder than it seems:
    the role of test-control interference. EC '14, 567-582.
    Wellek, S. (2010). Testing Statistical Hypotheses of Equivalence and Noninferiority, 2nd
    ed., ch. 2.
    Manski, C. F. (2004). Statistical treatment rules for heterogeneous populations.
    Econometrica 72(4), 1221-1246.
    Claxton, K. (1999). The irrelevance of inference: a decision-making approach to the
    stochastic evaluation of health care technologies. Journal of Health Economics 18(3),
    341-364.

Example::

    import frt_experiments as frt
    from frt_experiments.simulate import simulate_worlds

    w = simulate_worlds("published-desk", customers=20_000, rng=1)
    t = w.trial
    cal = frt.BusinessCalendar("America/New_York", hours="Mon-Fri 09:00-17:00", holidays="US")
    dr = frt.dose_response(t.customers, t.conversations, t.assignments, calendar=cal,
                           policies={"fast": "4h", "one_business_day": "one_business_day"})
    p = frt.predict_rollout(t.conversations, t.assignments, dr, calendar=cal,
                            headcount=28, rollout_headcount=24, rng=1)
    print(p.summary())
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from frt_experiments import schema
from frt_experiments.calendar import BusinessCalendar
from frt_experiments.dose import ANSWERED, DOSE_SUM, customer_doses
from frt_experiments.errors import UnstableQueueError
from frt_experiments.policy import FrtPolicy, policy_from_spec

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from frt_experiments._document import Document
    from frt_experiments.staffing import ArrivalProfile

__all__ = ["DEFAULT_TARGETS", "RolloutFrontier", "RolloutPrediction", "predict_rollout",
           "rollout_frontier"]

#: The outcomes predicted, in order (as :mod:`frt_experiments.dose_response`).
OUTCOMES = ("csat", "questions", "nrr")
#: The customer groups: the low-spend customers the rollout covers, and those outside it.
GROUPS = ("low_spend", "outside")
#: The slow-arm targets :func:`rollout_frontier` tries by default.
DEFAULT_TARGETS = ("4h", "8h", "16h", "one_business_day", "two_business_days")
#: Columns of :meth:`RolloutPrediction.to_pandas`.
COLUMNS = ("outcome", "group", "status_quo", "rollout", "change", "se", "ci_low", "ci_high",
           "se_dose_response", "se_simulation", "rel_change", "rel_se", "rel_ci_low",
           "rel_ci_high", "trial_contrast", "trial_contrast_ci_low", "trial_contrast_ci_high")
#: The queue label of the customers outside the experiment in the desk runs.
_OUTSIDE = "(outside)"
#: The policies assumed when neither ``policies`` nor the dose-response names them.
_DEFAULT_SPECS = {schema.CONTROL_ARM: "4h", schema.TREATMENT_ARM: "one_business_day"}
#: Business days a slow-arm target may reach at most.
_MAX_DAYS = 5
_LABELS = {"csat": "CSAT", "questions": "questions per customer", "nrr": "NRR"}


# ------------------------------------------------------------------------------ the formula


def _predict(intercept: float, slope: float, cov: Any, *, d_sq: float, delta: float,
             var_delta: float, var_dsq: float, cov_delta_dsq: float,
             alpha: float) -> dict[str, float]:
    """The predicted change of one outcome and its delta-method variance (module docstring).

    ``cov`` is the 2 x 2 covariance of ``(intercept, slope)``; ``var_delta``, ``var_dsq`` and
    ``cov_delta_dsq`` the Monte Carlo (co)variances of the dose change and the status quo's
    dose.
    """
    v = np.asarray(cov, dtype=float)
    a, b = float(intercept), float(slope)
    z = float(stats.norm.ppf(1 - alpha / 2))
    level = a + b * d_sq
    change = b * delta
    var_dr = delta**2 * v[1, 1]
    var_sim = b**2 * var_delta
    se = math.sqrt(max(var_dr + var_sim, 0.0))
    g = np.array([-change / level**2, delta / level - change * d_sq / level**2])
    h = np.array([b / level, -change * b / level**2])
    s = np.array([[var_delta, cov_delta_dsq], [cov_delta_dsq, var_dsq]])
    rel = change / level
    rel_se = math.sqrt(max(float(g @ v @ g + h @ s @ h), 0.0))
    return {"status_quo": level, "rollout": level + change, "change": change, "se": se,
            "ci_low": change - z * se, "ci_high": change + z * se,
            "se_dose_response": math.sqrt(max(var_dr, 0.0)),
            "se_simulation": math.sqrt(max(var_sim, 0.0)), "rel_change": rel, "rel_se": rel_se,
            "rel_ci_low": rel - z * rel_se, "rel_ci_high": rel + z * rel_se}


# ------------------------------------------------------------------------------ the desk


@dataclass(frozen=True)
class _Setting:
    """What every desk run of one prediction shares."""

    calendar: BusinessCalendar
    control: str
    treatment: str
    fast: FrtPolicy
    status_quo: ArrivalProfile
    rollout: ArrivalProfile  # the treatment stream scaled up, before its policy is chosen
    start: pd.Timestamp
    end: pd.Timestamp
    warmup: pd.Timedelta
    replications: int
    seed: int
    created: pd.Series  # a sample of creation times (the targets' business hours)


def _setting(conversations: pd.DataFrame, assignments: pd.DataFrame, *,
             calendar: BusinessCalendar, control: str, treatment: str, fast: FrtPolicy,
             replications: int, warmup_days: float, seed: int) -> _Setting:
    from frt_experiments.staffing import ArrivalProfile  # noqa: PLC0415 (heavy imports)

    for col in (schema.CUSTOMER_ID, schema.CREATED_AT, schema.HANDLE_SECONDS):
        if col not in conversations.columns:
            raise ValueError(f"conversations: needs column {col!r} (the desk simulation "
                             "replays the trial's arrivals and handle times)")
    counts = assignments[schema.ARM].astype(str).value_counts()
    n_low = float(counts.sum())
    for arm in (control, treatment):
        if counts.get(arm, 0) == 0:
            raise ValueError(f"assignments: no customer in arm {arm!r}")
    base = ArrivalProfile.from_conversations(conversations, assignments,
                                             timezone=calendar.timezone,
                                             unassigned_arm=control)
    names = {s.name for s in base.streams}
    for arm in (control, treatment):
        if arm not in names:
            raise ValueError(f"conversations: no conversation from a customer in arm {arm!r}")
    outside = ["unassigned"] if "unassigned" in names else []
    relabel = {"unassigned": _OUTSIDE} if outside else {}
    sq = base.select([*outside, control]).scaled({control: n_low / counts[control]}) \
        .with_arms(relabel)
    ro = base.select([*outside, treatment]).scaled({treatment: n_low / counts[treatment]}) \
        .with_arms(relabel)
    created = pd.to_datetime(conversations[schema.CREATED_AT], utc=True)
    start, end = created.min(), created.max()
    warmup = pd.Timedelta(days=float(warmup_days))
    if end - start <= warmup + pd.Timedelta(days=7):
        raise ValueError(f"conversations: the trial's window ({start} to {end}) is shorter "
                         f"than the warm-up ({warmup_days:g} days) plus a week to measure")
    sample = created.sample(n=min(len(created), 2000), random_state=0).reset_index(drop=True)
    return _Setting(calendar, control, treatment, fast, sq, ro, start, end, warmup,
                    replications, seed, sample)


def _target_hours(policy: FrtPolicy, created: pd.Series) -> float:
    """The business hours a policy allows, on average over the trial's creation times."""
    if policy.rule == "business_time" and policy.target is not None:
        return float(policy.target.total_seconds()) / 3600.0
    span = policy.calendar.business_duration(created, policy.deadline(created))
    return float(pd.to_timedelta(span).dt.total_seconds().mean()) / 3600.0


def _open_hours(setting: _Setting) -> float:
    span = setting.calendar.business_duration(pd.Series([setting.start]),
                                              pd.Series([setting.end]))
    return float(pd.to_timedelta(span).dt.total_seconds().iloc[0]) / 3600.0


def _check_load(setting: _Setting, profile: ArrivalProfile, agents: int, name: str) -> None:
    """Refuse a headcount whose open hours cannot carry the world's offered work."""
    weeks = (setting.end - setting.start) / pd.Timedelta(weeks=1)
    work = profile.workload_hours_per_week() * weeks
    duty = agents * _open_hours(setting)
    if work < duty:
        return
    need = math.floor(work / _open_hours(setting)) + 1
    raise UnstableQueueError(
        f"{name}: {agents} agents cannot carry the offered work ({work:,.0f} agent hours "
        f"against {duty:,.0f} scheduled over the trial's window): the queue is unstable "
        f"(load {work / duty:.2f} >= 1); give at least {need} agents")


def _doses(setting: _Setting, profile: ArrivalProfile, agents: int, policies: dict[str, Any],
           low: str) -> np.ndarray:
    """Per replication, the mean dose of the low-spend and of the outside conversations:
    ``(replications, 2)``. A slow policy that allows no more than the fast target defers
    nobody: its conversations join the fast queue (as in
    :func:`~frt_experiments.staffing.plan_staffing`)."""
    from frt_experiments.staffing import simulate_desk  # noqa: PLC0415

    fast_hours = _target_hours(setting.fast, setting.created)
    fast = [setting.control, _OUTSIDE]
    if low != setting.control and _target_hours(policies[low], setting.created) \
            <= fast_hours + 1e-9:
        fast.append(low)
    res = simulate_desk(profile, agents=int(agents), calendar=setting.calendar,
                        policies=policies, fast_arms=tuple(fast),
                        unassigned_arm=_OUTSIDE, start=setting.start, end=setting.end,
                        warmup=setting.warmup.to_pytimedelta(),
                        replications=setting.replications, rng=setting.seed)
    c = res.conversations
    hours = c["frt_business_hours"].to_numpy(dtype=float)
    keep = c["measured"].to_numpy(bool) & np.isfinite(hours)
    rep = c["replication"].to_numpy()[keep]
    arm = c[schema.ARM].astype(str).to_numpy()[keep]
    dose = np.log1p(hours[keep])
    out = np.full((setting.replications, 2), np.nan)
    for j, name in enumerate((low, _OUTSIDE)):
        m = arm == name
        sums = np.bincount(rep[m], weights=dose[m], minlength=setting.replications)
        n = np.bincount(rep[m], minlength=setting.replications)
        out[:, j] = np.divide(sums, n, out=np.full(n.size, np.nan), where=n > 0)
    return out


def _world_policies(setting: _Setting, slow: FrtPolicy) -> dict[str, Any]:
    return {setting.control: setting.fast,
            _OUTSIDE: replace(setting.fast, arm=_OUTSIDE),
            setting.treatment: replace(slow, arm=setting.treatment)}


# ------------------------------------------------------------------------------ the result


@dataclass(frozen=True, repr=False)
class RolloutPrediction:
    """The rollout's predicted effect against the status quo (see the module docstring).

    Attributes:
        control, treatment: The fast arm and the arm whose policy is rolled out.
        policy: The rolled-out policy (its name, e.g. ``one_business_day``).
        target_hours: The business hours it allows, on average over the trial's conversations.
        headcount, rollout_headcount: Agents of the status quo and of the rollout.
        table: Per outcome and group (``low_spend``, ``outside``): the columns of
            :data:`COLUMNS` -- the predicted levels, the change with its SE, interval and the
            SE's two parts, the relative change with its interval, and (low-spend rows) the
            trial's A/B contrast with its interval for comparison.
        doses: Per group: ``dose_status_quo``, ``dose_rollout`` (mean ``log(1 + business
            hours)`` over answered conversations), ``dose_change`` with its Monte Carlo
            ``dose_change_se``, and ``hours_status_quo``/``hours_rollout`` (``exp(dose) - 1``).
        replications: Desk replications per world.
        alpha: Level of the intervals.
        skipped: Outcomes the dose-response did not estimate, with the reason.
    """

    control: str
    treatment: str
    policy: str
    target_hours: float
    headcount: int
    rollout_headcount: int
    table: pd.DataFrame
    doses: pd.DataFrame
    replications: int
    alpha: float = 0.05
    skipped: dict[str, str] = field(default_factory=dict)

    def effect(self, outcome: str, group: str = "low_spend") -> pd.Series:
        """The row of one outcome and group (``change``, ``ci_low``, ``ci_high``, ...)."""
        t = self.table
        rows = t[(t["outcome"] == outcome) & (t["group"] == group)]
        if rows.empty:
            raise ValueError(f"outcome: {outcome!r} of group {group!r} is not predicted "
                             f"(have {sorted(set(t['outcome']))}, groups {list(GROUPS)})")
        return rows.iloc[0]

    def to_pandas(self) -> pd.DataFrame:
        return self.table.copy()

    def summary(self) -> pd.DataFrame:
        """The low-spend customers' predicted change per outcome beside the trial's contrast."""
        t = self.table[self.table["group"] == "low_spend"]
        return t[["outcome", "status_quo", "rollout", "change", "ci_low", "ci_high",
                  "rel_change", "rel_ci_low", "rel_ci_high", "trial_contrast",
                  "trial_contrast_ci_low", "trial_contrast_ci_high"]].reset_index(drop=True)

    def text(self) -> str:
        """The prediction in words."""
        pct = 100 * (1 - self.alpha)
        d = self.doses.set_index("group")
        low, out = d.loc["low_spend"], d.loc["outside"]
        lines = [
            f"Rollout of {self.policy} ({self.target_hours:.3g} business hours) to every "
            f"low-spend customer at {self.rollout_headcount} agents, against everyone fast at "
            f"{self.headcount} (desk simulation, {self.replications} replications): the "
            f"low-spend customers' first response moves from {low['hours_status_quo']:.2f} to "
            f"{low['hours_rollout']:.2f} business hours (geometric mean of 1 + h, minus 1; dose "
            f"{low['dose_change']:+.3f} +- {low['dose_change_se']:.3f} Monte Carlo SE), the "
            f"others' from {out['hours_status_quo']:.2f} to {out['hours_rollout']:.2f}."]
        for _, r in self.table[self.table["group"] == "low_spend"].iterrows():
            lines.append(
                f"{_LABELS[r['outcome']]}: predicted change {r['change']:+.4g} ({pct:g}% "
                f"interval {r['ci_low']:+.4g} to {r['ci_high']:+.4g}; {r['rel_change']:+.2%}, "
                f"{r['rel_ci_low']:+.2%} to {r['rel_ci_high']:+.2%}); the trial's A/B "
                f"contrast {r['trial_contrast']:+.4g} ({r['trial_contrast_ci_low']:+.4g} to "
                f"{r['trial_contrast_ci_high']:+.4g}). SE {r['se']:.3g}: dose-response "
                f"{r['se_dose_response']:.3g}, simulation {r['se_simulation']:.3g}.")
        for name, why in self.skipped.items():
            lines.append(f"{name}: not predicted ({why}).")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"RolloutPrediction(policy={self.policy!r}, headcount={self.headcount}, "
                f"rollout_headcount={self.rollout_headcount})\n{self.text()}")

    def _repr_html_(self) -> str:
        from html import escape  # noqa: PLC0415

        return (f"<p>{escape(self.text()).replace(chr(10), '<br>')}</p>"
                + self.table.to_html(index=False, float_format="{:.4g}".format))

    def add_to(self, doc: Document) -> None:
        """Add the prediction to a report (:func:`frt_experiments.build_report`)."""
        for line in self.text().splitlines():
            doc.text(line)
        doc.table(_rounded(self.summary()))


@dataclass(frozen=True, repr=False)
class RolloutFrontier:
    """Net benefit and the CSAT change of the rollout over slow-arm targets.

    Attributes:
        table: One row per target: ``target``, ``target_hours``, ``agents_everyone_fast``,
            ``agents_rollout``, ``agents_saved``, ``annual_savings``, ``dose_change`` (and its
            Monte Carlo ``dose_change_se``), per outcome ``<o>_change``, ``<o>_ci_low``,
            ``<o>_ci_high``, ``<o>_rel_change``, ``<o>_rel_ci_low``, ``<o>_rel_ci_high``, then
            ``revenue_at_risk`` (with ``revenue_at_risk_ci_low``/``high``), ``net_benefit``
            (with ``net_benefit_ci_low``/``high``), ``csat_ok`` (CSAT passes by
            ``csat_basis``), ``csat_shown`` (the lower bound of CSAT's relative change lies
            above the margin: non-inferiority shown) and ``recommended``.
        recommended: The target recommended, or ``None`` (keep everyone fast).
        reason: Why, in a sentence or two (with the caution when CSAT's non-inferiority is not
            shown at the recommended target).
        predictions: Each target's :class:`RolloutPrediction`.
        revenue_per_year, cost_per_agent, csat_margin, csat_basis, alpha: The inputs.
        csat_shown: At the recommended target, whether the lower ``1 - alpha`` bound of CSAT's
            predicted relative change lies above ``csat_margin`` (always true under
            ``csat_basis="ci_bound"``); ``None`` when no target is recommended.
        csat_lower_bound: That lower bound at the recommended target (NaN when none).
    """

    table: pd.DataFrame
    recommended: str | None
    reason: str
    predictions: dict[str, RolloutPrediction]
    revenue_per_year: float
    cost_per_agent: float
    csat_margin: float
    csat_basis: str = "estimate"
    alpha: float = 0.05
    csat_shown: bool | None = None
    csat_lower_bound: float = math.nan

    @property
    def caution(self) -> str | None:
        """The caution when CSAT's non-inferiority is not shown at the recommended target
        (``None`` when it is, or when nothing is recommended)."""
        if self.recommended is None or self.csat_shown is not False:
            return None
        return _caution(self.recommended, self.csat_lower_bound, self.csat_margin, self.alpha)

    def to_pandas(self) -> pd.DataFrame:
        return self.table.copy()

    def summary(self) -> pd.DataFrame:
        """The decision columns: target, agents, savings, revenue at risk, net benefit with
        its interval, CSAT's relative change with its interval, pass and recommendation."""
        return self.table[["target", "target_hours", "agents_everyone_fast", "agents_rollout",
                           "annual_savings", "revenue_at_risk", "net_benefit",
                           "net_benefit_ci_low", "net_benefit_ci_high", "csat_rel_change",
                           "csat_rel_ci_low", "csat_rel_ci_high", "csat_ok", "csat_shown",
                           "recommended"]].copy()

    def text(self) -> str:
        pct = 100 * (1 - self.alpha)
        if self.csat_basis == "ci_bound":
            which, tail = f"the lower {pct:g}% bound", " (non-inferiority shown)"
        else:
            which, tail = "the estimate", (f" (the best target in expectation; non-inferiority "
                                           f"is shown where the lower {pct:g}% bound is above "
                                           f"it too)")
        lines = [f"Rollout frontier over {len(self.table)} slow-arm targets: net benefit = "
                 f"staffing savings ({self.cost_per_agent:,.0f} per agent a year) minus revenue "
                 f"at risk (predicted NRR relative change x {self.revenue_per_year:,.0f}); CSAT "
                 f"passes when {which} of its predicted relative change lies above the margin "
                 f"{self.csat_margin:+.2%}{tail}."]
        for _, r in self.table.iterrows():
            lines.append(
                f"{r['target']} ({r['target_hours']:.3g} business h): "
                f"{int(r['agents_everyone_fast'])} -> {int(r['agents_rollout'])} agents, saves "
                f"{r['annual_savings']:,.0f}; revenue at risk {r['revenue_at_risk']:,.0f}; net "
                f"benefit {r['net_benefit']:,.0f} ({r['net_benefit_ci_low']:,.0f} to "
                f"{r['net_benefit_ci_high']:,.0f}); CSAT {r['csat_rel_change']:+.2%} "
                f"({r['csat_rel_ci_low']:+.2%} to {r['csat_rel_ci_high']:+.2%}) "
                f"{'passes' if r['csat_ok'] else 'fails'}"
                + ("" if self.csat_basis == "ci_bound" else
                   ", non-inferiority shown" if r["csat_shown"] else
                   ", non-inferiority not shown")
                + (" <- recommended" if r["recommended"] else ""))
        lines.append(self.reason)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"RolloutFrontier(recommended={self.recommended!r})\n{self.text()}"

    def _repr_html_(self) -> str:
        from html import escape  # noqa: PLC0415

        return (f"<p>{escape(self.text()).replace(chr(10), '<br>')}</p>"
                + self.summary().to_html(index=False, float_format="{:.4g}".format))

    def plot(self) -> Figure:
        """Net benefit and CSAT's predicted relative change against the target's business
        hours, each with its band; the CSAT margin and the recommended target marked."""
        from matplotlib.figure import Figure  # noqa: PLC0415 - matplotlib only when plotting

        t = self.table.sort_values("target_hours")
        x = t["target_hours"].to_numpy(dtype=float)
        fig = Figure(figsize=(9.0, 3.8), layout="constrained")
        ax1, ax2 = fig.subplots(1, 2)
        pct = f"{100 * (1 - self.alpha):g}%"
        ax1.fill_between(x, t["net_benefit_ci_low"], t["net_benefit_ci_high"], color="0.85",
                         label=f"{pct} band (NRR)")
        ax1.plot(x, t["net_benefit"], "o-", color="0.2", label="net benefit")
        ax1.axhline(0.0, color="0.5", lw=0.8)
        ax1.set_ylabel("net benefit per year")
        ax1.set_title("savings minus revenue at risk", fontsize=9)
        ax2.fill_between(x, 100 * t["csat_rel_ci_low"], 100 * t["csat_rel_ci_high"],
                         color="0.85", label=f"{pct} band")
        ax2.plot(x, 100 * t["csat_rel_change"], "o-", color="0.2", label="CSAT change")
        ax2.axhline(100 * self.csat_margin, color="tab:red", ls="--", lw=1,
                    label=f"margin {self.csat_margin:+.1%}")
        ax2.set_ylabel("predicted CSAT change (%)")
        ax2.set_title("CSAT against its margin", fontsize=9)
        for ax in (ax1, ax2):
            if self.recommended is not None:
                rec = float(t.loc[t["target"] == self.recommended, "target_hours"].iloc[0])
                shown = "" if self.csat_shown else " (CSAT not yet shown)"
                ax.axvline(rec, color="tab:green" if self.csat_shown else "tab:orange",
                           lw=1, label=f"recommended: {self.recommended}{shown}")
            ax.set_xlabel("slow-arm target (business hours)")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="best")
        return fig

    def add_to(self, doc: Document) -> None:
        """Add the frontier to a report (:func:`frt_experiments.build_report`)."""
        doc.text("The rollout's predicted effect at each slow-arm target: the trial's "
                 "dose-response times the change of the low-spend customers' dose between "
                 "the status quo and the rollout's desk (simulated at each headcount); "
                 "intervals carry the dose-response's and the simulation's uncertainty "
                 "(delta method).")
        caution = self.caution
        lines = self.text().splitlines()
        for line in lines[:-1]:
            doc.text(line)
        if caution is None:
            doc.text(lines[-1])
        else:  # the reason without its caution, then the caution highlighted
            doc.text(self.reason.removesuffix(" " + caution))
            doc.verdict(caution, tone="caution", headline="Caution:")
        doc.table(_rounded(self.summary()))
        doc.figure(self.plot(), "rollout_frontier")


def _caution(target: str, bound: float, margin: float, alpha: float) -> str:
    """The caution for a recommended target whose CSAT non-inferiority is not shown."""
    return (f"CSAT non-inferiority is not yet shown at {target}: the lower "
            f"{100 * (1 - alpha):g}% bound of its predicted change, {bound:+.2%}, is not above "
            f"the {margin:+.2%} margin -- a larger or longer trial would settle it "
            f"(the ci_bound CSAT rule recommends only where it is shown).")


def _rounded(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    num = out.select_dtypes("number").columns
    out[num] = out[num].apply(lambda col: col.map(lambda v: float(f"{v:.4g}")))
    return out


# ------------------------------------------------------------------------------ checks


def _arms(dose_response: Any, control: str, treatment: str | None) -> tuple[str, str]:
    for attr in ("outcomes", "arms", "control"):
        if not hasattr(dose_response, attr):
            raise TypeError(f"dose_response: expected the result of frt.dose_response(...), "
                            f"got {type(dose_response).__name__}")
    arms = tuple(dose_response.arms)
    if control not in arms:
        raise ValueError(f"control: arm {control!r} is not in the dose-response (arms: "
                         f"{', '.join(arms)})")
    if treatment is None:
        slow = [a for a in arms if a != control]
        if len(slow) != 1:
            raise ValueError(f"treatment: the dose-response has {len(slow)} slow arms "
                             f"({', '.join(slow)}); name the one rolled out")
        treatment = slow[0]
    if treatment not in arms or treatment == control:
        raise ValueError(f"treatment: arm {treatment!r} is not a slow arm of the dose-response "
                         f"(arms: {', '.join(arms)})")
    return control, treatment


def _policy(arm: str, policies: Mapping[str, Any] | None, dose_response: Any,
            calendar: BusinessCalendar) -> FrtPolicy:
    given = dict(policies or {})
    spec = given.get(arm) or (dose_response.policies or {}).get(arm) or _DEFAULT_SPECS.get(arm)
    if spec is None:
        raise ValueError(f"policies: arm {arm!r} has no FRT policy (give policies={{{arm!r}: "
                         "'4h'}} or a dose-response estimated with policies)")
    if isinstance(spec, FrtPolicy):
        if spec.calendar != calendar:
            raise ValueError(f"policies: the policy of arm {arm!r} is on another calendar "
                             f"({spec.calendar!r}) than the desk's ({calendar!r})")
        return spec
    return policy_from_spec(arm, spec, calendar)


def _check_calendar(dose_response: Any, conversations: pd.DataFrame,
                    assignments: pd.DataFrame, calendar: BusinessCalendar,
                    window_end: Any) -> None:
    """The dose-response's arm doses must be these tables' doses on ``calendar``: a slope per
    unit of dose measured on another calendar (or other tables) would be applied to doses it
    does not describe."""
    doses = customer_doses(conversations, assignments, calendar=calendar, window_end=window_end)
    by_arm = doses.groupby(schema.ARM, observed=True)[[DOSE_SUM, ANSWERED]].sum()
    first = next(iter(dose_response.outcomes.values()), None)
    if first is None:
        raise ValueError("dose_response: it estimated no outcome")
    for _, row in first.arms.iterrows():
        arm = str(row["arm"])
        if arm not in by_arm.index or by_arm.loc[arm, ANSWERED] <= 0:
            raise ValueError(f"dose_response: arm {arm!r} has no answered conversation in "
                             "these tables; was it estimated on other tables?")
        mine = float(by_arm.loc[arm, DOSE_SUM] / by_arm.loc[arm, ANSWERED])
        if not math.isclose(mine, float(row["dose"]), rel_tol=1e-9, abs_tol=1e-12):
            raise ValueError(
                f"dose_response: arm {arm!r} has dose {float(row['dose']):.6g} there but "
                f"{mine:.6g} in these tables on the desk's calendar ({calendar!r}): the "
                "dose-response was estimated on another calendar (or other tables, or another "
                "window end); estimate it on this calendar")


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name}: must be a whole number of agents >= 1, got {value!r}")
    return int(value)


def _checked_common(replications: int, warmup_days: float, alpha: float) -> None:
    if isinstance(replications, bool) or not isinstance(replications, int | np.integer) \
            or replications < 2:
        raise ValueError(f"replications: must be a whole number >= 2 (the simulation's Monte "
                         f"Carlo error needs two), got {replications!r}")
    if not (isinstance(warmup_days, int | float) and 0 <= warmup_days < 60):
        raise ValueError(f"warmup_days: must be in [0, 60), got {warmup_days!r}")
    if not (isinstance(alpha, float | int) and 0 < alpha < 1):
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")


# ------------------------------------------------------------------------------ the API


def _prediction(setting: _Setting, dose_response: Any, slow: FrtPolicy, spec: str, *,
                sq: np.ndarray, headcount: int, rollout_headcount: int,
                alpha: float) -> RolloutPrediction:
    """One target's prediction from the status quo's per-replication doses ``sq``."""
    _check_load(setting, setting.rollout, rollout_headcount, "rollout_headcount")
    ro = _doses(setting, setting.rollout, rollout_headcount, _world_policies(setting, slow),
                setting.treatment)
    r = setting.replications
    dose_rows, per_group = [], {}
    for j, group in enumerate(GROUPS):
        diff = ro[:, j] - sq[:, j]
        d_sq = float(np.mean(sq[:, j]))
        delta = float(np.mean(diff))
        var_delta = float(np.var(diff, ddof=1)) / r
        var_dsq = float(np.var(sq[:, j], ddof=1)) / r
        cov_dd = float(np.cov(diff, sq[:, j], ddof=1)[0, 1]) / r
        per_group[group] = (d_sq, delta, var_delta, var_dsq, cov_dd)
        dose_rows.append({"group": group, "dose_status_quo": d_sq,
                          "dose_rollout": float(np.mean(ro[:, j])), "dose_change": delta,
                          "dose_change_se": math.sqrt(var_delta),
                          "hours_status_quo": math.expm1(d_sq),
                          "hours_rollout": math.expm1(float(np.mean(ro[:, j])))})
    z = float(stats.norm.ppf(1 - alpha / 2))
    rows = []
    for name in OUTCOMES:
        if name not in dose_response.outcomes:
            continue
        o = dose_response.outcomes[name]
        s = o.slope
        arm_rows = o.arms.set_index("arm")
        contrast = (float(arm_rows.loc[setting.treatment, "effect"]),
                    float(arm_rows.loc[setting.treatment, "effect_se"]))
        for group in GROUPS:
            d_sq, delta, var_delta, var_dsq, cov_dd = per_group[group]
            row: dict[str, Any] = {"outcome": name, "group": group}
            row |= _predict(s.intercept, s.effect, s.cov, d_sq=d_sq, delta=delta,
                            var_delta=var_delta, var_dsq=var_dsq, cov_delta_dsq=cov_dd,
                            alpha=alpha)
            if group == "low_spend":
                row |= {"trial_contrast": contrast[0],
                        "trial_contrast_ci_low": contrast[0] - z * contrast[1],
                        "trial_contrast_ci_high": contrast[0] + z * contrast[1]}
            rows.append(row)
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    return RolloutPrediction(setting.control, setting.treatment, spec,
                             _target_hours(slow, setting.created), headcount,
                             rollout_headcount, table, pd.DataFrame(dose_rows), r, alpha,
                             dict(getattr(dose_response, "skipped", {}) or {}))


def _prepare(conversations: Any, assignments: Any, dose_response: Any, *,
             calendar: BusinessCalendar, policies: Mapping[str, Any] | None, control: str,
             treatment: str | None, replications: int, warmup_days: float, alpha: float,
             rng: Any, window_end: Any) -> tuple[_Setting, FrtPolicy]:
    if not isinstance(calendar, BusinessCalendar):
        raise TypeError(f"calendar: expected a BusinessCalendar, got {type(calendar).__name__}")
    for name, t in (("conversations", conversations), ("assignments", assignments)):
        if not isinstance(t, pd.DataFrame):
            raise TypeError(f"{name}: expected a pandas DataFrame, got {type(t).__name__}")
    _checked_common(replications, warmup_days, alpha)
    control, treatment = _arms(dose_response, control, treatment)
    _check_calendar(dose_response, conversations, assignments, calendar, window_end)
    fast = _policy(control, policies, dose_response, calendar)
    slow = _policy(treatment, policies, dose_response, calendar)
    seed = int(np.random.default_rng(rng).integers(0, 2**63 - 1))
    setting = _setting(conversations, assignments, calendar=calendar, control=control,
                       treatment=treatment, fast=fast, replications=int(replications),
                       warmup_days=float(warmup_days), seed=seed)
    return setting, slow


def _status_quo(setting: _Setting, headcount: int) -> np.ndarray:
    _check_load(setting, setting.status_quo, headcount, "headcount")
    pols = {setting.control: setting.fast, _OUTSIDE: replace(setting.fast, arm=_OUTSIDE)}
    return _doses(setting, setting.status_quo, headcount, pols, setting.control)


def predict_rollout(
    conversations: pd.DataFrame,
    assignments: pd.DataFrame,
    dose_response: Any,
    staffing_plan: Any = None,
    *,
    calendar: BusinessCalendar,
    headcount: int | None = None,
    rollout_headcount: int | None = None,
    policies: Mapping[str, FrtPolicy | str] | None = None,
    control: str = schema.CONTROL_ARM,
    treatment: str | None = None,
    replications: int = 20,
    warmup_days: float = 4.0,
    alpha: float = 0.05,
    window_end: Any = None,
    rng: int | np.random.Generator | None = None,
) -> RolloutPrediction:
    """The rollout's predicted change of CSAT, questions and NRR (see the module docstring).

    The trial's tables are needed, not its analysis result: the desk simulation replays their
    arrivals, and the trial's A/B contrast shown beside the prediction comes from the
    dose-response's arm rows (the same difference of ratios as the analysis').

    Args:
        conversations, assignments: The trial's canonical tables (pandas).
        dose_response: :func:`frt_experiments.dose_response` of the same tables on
            ``calendar``.
        staffing_plan: A :class:`~frt_experiments.staffing.StaffingPlan`: its everyone-fast
            agents are the status quo's headcount, its rollout agents the rollout's. Or give
            ``headcount`` and ``rollout_headcount``.
        calendar: The desk's business calendar (the dose-response's).
        headcount, rollout_headcount: Agents of the status quo and of the rollout (instead of
            ``staffing_plan``).
        policies: FRT policy per arm (name or :class:`~frt_experiments.policy.FrtPolicy`);
            default the dose-response's, else ``fast = 4h`` and ``one_business_day``.
        control: The fast arm.
        treatment: The arm whose policy is rolled out (default the dose-response's only slow
            arm).
        replications: Desk replications per world (>= 2).
        warmup_days: Days simulated first in every replication and not measured.
        alpha: Level of the intervals.
        window_end: The dose-response's window end, if it was given one.
        rng: Seed or generator of the desk simulation.

    Returns:
        :class:`RolloutPrediction`.

    Raises:
        ValueError: The dose-response was estimated on another calendar (its arm doses are not
            these tables' on ``calendar``), neither or both of a plan and headcounts, an arm
            without a policy, a bad number.
        UnstableQueueError: A headcount cannot carry its world's work (naming
            ``headcount`` or ``rollout_headcount``).
    """
    if staffing_plan is not None:
        if headcount is not None or rollout_headcount is not None:
            raise ValueError("headcount: give a staffing plan or the headcounts, not both")
        if not hasattr(staffing_plan, "agents"):
            raise TypeError(f"staffing_plan: expected a StaffingPlan, got "
                            f"{type(staffing_plan).__name__}")
        headcount = staffing_plan.agents("everyone_fast")
        rollout_headcount = staffing_plan.agents("rollout")
    if headcount is None or rollout_headcount is None:
        raise ValueError("headcount: give a staffing plan (frt.plan_staffing(...)) or both "
                         "headcount and rollout_headcount")
    head = _count(headcount, "headcount")
    roll = _count(rollout_headcount, "rollout_headcount")
    setting, slow = _prepare(conversations, assignments, dose_response, calendar=calendar,
                             policies=policies, control=control, treatment=treatment,
                             replications=replications, warmup_days=warmup_days, alpha=alpha,
                             rng=rng, window_end=window_end)
    _check_load(setting, setting.rollout, roll, "rollout_headcount")
    sq = _status_quo(setting, head)
    return _prediction(setting, dose_response, slow, slow.spec, sq=sq, headcount=head,
                       rollout_headcount=roll, alpha=float(alpha))


def _targets(targets: Sequence[Any], setting: _Setting) -> list[tuple[str, FrtPolicy, float]]:
    """Each target's name, policy and business hours, within the calendar's range: from the
    fast target to five business days."""
    if isinstance(targets, str) or not isinstance(targets, Sequence) or not targets:
        raise ValueError(f"targets: expected a list of slow-arm targets such as ['4h', '8h', "
                         f"'one_business_day'], got {targets!r}")
    cal = setting.calendar
    fast = _target_hours(setting.fast, setting.created)
    most = _target_hours(policy_from_spec("x", f"{_MAX_DAYS}_business_days", cal),
                         setting.created)
    out, seen = [], set()
    for t in targets:
        spec = f"{t:g}h" if isinstance(t, int | float) and not isinstance(t, bool) else t
        try:
            pol = policy_from_spec(setting.treatment, spec, cal)
        except ValueError as exc:
            raise ValueError(f"targets: {exc}") from None
        hours = _target_hours(pol, setting.created)
        if not fast - 1e-9 <= hours <= most + 1e-9:
            raise ValueError(
                f"targets: {spec!r} ({hours:.3g} business hours) is outside the calendar's "
                f"range: on this desk ({cal!r}) a slow-arm target lies between the fast "
                f"target ({fast:.3g} business hours) and {_MAX_DAYS} business days "
                f"({most:.3g} business hours)")
        if str(spec) in seen:
            raise ValueError(f"targets: {spec!r} is given twice")
        seen.add(str(spec))
        out.append((str(spec), pol, hours))
    return out


def rollout_frontier(
    conversations: pd.DataFrame,
    assignments: pd.DataFrame,
    dose_response: Any,
    *,
    calendar: BusinessCalendar,
    revenue_per_year: float,
    targets: Sequence[str | float] = DEFAULT_TARGETS,
    cost_per_agent: float = 65_000.0,
    csat_margin: float = -0.02,
    csat_basis: str = "estimate",
    headcount: int | None = None,
    rollout_headcounts: Mapping[str, int] | Sequence[int] | None = None,
    policies: Mapping[str, FrtPolicy | str] | None = None,
    control: str = schema.CONTROL_ARM,
    treatment: str | None = None,
    service_levels: Mapping[str, float] | None = None,
    weeks: float = 4.0,
    plan_replications: int = 1,
    replications: int = 20,
    warmup_days: float = 4.0,
    alpha: float = 0.05,
    window_end: Any = None,
    rng: int | np.random.Generator | None = None,
) -> RolloutFrontier:
    """Net benefit and CSAT of the rollout at each slow-arm target; the target that pays most.

    Args:
        conversations, assignments, dose_response, calendar, policies, control, treatment,
            replications, warmup_days, alpha, window_end: As :func:`predict_rollout` (the
            treatment's own policy is replaced by each target).
        revenue_per_year: Annual recurring revenue of the low-spend customers (> 0): the
            revenue at risk is ``-nrr_rel_change * revenue_per_year``.
        targets: Slow-arm targets: policy names (``"8h"``, ``"one_business_day"``, ...) or
            business hours; each between the fast target and five business days.
        cost_per_agent: Loaded annual cost of an agent on duty through the open hours (as
            :func:`~frt_experiments.staffing.plan_staffing`).
        csat_margin: Relative non-inferiority margin of CSAT, in (-1, 0].
        csat_basis: ``"estimate"`` (default: CSAT passes when the estimate of its predicted
            relative change lies above the margin -- the best target in expectation, the
            truth's rule with the estimates plugged in; the frontier still reports whether
            non-inferiority is shown at the recommended target and cautions when it is not)
            or ``"ci_bound"`` (the conservative choice: CSAT passes only when the lower bound
            of its interval lies above the margin, a non-inferiority test, so only a target
            where CSAT is shown to hold is recommended). See the module docstring, "Which
            CSAT rule".
        headcount, rollout_headcounts: The agents of everyone fast and of the rollout at each
            target (a mapping by target name, or a list in the order of ``targets``). Default:
            planned by :func:`~frt_experiments.staffing.plan_staffing` at every target
            (``service_levels``, ``weeks``, ``plan_replications``).
        rng: Seed or generator (the plans and the desk runs).

    Returns:
        :class:`RolloutFrontier`.

    Raises:
        ValueError: A target outside the calendar's range, the dose-response from another
            calendar, a missing CSAT or NRR estimate, bad amounts.
        UnstableQueueError: A given headcount cannot carry its world's work.
    """
    from frt_experiments.decision import _number  # noqa: PLC0415

    revenue = _number("revenue_per_year", revenue_per_year, strictly_positive=True)
    cost = _number("cost_per_agent", cost_per_agent, strictly_positive=False)
    if cost < 0:
        raise ValueError(f"cost_per_agent must be >= 0, got {cost_per_agent!r}")
    m = float(csat_margin) if isinstance(csat_margin, int | float) else math.nan
    if isinstance(csat_margin, bool) or not -1.0 < m <= 0.0:
        raise ValueError(f"csat_margin must be a relative margin in (-1, 0] (e.g. -0.02), got "
                         f"{csat_margin!r}")
    if csat_basis not in ("ci_bound", "estimate"):
        raise ValueError(f"csat_basis must be 'ci_bound' or 'estimate', got {csat_basis!r}")
    gen = np.random.default_rng(rng)
    plan_seed, desk_seed = (int(s) for s in gen.integers(0, 2**63 - 1, size=2))
    setting, _ = _prepare(conversations, assignments, dose_response, calendar=calendar,
                          policies=policies, control=control, treatment=treatment,
                          replications=replications, warmup_days=warmup_days, alpha=alpha,
                          rng=desk_seed, window_end=window_end)
    for name in ("csat", "nrr"):
        if name not in dose_response.outcomes:
            raise ValueError(f"dose_response: no {name} estimate "
                             f"({dose_response.skipped.get(name, 'not estimated')}); the "
                             "frontier needs CSAT and NRR")
    grid = _targets(targets, setting)
    head, rolls = _headcounts(grid, setting, conversations, assignments, headcount=headcount,
                              rollout_headcounts=rollout_headcounts,
                              service_levels=service_levels, weeks=weeks,
                              plan_replications=plan_replications, cost=cost, seed=plan_seed)
    for (spec, _, _), n in zip(grid, rolls, strict=True):
        _check_load(setting, setting.rollout, n, f"rollout_headcounts[{spec!r}]")
    sq = _status_quo(setting, head)
    preds: dict[str, RolloutPrediction] = {}
    rows = []
    z = float(stats.norm.ppf(1 - alpha / 2))
    for (spec, pol, hours), n in zip(grid, rolls, strict=True):
        p = _prediction(setting, dose_response, pol, spec, sq=sq, headcount=head,
                        rollout_headcount=n, alpha=float(alpha))
        preds[spec] = p
        low = p.doses.set_index("group").loc["low_spend"]
        row: dict[str, Any] = {"target": spec, "target_hours": hours,
                               "agents_everyone_fast": head, "agents_rollout": n,
                               "agents_saved": head - n, "annual_savings": (head - n) * cost,
                               "dose_change": low["dose_change"],
                               "dose_change_se": low["dose_change_se"]}
        for name in OUTCOMES:
            if name not in dose_response.outcomes:
                continue
            e = p.effect(name)
            for col in ("change", "ci_low", "ci_high", "rel_change", "rel_ci_low",
                        "rel_ci_high"):
                row[f"{name}_{col}"] = float(e[col])
            row[f"{name}_rel_se"] = float(e["rel_se"])
        at_risk = -row["nrr_rel_change"] * revenue
        half = z * row["nrr_rel_se"] * revenue
        row |= {"revenue_at_risk": at_risk, "revenue_at_risk_ci_low": at_risk - half,
                "revenue_at_risk_ci_high": at_risk + half,
                "net_benefit": row["annual_savings"] - at_risk,
                "net_benefit_ci_low": row["annual_savings"] - at_risk - half,
                "net_benefit_ci_high": row["annual_savings"] - at_risk + half,
                "csat_ok": bool(row["csat_rel_ci_low" if csat_basis == "ci_bound"
                                    else "csat_rel_change"] > m),
                "csat_shown": bool(row["csat_rel_ci_low"] > m)}
        rows.append(row)
    table = pd.DataFrame(rows)
    best, reason = _recommend(table, m, csat_basis)
    table["recommended"] = table["target"] == best
    shown: bool | None = None
    bound = math.nan
    if best is not None:
        at = table.loc[table["target"] == best].iloc[0]
        shown, bound = bool(at["csat_shown"]), float(at["csat_rel_ci_low"])
        if shown:
            reason += (f" CSAT non-inferiority is shown there: the lower "
                       f"{100 * (1 - alpha):g}% bound of its predicted change, {bound:+.2%}, "
                       f"is above the margin.")
        else:
            reason += " " + _caution(best, bound, m, float(alpha))
    return RolloutFrontier(table, best, reason, preds, revenue, cost, m, csat_basis,
                           float(alpha), shown, bound)


def _recommend(table: pd.DataFrame, margin: float,
               basis: str) -> tuple[str | None, str]:
    ok = table[table["csat_ok"]]
    if ok.empty:
        how = "with confidence" if basis == "ci_bound" else "at its estimate"
        return None, (f"No target is recommended: at none does CSAT's predicted change stay "
                      f"above the margin ({margin:+.2%}) {how}; keep everyone fast.")
    best = ok.loc[ok["net_benefit"].idxmax()]
    if best["net_benefit"] <= 0:
        return None, ("No target is recommended: where CSAT passes, the revenue at risk is "
                      f"not smaller than the savings (best net benefit "
                      f"{best['net_benefit']:,.0f} at {best['target']}); keep everyone fast.")
    return str(best["target"]), (
        f"Recommended: {best['target']}, the largest net benefit ({best['net_benefit']:,.0f} a "
        f"year) among the targets where CSAT passes its margin ({margin:+.2%}) "
        f"{'by its lower bound' if basis == 'ci_bound' else 'at its estimate'}.")


def _headcounts(grid: list[tuple[str, FrtPolicy, float]], setting: _Setting,
                conversations: pd.DataFrame, assignments: pd.DataFrame, *, headcount: Any,
                rollout_headcounts: Any, service_levels: Mapping[str, float] | None,
                weeks: float, plan_replications: int, cost: float,
                seed: int) -> tuple[int, list[int]]:
    """Everyone fast's agents and the rollout's at each target: given, or planned."""
    if (headcount is None) != (rollout_headcounts is None):
        raise ValueError("headcount: give both headcount and rollout_headcounts, or neither "
                         "(then both are planned)")
    specs = [g[0] for g in grid]
    if headcount is not None:
        head = _count(headcount, "headcount")
        if isinstance(rollout_headcounts, Mapping):
            missing = [s for s in specs if s not in rollout_headcounts]
            if missing:
                raise ValueError(f"rollout_headcounts: no headcount for target {missing[0]!r}")
            rolls = [_count(rollout_headcounts[s], f"rollout_headcounts[{s!r}]") for s in specs]
        else:
            given = list(rollout_headcounts)
            if len(given) != len(specs):
                raise ValueError(f"rollout_headcounts: expected {len(specs)} headcounts (one "
                                 f"per target), got {len(given)}")
            rolls = [_count(n, f"rollout_headcounts[{s!r}]") for s, n in zip(specs, given,
                                                                               strict=True)]
        return head, rolls
    from frt_experiments.staffing import plan_staffing  # noqa: PLC0415

    heads, rolls = [], []
    for _, pol, _ in grid:
        plan = plan_staffing(
            conversations, assignments, calendar=setting.calendar,
            policies={setting.control: setting.fast,
                      setting.treatment: replace(pol, arm=setting.treatment)},
            fast_target=_dt.timedelta(hours=_target_hours(setting.fast, setting.created)),
            service_levels=service_levels, cost_per_agent=cost, weeks=weeks,
            replications=plan_replications, control=setting.control,
            treatment=setting.treatment, rng=seed)
        heads.append(plan.agents("everyone_fast"))
        rolls.append(plan.agents("rollout"))
    return max(heads), rolls
