"""Canonical tables: every column name, type and rule in one place.

Three tables carry all data through the toolkit (DESIGN section 3): ``customers``,
``assignments`` and ``conversations``. Importers and the simulator write them; metrics and
analysis read them. Other modules refer to columns through the constants here (``CUSTOMER_ID``,
``CREATED_AT``, ...), never by re-typing the strings.

Validation turns a raw frame (strings from a CSV, typed columns from Parquet or from memory)
into a typed frame, or raises :class:`~frt_experiments.errors.DataError` listing *every* problem
found. Each problem names the source, the column, the rule, how many rows break it and the first
few of them (file line numbers for CSV, where the header is line 1).

Typed representation:

- ids and text: pandas string columns;
- timestamps: ``datetime64[ns, UTC]``;
- numbers: ``float64``;
- ``csat``: the rating as text, normalised to ``"1"``..``"5"`` or ``"good"``/``"bad"``; use
  :func:`satisfied` for the 0/1 outcome.
"""

from __future__ import annotations

import csv as csv_module
import io
import os
import warnings
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from frt_experiments import _limits
from frt_experiments._atomic import atomic_path
from frt_experiments.errors import DataError, DataWarning, Problem

__all__ = [
    "ASSIGNMENTS",
    "CONVERSATIONS",
    "CUSTOMERS",
    "TABLES",
    "Column",
    "TableSpec",
    "check_tables",
    "check_timezone",
    "read_table",
    "satisfied",
    "validate_assignments",
    "validate_conversations",
    "validate_customers",
    "write_table",
]

# ----------------------------------------------------------------------------- column names
CUSTOMER_ID = "customer_id"
MONTHLY_SPEND = "monthly_spend"
REVENUE_START = "revenue_start"
REVENUE_END = "revenue_end"
SEGMENT = "segment"
COUNTRY = "country"
TIMEZONE = "timezone"
PRE_CONVERSATIONS = "pre_conversations"
PRE_RATED = "pre_rated"
PRE_SATISFIED = "pre_satisfied"
PRE_HANDLE_SECONDS = "pre_handle_seconds"
PRE_COVARIATES = (PRE_CONVERSATIONS, PRE_RATED, PRE_SATISFIED, PRE_HANDLE_SECONDS)

EXPERIMENT = "experiment"
ARM = "arm"
ASSIGNED_AT = "assigned_at"
BUCKET = "bucket"

CONVERSATION_ID = "conversation_id"
CREATED_AT = "created_at"
FIRST_RESPONSE_AT = "first_response_at"
CLOSED_AT = "closed_at"
HANDLE_SECONDS = "handle_seconds"
CSAT = "csat"
CSAT_SCALE = "csat_scale"
CHANNEL = "channel"
#: Optional: first response time in business seconds as the helpdesk measured it.
FIRST_RESPONSE_BUSINESS_SECONDS = "first_response_business_seconds"
#: Optional: when the customer gave up before any response (a call or chat abandoned in the
#: queue); such a conversation has no first response.
ABANDONED_AT = "abandoned_at"

SCALE_1_5 = "1-5"
SCALE_GOOD_BAD = "good-bad"
CSAT_SCALES = (SCALE_1_5, SCALE_GOOD_BAD)
RATINGS_1_5 = ("1", "2", "3", "4", "5")
RATINGS_GOOD_BAD = ("good", "bad")
SATISFIED_RATINGS = frozenset({"4", "5", "good"})

#: Default arm names: control first.
CONTROL_ARM = "fast"
TREATMENT_ARM = "one_business_day"

Kind = Literal["id", "text", "number", "timestamp"]


@dataclass(frozen=True)
class Column:
    """One column of a canonical table.

    Attributes:
        name: Column name.
        kind: ``"id"`` (unique or key text), ``"text"``, ``"number"`` or ``"timestamp"``.
        required: The column must be present.
        nullable: Empty values are allowed.
        nonnegative: Numbers must be ``>= 0``.
    """

    name: str
    kind: Kind
    required: bool = True
    nullable: bool = False
    nonnegative: bool = False


@dataclass(frozen=True)
class TableSpec:
    """The columns and key of one canonical table."""

    name: str
    columns: tuple[Column, ...]
    key: str

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


