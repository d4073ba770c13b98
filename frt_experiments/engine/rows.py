"""Per-customer rows inside the engine: the heavy half of the analysis, pushed down.

:func:`frt_experiments.metrics.customer_rows` reduces the conversations (millions of rows) to one
row per assigned customer in pandas. :func:`customer_rows` is the same reduction as an Ibis
expression, so DuckDB (embedded, over Parquet or CSV files), PostgreSQL or Spark does the join
and the sums where the data live, and only the per-customer rows (a few numbers per customer)
come back for the statistics of :func:`frt_experiments.analysis.analyze_rows`. The rules are
those of ``metrics.customer_rows``: a conversation counts when it is created at or after its
customer's assignment and not after the window end (default: the latest ``created_at``);
satisfied means ``4``/``5`` on the 1-5 scale or ``good``; exposure is the days from
assignment to the window end, at least 0.

The tables must be canonical (as frt writes them: ``frt import``, ``frt simulate``): ratings
normalised (``4``, not ``4.0``; ``good``, not ``Good``), timestamps aware. Checking tables in
the engine is a later step; :func:`frt_experiments.schema.read_table` checks files in memory.

Example::

    import ibis
    from frt_experiments import analyze_rows
    from frt_experiments.engine.rows import customer_rows, fetch_rows

    con = ibis.duckdb.connect()
    rows = customer_rows(con.read_parquet("customers.parquet"),
                         con.read_parquet("conversations.parquet"),
                         con.read_parquet("assignments.parquet"))
    result = analyze_rows(fetch_rows(rows))
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from frt_experiments import schema
from frt_experiments._ids import code_point_order
from frt_experiments.engine import (
    engine_name,
    execute,
    instant,
    require_columns,
    timestamp,
    to_arrow,
)
from frt_experiments.engine.checks import EMPTY_RULE
from frt_experiments.errors import DataError, Problem
from frt_experiments.metrics import (
    _SECONDS_PER_DAY,
    CONVERSATIONS,
    EXPOSURE_DAYS,
    HANDLE_HOURS,
    RATED,
    SATISFIED,
)

__all__ = ["REPEATED", "TRIAL_CONVERSATIONS", "TRIAL_RATED", "TRIAL_SPEND", "check_assigned_keys",
           "customer_rows", "fetch_rows", "split_trial_counts"]

#: Columns of ``customer_rows(..., trial_counts=True)``: each customer's conversations during
#: the trial (created at or after the assignment, whatever the window's end) and the rated
#: ones among them, as the diagnostics' response rates count them; and the customer's
#: ``monthly_spend`` (with one), a covariate of the diagnostics' balance table.
TRIAL_CONVERSATIONS, TRIAL_RATED = "__trial_conversations", "__trial_rated"
TRIAL_SPEND = "__monthly_spend"
#: Column of ``customer_rows(..., check_keys=False)``: set where the assigned customer is in
#: ``customers`` (:func:`fetch_rows` refuses rows without it).
_KNOWN = "__known"

def end_of_window(conversations: ir.Table, assignments: ir.Table,
                  window_end: Any = None) -> pd.Timestamp | None:
    """The analysis window's end: ``window_end`` (aware), else the latest ``created_at``, else
    the latest ``assigned_at`` (``None`` without either)."""
    if window_end is not None:
        ts = pd.Timestamp(window_end)
        if ts.tzinfo is None:
            raise ValueError(f"window_end must be time-zone aware, got {window_end!r}")
        return ts.tz_convert("UTC")
    for table, column in ((conversations, schema.CREATED_AT),
                          (assignments, schema.ASSIGNED_AT)):
        latest = instant(execute(timestamp(table[column]).max()))
        if latest is not None:
            return latest
    return None


def check_assigned_keys(customers: ir.Table, assignments: ir.Table) -> None:
    """Each customer assigned once, every assigned customer in ``customers``, and listed there
    once (three queries)."""
    cid = schema.CUSTOMER_ID
    known = customers.select(cid).distinct()
    stats = assignments.aggregate(n=assignments.count(), ids=assignments[cid].nunique())
    unknown = assignments.anti_join(known, cid).count()
    n, ids = execute(stats).iloc[0]
    if n != ids:
        raise DataError([Problem("assignments", cid, "assigning a customer already assigned "
                                 "(analyse one experiment at a time)", int(n - ids))])
    missing = int(execute(unknown))
    if missing:
        raise DataError([Problem("assignments", cid, "assigned customers missing from "
                                 "customers", missing)])
    listed = execute(customers.aggregate(n=customers.count(), ids=customers[cid].nunique()))
    n, ids = listed.iloc[0]
    if n != ids:  # a customer's columns would count twice in the per-customer rows
        raise DataError([Problem("customers", cid, "listing a customer already listed (each "
                                 "customer once)", int(n - ids))])


def customer_rows(customers: ir.Table, conversations: ir.Table, assignments: ir.Table, *,
                  window_end: Any = None, trial_counts: bool = False,
                  check_keys: bool = True) -> ir.Table:
    """One row per assigned customer with the sums every metric is built from, in the engine.

    Args:
        customers, conversations, assignments: Canonical tables as Ibis tables of one
            backend (``con.read_parquet(...)``, ``con.table(...)``).
        window_end: End of the analysis window (aware); default: the latest ``created_at``
            (queried from the engine). Instants are taken to the whole second.
        trial_counts: Add the diagnostics' per-customer columns (below).
        check_keys: Check in the engine, before the query, that each customer is assigned
            once, every assigned customer is in ``customers`` and listed there once (three
            queries). With ``False`` the query keeps assigned customers missing from
            ``customers`` with a marker, and :func:`fetch_rows` makes the checks on the rows
            it fetches (the rows must then be run by it).

    Returns:
        An Ibis expression with the columns of :func:`frt_experiments.metrics.customer_rows`
        plus ``customer_id`` (which that function holds as the index), in no particular
        order: ``arm``, ``conversations``, ``rated``, ``satisfied``, ``handle_seconds`` and
        ``handle_hours`` (with ``handle_seconds`` in conversations), ``revenue_start`` and
        ``revenue_end`` (with revenue in customers), ``exposure_days`` and the pre-period
        covariates present. Counts and sums are float64. :func:`fetch_rows` runs it.
        With ``trial_counts``, also :data:`TRIAL_CONVERSATIONS` and :data:`TRIAL_RATED`
        (with ratings): each customer's conversations created at or after the assignment,
        whatever the window's end, and the rated ones among them -- the per-customer counts
        of the diagnostics' response rates (:func:`split_trial_counts`), summed in the same
        grouping rather than in a grouping of their own; and :data:`TRIAL_SPEND` (with
        ``monthly_spend`` in customers) for the diagnostics' balance table.

    Raises:
        DataError: A required column is missing, a customer is assigned twice, an assigned
            customer is missing from ``customers`` or listed there twice (checked in the
            engine before the query; with ``check_keys=False`` by :func:`fetch_rows`).
    """
    end = checked(customers, conversations, assignments, window_end, check_keys=check_keys)
    a = assigned(assignments)
    return rows_of(joined(conversations, a, end), a, customers, end, trial_counts=trial_counts,
                   check_keys=check_keys)


def checked(customers: ir.Table, conversations: ir.Table, assignments: ir.Table,
            window_end: Any = None, *, check_keys: bool = True) -> pd.Timestamp | None:
    """The checks :func:`customer_rows` makes (required columns, and with ``check_keys`` the
    keys, :func:`check_assigned_keys`), and the window's end (:func:`end_of_window`)."""
    for name, table, spec in (("customers", customers, schema.CUSTOMERS),
                              ("conversations", conversations, schema.CONVERSATIONS),
                              ("assignments", assignments, schema.ASSIGNMENTS)):
        require_columns(name, table, spec.required)
    if check_keys:
        check_assigned_keys(customers, assignments)
    end = end_of_window(conversations, assignments, window_end)
    if window_end is not None and end is not None:
        first = instant(execute(timestamp(assignments[schema.ASSIGNED_AT]).min()))
        if first is not None and end < first:
            raise ValueError(f"window_end {window_end!s} is before every assignment (the first "
                             f"is {first}): no customer was exposed")
    return end


