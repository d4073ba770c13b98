"""Assignment: eligible low-spend customers split between arms, reproducibly, with a ledger.

The split is a deterministic hash, so any system can reproduce it (a helpdesk routing rule, a
warehouse query, code in another language)::

    bucket = int.from_bytes(sha256(f"{salt}:{customer_id}".encode("utf-8")).digest()[:8],
                            "big") / 2**64

and the arms are taken by cumulative weight in their listed order: with arms
``("fast", "one_business_day")`` and weights ``(0.5, 0.5)`` a bucket below 0.5 is ``fast``. A
customer's arm depends only on the salt and their id: not on the machine, the order of the
list or who else is in it.

Eligibility (low spend by an absolute ceiling or a spend quantile, optional segment lists) is
judged once, when a customer is first seen, from pre-experiment data. With a ``ledger`` file
the decision is recorded and later runs never move a customer in or out:

- ``<ledger>`` -- the assignments table (:data:`~frt_experiments.schema.ASSIGNMENTS`); a
  re-run keeps every existing line byte for byte and appends newly seen eligible customers;
- ``<ledger>.excluded.csv`` -- customers screened out, with the reason, so a customer whose
  spend later falls under the ceiling stays out;
- ``<ledger>.meta.json`` -- the experiment, a SHA-256 fingerprint of the salt, the arms, the
  weights and the eligibility rule (a spend quantile is fixed as a spend ceiling on the first
  run). A later run with another salt, arm set, weights or eligibility rule raises
  :class:`~frt_experiments.errors.LedgerError` instead of re-shuffling anyone.

For a fixed cohort known in advance, :func:`stratified_assign` randomizes in permuted blocks
within strata (e.g. spend bands) for exact balance per stratum.

Checks (:func:`sample_ratio_mismatch`, :func:`covariate_balance`) live in
:mod:`frt_experiments.balance` and are re-exported here.
"""

from __future__ import annotations

import hashlib
import html
import math
import os
import warnings
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from pyarrow import csv as pa_csv

from frt_experiments import schema
from frt_experiments._ids import isin
from frt_experiments._limits import check_flat_parquet
from frt_experiments._spreadsheet import neutralise
from frt_experiments.balance import SRMResult, covariate_balance, sample_ratio_mismatch
from frt_experiments.errors import (
    DataError,
    DataWarning,
    Problem,
    SampleRatioMismatchWarning,
)
from frt_experiments.ledger import (
    DEFAULT_LOCK_TIMEOUT,
    REASON,
    atomic_csv,
    design_record,
    ledger_lock,
    read_ledger,
    recover,
    resolve_ledger,
    sidecars,
    write_ledger,
)

__all__ = [
    "AssignmentResult",
    "SRMResult",
    "arms_from_buckets",
    "assign",
    "covariate_balance",
    "hash_buckets",
    "read_customers",
    "sample_ratio_mismatch",
    "split_pools",
    "stratified_assign",
    "write_tags",
]

DEFAULT_ARMS: tuple[str, ...] = (schema.CONTROL_ARM, schema.TREATMENT_ARM)
DEFAULT_WEIGHTS: tuple[float, ...] = (0.5, 0.5)
TAG = "tag"
_SCALE = 2.0**64
_BELOW_ONE = float(np.nextafter(1.0, 0.0))


# ----------------------------------------------------------------------------- hashing
def hash_buckets(customer_ids: Iterable[Any], salt: str) -> np.ndarray:
    """The assignment bucket in [0, 1) of each customer id.

    ``bucket = int.from_bytes(sha256(f"{salt}:{id}".encode("utf-8")).digest()[:8], "big")
    / 2**64``, returned as float64 (the 64-bit integer correctly rounded; the handful of
    integers within 2**10 of 2**64, which would round to 1.0, are kept just below 1).

    Args:
        customer_ids: Ids (converted with ``str``); no missing values.
        salt: The experiment's salt; a new salt gives an independent split.

    Returns:
        float64 array, one bucket per id, in input order.

    References:
        NIST FIPS 180-4, Secure Hash Standard (SHA-256). Kohavi, R., Tang, D. and Xu, Y. (2020).
        Trustworthy Online Controlled Experiments, ch. 14 (hash-based randomization units).
    """
    if not isinstance(salt, str):
        raise TypeError(f"salt must be a string, got {type(salt).__name__}")
    ids = pd.Series(customer_ids) if not isinstance(customer_ids, pd.Series) else customer_ids
    missing = ids.isna().to_numpy()
    if missing.any():
        raise ValueError(f"customer_ids: {int(missing.sum())} ids are missing "
                         f"(positions {_first(missing)}); every customer needs an id")
    prefix = f"{salt}:"
    sha = hashlib.sha256
    # Python-level hashing is the one loop (hashlib has no vectorized form); f-strings format
    # each id as str() does.
    raw = b"".join([sha(f"{prefix}{i}".encode()).digest()[:8] for i in ids.tolist()])
    out = np.frombuffer(raw, dtype=">u8").astype(np.float64) / _SCALE
    return np.minimum(out, _BELOW_ONE)


def _check_experiment(experiment: object) -> None:
    if not isinstance(experiment, str) or not experiment.strip():
        raise ValueError(f"experiment must be a non-empty string, got {experiment!r}")
    _check_unpadded("experiment", [experiment])


