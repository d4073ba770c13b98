"""Business time inside the engine: a range join against the calendar's step table.

A helpdesk's first response time is measured in business time (the desk's opening hours in its
time zone, less holidays). In memory, :class:`~frt_experiments.calendar.BusinessCalendar` does
that arithmetic with :func:`numpy.searchsorted`; in a database the same arithmetic is a join
against :meth:`~frt_experiments.calendar.BusinessCalendar.step_table`, a table of a few rows a
week with each open interval's UTC bounds and the business seconds before it. No user-defined
function runs in the engine, so the expressions compile for every SQL dialect Ibis speaks; the
join is a range join (``lo_s <= t < hi_s``), which every dialect supports (the as-of join is not
available on Spark through Ibis).

Instants are taken to the whole second (their fraction is dropped), as helpdesks export them;
on whole seconds the results equal ``BusinessCalendar``'s exactly, across daylight saving time
and holidays (``tests/test_engine_business_time.py`` checks random instants).

Example (DuckDB)::

    import ibis
    from frt_experiments import BusinessCalendar
    from frt_experiments.engine.business_time import business_seconds, step_table

    cal = BusinessCalendar("America/New_York", "Mon-Fri 09:00-17:00", holidays="US")
    con = ibis.duckdb.connect()
    conv = con.read_parquet("conversations.parquet")
    steps = step_table(cal, conv, "created_at", "first_response_at")
    frt = business_seconds(conv, "created_at", "first_response_at", steps, "frt_business_s")
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from frt_experiments.calendar import BusinessCalendar
from frt_experiments.engine import engine_name, execute, instant, timestamp

__all__ = ["BUCKET_S", "bucket", "bucketed", "business_clock", "business_deadline",
           "business_seconds", "epoch_seconds", "step_table"]

#: A week of margin beyond the data on each side of the step table.
_MARGIN = pd.Timedelta(days=8)
#: 1970-01-01 UTC, an aware timestamp as the canonical tables hold them.
_EPOCH = ibis.literal(pd.Timestamp(0, tz="UTC"))


@ibis.udf.scalar.builtin(name="epoch_us")
def _duckdb_epoch_us(ts: dt.Timestamp(timezone="UTC")) -> dt.int64:  # type: ignore[valid-type]
    """DuckDB's own microseconds since the epoch."""


