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
- the diagnostics run in the engine (:func:`frt_experiments.engine.diagnostics.diagnose`).

A pandas table given beside Ibis tables is sent to their engine as an in-memory table.
"""

from __future__ import annotations

import uuid
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from frt_experiments import schema
from frt_experiments.engine import cached, engine_of, execute, is_engine_table, timestamp
from frt_experiments.engine.diagnostics import arm_counts
from frt_experiments.engine.rows import (
    ALL_CONVERSATIONS,
    ALL_RATED,
    assigned,
    checked,
    fetch_rows,
    joined,
    rows_of,
)

__all__ = ["Prepared", "arm_counts", "as_tables", "validate", "window_end"]

_NAMES = ("customers", "conversations", "assignments")


def as_tables(*tables: Any) -> tuple[ir.Table, ...]:
    """The canonical tables as Ibis tables of one backend: pandas frames become in-memory
    tables of that backend.

    Raises:
        TypeError: A table is neither an Ibis table nor a pandas DataFrame.
        ValueError: The Ibis tables belong to different backends.
    """
    backends = []
    for name, t in zip(_NAMES, tables, strict=True):
        if isinstance(t, pd.DataFrame):
            continue
        if not is_engine_table(t):
            raise TypeError(f"{name} must be a pandas DataFrame or an Ibis table (the canonical "
                            f"{name} table), got {type(t).__name__}")
        try:
            backends.append(t._find_backend())
        except Exception:  # an in-memory table alone has no engine: that is fine
            continue
    if len({id(b) for b in backends}) > 1:
        raise ValueError("customers, conversations and assignments: the tables belong to "
                         "different engines (connections); give tables of one connection")
    out = []
    for name, t in zip(_NAMES, tables, strict=True):
        if not isinstance(t, pd.DataFrame):
            out.append(t)
        elif backends:
            # a temporary table of the others' engine (an in-memory table would belong to
            # Ibis' default engine, and the temporary tables made later to another one)
            out.append(backends[0].create_table(f"frt_{name}_{uuid.uuid4().hex}", t,
                                                temp=True))
        else:
            out.append(ibis.memtable(t))
    return tuple(out)


def validate(customers: ir.Table, conversations: ir.Table, assignments: ir.Table) -> None:
    """The canonical tables' rules, counted in the engine (DataError listing each broken rule).
    """
    from frt_experiments.engine.checks import check_tables  # noqa: PLC0415

    check_tables(customers=customers, conversations=conversations, assignments=assignments)


class Prepared:
    """The conversations joined once to their customers, kept in temporary tables of the
    engine for the per-customer rows and the diagnostics (release with :meth:`close`).

    The assigned customers are numbered (a whole number is a cheaper key than the id's text
    for the grouping), and every conversation of an assigned customer is joined to its
    customer's number, arm and assignment instant: one scan and one join of the
    conversations serve the rows, the response rates and the attainment.
    """

    def __init__(self, customers: ir.Table, conversations: ir.Table, assignments: ir.Table,
                 window_end: Any = None) -> None:
        self.customers, self.conversations = customers, conversations
        self.backend = engine_of(conversations, customers, assignments)
        self.end = checked(customers, conversations, assignments, window_end)
        self._tables: list[ir.Table] = []
        self.assigned = self._keep(assigned(assignments).mutate(**{_KEY: ibis.row_number()}))
        self.joined = self._keep(joined(conversations, self.assigned, self.end, key=_KEY))
        self.per_customer: pd.DataFrame | None = None

    def _keep(self, table: ir.Table) -> ir.Table:
        t = cached(table, self.backend)
        self._tables.append(t)
        return t

    def rows(self) -> pd.DataFrame:
        """:func:`frt_experiments.metrics.customer_rows` computed in the engine, ordered by
        id (every conversation's count kept aside for the diagnostics' response rates)."""
        rows = fetch_rows(rows_of(self.joined, self.assigned, self.customers, self.end,
                                  key=_KEY, all_counts=True))
        self.per_customer = pd.DataFrame({
            schema.ARM: rows[schema.ARM].to_numpy(),
            "conversations": rows[ALL_CONVERSATIONS].to_numpy(),
            "rated": rows[ALL_RATED].to_numpy()})
        return rows.drop(columns=[ALL_CONVERSATIONS, ALL_RATED])

    def diagnose(self, **kwargs: Any) -> Any:
        """:func:`frt_experiments.engine.diagnostics.diagnose` on the joined conversations."""
        from frt_experiments.engine.diagnostics import diagnose  # noqa: PLC0415

        return diagnose(self.customers, self.conversations, self.assigned, joined=self.joined,
                        per_customer=self.per_customer, **kwargs)

    def close(self) -> None:
        """Drop the temporary tables."""
        while self._tables:
            self._tables.pop().release()

    def __enter__(self) -> Prepared:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_KEY = "__frt_customer"


def window_end(conversations: ir.Table, given: Any) -> pd.Timestamp | None:
    """The window's end the result reports: ``given`` or the latest ``created_at``."""
    if given is not None:
        return pd.Timestamp(given).tz_convert("UTC")
    latest = execute(timestamp(conversations[schema.CREATED_AT]).max())
    if latest is None or pd.isna(latest):
        return None
    ts = pd.Timestamp(latest)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