def assigned(assignments: ir.Table) -> ir.Table:
    """The assignments' ``customer_id``, ``arm`` and ``assigned_at`` (an aware timestamp)."""
    return assignments.select(schema.CUSTOMER_ID, schema.ARM, timestamp(
        assignments[schema.ASSIGNED_AT]).name(schema.ASSIGNED_AT))


def joined(conversations: ir.Table, assigned: ir.Table, end: pd.Timestamp | None) -> ir.Table:
    """Every conversation of an assigned customer, joined to its customer (``assigned``:
    :func:`assigned`). Columns: ``customer_id``, ``arm``,
    ``created_at`` and ``first_response_at`` (aware), ``__inside`` (created at or after the
    assignment and not after ``end``: an outcome of the trial), ``__rated`` and
    ``__satisfied`` (with ratings), ``handle_seconds`` (where present)."""
    cid = schema.CUSTOMER_ID
    cols: dict[str, ir.Value] = {cid: conversations[cid]}
    for c in (schema.CREATED_AT, schema.FIRST_RESPONSE_AT):
        if c in conversations.columns:
            cols[c] = timestamp(conversations[c])
    for c in (schema.CSAT, schema.HANDLE_SECONDS):
        if c in conversations.columns:
            cols[c] = conversations[c]
    j = conversations.select(**cols).join(assigned, cid)
    end_lit = ibis.literal(end if end is not None else pd.Timestamp(0, tz="UTC"))
    created = j[schema.CREATED_AT]
    out: dict[str, ir.Value] = {cid: j[cid], schema.ARM: j[schema.ARM],
                                schema.CREATED_AT: created}
    if schema.FIRST_RESPONSE_AT in j.columns:
        out[schema.FIRST_RESPONSE_AT] = j[schema.FIRST_RESPONSE_AT]
    out["__inside"] = (created >= j[schema.ASSIGNED_AT]) & (created <= end_lit)
    # the diagnostics' trial: created at or after the assignment (all without one)
    out["__during"] = j[schema.ASSIGNED_AT].isnull() | (created >= j[schema.ASSIGNED_AT])
    if schema.CSAT in j.columns:
        rating = j[schema.CSAT]
        if rating.type().is_integer():  # an integer rating column: 4 is the rating "4"
            rating = rating.cast("string")
        out["__rated"] = rating.notnull()
        out["__satisfied"] = rating.isin(sorted(schema.SATISFIED_RATINGS)).fill_null(False)
    if schema.HANDLE_SECONDS in j.columns:
        out[schema.HANDLE_SECONDS] = j[schema.HANDLE_SECONDS].cast("float64")
    return j.select(**out)


