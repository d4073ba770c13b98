""":func:`frt_experiments.analyze` on tables of an engine: the pieces it runs where the data live.

``frt.analyze(customers, conversations, assignments)`` takes Ibis tables (``con.table(...)``,
``con.read_parquet(...)``) wherever it takes DataFrames. Then:

- the tables are checked in the engine (:mod:`frt_experiments.engine.checks`, when
  ``validate=True``);
- the conversations are reduced to one row per assigned customer in the engine
  (:func:`frt_experiments.engine.rows.customer_rows`): the joins and sums over millions of
  conversations run there, and only a few numbers per customer come back;
- the statistics run here on those rows (:func:`frt_experiments.analysis.analyze_rows`, the
  code of the in-memory path; the rows are ordered by ``customer_id`` on both paths, so even
  randomization tests give the same p-values);
- the diagnostics run in the engine (:func:`frt_experiments.engine.diagnostics.diagnose`),
  their response rates from counts the rows' query sums beside the rows
  (:func:`rows_and_trial_counts`).

A pandas table given beside Ibis tables is sent to their engine as a temporary table
(:class:`Tables`), dropped after the analysis.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from frt_experiments import schema
from frt_experiments.engine import execute, instant, is_engine_table, timestamp
from frt_experiments.engine.diagnostics import arm_counts
from frt_experiments.engine.rows import (
    REPEATED,
    check_assigned_keys,
    customer_rows,
    fetch_rows,
    split_trial_counts,
)
from frt_experiments.errors import DataError

__all__ = ["Tables", "arm_counts", "per_customer_rows", "rows_and_trial_counts", "validate",
           "window_end"]

_NAMES = ("customers", "conversations", "assignments")


class Tables:
    """The canonical tables as Ibis tables of one engine (``.tables``): pandas frames sent to
    that engine as temporary tables, dropped by :meth:`close`; integer customer ids read as
    text (so a ledger's text ids meet a warehouse's integer ones).

    Raises:
        TypeError: A table is neither an Ibis table nor a pandas DataFrame.
        ValueError: The Ibis tables belong to different engines.
    """

    def __init__(self, *tables: Any) -> None:
        backends = []
        for name, t in zip(_NAMES, tables, strict=True):
            if isinstance(t, pd.DataFrame):
                continue
            if not is_engine_table(t):
                raise TypeError(f"{name} must be a pandas DataFrame or an Ibis table (the "
                                f"canonical {name} table), got {type(t).__name__}")
            try:
                backends.append(t._find_backend())
            except Exception:  # an in-memory table alone has no engine: that is fine
                continue
        if len({id(b) for b in backends}) > 1:
            raise ValueError("customers, conversations and assignments: the tables belong to "
                             "different engines (connections); give tables of one connection")
        self._backend = backends[0] if backends else None
        self._temporary: list[str] = []
        self.tables = tuple(_text_ids(self._engine_table(name, t))
                            for name, t in zip(_NAMES, tables, strict=True))

    def _engine_table(self, name: str, t: Any) -> ir.Table:
        if not isinstance(t, pd.DataFrame):
            return t
        frame = t.copy(deep=False)
        for c in frame.columns:  # engines hold microseconds at most; instants go to seconds
            if isinstance(frame[c].dtype, pd.DatetimeTZDtype) or frame[c].dtype.kind == "M":
                frame[c] = frame[c].dt.floor("us")
        if self._backend is None:
            return ibis.memtable(frame)
        # a temporary table of the others' engine (an in-memory table would belong to Ibis'
        # default engine, and the temporary tables made later to another one)
        table_name = f"frt_{name}_{uuid.uuid4().hex}"
        self._temporary.append(table_name)
        return self._backend.create_table(table_name, frame, temp=True)

    def close(self) -> None:
        """Drop the temporary tables made for pandas frames."""
        while self._temporary and self._backend is not None:
            name = self._temporary.pop()
            with contextlib.suppress(Exception):  # gone with the session anyway
                self._backend.drop_table(name, force=True)


def _text_ids(t: ir.Table) -> ir.Table:
    cid = schema.CUSTOMER_ID
    if cid in t.columns and t[cid].type().is_integer():
        return t.mutate(**{cid: t[cid].cast("string")})
    return t


def validate(customers: ir.Table, conversations: ir.Table, assignments: ir.Table) -> None:
    """The canonical tables' rules, counted in the engine (DataError listing each broken rule).
    """
    from frt_experiments.engine.checks import check_tables  # noqa: PLC0415

    check_tables(customers=customers, conversations=conversations, assignments=assignments)


def per_customer_rows(customers: ir.Table, conversations: ir.Table, assignments: ir.Table,
                      window_end: Any = None) -> pd.DataFrame:
    """:func:`frt_experiments.metrics.customer_rows` computed in the engine, ordered by id.

    The rows and the diagnostics each scan and join the conversations: keeping one joined
    table of them for both (a temporary table, customers numbered for a cheaper grouping)
    took as long on 10M conversations in DuckDB (11.6 s against 12.2 s) and more memory
    (1.5-2.2 GB against 1.2 GB)."""
    return fetch_rows(customer_rows(customers, conversations, assignments,
                                    window_end=window_end))


def rows_and_trial_counts(customers: ir.Table, conversations: ir.Table, assignments: ir.Table,
                          window_end: Any = None, *, trial_counts: bool = True
                          ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """:func:`per_customer_rows`, and from the same query each assigned customer's
    conversations and ratings during the trial, which the diagnostics' response rates take
    (``diagnose(..., trial_counts=...)``; ``None`` without ratings) instead of grouping every
    conversation by customer id a second time (two sums added to the rows' grouping), with
    the customers' covariates for the balance table. With ``trial_counts=False`` (no
    diagnostics) the rows alone, and ``None``: the diagnostics' columns (``monthly_spend``
    among them) are not read.

    The keys (each customer assigned once, every assigned customer known and listed once) are
    checked on the fetched rows rather than by queries before (0.35 s on 1,000,000
    assignments in DuckDB); when a customer repeats there, those queries name the table."""
    rows = customer_rows(customers, conversations, assignments, window_end=window_end,
                         trial_counts=trial_counts, check_keys=False)
    try:
        return split_trial_counts(fetch_rows(rows))
    except DataError as error:
        if any(p.rule == REPEATED for p in error.problems):  # the engine's checks say which
            check_assigned_keys(customers, assignments)      # table repeats the customer
        raise


def window_end(conversations: ir.Table, given: Any) -> pd.Timestamp | None:
    """The window's end the result reports: ``given`` or the latest ``created_at``."""
    if given is not None:
        return pd.Timestamp(given).tz_convert("UTC")
    return instant(execute(timestamp(conversations[schema.CREATED_AT]).max()))