CUSTOMERS = TableSpec(
    "customers",
    (
        Column(CUSTOMER_ID, "id"),
        # Optional: an analysis without revenue (NRR not analysed) needs only the ids;
        # assignment checks monthly_spend itself.
        Column(MONTHLY_SPEND, "number", required=False, nonnegative=True),
        Column(REVENUE_START, "number", required=False, nonnegative=True),
        Column(REVENUE_END, "number", required=False, nonnegative=True),
        Column(SEGMENT, "text", required=False, nullable=True),
        Column(COUNTRY, "text", required=False, nullable=True),
        Column(TIMEZONE, "text", required=False, nullable=True),
        Column(PRE_CONVERSATIONS, "number", required=False, nonnegative=True),
        Column(PRE_RATED, "number", required=False, nonnegative=True),
        Column(PRE_SATISFIED, "number", required=False, nonnegative=True),
        Column(PRE_HANDLE_SECONDS, "number", required=False, nonnegative=True),
    ),
    key=CUSTOMER_ID,
)

ASSIGNMENTS = TableSpec(
    "assignments",
    (
        Column(CUSTOMER_ID, "id"),
        Column(EXPERIMENT, "text"),
        Column(ARM, "text"),
        Column(ASSIGNED_AT, "timestamp"),
        # Empty for assignments not made by hashing (the stratified design).
        Column(BUCKET, "number", nullable=True, nonnegative=True),
    ),
    key=CUSTOMER_ID,
)

CONVERSATIONS = TableSpec(
    "conversations",
    (
        Column(CONVERSATION_ID, "id"),
        Column(CUSTOMER_ID, "id"),
        Column(CREATED_AT, "timestamp"),
        Column(FIRST_RESPONSE_AT, "timestamp", nullable=True),
        Column(CLOSED_AT, "timestamp", required=False, nullable=True),
        # Optional: without handle time efficiency is not analysed, without ratings CSAT.
        Column(HANDLE_SECONDS, "number", required=False, nonnegative=True),
        Column(CSAT, "text", required=False, nullable=True),
        Column(CSAT_SCALE, "text", required=False, nullable=True),
        Column(CHANNEL, "text", required=False, nullable=True),
        Column(FIRST_RESPONSE_BUSINESS_SECONDS, "number", required=False, nullable=True,
               nonnegative=True),
        Column(ABANDONED_AT, "timestamp", required=False, nullable=True),
    ),
    key=CONVERSATION_ID,
)

TABLES: dict[str, TableSpec] = {t.name: t for t in (CUSTOMERS, ASSIGNMENTS, CONVERSATIONS)}
#: The rule a repeated key breaks, per table (the key of assignments is the customer within
#: its experiment).
#: The rule rows of conversations or assignments break when their customer is not in the
#: customers table (``customers`` is that table's name).
UNKNOWN_CUSTOMERS_RULE = "of customers not in {customers}"
DUPLICATE_RULES = {"customers": "repeating an earlier customer_id",
                   "assignments": "customers assigned twice in the same experiment",
                   "conversations": "repeating an earlier conversation_id"}

_OFFSET_RE = r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"
#: A timestamp names a date and a time of day (``2025-01-06T09:00``, ``2025-01-06 09:00``):
#: a date alone (``2025-01-06``) or a word (``now``, ``today``) is refused, never guessed.
_HAS_TIME_RE = r"^\d{4}-?\d{2}-?\d{2}[Tt ]\d{2}"
_DATE_ONLY_RE = r"^\d{4}-?\d{2}-?\d{2}$"
DATE_ONLY_RULE = ("a date without a time of day (give the time and offset, e.g. "
                  "2025-01-06T09:00:00Z)")