def _check_unpadded(name: str, values: Sequence[str]) -> None:
    """Names written into the tables, which strip text: one with spaces around it would not
    read back as itself."""
    spaced = [v for v in values if v != v.strip()]
    if spaced:
        raise ValueError(f"{name}: {spaced[0]!r} has spaces around it (canonical tables strip "
                         "them, so it would not read back as itself)")


def _weights(arms: Sequence[str], weights: Sequence[float] | np.ndarray
             ) -> tuple[tuple[str, ...], np.ndarray]:
    arms_t = tuple(arms) if not isinstance(arms, str) else (arms,)
    if len(arms_t) < 2:
        raise ValueError(f"arms: need at least two arms, got {arms_t!r}")
    if not all(isinstance(a, str) and a.strip() for a in arms_t):
        raise ValueError(f"arms: every arm must be a non-empty string, got {arms_t!r}")
    _check_unpadded("arms", arms_t)
    if len(set(arms_t)) != len(arms_t):
        raise ValueError(f"arms: names must be unique, got {arms_t!r}")
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (len(arms_t),):
        raise ValueError(f"weights: need one weight per arm ({len(arms_t)}), got {weights!r}")
    if not np.all(np.isfinite(w) & (w > 0)):
        raise ValueError(f"weights: every weight must be positive and finite, got {weights!r}")
    return arms_t, w / w.sum()


def arms_from_buckets(
    buckets: Any,
    arms: Sequence[str] = DEFAULT_ARMS,
    weights: Sequence[float] | np.ndarray = DEFAULT_WEIGHTS,
) -> np.ndarray:
    """The arm of each bucket: the first arm whose cumulative weight share exceeds it.

    With arms ``("fast", "one_business_day")`` and weights ``(0.5, 0.5)``, ``bucket < 0.5`` is
    ``fast`` and ``bucket >= 0.5`` is ``one_business_day``. Weights need not sum to one; they
    are normalised.

    Args:
        buckets: Values in [0, 1) (see :func:`hash_buckets`).
        arms: Arm names, in the order their shares are laid out on [0, 1).
        weights: Relative size of each arm.

    Returns:
        Array of arm names (numpy unicode strings), one per bucket.
    """
    arms_t, share = _weights(arms, weights)
    b = np.asarray(buckets, dtype=np.float64)
    bad = ~((b >= 0) & (b < 1))
    if bad.any():
        raise ValueError(f"buckets: {int(bad.sum())} values are not in [0, 1) "
                         f"(positions {_first(bad)})")
    cdf = np.cumsum(share)
    idx = np.minimum(np.searchsorted(cdf, b, side="right"), len(arms_t) - 1)
    return np.asarray(arms_t)[idx]