def rows_of(j: ir.Table, assigned: ir.Table, customers: ir.Table,
            end: pd.Timestamp | None, *, trial_counts: bool = False,
            check_keys: bool = True) -> ir.Table:
    """The per-customer rows of :func:`customer_rows` from the conversations joined to their
    customers (:func:`joined` with the same ``end``)."""
    cid = schema.CUSTOMER_ID
    end_lit = ibis.literal(end if end is not None else pd.Timestamp(0, tz="UTC"))
    has_csat = "__rated" in j.columns
    has_handle = schema.HANDLE_SECONDS in j.columns
    inside = j["__inside"]
    one, none = ibis.literal(1.0), ibis.literal(0.0)
    sums: dict[str, ir.Value] = {CONVERSATIONS: inside.ifelse(one, none).sum()}
    if has_csat:
        sums[RATED] = (inside & j["__rated"]).ifelse(one, none).sum()  # the ratings present
        # a CASE, not a cast: PostgreSQL does not cast booleans to numbers
        sums[SATISFIED] = (inside & j["__satisfied"]).ifelse(one, none).sum()
    if has_handle:
        sums[schema.HANDLE_SECONDS] = inside.ifelse(j[schema.HANDLE_SECONDS], none).sum()
    trial = trial_counts and has_csat
    if trial:
        during = j["__during"]
        sums[TRIAL_CONVERSATIONS] = during.ifelse(one, none).sum()
        sums[TRIAL_RATED] = (during & j["__rated"]).ifelse(one, none).sum()
    per = j.group_by(cid).aggregate(**sums)
    r = assigned.left_join(per, assigned[cid] == per[cid])
    cols: dict[str, ir.Value] = {cid: r[cid], schema.ARM: r[schema.ARM]}
    zero = ibis.literal(0.0)
    cols[CONVERSATIONS] = r[CONVERSATIONS].coalesce(zero)
    cols[RATED] = r[RATED].coalesce(zero) if has_csat else zero
    cols[SATISFIED] = r[SATISFIED].coalesce(zero) if has_csat else zero
    if has_handle:
        cols[schema.HANDLE_SECONDS] = r[schema.HANDLE_SECONDS].coalesce(zero)
    if trial:
        cols[TRIAL_CONVERSATIONS] = r[TRIAL_CONVERSATIONS].coalesce(zero)
        cols[TRIAL_RATED] = r[TRIAL_RATED].coalesce(zero)
    seconds = (end_lit.epoch_seconds() - r[schema.ASSIGNED_AT].epoch_seconds()).cast("float64")
    cols[EXPOSURE_DAYS] = ibis.greatest(seconds / _SECONDS_PER_DAY, zero)
    rows = r.select(**cols)
    wanted = [c for c in (schema.REVENUE_START, schema.REVENUE_END, *schema.PRE_COVARIATES)
              if c in customers.columns]
    extra: dict[str, ir.Value] = {}
    spend = trial_counts and schema.MONTHLY_SPEND in customers.columns
    if spend:
        extra[TRIAL_SPEND] = customers[schema.MONTHLY_SPEND].cast("float64")
    if not check_keys:
        extra[_KNOWN] = ibis.literal(True)
    c = customers.select(cid, *(customers[w].cast("float64").name(w) for w in wanted), **extra)
    # inner: customer_rows refuses assigned customers not in customers (checked before the
    # query, or by fetch_rows from the marker the left join leaves)
    out = rows.join(c, cid) if check_keys else rows.left_join(c, rows[cid] == c[cid])
    if has_handle:
        out = out.mutate(**{HANDLE_HOURS: out[schema.HANDLE_SECONDS] / 3600.0})
    order = [cid, schema.ARM, CONVERSATIONS, RATED, SATISFIED,
             *([schema.HANDLE_SECONDS, HANDLE_HOURS] if has_handle else []),
             *[w for w in (schema.REVENUE_START, schema.REVENUE_END) if w in wanted],
             *[w for w in schema.PRE_COVARIATES if w in wanted], EXPOSURE_DAYS,
             *([TRIAL_CONVERSATIONS, TRIAL_RATED] if trial else []),
             *([TRIAL_SPEND] if spend else []), *([] if check_keys else [_KNOWN])]
    return out.select(*order)