def timestamp_shapes(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Masks of present text values that are a date alone, and of the other values without a
    date and time of day (words such as ``now`` or ``today``, which pandas would read as the
    current time)."""
    present = text.notna().to_numpy()
    has_time = text.str.contains(_HAS_TIME_RE, regex=True).fillna(False).to_numpy(dtype=bool)
    date_only = text.str.fullmatch(_DATE_ONLY_RE).fillna(False).to_numpy(dtype=bool)
    return present & date_only, present & ~has_time & ~date_only


# ----------------------------------------------------------------------------- problems
class _Collector:
    """Collects problems for one table, rendering row positions as the user sees them."""

    def __init__(self, source: str, *, csv_lines: bool, offset: int = 0,
                 sink: list[Problem] | None = None) -> None:
        self.source = source
        self.csv_lines = csv_lines
        self.problems: list[Problem] = []
        #: Rows before this frame in its file (a streamed batch), added to every position.
        self.offset = offset
        #: Where warnings go instead of :func:`warnings.warn` (a streamed scan merges them),
        #: and then keys are checked for repeats across the whole file by the caller.
        self.sink = sink

    def table(self, message: str, column: str | None = None) -> None:
        self.problems.append(Problem(self.source, column, message))

    def rows(self, column: str | None, mask: np.ndarray | pd.Series, rule: str) -> None:
        mask = np.asarray(mask, dtype=bool)
        count = int(mask.sum())
        if count == 0:
            return
        first = np.flatnonzero(mask)[:5] + self.offset
        shown = tuple(int(i) + 2 for i in first) if self.csv_lines else tuple(int(i) for i in first)
        self.problems.append(
            Problem(self.source, column, rule, count, shown, "lines" if self.csv_lines else "rows")
        )


# ----------------------------------------------------------------------------- coercion
def _coerce_text(s: pd.Series) -> pd.Series:
    out = s.astype("string")
    return out.str.strip().replace("", pd.NA)


def _coerce_number(s: pd.Series, col: Column, bag: _Collector) -> pd.Series:
    if pd.api.types.is_bool_dtype(s):
        bag.rows(col.name, np.ones(len(s), bool), "true/false, not numbers")
        return pd.Series(np.nan, index=s.index)
    if pd.api.types.is_numeric_dtype(s):
        num = s.astype("float64")
    else:
        text = _coerce_text(s)
        num = pd.to_numeric(text, errors="coerce").astype("float64")
        bad = text.notna().to_numpy() & num.isna().to_numpy()
        bag.rows(col.name, bad, "text, not numbers")
    infinite = np.isinf(num.to_numpy())
    bag.rows(col.name, infinite, "infinite (numbers must be finite)")
    return num


def _localize(local: pd.Series, timezone: str) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Naive local times in ``timezone`` to UTC, with the masks of gap and repeated times.

    Rule for the two hours a year a local clock does not name one instant: a time in the
    spring-forward gap (2025-03-09 02:30 does not exist in New York) is shifted forward to the
    first instant after the gap (03:00 EDT), which keeps every time in order; a time the autumn
    change repeats (2025-11-02 01:30) is its first occurrence (the earlier instant, daylight
    time). Callers warn with the row counts.
    """
    local = local.astype("datetime64[ns]")
    n = len(local)
    strict = local.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")

    def naive_utc(ambiguous: np.ndarray) -> np.ndarray:
        t = local.dt.tz_localize(timezone, ambiguous=ambiguous, nonexistent="shift_forward")
        return t.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")

    gap = (local.notna() & local.dt.tz_localize(timezone, ambiguous=np.ones(n, bool),
                                                nonexistent="NaT").isna()).to_numpy()
    repeat = (local.notna() & strict.isna()).to_numpy() & ~gap
    # first occurrence = the earlier of the daylight and standard readings
    out = np.minimum(naive_utc(np.ones(n, bool)), naive_utc(np.zeros(n, bool)))
    return pd.Series(out, index=local.index).dt.tz_localize("UTC"), gap, repeat


def dst_rules(timezone: str) -> tuple[str, str]:
    """The warning texts (after "N rows are") for gap and repeated local times."""
    return (f"in the spring-forward gap of {timezone} (times its clocks skipped): shifted "
            "forward to the first time after the gap",
            f"in the hour {timezone} repeats in autumn: read as its first occurrence "
            "(daylight time)")


def _dst_warnings(gap: np.ndarray, repeat: np.ndarray, timezone: str, bag: _Collector,
                  column: str) -> None:
    for mask, rule in zip((gap, repeat), dst_rules(timezone), strict=True):
        if mask.any():
            _warn(bag, column, mask, rule)


def _coerce_timestamp(
    s: pd.Series, col: Column, bag: _Collector, timezone: str | None
) -> pd.Series:
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return _in_range(s.dt.tz_convert("UTC"), col, bag)
    if pd.api.types.is_datetime64_dtype(s):
        if timezone is None:
            bag.rows(col.name, s.notna().to_numpy(),
                     "time-zone naive (give an offset, or name the zone: timezone= in Python, "
                     "--timezone on the command line)")
            return pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns, UTC]")
        utc, gap, repeat = _localize(_in_range(s, col, bag), timezone)
        _dst_warnings(gap, repeat, timezone, bag, col.name)
        return utc
    text = _coerce_text(s)
    # a value too long to be a timestamp is refused before any parser sees it (issue 21)
    too_long = (text.str.len() > _limits.MAX_TIMESTAMP_CHARS).fillna(False).to_numpy(bool)
    bag.rows(col.name, too_long, _limits.TOO_LONG_RULE)
    text = text.mask(too_long)
    # a date alone is its own error; words (now, today) are not parseable as timestamps
    date_only, no_time = timestamp_shapes(text)
    bag.rows(col.name, date_only, DATE_ONLY_RULE)
    present = text.notna().to_numpy() & ~date_only
    text = text.mask(date_only | no_time)
    has_offset = text.str.contains(_OFFSET_RE, regex=True).fillna(False).to_numpy(dtype=bool)
    naive = present & ~has_offset
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns, UTC]")
    outside = np.zeros(len(s), bool)
    if has_offset.any():
        # utc=True: mixed offsets in one column (warehouse exports) are each converted to UTC
        parsed = pd.to_datetime(text[has_offset], utc=True, errors="coerce", format="ISO8601")
        outside[has_offset] = _limits.out_of_range(parsed)
        out[has_offset] = parsed.mask(outside[has_offset]).astype("datetime64[ns, UTC]")
    if naive.any():
        if timezone is None:
            # Distinguish naive-but-valid from unparsable for a precise message.
            trial = pd.to_datetime(text[naive], errors="coerce", format="ISO8601")
            ok = np.zeros(len(s), bool)
            ok[np.flatnonzero(naive)] = trial.notna().to_numpy()
            bag.rows(col.name, ok,
                     "time-zone naive (give an offset, or name the zone: timezone= in Python, "
                     "--timezone on the command line)")
            bad = np.zeros(len(s), bool)
            bad[np.flatnonzero(naive)] = trial.isna().to_numpy()
            bag.rows(col.name, bad, "not parseable as ISO 8601 timestamps")
            return out
        local = pd.to_datetime(text[naive], errors="coerce", format="ISO8601")
        outside[naive] = _limits.out_of_range(local)
        utc, gap, repeat = _localize(local.mask(outside[naive]), timezone)
        out[naive] = utc
        full_gap, full_repeat = np.zeros(len(s), bool), np.zeros(len(s), bool)
        full_gap[naive], full_repeat[naive] = gap, repeat
        _dst_warnings(full_gap, full_repeat, timezone, bag, col.name)
    bag.rows(col.name, outside, _limits.OUT_OF_RANGE_RULE)
    unparsable = present & out.isna().to_numpy() & ~outside
    bag.rows(col.name, unparsable, "not parseable as ISO 8601 timestamps")
    return out