# ----------------------------------------------------------------------------- result
@dataclass(frozen=True, repr=False)
class AssignmentResult:
    """The outcome of an assignment run.

    Attributes:
        assignments: The canonical assignments table (every row of the ledger, old and new).
        excluded: Customers screened out: ``customer_id`` and ``reason``.
        counts: Assigned customers per arm (in the arms' order).
        srm: Sample-ratio-mismatch test of the counts against the weights.
        balance: Covariate balance table (see :func:`covariate_balance`).
        experiment: The experiment name.
        arms, weights: The design (weights normalised to shares).
        n_new: Rows added by this run (all rows without a ledger).
        spend_ceiling: The spend ceiling applied (``None`` without a spend rule).
        ledger: The ledger path given (``None`` without one).
        notes: What the run did to the ledger beyond appending, worth telling the user: an
            interrupted run's update completed or its temporary files removed, an integrity
            record added to a ledger of an earlier version.
    """

    assignments: pd.DataFrame
    excluded: pd.DataFrame
    counts: pd.Series
    srm: SRMResult
    balance: pd.DataFrame
    experiment: str
    arms: tuple[str, ...]
    weights: tuple[float, ...]
    n_new: int
    spend_ceiling: float | None = None
    ledger: Path | None = field(default=None)
    notes: tuple[str, ...] = field(default=())

    def to_pandas(self) -> pd.DataFrame:
        """The assignments table."""
        return self.assignments.copy()

    def summary(self) -> str:
        """Counts per arm, the SRM test and the balance table as text."""
        total = int(self.counts.sum())
        lines = [f"experiment {self.experiment}: {total:,} customers assigned "
                 f"({self.n_new:,} new), {len(self.excluded):,} not eligible"]
        for arm, n, w in zip(self.arms, self.counts.to_numpy(), self.weights, strict=True):
            share = f"{n / total:.2%}" if total else "n/a"
            lines.append(f"  {arm}: {int(n):,} ({share}; design {w:.2%})")
        flag = "  SAMPLE RATIO MISMATCH" if self.srm.flagged else ""
        lines.append(f"sample ratio: chi-square {self.srm.statistic:.3f}, "
                     f"p = {self.srm.p_value:.4g}{flag}")
        if not self.balance.empty:
            lines.append("covariate balance (standardized mean difference vs "
                         f"{self.arms[0]}):")
            lines.append(self.balance.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = html.escape(self.summary().splitlines()[0])
        counts = self.counts.to_frame().reset_index().to_html(index=False)
        s = self.srm
        srm = (f"<p>sample ratio: chi-square {s.statistic:.3f}, p = {s.p_value:.4g}"
               + (" <b>SAMPLE RATIO MISMATCH</b>" if s.flagged else "") + "</p>")
        return "\n".join([f"<p>{head}</p>", counts, srm, self.balance.to_html(index=False)])

    def __repr__(self) -> str:
        counts = ", ".join(f"{a}={int(n):,}" for a, n in self.counts.items())
        return (f"AssignmentResult(experiment={self.experiment!r}, {counts}, "
                f"srm_p={self.srm.p_value:.4g}, n_new={self.n_new:,})")


# ----------------------------------------------------------------------------- reading
def read_customers(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a customers file (CSV or Parquet) for assignment, ids and segments as text.

    Unlike :func:`~frt_experiments.schema.read_table` this does not require the revenue
    columns, which are not known before the experiment; :func:`assign` checks what it needs.

    Raises:
        DataError: The file is missing, empty or unreadable.
    """
    p = Path(path)
    if p.is_dir():
        raise DataError([Problem(p.name, None, f"is a directory, not a file ({p})")])
    if not p.is_file():
        raise DataError([Problem(p.name, None, f"file not found ({p})")])
    if p.stat().st_size == 0:
        raise DataError([Problem(p.name, None, "file is empty")])
    try:
        if p.suffix.lower() == ".parquet":
            check_flat_parquet(p)
            df = pd.read_parquet(p)
        else:
            text = {schema.CUSTOMER_ID: pa.string(), schema.SEGMENT: pa.string()}
            # only an empty field is missing, as schema.read_table reads it ("NA" is an id)
            table = pa_csv.read_csv(p, convert_options=pa_csv.ConvertOptions(
                column_types=text, strings_can_be_null=True, null_values=[""]))
            binary = [f.name for f in table.schema if pa.types.is_binary(f.type)
                      or pa.types.is_large_binary(f.type)]
            if binary:  # pyarrow reads a column with bytes that are not UTF-8 as binary
                raise DataError([Problem(p.name, name, "holds bytes that are not UTF-8 text "
                                         "(save the file as UTF-8)") for name in binary])
            df = table.to_pandas(types_mapper={pa.string(): pd.StringDtype()}.get)
    except DataError:
        raise
    except (pa.ArrowInvalid, ValueError, OSError, UnicodeDecodeError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError([Problem(p.name, None, f"cannot be read: {msg}")]) from exc
    if df.empty:
        raise DataError([Problem(p.name, None, "file has no rows")])
    return df


# ----------------------------------------------------------------------------- eligibility
def _problem(source: str, column: str | None, mask: np.ndarray, rule: str) -> Problem:
    """Offending rows: 0-based positions, or file lines (header = line 1) for a CSV source."""
    csv = source.lower().endswith(".csv")
    rows = tuple(int(i) + (2 if csv else 0) for i in np.flatnonzero(mask)[:5])
    return Problem(source, column, rule, int(mask.sum()), rows, "lines" if csv else "rows")


def _customers(customers: pd.DataFrame, source: str, *, need_segment: bool) -> pd.DataFrame:
    """Light validation of what assignment needs: unique ids and a non-negative spend."""
    if not isinstance(customers, pd.DataFrame):
        raise TypeError(f"customers must be a pandas DataFrame, got {type(customers).__name__}")
    if customers.columns.duplicated().any():
        dups = sorted({str(c) for c in customers.columns[customers.columns.duplicated()]})
        raise DataError([Problem(source, None, f"duplicate columns {', '.join(dups)}")])
    need = [schema.CUSTOMER_ID, schema.MONTHLY_SPEND] + ([schema.SEGMENT] if need_segment else [])
    missing = [c for c in need if c not in customers.columns]
    if missing:
        raise DataError([Problem(source, None, f"missing required column "
                                 f"{', '.join(missing)} (needed for assignment)")])
    ids = customers[schema.CUSTOMER_ID]
    if pd.api.types.is_float_dtype(ids):  # ids read as numbers: 17.0 is the id "17"
        whole = ids.notna() & (ids == np.floor(ids))
        ids = ids.astype(object).where(~whole, ids.where(whole, 0).astype("int64"))
    text = ids.astype("string").str.strip()
    problems = []
    empty = (text.isna() | (text == "")).to_numpy(bool)
    if empty.any():
        problems.append(_problem(source, schema.CUSTOMER_ID, empty, "empty (a value is required)"))
    dup = (text.duplicated(keep="first") & ~text.isna()).to_numpy(bool)
    if dup.any():
        problems.append(_problem(source, schema.CUSTOMER_ID, dup,
                                 "repeating an earlier customer_id"))
    # a carriage return is written bare into the ledger's CSV, where every reader ends the
    # line there (or reads it as a space): the id would not read back as itself
    breaks = text.str.contains("\r", regex=False).fillna(False).to_numpy(bool)
    if breaks.any():
        problems.append(_problem(source, schema.CUSTOMER_ID, breaks,
                                 "holding a carriage return (an id must be one line of "
                                 "text)"))
    raw = customers[schema.MONTHLY_SPEND]
    spend = pd.to_numeric(raw, errors="coerce").astype("float64")
    nan = spend.isna().to_numpy()
    if pd.api.types.is_bool_dtype(raw):
        problems.append(_problem(source, schema.MONTHLY_SPEND, np.ones(len(raw), bool),
                                 "true/false, not numbers"))
    elif nan.any():
        problems.append(_problem(source, schema.MONTHLY_SPEND, nan,
                                 "empty or not numbers (spend decides eligibility)"))
    inf = np.isinf(spend.to_numpy())
    if inf.any():
        problems.append(_problem(source, schema.MONTHLY_SPEND, inf,
                                 "infinite (numbers must be finite)"))
    neg = (spend < 0).to_numpy()
    if neg.any():
        problems.append(_problem(source, schema.MONTHLY_SPEND, neg, "negative (must be >= 0)"))
    problems.extend(_covariate_problems(customers, source))
    if problems:
        raise DataError(problems)
    out = pd.DataFrame({schema.CUSTOMER_ID: text.reset_index(drop=True),
                        schema.MONTHLY_SPEND: spend.reset_index(drop=True)})
    if schema.SEGMENT in customers.columns:
        out[schema.SEGMENT] = customers[schema.SEGMENT].astype("string").reset_index(drop=True)
    return out


def _covariate_problems(customers: pd.DataFrame, source: str) -> list[Problem]:
    """The pre-period covariates present (they feed the balance table) must be numbers >= 0
    (empty is allowed: missing), with pre_satisfied <= pre_rated, as in the customers table."""
    problems: list[Problem] = []
    values: dict[str, np.ndarray] = {}
    for col in schema.PRE_COVARIATES:  # a loop over at most four columns
        if col not in customers.columns:
            continue
        raw = customers[col]
        if pd.api.types.is_bool_dtype(raw):
            problems.append(_problem(source, col, np.ones(len(raw), bool),
                                     "true/false, not numbers"))
            continue
        if pd.api.types.is_numeric_dtype(raw):
            num = raw.to_numpy(dtype="float64", na_value=np.nan)
        else:
            text = raw.astype("string").str.strip().replace("", pd.NA)
            num = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64",
                                                                na_value=np.nan)
            bad = text.notna().to_numpy(bool) & np.isnan(num)
            if bad.any():
                problems.append(_problem(source, col, bad, "text, not numbers"))
        for mask, rule in ((np.isinf(num), "infinite (numbers must be finite)"),
                           (num < 0, "negative (must be >= 0)")):
            if mask.any():
                problems.append(_problem(source, col, mask, rule))
        values[col] = num
    if schema.PRE_RATED in values and schema.PRE_SATISFIED in values:
        over = values[schema.PRE_SATISFIED] > values[schema.PRE_RATED]
        if over.any():
            problems.append(_problem(source, schema.PRE_SATISFIED, over,
                                     f"greater than {schema.PRE_RATED}"))
    return problems


def _rule(max_spend: float | None, spend_quantile: float | None,
          include: Sequence[str] | None, exclude: Sequence[str] | None) -> dict[str, Any]:
    if max_spend is not None and spend_quantile is not None:
        raise ValueError("give max_spend or spend_quantile, not both")
    if max_spend is not None and not (np.isfinite(max_spend) and max_spend >= 0):
        raise ValueError(f"max_spend must be a finite number >= 0, got {max_spend!r}")
    if spend_quantile is not None and not (0 < spend_quantile <= 1):
        raise ValueError(f"spend_quantile must be in (0, 1], got {spend_quantile!r}")
    for name, seg in (("include_segments", include), ("exclude_segments", exclude)):
        if isinstance(seg, str):
            raise TypeError(f"{name} must be a list of segment names, not a string ({seg!r})")
    return {"max_spend": None if max_spend is None else float(max_spend),
            "spend_quantile": None if spend_quantile is None else float(spend_quantile),
            "include_segments": None if include is None else sorted(map(str, include)),
            "exclude_segments": None if exclude is None else sorted(map(str, exclude))}


def _screen(cust: pd.DataFrame, rule: dict[str, Any], ceiling: float | None) -> np.ndarray:
    """Reason each customer is screened out ("" when eligible)."""
    reason = np.full(len(cust), "", dtype=object)
    if ceiling is not None:
        reason[(cust[schema.MONTHLY_SPEND] > ceiling).to_numpy()] = "spend above ceiling"
    seg = cust[schema.SEGMENT] if schema.SEGMENT in cust.columns else None
    if rule["include_segments"] is not None and seg is not None:
        out = ~isin(seg, rule["include_segments"])
        reason[out & (reason == "")] = "segment not included"
    if rule["exclude_segments"] is not None and seg is not None:
        out = isin(seg, rule["exclude_segments"])
        reason[out & (reason == "")] = "segment excluded"
    return reason


def _warn_absent_segments(cust: pd.DataFrame, rule: dict[str, Any], source: str) -> None:
    """Warn when a segment named in the rule occurs nowhere in the customers (a typo?)."""
    if schema.SEGMENT not in cust.columns:
        return
    present = set(cust[schema.SEGMENT].dropna().unique().tolist())
    for name in ("include_segments", "exclude_segments"):
        absent = sorted(set(rule[name] or ()) - present)
        if absent:
            warnings.warn(f"{name}: no customer in {source} has segment "
                          f"{', '.join(map(repr, absent))} (segments present: "
                          f"{', '.join(map(repr, sorted(present))) or 'none'})",
                          DataWarning, stacklevel=3)


def _timestamp(assigned_at: Any) -> pd.Timestamp:
    if assigned_at is None:
        return pd.Timestamp.now(tz="UTC").floor("s")
    try:
        ts = pd.Timestamp(assigned_at)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"assigned_at: cannot read {assigned_at!r} as a timestamp") from exc
    if ts.tzinfo is None:
        raise ValueError(f"assigned_at must be time-zone aware, got {assigned_at!r}")
    return ts.tz_convert("UTC")


def _table(ids: pd.Series, experiment: str, arms: np.ndarray, ts: pd.Timestamp,
           buckets: np.ndarray) -> pd.DataFrame:
    n = len(ids)
    return pd.DataFrame({
        schema.CUSTOMER_ID: pd.Series(ids.to_numpy(), dtype="string"),
        schema.EXPERIMENT: pd.Series(np.full(n, experiment, dtype=object), dtype="string"),
        schema.ARM: pd.Series(arms, dtype="string"),
        schema.ASSIGNED_AT: pd.Series(pd.DatetimeIndex(np.full(n, ts.value)
                                                       .astype("datetime64[ns]"), tz="UTC")),
        schema.BUCKET: np.asarray(buckets, dtype=np.float64),
    })


# ----------------------------------------------------------------------------- assign
def assign(
    customers: pd.DataFrame,
    *,
    experiment: str,
    salt: str,
    max_spend: float | None = None,
    spend_quantile: float | None = None,
    arms: Sequence[str] = DEFAULT_ARMS,
    weights: Sequence[float] = DEFAULT_WEIGHTS,
    include_segments: Sequence[str] | None = None,
    exclude_segments: Sequence[str] | None = None,
    assigned_at: Any = None,
    ledger: str | os.PathLike[str] | None = None,
    source: str = "customers",
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> AssignmentResult:
    """Screen customers for eligibility and split the eligible ones by hashed bucket.

    Eligible: ``monthly_spend <= max_spend`` (or ``<=`` the ``spend_quantile`` of the spend
    distribution, numpy's default linear quantile, fixed as a ceiling on the ledger's first
    run), in ``include_segments`` when given and not in ``exclude_segments``. The arm is
    ``arms_from_buckets(hash_buckets(customer_id, salt), arms, weights)``.

    Args:
        customers: Needs ``customer_id`` and ``monthly_spend`` (pre-experiment), and
            ``segment`` when a segment list is given. Other columns (pre-period covariates) feed
            the balance table.
        experiment: Experiment name, written in every row.
        salt: Hash salt; use a new one per experiment.
        max_spend, spend_quantile: The low-spend rule (at most one; neither: everyone).
        arms, weights: Arm names (control first) and their relative sizes.
        include_segments, exclude_segments: Optional segment lists.
        assigned_at: Aware timestamp written for new rows (default: now, UTC, to the second).
        ledger: CSV or Parquet path of the ledger; existing rows are kept as they are and
            newly eligible customers appended (see the module docstring). A symbolic link is
            followed: the file it points to is updated in place.
        source: Name of the customers table in error messages (e.g. its file name).
        lock_timeout: Seconds to wait for another run holding the ledger's lock before
            giving up with a :class:`~frt_experiments.errors.LedgerError`.

    Returns:
        An :class:`AssignmentResult`. Warns
        :class:`~frt_experiments.errors.SampleRatioMismatchWarning` when the SRM test flags
        the counts and :class:`~frt_experiments.errors.BalanceWarning` for |SMD| > 0.1.

    Raises:
        ValueError: Bad arguments. DataError: Bad customers table or ledger file.
        LedgerError: The ledger was made with another salt, arm set, weights, eligibility
            rule or experiment; it or a sidecar was changed or lost since frt wrote it; its
            lock was not free within ``lock_timeout``; it cannot be written (nothing is
            changed then).

    References:
        Kohavi, R., Tang, D. and Xu, Y. (2020). Trustworthy Online Controlled Experiments,
        Cambridge University Press, ch. 14 and 21 (randomization units, sample ratio mismatch).
    """
    _check_experiment(experiment)
    arms_t, share = _weights(arms, weights)
    rule = _rule(max_spend, spend_quantile, include_segments, exclude_segments)
    segments = rule["include_segments"] is not None or rule["exclude_segments"] is not None
    cust = _customers(customers, source, need_segment=segments)
    _warn_absent_segments(cust, rule, source)
    ts = _timestamp(assigned_at)
    meta = design_record(experiment, salt, arms_t, share, rule)

    path = None if ledger is None else Path(ledger)
    real = None if path is None else resolve_ledger(path)
    notes: list[str] = []
    with nullcontext() if real is None else ledger_lock(real, timeout=lock_timeout):
        old = None
        if real is not None:
            notes += recover(real)
            old = read_ledger(real, meta, salt=salt)
        upgrade = False
        if real is not None and old is not None:
            old_rows, old_excluded, record = old
            stored = record if record is not None else _legacy_record(meta)
            if record is None or "integrity" not in record:
                upgrade = True
                notes.append(f"{real.name}: {sidecars(real)[0].name} "
                             f"{'is missing' if record is None else 'has no integrity record'}"
                             " (a ledger of an earlier version): every bucket and arm was "
                             "checked against the salt, and the integrity record is added now")
            ceiling = stored["eligibility"].get("spend_ceiling")
            if ceiling is None and rule["spend_quantile"] is not None:  # no meta file
                ceiling = float(np.quantile(cust[schema.MONTHLY_SPEND].to_numpy(),
                                            rule["spend_quantile"]))
            meta["eligibility"]["spend_ceiling"] = ceiling
            ids = cust[schema.CUSTOMER_ID]
            seen = isin(ids, old_rows[schema.CUSTOMER_ID])
            if len(old_excluded):
                seen |= isin(ids, old_excluded[schema.CUSTOMER_ID])
            fresh = cust[~seen]
        else:
            old_rows = _table(pd.Series([], dtype="string"), experiment,
                              np.array([], dtype=str), ts, np.array([]))
            old_excluded = pd.DataFrame({schema.CUSTOMER_ID: pd.Series([], dtype="string"),
                                         REASON: pd.Series([], dtype="string")})
            fresh = cust
            ceiling = rule["max_spend"]
            if rule["spend_quantile"] is not None:
                ceiling = float(np.quantile(cust[schema.MONTHLY_SPEND].to_numpy(),
                                            rule["spend_quantile"]))
            meta["eligibility"]["spend_ceiling"] = ceiling

        ceiling = meta["eligibility"]["spend_ceiling"]
        reason = _screen(fresh, rule, ceiling)
        keep = reason == ""
        ids = fresh[schema.CUSTOMER_ID][keep]
        buckets = hash_buckets(ids, salt)
        new_rows = _table(ids, experiment, arms_from_buckets(buckets, arms_t, share), ts,
                          buckets)
        new_excl = pd.DataFrame({schema.CUSTOMER_ID: fresh[schema.CUSTOMER_ID][~keep]
                                 .to_numpy(), REASON: reason[~keep]}).astype("string")

        if real is not None and (old is None or upgrade or len(new_rows) or len(new_excl)):
            write_ledger(real, new_rows, new_excl, meta, append=old is not None,
                         counts=(len(old_rows), len(old_excluded)), salt=salt)
    table = pd.concat([old_rows, new_rows], ignore_index=True) if len(old_rows) else new_rows
    excluded = (pd.concat([old_excluded, new_excl], ignore_index=True)
                if len(old_excluded) else new_excl)
    counts = _counts(table, arms_t)
    srm = _srm(counts, share)
    if srm.flagged:
        warnings.warn(f"sample ratio mismatch in {experiment}: counts "
                      f"{dict(zip(arms_t, counts.tolist(), strict=True))} against weights "
                      f"{tuple(round(float(s), 4) for s in share)} (chi-square "
                      f"{srm.statistic:.2f}, p = {srm.p_value:.2g} < 0.001)",
                      SampleRatioMismatchWarning, stacklevel=2)
    balance = covariate_balance(_same_ids(customers, cust), table, arms=arms_t)
    return AssignmentResult(table, excluded, counts, srm, balance, experiment, arms_t,
                            tuple(float(s) for s in share), len(new_rows), ceiling, path,
                            tuple(notes))


# ----------------------------------------------------------------------------- ledger checks
def _legacy_record(meta: dict[str, Any]) -> dict[str, Any]:
    """The design record of a ledger without a meta file (its rows were checked against the
    salt by :func:`~frt_experiments.ledger.read_ledger`): this run's design, with the spend
    ceiling of a ``max_spend`` rule."""
    el = dict(meta["eligibility"])
    el.setdefault("spend_ceiling", el.get("max_spend"))
    return {**meta, "eligibility": el}


# ----------------------------------------------------------------------------- tags
def split_pools(assignments: pd.DataFrame, customers: pd.DataFrame, agents: int, *,
                work: str = schema.PRE_HANDLE_SECONDS) -> pd.DataFrame:
    """Agents per arm for a trial run on separate agent pools, in proportion to each arm's work.

    Arms that share one desk interfere: the slow arm's deferred conversations free agents for
    the fast arm, which is then answered faster than usual, and the A/B contrast overstates a
    rollout's effect (:mod:`frt_experiments.interference`). Routing each arm to its own pool
    of agents removes that path (the simulator's ``pools="split"``,
    :func:`frt_experiments.simulate.simulate_worlds`, shows the bias vanish). The pools are
    sized by the arms' expected work, read from the customers' pre-period (``work``: by default
    their handle seconds, else their conversations), and the agents are split by the largest-
    remainder method (Hamilton's), each pool getting at least one agent.

    Args:
        assignments: Canonical assignments (``customer_id``, ``arm``).
        customers: Canonical customers with the ``work`` column.
        agents: Agents to split (at least one per arm).
        work: The customers' column measuring expected work (``pre_handle_seconds`` or
            ``pre_conversations``).

    Returns:
        One row per arm: ``arm``, ``pool``, ``customers``, ``work``, ``share`` and ``agents``.

    Raises:
        ValueError: Fewer agents than arms, ``work`` missing, negative or zero in total.
    """
    if work not in customers.columns:
        raise ValueError(f"work: customers have no column {work!r} (give pre_handle_seconds "
                         "or pre_conversations)")
    arms = [str(a) for a in pd.unique(assignments[schema.ARM].dropna())]
    if isinstance(agents, bool) or not isinstance(agents, int | np.integer) or agents < len(arms):
        raise ValueError(f"agents: need a whole number of at least one agent per arm "
                         f"({len(arms)}), got {agents!r}")
    w = pd.to_numeric(customers.set_index(schema.CUSTOMER_ID)[work], errors="coerce")
    per = w.reindex(assignments[schema.CUSTOMER_ID].to_numpy()).to_numpy(float)
    if np.isnan(per).any() or (per < 0).any():
        raise ValueError(f"work: column {work!r} must be a number >= 0 for every assigned "
                         f"customer ({int(np.isnan(per).sum() + (per < 0).sum())} are not)")
    arm_of = assignments[schema.ARM].astype("string").to_numpy()
    load = np.array([per[arm_of == a].sum() for a in arms])
    if not load.sum() > 0:
        raise ValueError(f"work: column {work!r} sums to zero; no work to split the agents by")
    share = load / load.sum()
    extra = agents - len(arms)  # one agent each, the rest by largest remainder
    quota = share * extra
    seats = np.floor(quota).astype(int)
    seats[np.argsort(-(quota - seats), kind="stable")[: extra - seats.sum()]] += 1
    return pd.DataFrame({schema.ARM: arms, "pool": [f"pool-{a}" for a in arms],
                         "customers": [int((arm_of == a).sum()) for a in arms], "work": load,
                         "share": share, "agents": seats + 1})


def write_tags(assignments: pd.DataFrame, path: str | os.PathLike[str],
               experiment: str, *, pools: pd.DataFrame | None = None) -> Path:
    """Write a CSV for bulk tagging in a helpdesk: ``customer_id``, ``arm``, ``tag``.

    With ``pools`` (:func:`split_pools`) a ``pool`` column names each customer's agent pool,
    ``frt-<experiment>-pool-<arm>`` in the same spelling as the tag, for routing each arm's
    conversations to its own agents.

    The tag is ``frt-<experiment>-<arm>``, lower-cased, with every character other than
    letters, digits, ``-`` and ``_`` replaced by ``_`` (Zendesk and Intercom tags cannot hold
    spaces). A text cell a spreadsheet would evaluate (starting with ``=``, ``+``, ``-``, ``@``,
    a tab or a carriage return, and not a number) is written with a single quote in front
    (``'=cmd``), as this file is meant to be opened by people. Only rows of ``experiment`` are
    written (an empty ledger gives a header-only
    file; a ledger without rows of ``experiment`` is an error). The file is written atomically.
    """
    for col in (schema.CUSTOMER_ID, schema.ARM):
        if col not in assignments.columns:
            raise DataError([Problem("assignments", None, f"missing required column {col}")])
    rows = assignments
    if schema.EXPERIMENT in assignments.columns and len(assignments):
        rows = assignments[(assignments[schema.EXPERIMENT] == experiment).fillna(False)
                           .to_numpy(bool)]
        if rows.empty:
            raise ValueError(f"experiment: no assignments of {experiment!r} to tag")
    tag = ("frt-" + experiment + "-" + rows[schema.ARM].astype("string")).str.lower()
    tag = tag.str.replace(r"[^a-z0-9_-]", "_", regex=True)
    out = pd.DataFrame({schema.CUSTOMER_ID: rows[schema.CUSTOMER_ID].to_numpy(),
                        schema.ARM: rows[schema.ARM].to_numpy(), TAG: tag.to_numpy()})
    if pools is not None:
        missing = sorted(set(out[schema.ARM].astype(str)) - set(pools[schema.ARM].astype(str)))
        if missing:
            raise ValueError(f"pools: no pool for arm {missing[0]!r}")
        pool = ("frt-" + experiment + "-pool-" + rows[schema.ARM].astype("string")).str.lower()
        out["pool"] = pool.str.replace(r"[^a-z0-9_-]", "_", regex=True).to_numpy()
    p = Path(path)
    atomic_csv(p, neutralise(out), header=True)
    return p


# ----------------------------------------------------------------------------- stratified
def _block(share: np.ndarray) -> np.ndarray:
    """Arm indices of one permuted block: the smallest whole-number block with these shares."""
    fr = [Fraction(float(s)).limit_denominator(1000) for s in share]
    size = math.lcm(*(f.denominator for f in fr))
    counts = [int(f * size) for f in fr]
    exact = all(abs(float(f) - float(s)) < 1e-9 for f, s in zip(fr, share, strict=True))
    if not exact or size > 1000 or sum(counts) != size or min(counts) < 1:
        raise ValueError(f"weights: {share.tolist()} cannot be laid out in a permuted block of "
                         "at most 1000 customers; use simple ratios such as (1, 1) or (2, 1)")
    return np.repeat(np.arange(len(share)), counts)


def stratified_assign(
    customers: pd.DataFrame,
    *,
    strata: str | Sequence[str] | pd.Series | np.ndarray | None = None,
    experiment: str,
    arms: Sequence[str] = DEFAULT_ARMS,
    weights: Sequence[float] = DEFAULT_WEIGHTS,
    rng: int | np.random.Generator | None = None,
    assigned_at: Any = None,
    spend_bands: int | None = None,
    max_spend: float | None = None,
    spend_quantile: float | None = None,
    include_segments: Sequence[str] | None = None,
    exclude_segments: Sequence[str] | None = None,
    source: str = "customers",
) -> AssignmentResult:
    """Randomize a fixed cohort in permuted blocks within strata (exact balance per stratum).

    Customers are shuffled within each stratum and dealt arms from a block holding each arm in
    proportion to its weight (size 2 for 50/50), the block's order drawn at random per
    stratum. Every complete block holds the arms exactly in proportion, so within a stratum of
    ``m`` customers each arm gets ``m * share`` give or take less than one block. The buckets
    are empty: this assignment is not a hash and cannot be extended to new customers.

    Args:
        customers: The candidates: ``customer_id`` and ``monthly_spend``, plus the strata
            columns.
        strata: A column name, a list of column names, or one label per customer (e.g.
            ``pd.qcut(customers.monthly_spend, 4)``).
        spend_bands: Also stratify by this many spend quantile bands of the eligible cohort.
        experiment, arms, weights, assigned_at, source: As in :func:`assign`.
        max_spend, spend_quantile, include_segments, exclude_segments: Eligibility, as in
            :func:`assign` (default: the whole table is the cohort).
        rng: Seed or generator.

    References:
        Matts, J. P. and Lachin, J. M. (1988). Properties of permuted-block randomization in
        clinical trials. Controlled Clinical Trials 9(4), 327-344. Kernan, W. N. et al. (1999).
        Stratified randomization for clinical trials: a review. J. Clin. Epidemiol. 52(1),
        19-26.
    """
    _check_experiment(experiment)
    if strata is None and spend_bands is None:
        raise ValueError("give strata (columns or labels), spend_bands, or both")
    if spend_bands is not None and (isinstance(spend_bands, bool) or not isinstance(
            spend_bands, int | np.integer) or spend_bands < 1):
        raise ValueError(f"spend_bands must be a positive integer, got {spend_bands!r}")
    arms_t, share = _weights(arms, weights)
    block = _block(share)
    rule = _rule(max_spend, spend_quantile, include_segments, exclude_segments)
    segments = rule["include_segments"] is not None or rule["exclude_segments"] is not None
    cust = _customers(customers, source, need_segment=segments)
    spend = cust[schema.MONTHLY_SPEND].to_numpy()
    ceiling = rule["max_spend"]
    if rule["spend_quantile"] is not None:
        ceiling = float(np.quantile(spend, rule["spend_quantile"]))
    reason = _screen(cust, rule, ceiling)
    keep = reason == ""
    key = pd.Series("", index=range(len(cust)), dtype="string")
    if strata is not None:
        key = key + pd.Series(_strata(customers, strata), dtype="string").to_numpy()
    if spend_bands is not None and keep.any():
        band = np.zeros(len(cust), dtype=np.int64)
        band[keep] = pd.qcut(spend[keep], spend_bands, labels=False, duplicates="drop")
        key = key + "\x1fband" + pd.Series(band).astype("string").to_numpy()
    labels = key.to_numpy(dtype=object)[keep]
    gen = np.random.default_rng(rng)
    codes = pd.factorize(labels, use_na_sentinel=False)[0]
    n = int(keep.sum())
    order = np.lexsort((gen.random(n), codes))
    sorted_codes = codes[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_codes)) + 1]
    sizes = np.diff(np.r_[starts, n])
    rank = np.arange(n) - np.repeat(starts, sizes)
    n_strata = int(codes.max()) + 1 if n else 0
    perms = np.argsort(gen.random((n_strata, block.size)), axis=1)
    arm_idx = np.empty(n, dtype=np.int64)
    arm_idx[order] = block[perms[sorted_codes, rank % block.size]]
    ts = _timestamp(assigned_at)
    table = _table(cust[schema.CUSTOMER_ID][keep], experiment, np.asarray(arms_t)[arm_idx], ts,
                   np.full(n, np.nan))
    counts = _counts(table, arms_t)
    srm = _srm(counts, share)
    balance = covariate_balance(_same_ids(customers, cust), table, arms=arms_t)
    excluded = pd.DataFrame({schema.CUSTOMER_ID: cust[schema.CUSTOMER_ID][~keep].to_numpy(),
                             REASON: reason[~keep]}).astype("string")
    return AssignmentResult(table, excluded, counts, srm, balance, experiment, arms_t,
                            tuple(float(s) for s in share), n, ceiling, None)


def _strata(customers: pd.DataFrame, strata: Any) -> np.ndarray:
    if isinstance(strata, str):
        strata = [strata]
    if isinstance(strata, list | tuple) and all(isinstance(s, str) for s in strata):
        missing = [s for s in strata if s not in customers.columns]
        if missing:
            raise ValueError(f"strata: columns {missing} are not in customers")
        cols = customers[list(strata)].astype("string").fillna("<NA>")
        key = cols.iloc[:, 0]
        for c in cols.columns[1:]:
            key = key + "\x1f" + cols[c]
        return key.to_numpy()
    arr = np.asarray(pd.Series(strata).astype("string").fillna("<NA>").to_numpy())
    if arr.shape != (len(customers),):
        raise ValueError(f"strata: need one label per customer ({len(customers)}), "
                         f"got {arr.shape[0] if arr.ndim else 0}")
    return arr


def _srm(counts: pd.Series, share: np.ndarray) -> SRMResult:
    """The SRM test of the counts; not testable (NaN, not flagged) with nobody assigned."""
    if counts.sum() == 0:
        return SRMResult(float("nan"), float("nan"), False, len(share) - 1,
                         tuple(int(c) for c in counts), tuple(0.0 for _ in share))
    return sample_ratio_mismatch(counts.to_numpy(), share)


def _same_ids(customers: pd.DataFrame, checked: pd.DataFrame) -> pd.DataFrame:
    """``customers`` with the ids as assignment normalised them (text, stripped)."""
    return customers.assign(**{schema.CUSTOMER_ID: checked[schema.CUSTOMER_ID].to_numpy()})


def _counts(table: pd.DataFrame, arms: tuple[str, ...]) -> pd.Series:
    arm = table[schema.ARM].to_numpy(dtype=object)
    n = [int(np.count_nonzero(arm == a)) for a in arms]
    return pd.Series(n, index=pd.Index(list(arms), name=schema.ARM), name="customers",
                     dtype="int64")


def _first(mask: np.ndarray) -> str:
    shown = np.flatnonzero(mask)[:5]
    more = ", ..." if mask.sum() > len(shown) else ""
    return ", ".join(str(int(i)) for i in shown) + more