def fetch_rows(rows: ir.Table) -> pd.DataFrame:
    """Run a :func:`customer_rows` expression: a frame indexed by ``customer_id`` in the order
    of the ids' code points, as :func:`~frt_experiments.analysis.analyze_rows` takes it.

    The order is that of the ids' code points on every engine, whatever its collation: the
    randomization test draws its re-assignments over the customers in order, so its p-values
    are the same on every engine, and equal those of the in-memory rows sorted by
    ``customer_id``. DuckDB sorts the rows (its default collation compares UTF-8 bytewise,
    which is code point order) and they come back as Arrow, where the order is verified in
    one vectorized comparison of neighbours (a session with another ``default_collation`` is
    sorted here instead) before one conversion to pandas: sorting here took 0.8 s on
    1,000,000 rows, Ibis' own conversion to pandas about 2 s more than the query's Arrow
    result. Other engines go through Ibis' pandas result, sorted here (their Arrow result
    from PostgreSQL cannot convert the ``NUMERIC`` sums PostgreSQL returns to the
    expression's ``float64``).

    Raises:
        DataError: For rows of ``customer_rows(..., check_keys=False)``: an assignment
            without a customer_id, a customer_id repeated (assigned twice, or listed twice in
            ``customers``), or assigned customers missing from ``customers``.
    """
    cid = schema.CUSTOMER_ID
    if engine_name(rows) == "duckdb":
        table = to_arrow(rows.order_by(cid))
        ids = table.column(cid)
        if not pa.types.is_string(ids.type) and not pa.types.is_large_string(ids.type):
            ids = ids.cast(pa.large_string())
        unique = _increasing(ids)  # sorted, each once
        if not unique:  # another collation, integer ids, or a customer twice
            order = pa.array(code_point_order(ids))
            table = table.take(order)
            unique = _increasing(ids.take(order))
        # a block per column: selecting and dropping columns later copies nothing; each
        # Arrow column freed once converted
        table = table.combine_chunks()
        del ids
        out = table.to_pandas(split_blocks=True, self_destruct=True)
        del table
    else:
        frame = execute(rows)
        out = frame.iloc[code_point_order(frame[cid])]
        unique = _KNOWN not in out.columns or out[cid].is_unique
    if _KNOWN in out.columns:
        empty = out[cid].isna().to_numpy(bool)
        if empty.any():  # an assignment naming no customer: not a repeat, nor a missing one
            raise DataError([Problem("assignments", cid, EMPTY_RULE, int(empty.sum()))])
        if not unique:
            raise DataError([_duplicates(out[cid])])
        unknown = out[_KNOWN].isna().to_numpy(bool)
        if unknown.any():
            raise DataError([Problem("assignments", cid, "assigned customers missing from "
                                     "customers", int(unknown.sum()),
                                     tuple(str(i) for i in out[cid][unknown].iloc[:5]),
                                     location="customer_ids")])
        out = out.drop(columns=_KNOWN)
    out = out.set_index(cid)
    out.index = out.index.astype("string")
    return out