def _coerce(
    df: pd.DataFrame, spec: TableSpec, bag: _Collector, timezone: str | None
) -> pd.DataFrame | None:
    if df.columns.duplicated().any():
        dups = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
        bag.table(f"duplicate columns {', '.join(dups)}")
        return None
    missing = [c for c in spec.required if c not in df.columns]
    if missing:
        bag.table(f"missing required column{'s' if len(missing) > 1 else ''} "
                  f"{', '.join(missing)}")
        return None
    out = df.copy()
    for col in spec.columns:
        if col.name not in out.columns:
            continue
        s = out[col.name]
        if col.kind in ("id", "text"):
            if pd.api.types.is_float_dtype(s):
                s = _float_ids_as_text(s)
            s = _bytes_as_text(s, col, bag)
            t = _coerce_text(s)
        elif col.kind == "number":
            t = _coerce_number(s, col, bag)
        else:
            t = _coerce_timestamp(s, col, bag, timezone)
        if not col.nullable:
            bag.rows(col.name, t.isna().to_numpy() & ~_was_present(s),
                     "empty (a value is required)")
        if col.nonnegative and col.kind == "number":
            bag.rows(col.name, (t < 0).to_numpy(), "negative (must be >= 0)")
        out[col.name] = t
    return out


def _bytes_as_text(s: pd.Series, col: Column, bag: _Collector) -> pd.Series:
    """A column of bytes (a Parquet binary column) as text; values that are not UTF-8 are
    reported (and kept as U+FFFD, present but never a valid id)."""
    if not pd.api.types.is_object_dtype(s) or not s.map(
            lambda v: isinstance(v, bytes | bytearray)).any():
        return s
    bad = np.zeros(len(s), bool)

    def decode(i: int, v: object) -> object:
        if isinstance(v, bytes | bytearray):
            try:
                return bytes(v).decode("utf-8")
            except UnicodeDecodeError:
                bad[i] = True
                return "\ufffd"
        return v

    out = pd.Series([decode(i, v) for i, v in enumerate(s.tolist())], index=s.index,
                    dtype=object)
    bag.rows(col.name, bad, "bytes that are not UTF-8 text")
    return out


def _float_ids_as_text(s: pd.Series) -> pd.Series:
    """Ids stored as floats (e.g. Parquet) as text: 17.0 -> "17", 17.5 -> "17.5", NaN -> NA."""
    arr = s.to_numpy(dtype="float64", na_value=np.nan)
    text = arr.astype(str).astype(object)
    integral = np.isfinite(arr) & (arr == np.round(arr))
    small = integral & (np.abs(arr) < 2.0**63)
    text[small] = arr[small].astype(np.int64).astype(str)
    huge = integral & ~small  # beyond int64: rare, so Python ints for these few only
    text[huge] = [str(int(v)) for v in arr[huge]]
    out = pd.Series(text, index=s.index, dtype="string")
    return out.mask(np.isnan(arr))