def epoch_seconds(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Whole seconds since 1970-01-01 UTC (the fraction of a second dropped).

    On DuckDB through its ``epoch_us``: Ibis' ``epoch_seconds`` casts an aware timestamp to a
    naive one first, which DuckDB does through its time-zone library (2.2 s against 0.14 s on
    10,000,000 instants).
    """
    if engine_name(ts) == "duckdb":
        return (_duckdb_epoch_us(ts) / 1_000_000).floor().cast("int64")
    return ts.epoch_seconds().floor().cast("int64")


def step_table(calendar: BusinessCalendar, table: ir.Table | None = None, *columns: str,
               start: Any = None, end: Any = None, reach: pd.Timedelta | None = None
               ) -> ir.Table:
    """The calendar's step table covering the instants of ``columns`` of ``table`` (their
    range is queried from the engine), or ``[start, end]``, as an in-memory Ibis table the
    engine receives with the query.

    Args:
        calendar: The desk's calendar.
        table, columns: Timestamp columns whose range the table must cover.
        start, end: Or the range itself (aware timestamps).
        reach: Business time added to the latest instant by :func:`business_deadline` (the
            table then reaches past that deadline).
    """
    if table is not None and columns:
        bounds = table.aggregate(
            **{f"lo{i}": timestamp(table[c]).min() for i, c in enumerate(columns)},
            **{f"hi{i}": timestamp(table[c]).max() for i, c in enumerate(columns)})
        bounds = execute(bounds).iloc[0]
        los = [instant(v) for k, v in bounds.items() if k.startswith("lo") and pd.notna(v)]
        his = [instant(v) for k, v in bounds.items() if k.startswith("hi") and pd.notna(v)]
        if los:
            start = min([*los, *([pd.Timestamp(start)] if start is not None else [])])
            end = max([*his, *([pd.Timestamp(end)] if end is not None else [])])
    if start is None or end is None:
        raise ValueError("step_table: give a table and timestamp columns with values, or "
                         "start= and end=")
    start, end = (_utc(x) for x in (start, end))
    if reach is not None and reach > pd.Timedelta(0):
        end = calendar.add_business_time(end, reach)
    frame = calendar.step_table(start - _MARGIN, end + _MARGIN)
    return ibis.memtable(bucketed(frame, "lo_s", "hi_s"))


#: Width of the buckets that turn range joins into equi-joins (seconds).
BUCKET_S = 86_400
_EDGE = 2**61


def bucket(seconds: ir.IntegerValue) -> ir.IntegerValue:
    """The bucket of a value in seconds: ``floor(seconds / BUCKET_S)``."""
    return (seconds / BUCKET_S).floor().cast("int64")


def bucketed(frame: pd.DataFrame, lo: str, hi: str) -> pd.DataFrame:
    """``frame``, whose rows hold disjoint ranges ``[lo, hi)``, with a column ``k``: each row
    repeated once for every bucket (:func:`bucket`) its range overlaps.

    A join on ``k`` and then on the range is an equi-join (a hash join in every engine) followed
    by a filter of a few candidate rows, where a bare range join makes DuckDB and Spark compare
    every pair or sort both sides. Open-ended first and last ranges are cut at the buckets of
    their finite ends, one bucket beyond, so the table stays small: instants more than a
    bucket outside the table's finite range find no row.
    """
    lo_v = frame[lo].to_numpy(dtype="int64")
    hi_v = frame[hi].to_numpy(dtype="int64")
    finite = np.concatenate([lo_v[lo_v > -_EDGE], hi_v[hi_v < _EDGE]])
    first, last = (int(np.floor(finite.min() / BUCKET_S)) - 1,
                   int(np.floor(finite.max() / BUCKET_S)) + 1) if finite.size else (0, 0)
    k_lo = np.clip(np.floor(lo_v / BUCKET_S), first, last).astype("int64")
    # the last bucket a range [lo, hi) reaches holds hi - 1
    k_hi = np.clip(np.floor((hi_v - 1) / BUCKET_S), first, last).astype("int64")
    k_hi = np.maximum(k_hi, k_lo)
    reps = k_hi - k_lo + 1
    out = frame.loc[frame.index.repeat(reps)].reset_index(drop=True)
    starts = np.repeat(k_lo, reps)
    offsets = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
    out["k"] = (starts + offsets).astype("int64")
    return out


def _utc(x: Any) -> pd.Timestamp:
    ts = pd.Timestamp(x)
    if ts.tzinfo is None:
        raise ValueError(f"step_table: {x!r} is time-zone naive (give an aware timestamp)")
    return ts.tz_convert("UTC")


def business_clock(table: ir.Table, column: str, steps: ir.Table, name: str, *,
                   seconds: str | None = None) -> ir.Table:
    """``table`` with ``name``: the business clock ``B(t)`` of ``column`` in seconds (null
    where ``column`` is null). Differences of two clocks are business durations. With
    ``seconds``, also that column: ``column`` in whole seconds since the epoch
    (:func:`epoch_seconds`, computed for the join anyway)."""
    t_col, k_col = f"__{name}_t", f"__{name}_tk"
    t = table.mutate(**{t_col: epoch_seconds(timestamp(table[column]))})
    t = t.mutate(**{k_col: bucket(t[t_col])})
    s = steps.rename({f"__{name}_{c}": c for c in steps.columns})
    lo, hi = s[f"__{name}_lo_s"], s[f"__{name}_hi_s"]
    # an equi-join on the bucket, then the range (see bucketed)
    joined = t.left_join(s, [s[f"__{name}_k"] == t[k_col], lo <= t[t_col], t[t_col] < hi])
    o, c, cum = (joined[f"__{name}_{k}"] for k in ("open_s", "close_s", "cum_s"))
    clock = cum + ibis.least(ibis.greatest(joined[t_col] - o, 0), c - o)
    kept = {seconds: joined[t_col]} if seconds is not None else {}
    return joined.select(*table.columns, **{name: clock}, **kept)


def business_seconds(table: ir.Table, start: str, end: str, steps: ir.Table,
                     name: str) -> ir.Table:
    """``table`` with ``name``: business seconds from ``start`` to ``end``, ``B(end) -
    B(start)`` (negative when ``end`` is earlier; null where either is null)."""
    a = business_clock(table, start, steps, f"__{name}_a")
    b = business_clock(a, end, steps, f"__{name}_b")
    return b.select(*table.columns, **{name: b[f"__{name}_b"] - b[f"__{name}_a"]})


def business_deadline(table: ir.Table, column: str, seconds: int, steps: ir.Table,
                      name: str) -> ir.Table:
    """``table`` with ``name``: the earliest instant at which ``seconds`` (> 0) of business
    time have elapsed after ``column``, :meth:`BusinessCalendar.add_business_time` in the
    engine (a deadline that runs out at closing time is that closing time). The step table
    must reach past the latest deadline (``step_table(..., reach=...)``)."""
    if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds <= 0:
        raise ValueError(f"seconds: a positive whole number of business seconds, got "
                         f"{seconds!r}")
    clock = business_clock(table, column, steps, f"__{name}_c")
    due = f"__{name}_due"
    t = clock.mutate(**{due: clock[f"__{name}_c"] + seconds})
    s = steps.filter(steps.close_s > steps.open_s).select("open_s", "close_s", "cum_s")
    s = s.distinct()  # the step table repeats rows per bucket
    s = s.rename({f"__{name}_{c}": c for c in s.columns})
    o, cum = s[f"__{name}_open_s"], s[f"__{name}_cum_s"]
    length = s[f"__{name}_close_s"] - o
    joined = t.left_join(s, [cum < t[due], t[due] <= cum + length])
    at = joined[f"__{name}_open_s"] + (joined[due] - joined[f"__{name}_cum_s"])
    # the epoch plus an interval: every dialect adds intervals (Ibis cannot compile
    # to_timestamp(seconds) for PostgreSQL)
    return joined.select(*table.columns, **{name: _EPOCH + at.as_interval("s")})