def _increasing(ids: pa.ChunkedArray) -> bool:
    """Whether Arrow strings are strictly increasing in code point order (bytewise): sorted,
    and each once."""
    n = len(ids)
    if n < 2:
        return True
    return bool(pc.all(pc.less(ids.slice(0, n - 1), ids.slice(1))).as_py())


#: The rule a customer repeated in the per-customer rows breaks, naming no table: assigned
#: twice, or listed twice in customers (:func:`check_assigned_keys` tells which).
REPEATED = "repeating an earlier row's customer (assigned twice, or listed twice in customers)"


def _duplicates(ids: pd.Series) -> Problem:
    """The problem of a customer repeated in the per-customer rows, naming the first ids."""
    repeated = ids[ids.duplicated().to_numpy(bool)]
    return Problem("rows", schema.CUSTOMER_ID, REPEATED, len(repeated),
                   tuple(str(i) for i in repeated.iloc[:5]), location="customer_ids")


def split_trial_counts(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The rows of :func:`fetch_rows` without the trial counts of ``customer_rows(...,
    trial_counts=True)``, and those counts (``arm``, ``conversations``, ``rated`` per
    customer, as :func:`frt_experiments.engine.diagnostics.diagnose` takes them as
    ``trial_counts``; ``None`` when the rows hold none: conversations without ratings), with
    the balance table's covariates present (``monthly_spend``, the pre-period columns)."""
    spend = [TRIAL_SPEND] if TRIAL_SPEND in rows.columns else []
    if TRIAL_CONVERSATIONS not in rows.columns:
        return rows.drop(columns=spend), None
    covariates = [c for c in schema.PRE_COVARIATES if c in rows.columns]
    counts = rows[[schema.ARM, TRIAL_CONVERSATIONS, TRIAL_RATED, *spend, *covariates]].rename(
        columns={TRIAL_CONVERSATIONS: CONVERSATIONS, TRIAL_RATED: RATED,
                 TRIAL_SPEND: schema.MONTHLY_SPEND})
    return rows.drop(columns=[TRIAL_CONVERSATIONS, TRIAL_RATED, *spend]), counts