def _was_present(s: pd.Series) -> np.ndarray:
    """True where the raw value was not empty (so a NaN after coercion was a parse failure)."""
    if pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s):
        return (s.notna() & (s.astype("string").str.strip() != "")).fillna(False).to_numpy(bool)
    return s.notna().to_numpy()


def _duplicates(df: pd.DataFrame, column: str, bag: _Collector, what: str) -> None:
    dup = df[column].duplicated(keep="first") & df[column].notna()
    bag.rows(column, dup.to_numpy(), what)


def _in_range(parsed: pd.Series, col: Column, bag: _Collector) -> pd.Series:
    """Parsed timestamps (any unit, aware in UTC or naive) at nanosecond resolution; those
    outside the years a timestamp can hold (:data:`frt_experiments._limits.TIMESTAMP_RANGE`,
    e.g. a mistyped year 9999 in a Parquet file) are reported and left empty."""
    outside = _limits.out_of_range(parsed)
    bag.rows(col.name, outside, _limits.OUT_OF_RANGE_RULE)
    unit = "datetime64[ns, UTC]" if isinstance(parsed.dtype, pd.DatetimeTZDtype) else (
        "datetime64[ns]")
    return parsed.mask(outside).astype(unit)


def _csv_records(text: str, delimiter: str) -> Iterable[tuple[int, list[str]]]:
    """The records of a CSV text with the line each starts on (header = line 1).

    Raises:
        _StrayQuoteError: a quoted field never closes, or runs past the csv module's field
            limit (an error path only: pandas has already failed).
    """
    reader = csv_module.reader(io.StringIO(text), delimiter=delimiter)
    first, last, spanned = 1, 1, False
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv_module.Error:  # "field larger than field limit": a quote that never closes
            raise _StrayQuoteError(first) from None
        yield first, row
        last, spanned = first, reader.line_num > first
        first = reader.line_num + 1
    # only the last record can run to the end of the file inside quotes
    if spanned and _unclosed(text, delimiter, last):
        raise _StrayQuoteError(last)


class _StrayQuoteError(Exception):
    """A quoted field opened on line ``line`` never closes (or is larger than any field)."""

    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


#: The rule a record cut by a stray quote breaks, phrased to follow "1 row is".
STRAY_QUOTE_RULE = ("cut by a stray quote: a quoted field opens there and never closes, so "
                    "the rest of the file would be one value (remove the quote, or double it "
                    "inside a quoted field)")


def _unclosed(text: str, delimiter: str, line: int) -> bool:
    """Whether the record starting on ``line`` runs to the end of the text inside quotes."""
    offset = 0
    for _ in range(line - 1):
        offset = text.index("\n", offset) + 1
    strict = csv_module.reader(io.StringIO(text[offset:]), delimiter=delimiter, strict=True)
    try:
        next(strict, None)
    except csv_module.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


# ----------------------------------------------------------------------------- validators
def validate_customers(
    df: pd.DataFrame, *, source: str = "customers", csv_lines: bool = False,
    raise_errors: bool = True, _bag: _Collector | None = None,
) -> pd.DataFrame:
    """Validate a customers table and return it typed.

    Rules: ``customer_id`` present and unique; ``monthly_spend``, ``revenue_start`` and
    ``revenue_end`` (each optional: without revenue NRR is not analysed) numbers ``>= 0``;
    pre-period covariates numbers ``>= 0``. Warns
    (:class:`~frt_experiments.errors.DataWarning`) for customers with no revenue at the start.

    Raises:
        DataError: listing every broken rule.
    """
    bag = _bag if _bag is not None else _Collector(source, csv_lines=csv_lines)
    out = _coerce(df, CUSTOMERS, bag, None)
    if out is not None and (REVENUE_START in out) != (REVENUE_END in out):
        have, lack = ((REVENUE_START, REVENUE_END) if REVENUE_START in out
                      else (REVENUE_END, REVENUE_START))
        bag.table(f"column {have} without column {lack} (NRR needs both)")
    if out is not None:
        if bag.sink is None:  # a streamed scan checks repeats across its whole file
            _duplicates(out, CUSTOMER_ID, bag, DUPLICATE_RULES["customers"])
        if PRE_RATED in out and PRE_SATISFIED in out:
            bag.rows(PRE_SATISFIED, (out[PRE_SATISFIED] > out[PRE_RATED]).to_numpy(),
                     f"greater than {PRE_RATED}")
    _finish(bag, raise_errors)
    if out is not None and not bag.problems and REVENUE_START in out:
        zero = (out[REVENUE_START] == 0).to_numpy()
        if zero.any():
            _warn(bag, REVENUE_START, zero, "zero: customers with no revenue at the start "
                  "do not count towards NRR")
    return out if out is not None else df


