"""The run-as-designed checks of :func:`frt_experiments.diagnostics.diagnose`, in the engine.

The figures come from a handful of grouped queries where the data live; the verdicts and
warnings from :func:`frt_experiments.diagnostics.assemble`, the code the in-memory diagnostics
use, so both paths say the same things:

- customers per arm (sample ratio): one grouped count of the assignments;
- CSAT response rates: per-arm moments of each assigned customer's conversations and ratings
  (:func:`frt_experiments.engine.moments.arm_statistics`; in memory from the per-customer
  counts ``frt.analyze`` fetches with its rows, ``trial_counts``), from which the delta-method
  test of the difference is computed locally (:func:`frt_experiments.diagnostics.rates_table`);
- FRT attainment per arm: each conversation's business clock at creation and at first response
  by range joins against the calendar's step table, its deadline by a join against the
  calendar's business-day or local-date table (:meth:`BusinessCalendar.clock_tables`), and per
  arm the count, answered count, median and 90th percentile (DuckDB's ``QUANTILE_CONT``,
  PostgreSQL's ``PERCENTILE_CONT``, Spark's ``percentile``: the linear interpolation of
  Hyndman and Fan's type 7, as in memory; elsewhere from each arm's distribution of whole
  seconds), pending and met counts, in one grouped query;
- the calendar check: answered conversations created and answered while the desk is closed,
  counted over all of them (in memory: over an even sample of at most 50,000);
- covariate balance: per-arm count, mean and sample variance of the pre-period covariates
  (in memory from the covariates ``frt.analyze`` fetches with its rows, ``trial_counts``).

Deadlines are compared on the business clock: a conversation created at ``c`` with deadline
``d`` meets it when ``B(first response) <= B(d)``, and an unanswered one is pending at the
cut-off ``t`` when ``B(t) < B(d)`` (``d`` is the earliest instant with that clock, so this is
``d > t``). Instants are taken to the whole second, as in :mod:`.business_time`.

References:
    Hyndman, R. J. and Fan, Y. (1996). Sample quantiles in statistical packages. The American
    Statistician 50(4), 361-365. See :mod:`frt_experiments.diagnostics` for the checks'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from frt_experiments import schema
from frt_experiments.balance import (
    BALANCE_COLUMNS,
    BALANCE_INPUTS,
    PRE_CSAT,
    balance_of_rows,
    balance_table,
)
from frt_experiments.calendar import BusinessCalendar
from frt_experiments.diagnostics import (
    MIN_CALENDAR_CHECK,
    ArmsDiagnostics,
    Diagnostics,
    arm_policies,
    assemble,
    assemble_arms,
    design_of,
    design_of_arms,
    is_held,
    rates_table,
)
from frt_experiments.engine import (
    cached,
    engine_name,
    execute,
    instant,
    require_columns,
    timestamp,
)
from frt_experiments.engine.business_time import (
    bucket,
    bucketed,
    business_clock,
)
from frt_experiments.engine.moments import arm_statistics
from frt_experiments.errors import DataError, Problem
from frt_experiments.metrics import arm_statistics as in_memory_arm_statistics
from frt_experiments.policy import FrtPolicy, _cutoff

__all__ = ["arm_counts", "diagnose", "diagnose_arms"]

_CID, _ARM = schema.CUSTOMER_ID, schema.ARM


def arm_counts(assignments: ir.Table) -> pd.Series:
    """Assigned customers per arm (missing arms left out), largest first: one query."""
    armed = assignments.filter(assignments[_ARM].notnull())
    counts = execute(armed.group_by(_ARM).aggregate(n=armed.count()))
    out = pd.Series(counts["n"].to_numpy(dtype="int64"),
                    index=pd.Index(counts[_ARM].astype(str), name=_ARM), name="count")
    return out.sort_values(ascending=False, kind="stable")


def _clock_at(steps: pd.DataFrame, t: int) -> int:
    """The business clock of whole second ``t`` from a step table frame (as the join does)."""
    row = steps.iloc[int(np.searchsorted(steps["lo_s"].to_numpy(), t, side="right")) - 1]
    return int(row["cum_s"] + min(max(t - row["open_s"], 0), row["close_s"] - row["open_s"]))


def diagnose(
    customers: ir.Table | None,
    conversations: ir.Table,
    assignments: ir.Table,
    *,
    control: str = schema.CONTROL_ARM,
    treatment: str = schema.TREATMENT_ARM,
    calendar: BusinessCalendar | None = None,
    policies: dict[str, FrtPolicy] | None = None,
    weights: Sequence[float] | None = None,
    as_of: Any = None,
    trial_counts: pd.DataFrame | None = None,
) -> Diagnostics:
    """:func:`frt_experiments.diagnostics.diagnose` on tables of an engine (Ibis tables of one
    backend); the same arguments and result, the same warnings.

    ``trial_counts``: each assigned customer's ``arm``, ``conversations`` and ``rated`` during
    the trial, when the caller has them from the per-customer rows
    (:func:`frt_experiments.engine.analysis.rows_and_trial_counts`, which has checked that
    each customer is assigned once), with the customers' covariates (``monthly_spend`` and
    the pre-period columns present in ``customers``) from which the balance table is then
    computed in memory; else counted (and checked) here.

    Raises:
        DataError: A required column is missing or a customer is assigned twice.
        ValueError: An arm without customers, a policy missing, or weights of the wrong length.
    """
    require_columns("conversations", conversations, (_CID, schema.CREATED_AT,
                                                     schema.FIRST_RESPONSE_AT, schema.CSAT))
    require_columns("assignments", assignments, (_CID, _ARM))
    if customers is not None:
        require_columns("customers", customers, (_CID,))
    if control == treatment:
        raise ValueError(f"control and treatment must differ, both are {control!r}")
    if trial_counts is None:  # else the rows' query has checked the keys
        _check_once(assignments)
    order, counts, srm, cal, two = design_of(
        arm_counts(assignments).to_dict(), control=control, treatment=treatment,
        weights=weights, calendar=calendar, policies=policies)
    # business time on the policies' calendar, as FrtPolicy.attainment measures it
    calendars = {id(p.calendar): p.calendar for p in two.values()}
    if len(calendars) > 1:
        raise ValueError("policies: the two arms' policies have different calendars; the "
                         "engine measures business time on one desk calendar")
    cal = next(iter(calendars.values()))
    a2 = assignments.filter(assignments[_ARM].isin([control, treatment])).select(_CID, _ARM)
    conv, j = _trial(conversations, assignments, list(two))
    frt, closed_check = _attainment(_figures(conv, j, two, cal, as_of), two)
    rates = rates_table(_rate_moments(j, a2, [control, treatment], trial_counts), control,
                        treatment)
    balance = pd.DataFrame()
    if customers is not None:
        balance = _balance(customers, a2, [control, treatment], trial_counts)
    return assemble(control, treatment, order=order, counts=counts, srm=srm, frt=frt,
                    rates=rates, closed_check=closed_check, balance=balance, cal=cal,
                    stacklevel=4, held=is_held(frt, control, treatment))


def diagnose_arms(
    customers: ir.Table | None,
    conversations: ir.Table,
    assignments: ir.Table,
    *,
    control: str = schema.CONTROL_ARM,
    treatments: Sequence[str],
    calendar: BusinessCalendar | None = None,
    policies: Mapping[str, FrtPolicy | str] | None = None,
    weights: Sequence[float] | None = None,
    as_of: Any = None,
    trial_counts: pd.DataFrame | None = None,
) -> ArmsDiagnostics:
    """:func:`frt_experiments.diagnostics.diagnose_arms` on tables of an engine: the same
    arguments and result, the same warnings (business time on the policies' one calendar);
    ``trial_counts`` as in :func:`diagnose`.

    Raises:
        DataError: A required column is missing or a customer is assigned twice.
        ValueError: An arm without customers or without a policy, policies on another
            calendar, or weights of the wrong length.
    """
    require_columns("conversations", conversations, (_CID, schema.CREATED_AT,
                                                     schema.FIRST_RESPONSE_AT, schema.CSAT))
    require_columns("assignments", assignments, (_CID, _ARM))
    if customers is not None:
        require_columns("customers", customers, (_CID,))
    arms = [control, *treatments]
    if len(set(arms)) != len(arms) or not treatments:
        raise ValueError(f"arms: need a control and at least one other arm, all different, "
                         f"got control {control!r} and treatments {list(treatments)!r}")
    cal, pol = arm_policies(arms, calendar, policies)
    if trial_counts is None:  # else the rows' query has checked the keys
        _check_once(assignments)
    order, counts, srm = design_of_arms(arm_counts(assignments).to_dict(), arms,
                                        weights=weights)
    ak = assignments.filter(assignments[_ARM].isin(arms)).select(_CID, _ARM)
    conv, j = _trial(conversations, assignments, list(pol))
    frt, closed_check = _attainment(_figures(conv, j, pol, cal, as_of), pol)
    stats = _rate_moments(j, ak, arms, trial_counts)
    rates = {t: rates_table(stats, control, t) for t in treatments}
    balance = pd.DataFrame()
    if customers is not None:
        balance = _balance(customers, ak, arms, trial_counts)
    return assemble_arms(control, list(treatments), order=order, counts=counts, srm=srm,
                         frt=frt, rates=rates, closed_check=closed_check, balance=balance,
                         cal=cal, policies=pol, stacklevel=4)


def _check_once(assignments: ir.Table) -> None:
    """Each customer assigned once (one query)."""
    keys = execute(assignments.aggregate(n=assignments.count(), ids=assignments[_CID].nunique()))
    n_rows, n_ids = (int(v) for v in keys.iloc[0])
    if n_rows != n_ids:
        raise DataError([Problem("assignments", _CID, "repeating an earlier customer_id "
                                 "(diagnose one experiment at a time)", n_rows - n_ids)])


def _abandoned(conversations: ir.Table) -> Any:
    """Whether each conversation was abandoned (``abandoned_at`` set; False without it)."""
    if schema.ABANDONED_AT in conversations.columns:
        return conversations[schema.ABANDONED_AT].notnull()
    return ibis.literal(False)


def _trial(conversations: ir.Table, assignments: ir.Table,
           arms: Sequence[str]) -> tuple[ir.Table, ir.Table]:
    """Every conversation (``customer_id``, aware ``created_at`` and ``first_response_at``,
    ``__rated``, ``__abandoned``), and those of the compared arms' customers created at or
    after their customer's ``assigned_at`` (the trial's; earlier ones are the pre-period, as
    the in-memory diagnostics take them; all of them when the assignments carry no
    ``assigned_at``), with their customer's arm as its position in ``arms`` (``__arm``).

    One join with the assignments gives both the arm and the assignment time (a second join
    of every conversation took 0.76 s of DuckDB's operator time on 10M conversations)."""
    created, first = schema.CREATED_AT, schema.FIRST_RESPONSE_AT
    conv = conversations.select(
        _CID, timestamp(conversations[created]).name(created),
        timestamp(conversations[first]).name(first),
        conversations[schema.CSAT].notnull().name("__rated"),
        __abandoned=_abandoned(conversations))
    # the arm's position in ``arms``, a small number, computed once per customer: the figures
    # then compare numbers, not arm names, on every conversation
    position: Any = ibis.null("int8")
    for k, arm in enumerate(arms):
        position = (assignments[_ARM] == arm).ifelse(ibis.literal(k, "int8"), position)
    cols: dict[str, ir.Value] = {_CID: assignments[_CID], "__arm": position}
    has_at = schema.ASSIGNED_AT in assignments.columns
    if has_at:
        cols["__at"] = timestamp(assignments[schema.ASSIGNED_AT])
    ak = assignments.filter(assignments[_ARM].isin(list(arms))).select(**cols)
    j = conv.join(ak, _CID)
    if has_at:
        j = j.filter(j["__at"].isnull() | (j[created] >= j["__at"]))
    return conv, j.select(_CID, "__arm", created, first, "__rated", "__abandoned")


class _Figures:
    """Each compared conversation's figures as an expression (``table``: ``__arm`` the arm's
    position in ``arms``, and the attainment's ``__cal``, ``__bus``, ``__allowed``,
    ``__answered``, ``__pending``, ``__left``), which one grouped query reads
    (:func:`_attainment`)."""

    def __init__(self, table: ir.Table, arms: list[str], steps: pd.DataFrame,
                 any_days: bool) -> None:
        self.table, self.arms, self.steps, self.any_days = table, arms, steps, any_days

    def by_arm(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` grouped by ``__arm`` with the arms' names in ``arm`` in its place."""
        out = frame.assign(**{_ARM: [self.arms[int(k)] for k in frame["__arm"]]})
        return out.drop(columns="__arm")


def _figures(conv: ir.Table, j: ir.Table, policies: dict[str, FrtPolicy],
             cal: BusinessCalendar, as_of: Any) -> _Figures:
    """The figures of ``j`` (the compared arms' conversations during the trial,
    :func:`_trial`) the attainment is read from; ``conv``, every conversation, sets the
    default cut-off."""
    created, first = schema.CREATED_AT, schema.FIRST_RESPONSE_AT
    bounds = execute(conv.aggregate(c_lo=conv[created].min(), c_hi=conv[created].max(),
                                    f_lo=conv[first].min(), f_hi=conv[first].max())).iloc[0]
    c_hi, f_hi = instant(bounds["c_hi"]), instant(bounds["f_hi"])
    if as_of is None and c_hi is not None:
        as_of = max(c_hi, f_hi) if f_hi is not None else c_hi
    seen = [t for t in map(instant, bounds) if t is not None] or [pd.Timestamp(0, tz="UTC")]
    lo, hi = min(seen), max(seen)
    if as_of is not None:
        hi = max(hi, pd.Timestamp(as_of).tz_convert("UTC"))
    # the deadlines of the latest conversations lie beyond the data
    far = max([p.days for p in policies.values()] + [1])
    hi = max(hi, cal.end_of_next_business_day(hi, far), cal.add_business_days(hi, far + 1))
    ahead = sorted({p.days for p in policies.values() if p.days > 1})
    tables = cal.clock_tables(lo, hi, days_ahead=ahead)
    steps = ibis.memtable(bucketed(tables["steps"], "lo_s", "hi_s"))
    j = business_clock(j, created, steps, "__bc", seconds="__cs")
    j = business_clock(j, first, steps, "__bf", seconds="__fs")
    nbd = sorted({p.days for p in policies.values() if p.rule == "next_business_day"})
    eonbd = sorted({p.days for p in policies.values() if p.rule == "end_of_next_business_day"})
    if nbd:  # the clock n business days later, per n
        d = ibis.memtable(bucketed(tables["days"], "b_lo_s", "b_hi_s"))
        j = j.left_join(d, [d.k == bucket(j["__bc"]), d.b_lo_s <= j["__bc"],
                            j["__bc"] < d.b_hi_s])
        e = j["__bc"] - j.b_lo_s
        later = {f"__nbd{n}": (j.b_hi_s + ibis.least(e, j.next_len_s)) if n == 1
                 else j[f"ahead{n}_lo_s"] + ibis.least(e, j[f"ahead{n}_len_s"]) for n in nbd}
        j = j.select(*[c for c in j.columns if c not in d.columns], **later)
    if eonbd:  # the clock at the close of the n-th business day after the local date
        d = ibis.memtable(bucketed(tables["dates"], "lo_s", "hi_s"))
        t = j["__cs"]
        j = j.left_join(d, [d.k == bucket(t), d.lo_s <= t, t < d.hi_s])
        due = {f"__eonbd{n}": j["due_b_s" if n == 1 else f"due{n}_b_s"] for n in eonbd}
        j = j.select(*[c for c in j.columns if c not in d.columns], **due)
    # the business seconds each conversation's policy allows (``__arm``: the arm's position
    # among the policies, :func:`_trial`)
    arms = list(policies)
    allowed: Any = ibis.null("float64")
    for k, p in enumerate(policies.values()):
        if p.rule == "business_time":
            assert p.target is not None
            value: Any = ibis.literal(p.target.total_seconds())
        else:
            name = "__nbd" if p.rule == "next_business_day" else "__eonbd"
            value = j[f"{name}{p.days}"] - j["__bc"]
        allowed = (j["__arm"] == k).ifelse(value.cast("float64"), allowed)
    answered = j[first].notnull()
    abandoned = ~answered & j["__abandoned"]
    cal_s = j["__fs"] - j["__cs"]
    bus_s = j["__bf"] - j["__bc"]
    cutoff = None if as_of is None else _clock_at(tables["steps"], _cutoff(as_of).value // 10**9)
    pending = (~answered & ~abandoned & (ibis.literal(cutoff) < j["__bc"] + allowed)
               if cutoff is not None else ibis.literal(False))
    table = j.select("__arm", __cal=cal_s, __bus=bus_s, __allowed=allowed,
                     __answered=answered, __pending=pending, __left=abandoned)
    return _Figures(table, arms, tables["steps"],
                    any(p.rule != "business_time" for p in policies.values()))


#: Engines whose exact continuous percentiles the attainment's one query uses (DuckDB's and
#: PostgreSQL's ``PERCENTILE_CONT``, Spark's ``percentile``); on others (Ibis compiles no
#: exact multiple quantile for BigQuery or Snowflake) the quantiles are read from each arm's
#: distribution of whole seconds, one grouped count per figure.
EXACT_QUANTILE_ENGINES = ("duckdb", "postgres", "pyspark")


def _attainment(figures: _Figures, policies: dict[str, FrtPolicy]) -> tuple[pd.DataFrame, Any]:
    """FRT attainment per arm from the conversations' figures (:func:`_figures`): one grouped
    query of counts and exact quantiles.

    The quantiles are the engines' continuous percentiles (:data:`EXACT_QUANTILE_ENGINES`):
    linear interpolation between order statistics, Hyndman and Fan's type 7, as
    :func:`numpy.quantile` in memory. They are taken on whole seconds and turned into hours
    here. In the same query as the counts: a temporary table of the figures read by a query
    per distribution took 0.9 s more on 10,000,000 conversations in DuckDB. Other engines
    count each arm's distribution of each figure (:func:`_distribution`) and the quantiles
    are read from it here."""
    first = schema.FIRST_RESPONSE_AT
    f = figures.table
    one, zero = ibis.literal(1), ibis.literal(0)
    exact = engine_name(f) in EXACT_QUANTILE_ENGINES
    quantiles: dict[str, ir.Value] = {}
    if exact:
        quantiles = {"cal_q": f["__cal"].quantile([0.5, 0.9]),
                     "bus_q": f["__bus"].quantile([0.5, 0.9])}
        if figures.any_days:
            quantiles["allowed_median"] = f["__allowed"].quantile(0.5)
    per = figures.by_arm(execute(f.group_by("__arm").aggregate(
        n=f.count(), n_responded=f["__answered"].ifelse(one, zero).sum(),
        met=(f["__answered"] & (f["__bus"] <= f["__allowed"])).ifelse(one, zero).sum(),
        n_pending=f["__pending"].ifelse(one, zero).sum(),
        n_abandoned=f["__left"].ifelse(one, zero).sum(),
        early=(f["__answered"] & (f["__cal"] < 0)).ifelse(one, zero).sum(),
        closed=(f["__answered"] & (f["__bus"] <= 0) & (f["__cal"] > 0)).ifelse(one, zero)
        .sum(), **quantiles,
    ))).set_index(_ARM)
    early = int(per["early"].fillna(0).sum())
    if early:
        raise DataError([Problem("conversations", first, "earlier than created_at", early)])
    if not exact:  # the same quantiles, from each arm's distribution
        for column, key in (("__cal", "cal_q"), ("__bus", "bus_q")):
            dist = figures.by_arm(_distribution(f, column))
            per[key] = pd.Series({arm: _quantiles(dist, arm, (0.5, 0.9)) for arm in per.index},
                                 dtype=object)
        if figures.any_days:
            dist = figures.by_arm(_distribution(f, "__allowed"))
            per["allowed_median"] = pd.Series(
                {arm: _quantiles(dist, arm, (0.5,))[0] for arm in per.index})
    for name, column in (("calendar", "cal_q"), ("business", "bus_q")):
        hours = [_hours(v) for v in per[column]]
        per[f"median_{name}_hours"] = [h[0] for h in hours]
        per[f"p90_{name}_hours"] = [h[1] for h in hours]
    if figures.any_days:
        per["allowed_median"] = pd.to_numeric(per["allowed_median"]) / 3600.0
    rows = []
    for arm, p in policies.items():
        r = per.loc[arm] if arm in per.index else None

        def get(col: str, r: Any = r) -> float:
            return float("nan") if r is None or pd.isna(r[col]) else float(r[col])

        n = 0 if r is None else int(r["n"])
        n_pending = 0 if r is None else int(r["n_pending"])
        n_abandoned = 0 if r is None else int(r["n_abandoned"])
        decided = n - n_pending - n_abandoned
        target = (p.target.total_seconds() / 3600.0 if p.rule == "business_time"
                  and p.target is not None else get("allowed_median"))
        rows.append({
            schema.ARM: arm, "n": n, "n_responded": 0 if r is None else int(r["n_responded"]),
            "median_calendar_hours": get("median_calendar_hours"),
            "p90_calendar_hours": get("p90_calendar_hours"),
            "median_business_hours": get("median_business_hours"),
            "p90_business_hours": get("p90_business_hours"),
            "share_within_target": get("met") / decided if decided else float("nan"),
            "n_pending": n_pending, "target_business_hours": target,
            "n_abandoned": n_abandoned, "share_abandoned": n_abandoned / n if n else float("nan")})
    frt = pd.DataFrame(rows)
    n_answered = int(frt["n_responded"].sum())
    closed_check = None
    if n_answered >= MIN_CALENDAR_CHECK:
        n_closed = int(per["closed"].fillna(0).sum())
        closed_check = (n_closed, n_answered, n_answered)
    return frt, closed_check


def _distribution(figures: ir.Table, column: str) -> pd.DataFrame:
    """Per arm, each distinct value of ``column`` (whole seconds) with its count: the exact
    distribution, from which :func:`_quantiles` reads quantiles where the engine has no exact
    percentile function Ibis compiles."""
    f = figures.filter(figures[column].notnull())
    return execute(f.group_by("__arm", column).aggregate(__n=f.count()))


def _quantiles(dist: pd.DataFrame, arm: str, ps: Sequence[float]) -> list[float]:
    """Quantiles in seconds of one arm's distribution (value, count), as the engines'
    percentiles give them, by linear interpolation between order statistics (Hyndman and
    Fan's type 7, as :func:`numpy.quantile`)."""
    column = next(c for c in dist.columns if c not in (_ARM, "__n"))
    d = dist[dist[_ARM] == arm].sort_values(column)
    x = d[column].to_numpy(dtype=float)
    cum = np.cumsum(d["__n"].to_numpy(dtype="int64"))
    if not cum.size:
        return [float("nan")] * len(ps)
    n = int(cum[-1])
    out = []
    for p in ps:
        h = (n - 1) * p
        lo = int(np.floor(h))
        a = x[np.searchsorted(cum, lo, side="right")]
        b = x[np.searchsorted(cum, min(lo + 1, n - 1), side="right")]
        out.append(float(a + (b - a) * (h - lo)))
    return out


def _hours(quantiles: Any) -> list[float]:
    """An engine's quantiles in seconds (an array, or null when the arm has none) in hours."""
    if quantiles is None or (np.ndim(quantiles) == 0 and pd.isna(quantiles)):
        return [float("nan"), float("nan")]
    return [float("nan") if v is None or pd.isna(v) else float(v) / 3600.0
            for v in quantiles]


def _rate_moments(j: ir.Table, a2: ir.Table, arms: list[str],
                  trial_counts: pd.DataFrame | None = None) -> dict[str, Any]:
    """Per-arm moments of each assigned customer's conversations and ratings during the trial:
    from ``trial_counts`` (in memory, as the in-memory diagnostics), else from ``j`` (the
    compared arms' conversations during the trial, :func:`_trial`)."""
    if trial_counts is not None:
        counts = trial_counts[trial_counts[_ARM].isin(arms)]
        return in_memory_arm_statistics(counts, columns=["conversations", "rated"], arms=arms)
    per = j.group_by(_CID).aggregate(conversations=j.count().cast("float64"),
                                     rated=j["__rated"].ifelse(1.0, 0.0).sum().cast("float64"))
    r = a2.left_join(per, a2[_CID] == per[_CID])
    rows = cached(r.select(_ARM, conversations=r.conversations.coalesce(0.0),
                           rated=r.rated.coalesce(0.0)))  # read twice by arm_statistics
    try:
        return arm_statistics(rows, ["conversations", "rated"], arms)
    finally:
        rows.release()


def _balance(customers: ir.Table, a2: ir.Table, order: list[str],
             trial_counts: pd.DataFrame | None = None) -> pd.DataFrame:
    """The covariate balance table: in memory from ``trial_counts`` when it carries the
    customers' covariates (:func:`frt_experiments.engine.rows.split_trial_counts`; the rows'
    query fetched them, so a join of the customers here would repeat its work), else from
    per-arm counts, means and sample variances in the engine."""
    cols = customers.columns
    if trial_counts is not None and all(
            c in trial_counts.columns for c in BALANCE_INPUTS if c in cols):
        return balance_of_rows(trial_counts, order)
    cov: dict[str, ir.Value] = {}
    for c in (schema.MONTHLY_SPEND, schema.PRE_CONVERSATIONS):
        if c in cols:
            cov[c] = customers[c].cast("float64")
    if schema.PRE_RATED in cols and schema.PRE_SATISFIED in cols:
        rated = customers[schema.PRE_RATED].cast("float64")
        cov[PRE_CSAT] = (rated > 0).ifelse(customers[schema.PRE_SATISFIED].cast("float64")
                                           / rated, ibis.null("float64"))
    if schema.PRE_HANDLE_SECONDS in cols:
        cov[schema.PRE_HANDLE_SECONDS] = customers[schema.PRE_HANDLE_SECONDS].cast("float64")
    if not cov:
        return pd.DataFrame({c: [] for c in BALANCE_COLUMNS})
    names = list(cov)
    c = customers.select(_CID, **{f"__v{i}": v for i, v in enumerate(cov.values())})
    j = a2.join(c, _CID)
    agg: dict[str, ir.Value] = {}
    for i in range(len(names)):
        v = j[f"__v{i}"]
        agg |= {f"n{i}": v.count(), f"m{i}": v.mean(), f"v{i}": v.var(how="sample")}
    per = execute(j.group_by(_ARM).aggregate(**agg)).set_index(_ARM)
    if per.empty or len(order) < 2:
        return pd.DataFrame({c: [] for c in BALANCE_COLUMNS})
    k = len(order)
    count, mean, var = (np.full((len(names), k), np.nan) for _ in range(3))
    count[:] = 0
    for a, arm in enumerate(order):
        if arm not in per.index:
            continue
        for i in range(len(names)):
            count[i, a] = per.at[arm, f"n{i}"]
            if count[i, a] > 0:
                mean[i, a] = per.at[arm, f"m{i}"]
            if count[i, a] > 1:
                var[i, a] = per.at[arm, f"v{i}"]
    return balance_table(names, order, count, mean, var)
