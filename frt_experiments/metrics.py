"""Per-customer rows and per-arm sufficient statistics: the boundary between data and statistics.

The customer is the unit of randomization and of analysis (DESIGN section 2). The canonical
tables are reduced here, in two vectorized steps, to what the statistical code needs:

1. :func:`customer_rows` -- one row per *assigned* customer (customers without conversations
   included, with zeros): arm, conversations, ratings, satisfied ratings, handle seconds,
   revenue at the start and end of the window, days of exposure, and the pre-period
   covariates present.
2. :func:`arm_statistics` -- per arm, the count, the sums and the *centred* cross-products of
   those columns (``n``, ``Σv``, ``Σ(v - v̄)(v - v̄)ᵀ``). Every estimator of
   :mod:`frt_experiments.stats` (means, ratios by the delta method, CUPED) needs nothing else.
   Centred cross-products are used instead of raw ``Σvvᵀ`` because they keep full precision
   when a column's mean is large against its spread; both carry the same information.

Only conversations created at or after the customer's ``assigned_at`` (and not after the window
end) count as outcomes; earlier ones belong to the pre-period.

References:
    Deng, A., Knoblich, U. and Lu, J. (2018). Applying the delta method in metric analytics:
    a practical guide with novel ideas. *KDD '18*, 233-242 (per-customer sums as the unit).
    Chan, T. F., Golub, G. H. and LeVeque, R. J. (1979). Updating formulae and a pairwise
    algorithm for computing sample variances. Stanford CS report STAN-CS-79-773 (merging
    centred cross-products).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from frt_experiments import schema
from frt_experiments._ids import arrow_strings, positions
from frt_experiments.errors import DataError, Problem

__all__ = [
    "CONVERSATIONS",
    "EXPOSURE_DAYS",
    "HANDLE_HOURS",
    "RATED",
    "SATISFIED",
    "ArmStatistics",
    "arm_statistics",
    "customer_rows",
]

#: Columns of :func:`customer_rows` (besides ``arm`` and those of the customers table).
CONVERSATIONS = "conversations"
RATED = "rated"
SATISFIED = "satisfied"
HANDLE_HOURS = "handle_hours"
EXPOSURE_DAYS = "exposure_days"

_SECONDS_PER_DAY = 86_400.0


def customer_rows(
    customers: pd.DataFrame,
    conversations: pd.DataFrame,
    assignments: pd.DataFrame,
    *,
    window_end: pd.Timestamp | str | None = None,
    validate: bool = True,
) -> pd.DataFrame:
    """One row per assigned customer with the sums every metric is built from.

    Args:
        customers: Canonical customers table.
        conversations: Canonical conversations table.
        assignments: Canonical assignments table (one experiment: each customer once).
        window_end: End of the analysis window (time-zone aware). Default: the latest
            ``created_at`` of the conversations (or the latest ``assigned_at`` when there are
            none).
        validate: Validate the three tables with :mod:`frt_experiments.schema` first (turn off
            only for tables that are already validated and typed).

    Returns:
        A frame indexed by ``customer_id`` (in the assignments' order) with columns ``arm``,
        ``conversations``, ``rated``, ``satisfied``, ``handle_seconds``, ``handle_hours``,
        ``revenue_start``, ``revenue_end``, ``exposure_days`` and the pre-period covariates
        present in ``customers`` (:data:`frt_experiments.schema.PRE_COVARIATES`); handle time
        and revenue only where the tables have them, and ``rated`` 0 everywhere when the
        conversations carry no ratings. Counts are floats. Conversations created before the
        customer's assignment or after ``window_end``, and those of unassigned customers, are
        left out.

    Raises:
        DataError: A table breaks a schema rule, or an assigned customer is missing from
            ``customers``, or a customer is assigned twice.
    """
    for name, table in (("customers", customers), ("conversations", conversations),
                        ("assignments", assignments)):
        if not isinstance(table, pd.DataFrame):
            raise TypeError(f"{name} must be a pandas DataFrame (the canonical {name} table), "
                            f"got {type(table).__name__}")
    if validate:
        customers = schema.validate_customers(customers)
        conversations = schema.validate_conversations(conversations)
        assignments = schema.validate_assignments(assignments)
    else:
        for name, df, spec in (("customers", customers, schema.CUSTOMERS),
                               ("conversations", conversations, schema.CONVERSATIONS),
                               ("assignments", assignments, schema.ASSIGNMENTS)):
            missing = [c for c in spec.required if c not in df.columns]
            if missing:
                raise DataError([Problem(name, None, "missing required column(s) "
                                         + ", ".join(missing))])
    assigned = arrow_strings(assignments[schema.CUSTOMER_ID])
    n = len(assigned)
    if pc.count_distinct(assigned, mode="all").as_py() != n:
        dup = assignments[schema.CUSTOMER_ID].duplicated(keep="first").to_numpy(bool)
        raise DataError([Problem("assignments", schema.CUSTOMER_ID,
                                 "assigning a customer already assigned (analyse one "
                                 "experiment at a time)", int(dup.sum()),
                                 tuple(int(i) for i in np.flatnonzero(dup)[:5]))])
    assigned_at = assignments[schema.ASSIGNED_AT].to_numpy(dtype="datetime64[ns]")

    cust_pos = positions(assigned, arrow_strings(customers[schema.CUSTOMER_ID]))
    unknown = cust_pos < 0
    if unknown.any():
        raise DataError([Problem("assignments", schema.CUSTOMER_ID,
                                 "assigned customers missing from customers",
                                 int(unknown.sum()),
                                 tuple(int(i) for i in np.flatnonzero(unknown)[:5]))])

    code, keep, end = outcomes(conversations, assigned, assigned_at, window_end)
    if window_end is not None and n and not (assigned_at <= end).any():
        raise ValueError(f"window_end {window_end!s} is before every assignment (the first "
                         f"is {pd.Timestamp(np.nanmin(assigned_at), tz='UTC')}): no customer "
                         "was exposed")
    c = code[keep]
    has_csat = schema.CSAT in conversations.columns
    sat = (schema.satisfied(conversations).to_numpy(dtype=float)[keep] if has_csat
           else np.full(int(keep.sum()), np.nan))
    has_handle = schema.HANDLE_SECONDS in conversations.columns

    out = pd.DataFrame(index=pd.Index(pd.array(assigned, dtype="string"),
                                      name=schema.CUSTOMER_ID))
    out[schema.ARM] = assignments[schema.ARM].astype("string").to_numpy()
    out[CONVERSATIONS] = np.bincount(c, minlength=n).astype(float)
    rated = ~np.isnan(sat)
    out[RATED] = np.bincount(c, weights=rated.astype(float), minlength=n)
    out[SATISFIED] = np.bincount(c, weights=np.where(rated, sat, 0.0), minlength=n)
    if has_handle:
        handle = conversations[schema.HANDLE_SECONDS].to_numpy(dtype=float)[keep]
        out[schema.HANDLE_SECONDS] = np.bincount(c, weights=handle, minlength=n)
        out[HANDLE_HOURS] = out[schema.HANDLE_SECONDS].to_numpy() / 3600.0
    for col in (schema.REVENUE_START, schema.REVENUE_END,
                *(p for p in schema.PRE_COVARIATES if p in customers.columns)):
        if col in customers.columns:
            out[col] = customers[col].to_numpy(dtype=float)[cust_pos]
    exposure = (end - assigned_at) / np.timedelta64(1, "s") / _SECONDS_PER_DAY
    out[EXPOSURE_DAYS] = np.clip(exposure, 0.0, None)
    return out


def outcomes(conversations: pd.DataFrame, assigned: pa.Array, assigned_at: np.ndarray,
             window_end: object) -> tuple[np.ndarray, np.ndarray, np.datetime64]:
    """Which conversations are the trial's outcomes: each conversation's customer position
    among ``assigned`` (-1 for none), the mask of those created at or after their customer's
    ``assigned_at`` and not after the window end, and that end (:func:`customer_rows`' rule,
    shared with :mod:`frt_experiments.dose`)."""
    created = conversations[schema.CREATED_AT].to_numpy(dtype="datetime64[ns]")
    end = _window_end(window_end, created, assigned_at)
    code = positions(arrow_strings(conversations[schema.CUSTOMER_ID]), assigned)
    keep = code >= 0
    keep[keep] = (created[keep] >= assigned_at[code[keep]]) & (created[keep] <= end)
    return code, keep, end


def _window_end(window_end: object, created: np.ndarray, assigned_at: np.ndarray
                ) -> np.datetime64:
    if window_end is not None:
        ts = pd.Timestamp(window_end)
        if ts.tzinfo is None:
            raise ValueError(f"window_end must be time-zone aware, got {window_end!r}")
        return np.datetime64(ts.tz_convert("UTC").tz_localize(None).as_unit("ns"))
    if len(created) and not np.isnat(created).all():
        return np.nanmax(created)
    if len(assigned_at):
        return np.nanmax(assigned_at)
    return np.datetime64("NaT", "ns")


@dataclass(frozen=True)
class ArmStatistics:
    """Sufficient statistics of one arm's per-customer rows.

    Attributes:
        arm: The arm's name.
        n: Customers in the arm.
        columns: Names of the summarised columns.
        sums: ``Σv`` per column, shape ``(k,)``.
        cross: Centred cross-products ``Σ(v - v̄)(v - v̄)ᵀ``, shape ``(k, k)``.
    """

    arm: str
    n: int
    columns: tuple[str, ...]
    sums: np.ndarray
    cross: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        """Column means ``v̄``."""
        return self.sums / self.n

    @property
    def cov(self) -> np.ndarray:
        """Sample covariance matrix (divisor ``n - 1``; NaN when ``n < 2``)."""
        if self.n < 2:
            return np.full_like(self.cross, np.nan)
        return self.cross / (self.n - 1)

    def index(self, column: str) -> int:
        """Position of ``column`` in :attr:`columns`."""
        try:
            return self.columns.index(column)
        except ValueError:
            raise KeyError(f"column {column!r} not among the statistics' columns "
                           f"({', '.join(self.columns)})") from None

    def to_pandas(self) -> pd.DataFrame:
        """Sums and means per column, with the diagonal of the covariance (variances)."""
        return pd.DataFrame({"n": self.n, "sum": self.sums, "mean": self.mean,
                             "var": np.diag(self.cov)}, index=pd.Index(self.columns))

    def __repr__(self) -> str:
        return f"ArmStatistics(arm={self.arm!r}, n={self.n}, columns={list(self.columns)})"


def arm_statistics(
    rows: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    arm_column: str = schema.ARM,
    arms: Sequence[str] | None = None,
) -> dict[str, ArmStatistics]:
    """Per-arm count, sums and centred cross-products of per-customer rows.

    Args:
        rows: Per-customer rows, e.g. from :func:`customer_rows`.
        columns: Numeric columns to summarise (default: every numeric column).
        arm_column: The column naming each row's arm.
        arms: Only these arms (default: every arm present). An arm without rows gets
            ``n = 0``.

    Returns:
        ``{arm: ArmStatistics}`` in the order of ``arms`` (default: of first appearance).

    Raises:
        ValueError: A named column is missing or holds missing values.

    Each arm's columns are shifted by their means before the cross-products are accumulated
    (one matrix product per arm), so the centred cross-products keep full precision even when
    a column's mean is large against its spread; sums come straight from the raw values.

    References:
        Chan, Golub and LeVeque (1979) for centred, shifted cross-products.
    """
    if arm_column not in rows.columns:
        raise ValueError(f"rows: missing the arm column {arm_column!r}")
    if columns is None:
        columns = [c for c in rows.columns
                   if c != arm_column and pd.api.types.is_numeric_dtype(rows[c])]
    columns = list(columns)
    missing = [c for c in columns if c not in rows.columns]
    if missing:
        raise ValueError(f"rows: missing column(s) {', '.join(missing)}")
    arm_values = rows[arm_column]
    if arms is None:
        labels = pd.unique(arm_values.dropna())
        arms = [str(a) for a in labels]
    # columns as rows (k x N): selecting an arm's customers is then one compress per arm
    # (stacked column by column: ``rows[columns]`` would copy the frame first)
    values_t = (np.vstack([rows[c].to_numpy(dtype=float) for c in columns]) if columns
                else np.empty((0, len(rows))))
    out: dict[str, ArmStatistics] = {}
    k = len(columns)
    for arm in (str(a) for a in arms):
        mask = (arm_values == arm).fillna(False).to_numpy(dtype=bool)
        v = values_t.compress(mask, axis=1)
        n = v.shape[1]
        if n == 0:
            out[arm] = ArmStatistics(arm, 0, tuple(columns), np.zeros(k), np.zeros((k, k)))
            continue
        ones = np.ones(n)
        sums = v @ ones  # exact for counts
        if np.isnan(sums).any():
            j = int(np.flatnonzero(np.isnan(sums))[0])
            bad = int(np.isnan(v[j]).sum())
            raise ValueError(f"rows: column {columns[j]} has {bad} missing values "
                             f"(arm {arm})")
        v -= (sums / n)[:, None]  # shift by the arm's mean; d below removes its rounding
        d = v @ ones
        out[arm] = ArmStatistics(arm, n, tuple(columns), sums, v @ v.T - np.outer(d, d) / n)
    return out