def validate_assignments(
    df: pd.DataFrame, *, source: str = "assignments", csv_lines: bool = False,
    timezone: str | None = None, raise_errors: bool = True, _bag: _Collector | None = None,
) -> pd.DataFrame:
    """Validate an assignments table and return it typed.

    Rules: each customer assigned once per experiment; ``arm`` and ``experiment`` present;
    ``assigned_at`` an aware timestamp; ``bucket`` in [0, 1) when given.

    Raises:
        DataError: listing every broken rule.
    """
    bag = _bag if _bag is not None else _Collector(source, csv_lines=csv_lines)
    out = _coerce(df, ASSIGNMENTS, bag, timezone)
    if out is not None:
        if bag.sink is None:  # a streamed scan checks repeats across its whole file
            key = out[EXPERIMENT].fillna("") + "\x00" + out[CUSTOMER_ID].fillna("")
            dup = key.duplicated(keep="first").to_numpy() & out[CUSTOMER_ID].notna().to_numpy()
            bag.rows(CUSTOMER_ID, dup, DUPLICATE_RULES["assignments"])
        bag.rows(BUCKET, (out[BUCKET] >= 1).to_numpy(), "not in [0, 1)")
    _finish(bag, raise_errors)
    return out if out is not None else df


def validate_conversations(
    df: pd.DataFrame, *, source: str = "conversations", csv_lines: bool = False,
    timezone: str | None = None, raise_errors: bool = True, _bag: _Collector | None = None,
) -> pd.DataFrame:
    """Validate a conversations table and return it typed.

    Rules: ``conversation_id`` unique; ``created_at`` an aware timestamp;
    ``first_response_at``, ``closed_at`` and ``abandoned_at`` not earlier than ``created_at``;
    ``abandoned_at`` (optional) never set together with ``first_response_at``;
    ``handle_seconds`` ``>= 0``; ``csat`` on its ``csat_scale`` (``1-5``: an integer 1 to 5;
    ``good-bad``: ``good`` or ``bad``), and a scale wherever there is a rating. Handle time
    and ratings are optional (an export without them supports fewer metrics); without
    ``csat`` and ``csat_scale`` both are added empty (no conversation rated).

    Raises:
        DataError: listing every broken rule.
    """
    bag = _bag if _bag is not None else _Collector(source, csv_lines=csv_lines)
    out = _coerce(df, CONVERSATIONS, bag, timezone)
    if out is not None:
        if bag.sink is None:  # a streamed scan checks repeats across its whole file
            _duplicates(out, CONVERSATION_ID, bag, DUPLICATE_RULES["conversations"])
        created = out[CREATED_AT]
        for col in (FIRST_RESPONSE_AT, CLOSED_AT, ABANDONED_AT):
            if col in out:
                bag.rows(col, (out[col] < created).to_numpy(), f"earlier than {CREATED_AT}")
        if ABANDONED_AT in out:
            both = (out[ABANDONED_AT].notna() & out[FIRST_RESPONSE_AT].notna()).to_numpy()
            bag.rows(ABANDONED_AT, both, f"set together with {FIRST_RESPONSE_AT} (an abandoned "
                     "conversation got no response)")
        if CSAT not in out and CSAT_SCALE not in out:  # an export without ratings
            out[CSAT] = pd.Series(pd.NA, index=out.index, dtype="string")
            out[CSAT_SCALE] = pd.Series(pd.NA, index=out.index, dtype="string")
        elif CSAT_SCALE not in out or CSAT not in out:
            have, lack = (CSAT, CSAT_SCALE) if CSAT in out else (CSAT_SCALE, CSAT)
            bag.table(f"column {have} without column {lack} (ratings need their scale)")
        else:
            out[CSAT] = _check_csat(out, bag)
    _finish(bag, raise_errors)
    return out if out is not None else df


def _check_csat(out: pd.DataFrame, bag: _Collector) -> pd.Series:
    rating = out[CSAT].str.lower()
    scale = out[CSAT_SCALE]
    bad_scale = scale.notna() & ~scale.isin(CSAT_SCALES)
    bag.rows(CSAT_SCALE, bad_scale.to_numpy(), f"not a known scale ({', '.join(CSAT_SCALES)})")
    # "4.0" on a 1-5 scale is the rating 4.
    num = pd.to_numeric(rating, errors="coerce")
    integral = num.notna() & (num == num.round())
    as_int = rating.where(~integral, num.round().astype("Int64").astype("string"))
    on15 = scale == SCALE_1_5
    ongb = scale == SCALE_GOOD_BAD
    off15 = (on15 & as_int.notna() & ~as_int.isin(RATINGS_1_5)).fillna(False)
    offgb = (ongb & rating.notna() & ~rating.isin(RATINGS_GOOD_BAD)).fillna(False)
    bag.rows(CSAT, off15.to_numpy(bool), "off the 1-5 scale (integers 1 to 5)")
    bag.rows(CSAT, offgb.to_numpy(bool), "off the good-bad scale (good or bad)")
    noscale = (rating.notna() & scale.isna()).fillna(False)
    bag.rows(CSAT_SCALE, noscale.to_numpy(bool), "empty where csat holds a rating")
    return as_int.where(on15.fillna(False), rating)


def _finish(bag: _Collector, raise_errors: bool) -> None:
    if bag.problems and raise_errors:
        raise DataError(bag.problems)


def _warn(bag: _Collector, column: str, mask: np.ndarray, rule: str) -> None:
    probe = _Collector(bag.source, csv_lines=bag.csv_lines, offset=bag.offset)
    probe.rows(column, mask, rule)
    if bag.sink is not None:
        bag.sink.extend(probe.problems)
        return
    for p in probe.problems:
        warnings.warn(str(p), DataWarning, stacklevel=3)


_VALIDATORS: dict[str, Callable[..., pd.DataFrame]] = {
    "customers": validate_customers,
    "assignments": validate_assignments,
    "conversations": validate_conversations,
}


def satisfied(conversations: pd.DataFrame) -> pd.Series:
    """The 0/1 satisfied outcome per conversation (NaN where not rated).

    Satisfied means 4 or 5 on the 1-5 scale and ``good`` on the good-bad scale (DESIGN section 3).
    """
    rating = conversations[CSAT]
    sat = rating.isin(SATISFIED_RATINGS).astype("float64")
    return sat.where(rating.notna().to_numpy(), np.nan)


# ----------------------------------------------------------------------------- files
def check_timezone(timezone: str | None, *, name: str = "timezone") -> None:
    """Raise ``ValueError`` naming ``name`` unless ``timezone`` is ``None`` or an IANA zone.

    Checked up front, so a mistyped zone is an error even when no timestamp is naive.
    """
    if timezone is None:
        return
    if not isinstance(timezone, str) or not timezone.strip():
        raise ValueError(f"{name}: expected an IANA time zone name, got {timezone!r}")
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{name}: unknown time zone {timezone!r} (expected an IANA name "
                         "such as 'America/New_York')") from exc


def check_file(path: str | os.PathLike[str]) -> Path:
    """``path`` as a :class:`~pathlib.Path` of an existing, non-empty file.

    Raises:
        DataError: The file is missing, a directory or empty.
    """
    p = Path(path)
    if not p.exists():
        raise DataError([Problem(p.name, None, f"file not found ({p})")])
    if p.is_dir():
        raise DataError([Problem(p.name, None, f"is a directory, not a file ({p})")])
    if p.stat().st_size == 0:
        raise DataError([Problem(p.name, None, "file is empty")])
    return p


def duplicate_columns(name: str, header: list[str]) -> None:
    """Refuse a header naming a column twice.

    Raises:
        DataError: Naming the file and the repeated columns.
    """
    dups = sorted({h for h in header if header.count(h) > 1})
    if dups:
        raise DataError([Problem(name, None, f"duplicate columns {', '.join(dups)}")])


def read_table(
    path: str | os.PathLike[str], table: str, *, timezone: str | None = None,
) -> pd.DataFrame:
    """Read a canonical table from CSV or Parquet and validate it.

    Args:
        path: A ``.csv`` or ``.parquet`` file.
        table: ``"customers"``, ``"assignments"`` or ``"conversations"``.
        timezone: The IANA zone of naive timestamps; without it a naive timestamp is an error.

    Raises:
        DataError: The file is missing, empty, unreadable, or breaks a rule.
    """
    if table not in TABLES:
        raise ValueError(f"table must be one of {', '.join(TABLES)}, got {table!r}")
    check_timezone(timezone)
    p = check_file(path)
    name = p.name
    csv = p.suffix.lower() != ".parquet"
    # Any CSV dialect (BOM, UTF-16, ';' or tab, bare carriage returns) or an Excel sheet.
    from frt_experiments.ingest import _read  # noqa: PLC0415 (ingest imports schema)

    try:
        if csv and _read.is_excel(p):
            raw = _read.read_tabular(p).frame.reset_index(drop=True)
        elif csv:
            text, _, _ = _read.decode(p)
            delim = _read.sniff_delimiter(text)
            header = _csv_header(text, delim)
            duplicate_columns(name, header)
            with warnings.catch_warnings():
                # a row longer than the header: pandas would drop its extra fields
                warnings.simplefilter("error", pd.errors.ParserWarning)
                try:
                    raw = pd.read_csv(io.StringIO(text), sep=delim, dtype=str,
                                      keep_default_na=False, na_values=[""], engine="c",
                                      index_col=False)
                except pd.errors.ParserWarning:
                    raise DataError([_long_rows(p, text, delim, len(header))]) from None
            raw.columns = header
            short = _read.short_rows(text, delim, len(header))
            if short:
                raise DataError([_read.short_rows_problem(name, short, len(header))])
            if delim == ";":  # Excel in a locale with decimal commas
                raw, _ = _read.decimal_commas(raw)
        else:
            _limits.check_flat_parquet(p)
            raw = pd.read_parquet(p)
    except DataError:
        raise
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        if csv and isinstance(exc, pd.errors.ParserError):
            long_rows = _long_rows(p, text, delim, len(header))
            if long_rows.count:
                raise DataError([long_rows]) from None
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError([Problem(name, None, f"cannot be read: {msg}")]) from exc
    if raw.empty:
        raise DataError([Problem(name, None, "file has no rows")])
    validator = _VALIDATORS[table]
    kwargs: dict[str, object] = {"source": name, "csv_lines": csv}
    if table != "customers":
        kwargs["timezone"] = timezone
    return validator(raw, **kwargs)


def _long_rows(p: Path, text: str, delimiter: str, width: int) -> Problem:
    """The lines of a CSV file with more fields than its header, or the line where a stray
    quote opens a field that never closes (an error path only: pandas has already failed)."""
    lines: list[int] = []
    try:
        for line, row in _csv_records(text, delimiter):
            if line > 1 and len(row) > width:
                lines.append(line)
    except _StrayQuoteError as exc:
        return Problem(p.name, None, STRAY_QUOTE_RULE, 1, (exc.line,), "lines")
    from frt_experiments.ingest._read import long_rows_problem  # noqa: PLC0415 (see read_table)

    return long_rows_problem(p.name, lines, width)


def _csv_header(text: str, delimiter: str) -> list[str]:
    try:
        _, row = next(iter(_csv_records(text, delimiter)), (1, []))
    except _StrayQuoteError:
        raise ValueError(f"the header (line 1) is {STRAY_QUOTE_RULE}") from None
    return [h.strip() for h in row]


def write_table(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a table atomically (temporary file, then rename) as CSV or Parquet by suffix.

    Timestamps are written as ISO 8601 in UTC with an explicit offset.
    """
    p = Path(path)
    with atomic_path(p) as tmp:
        if p.suffix.lower() == ".parquet":
            df.to_parquet(tmp, index=False)
        else:
            out = df.copy()
            for c in out.columns:
                if isinstance(out[c].dtype, pd.DatetimeTZDtype):
                    out[c] = out[c].dt.strftime("%Y-%m-%dT%H:%M:%S%z").str.replace(
                        r"([+-]\d{2})(\d{2})$", r"\1:\2", regex=True)
            out.to_csv(tmp, index=False)
    return p


# ----------------------------------------------------------------------------- cross checks
def check_tables(
    customers: pd.DataFrame | None = None,
    conversations: pd.DataFrame | None = None,
    assignments: pd.DataFrame | None = None,
    *,
    window: tuple[pd.Timestamp, pd.Timestamp] | None = None,
    names: dict[str, str] | None = None,
) -> list[Problem]:
    """Cross-reference already validated tables; return the problems (errors) found.

    Errors: conversations or assignments of customers not in ``customers``. Warnings
    (:class:`~frt_experiments.errors.DataWarning`): conversations created outside ``window``
    (``[start, end)``, both time-zone aware).
    """
    names = {"customers": "customers", "conversations": "conversations",
             "assignments": "assignments"} | (names or {})
    problems: list[Problem] = []
    if customers is not None:
        known = pd.Index(customers[CUSTOMER_ID].dropna().unique())
        for label, df in (("conversations", conversations), ("assignments", assignments)):
            if df is None:
                continue
            bag = _Collector(names[label], csv_lines=names[label].endswith(".csv"))
            bag.rows(CUSTOMER_ID, ~df[CUSTOMER_ID].isin(known).to_numpy(),
                     UNKNOWN_CUSTOMERS_RULE.format(customers=names["customers"]))
            problems.extend(bag.problems)
    if conversations is not None and window is not None:
        start, end = (pd.Timestamp(w) for w in window)
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("window: both ends must be time-zone aware timestamps")
        created = conversations[CREATED_AT]
        outside = ((created < start) | (created >= end)).to_numpy()
        if outside.any():
            bag = _Collector(names["conversations"],
                             csv_lines=names["conversations"].endswith(".csv"))
            _warn(bag, CREATED_AT, outside,
                  f"outside the analysis window [{start.isoformat()}, {end.isoformat()})")
    return problems


def iter_problems(exc: DataError) -> Iterable[str]:
    """The lines a user sees for a :class:`DataError`."""
    return (str(p) for p in exc.problems)
