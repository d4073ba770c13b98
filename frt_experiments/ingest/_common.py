"""Shared pieces of the helpdesk importers: reading exports, timestamps, billing, results."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from frt_experiments import _limits, schema
from frt_experiments.errors import MAX_ROWS_SHOWN, DataError, DataWarning, Problem, shorten, shown
from frt_experiments.ingest import _read

__all__ = ["BILLING_KEYS", "ImportResult"]

#: How a billing file's ``customer_id`` is matched to the helpdesk's customer.
BILLING_KEYS = ("id", "email", "external_id")
_BILLING_COLUMNS = (schema.MONTHLY_SPEND, schema.REVENUE_START, schema.REVENUE_END)
_BILLING_OPTIONAL = (schema.SEGMENT, schema.COUNTRY, schema.TIMEZONE)
#: Column names of the helpdesk people lookup (helpdesk id -> email, external id).
PERSON_ID, PERSON_EMAIL, PERSON_EXTERNAL_ID = "id", "email", "external_id"
#: File suffixes read as JSON (or JSON lines) and as tables (CSV dialects, Excel).
JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm")


#: The files an import writes.
IMPORT_OUTPUTS = ("conversations.csv", "customers.csv")


@dataclass(frozen=True, repr=False)
class ImportResult:
    """Canonical tables imported from a helpdesk export.

    Attributes:
        conversations: The canonical conversations table (validated).
        customers: The canonical customers table (validated), or ``None`` without billing.
        source: The helpdesk and layout, e.g. ``"zendesk (warehouse)"``.
        notes: Caveats of this layout (e.g. handle time not exported).
    """

    conversations: pd.DataFrame
    customers: pd.DataFrame | None
    source: str
    notes: tuple[str, ...] = ()

    def summary(self) -> str:
        conv = self.conversations
        rated = int(conv[schema.CSAT].notna().sum())
        replied = int(conv[schema.FIRST_RESPONSE_AT].notna().sum())
        abandoned = (f", {int(conv[schema.ABANDONED_AT].notna().sum()):,} abandoned"
                     if schema.ABANDONED_AT in conv.columns else "")
        lines = [
            f"{self.source}: {_count(len(conv), 'conversation')} of "
            f"{_count(conv[schema.CUSTOMER_ID].nunique(), 'customer')}; {replied:,} with a "
            f"first response{abandoned}, {rated:,} rated",
        ]
        if self.customers is not None:
            lines.append(f"customers with billing: {len(self.customers):,}")
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)

    def __repr__(self) -> str:
        n_cust = "None" if self.customers is None else f"{len(self.customers)} rows"
        return (f"ImportResult(source={self.source!r}, conversations={len(self.conversations)} "
                f"rows, customers={n_cust})")

    def to_pandas(self) -> pd.DataFrame:
        """The conversations table (a copy)."""
        return self.conversations.copy()

    def write(self, out_dir: str | Path) -> list[Path]:
        """Write ``conversations.csv`` (and ``customers.csv`` with billing) as one set: both
        staged, then committed together; a ``customers.csv`` an earlier import left is
        removed by the same commit when this one has no billing. No manifest: imported tables
        are the analyst's to correct by hand."""
        from frt_experiments._outputs import output_set  # noqa: PLC0415 (ingest loads early)

        with output_set(Path(out_dir), command="frt import", names=IMPORT_OUTPUTS,
                        manifest=False) as outputs:
            schema.write_table(self.conversations, outputs.path("conversations.csv"))
            paths = [outputs.final("conversations.csv")]
            if self.customers is not None:
                schema.write_table(self.customers, outputs.path("customers.csv"))
                paths.append(outputs.final("customers.csv"))
        return paths


# ----------------------------------------------------------------------------- reading
def missing_file(path: Path, what: str) -> DataError:
    return DataError([Problem(path.name, None, f"{what} not found ({path})")])


# Notes gathered while one import runs (reader assumptions, naive timestamps), so that the
# helpers deep inside an importer can report them without threading a list through every call.
_NOTES: ContextVar[list[str] | None] = ContextVar("_NOTES", default=None)
_NAIVE: ContextVar[dict[str, None] | None] = ContextVar("_NAIVE", default=None)


@contextmanager
def collecting_notes(timezone: str) -> Iterator[list[str]]:
    """Collect the notes of one import; on exit the list holds them, naive timestamps last."""
    notes: list[str] = []
    naive: dict[str, None] = {}
    t1, t2 = _NOTES.set(notes), _NAIVE.set(naive)
    try:
        yield notes
    finally:
        _NOTES.reset(t1)
        _NAIVE.reset(t2)
    if naive:
        notes.append(f"timestamps without a UTC offset ({', '.join(naive)}) were read as "
                     f"{timezone} time; give --timezone (timezone=) if the export used another "
                     "zone")


def note(text: str) -> None:
    """Add a note to the import being collected (ignored outside :func:`collecting_notes`)."""
    notes = _NOTES.get()
    if notes is not None and text not in notes:
        notes.append(text)


def read_export_csv(path: Path, required: tuple[str, ...], *, what: str,
                    delimiter: str | None = None) -> pd.DataFrame:
    """Read one table of an export as text, indexed by file line; DataError naming the file
    and missing columns.

    Any CSV dialect (a BOM, UTF-16, ``;`` or tab delimiters, bare carriage returns) or an
    Excel sheet is read (:mod:`frt_experiments.ingest._read`); what the reader assumed becomes
    a note of the import.
    """
    if not path.is_file():
        raise missing_file(path, what)
    table = _read.read_tabular(path, what=what, delimiter=delimiter)
    for text in table.notes:
        note(text)
    df = table.frame
    check_columns(df, required, path.name)
    return df


def check_columns(df: pd.DataFrame, required: tuple[str, ...], source: str) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataError([Problem(source, c, "missing: the export must have this column")
                         for c in missing])


def read_json_records(path: Path, keys: tuple[str, ...], *, what: str,
                      single: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Records of a JSON file (or JSON lines): a list, or the list under the first of ``keys``.

    One object is one record when it is wrapped under a key of ``single`` (``{"ticket":
    {...}}``), is a webhook notification (``{"data": {"item": {...}}}``), or carries an ``id``
    and a ``created_at`` of its own (a single Intercom conversation, which may hold lists such
    as ``conversation_parts``); another object holding a list of objects under a key not in
    ``keys`` is another helpdesk's file, said so.
    """
    if not path.is_file():
        raise missing_file(path, what)
    data = read_json(path)
    if isinstance(data, dict):
        item = data.get("data")
        if isinstance(item, dict) and isinstance(item.get("item"), dict):
            data = item["item"]  # {"type": "notification_event", "data": {"item": {...}}}
    if isinstance(data, list):
        records = data
    elif isinstance(data, dict):
        found = [k for k in keys if k in data]
        wrapped = [k for k in single if isinstance(data.get(k), dict)]
        other = [k for k, v in data.items() if isinstance(v, list) and v
                 and all(isinstance(r, dict) for r in v)]
        if found:
            records = data[found[0]]
        elif wrapped:
            records = [data[wrapped[0]]]
        elif {"id", "created_at"} <= data.keys() or not other:
            records = [data]
        else:
            raise DataError([Problem(path.name, None, f"holds {shown(other[0])}, expected "
                                     f"{' or '.join(repr(k) for k in keys)} (is it the "
                                     f"right helpdesk's {what}?)")])
    else:
        records = None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise DataError([Problem(path.name, None, f"must hold a list of objects under "
                                 f"{' or '.join(repr(k) for k in keys)}")])
    return records


def read_json(path: Path) -> Any:
    """A JSON document, or the list of the objects of a JSON-lines file (one per line).

    Raises:
        DataError: neither, or nested deeper than :data:`frt_experiments._limits.MAX_NESTING`
            levels, naming the file (and, for JSON lines, the first bad line).
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (ValueError, OSError) as exc:
        raise DataError([Problem(path.name, None, f"cannot be read as UTF-8 text: {exc}")]
                        ) from exc
    try:
        return _limits.load_json_text(text, path.name)
    except DataError:
        raise
    except ValueError as exc:
        if not text.lstrip().startswith("{"):
            raise DataError([Problem(path.name, None, f"is not valid JSON: {exc}")]) from exc
    # JSON lines: one object per line (Zendesk incremental exports, jq -c, BigQuery)
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(_limits.load_json_text(line, path.name))
        except DataError as exc:
            raise DataError([Problem(path.name, None, f"line {number}: {exc.problems[0].rule}")]
                            ) from None
        except ValueError as exc:
            raise DataError([Problem(path.name, None, f"is neither JSON nor JSON lines (one "
                                     f"object a line): line {number}: {exc}")]) from exc
    return records


def flatten(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Nested JSON objects as dotted columns (``statistics.first_admin_reply_at``)."""
    if not records:
        return pd.DataFrame()
    return pd.json_normalize(records, sep=".")


def column(df: pd.DataFrame, name: str) -> pd.Series:
    """A column, or an all-missing one when the export left it out (optional fields)."""
    if name in df.columns:
        return df[name]
    return pd.Series(pd.NA, index=df.index, dtype="object")


def ids(s: pd.Series) -> pd.Series:
    """Ids as strings: text stays as written (``0012`` keeps its zeros, ``+4930...`` its
    plus); numbers (from JSON or a numeric column) lose any ``.0``; integers keep every digit
    (JSON integers beyond 2**53 are exact Python ints)."""
    if pd.api.types.is_integer_dtype(s):
        return s.astype("string")
    if pd.api.types.is_float_dtype(s):
        num = pd.to_numeric(s, errors="coerce")
        whole = num.notna() & np.isfinite(num) & (num == num.round())
        return num.where(whole).astype("Int64").astype("string").where(
            whole, s.astype("string"))
    vals = s.astype("object")
    text = vals.where(vals.notna(), None).map(
        lambda v: None if v is None else (_number_id(v) if isinstance(
            v, int | float | np.integer | np.floating) and not isinstance(v, bool) else str(v)))
    return pd.Series(text, index=s.index, dtype="string").str.strip().replace("", pd.NA)


def _number_id(v: float | int | np.integer | np.floating) -> str | None:
    """An id read as a number: integers exactly, whole floats without ``.0``."""
    if isinstance(v, int | np.integer):
        return str(int(v))
    if not np.isfinite(v):
        return None
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _rows(index: Any) -> tuple[int, ...]:
    """The first offending rows a message shows."""
    return tuple(int(i) for i in index[:MAX_ROWS_SHOWN])


def numbers(s: pd.Series, *, source: str, name: str, what: str = "numbers") -> pd.Series:
    """An export's numeric column as float64 (missing where empty).

    Raises:
        DataError: values present that are not numbers (``three``, ``36OO``), naming the file,
            the column and the lines (rows of a JSON file): never silently emptied.
    """
    raw = s.astype("object").where(s.notna(), None)
    text = pd.Series(raw, index=s.index, dtype="string").str.strip().replace("", pd.NA)
    num = pd.to_numeric(text, errors="coerce").astype("float64")
    bad = (text.notna() & num.isna()).to_numpy(dtype=bool)
    if bad.any():
        lines = source.lower().endswith((".csv", ".xlsx", ".xlsm", ".tsv", ".txt"))
        where = s.index[bad] if lines else np.flatnonzero(bad)
        raise DataError([Problem(source, name, f"not {what}", int(bad.sum()),
                                 _rows(where),
                                 "lines" if lines else "rows")])
    return num


def timestamps(s: pd.Series, *, source: str, name: str, timezone: str = "UTC",
               date_format: str | None = None) -> pd.Series:
    """Parse export timestamps to UTC: ISO strings (naive ones in ``timezone``), epoch seconds,
    or text in ``date_format`` (``strftime`` codes, e.g. ``%d/%m/%Y %H:%M``).

    Naive times the clock skipped or repeated (daylight saving) follow
    :func:`frt_experiments.schema._localize` with a :class:`DataWarning` counting the rows; the
    columns holding naive times are noted in the import being collected.

    Raises:
        DataError: values that are present but cannot be parsed, are longer than
            :data:`frt_experiments._limits.MAX_TIMESTAMP_CHARS`, or fall outside the years a
            timestamp can hold (1677 to 2262), naming the file, column and rows.
    """
    raw = s.astype("object").where(s.notna(), None)
    text = pd.Series(raw, index=s.index, dtype="string").str.strip().replace("", pd.NA)
    location = "lines" if source.lower().endswith((".csv", ".xlsx", ".tsv", ".txt")) else "rows"
    # a value too long to be a timestamp is refused before any parser sees it (issue 21)
    too_long = (text.str.len() > _limits.MAX_TIMESTAMP_CHARS).fillna(False).to_numpy(bool)
    if too_long.any():
        raise DataError([Problem(source, name, _limits.TOO_LONG_RULE, int(too_long.sum()),
                                 _rows(s.index[too_long]), location)])
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns, UTC]")
    outside = np.zeros(len(s), bool)
    num = pd.to_numeric(text, errors="coerce")
    epoch = num.notna().to_numpy() & (date_format is None)
    if epoch.any():
        seconds = num[epoch].astype("float64")
        # beyond the years a timestamp holds (2262), as seconds since 1970
        far = ~np.isfinite(seconds.to_numpy()) | (
            seconds.abs().to_numpy() > _limits.MAX_EPOCH_SECONDS)
        outside[np.flatnonzero(epoch)[far]] = True
        parsed = pd.to_datetime(seconds.mask(far), unit="s", utc=True)
        outside[epoch] |= _limits.out_of_range(parsed)
        out[epoch] = parsed.mask(outside[epoch]).astype("datetime64[ns, UTC]")
    rest = text.notna().to_numpy() & ~epoch
    if date_format is None:  # a date alone is refused, a word (now, today) is not parseable
        date_only, no_time = schema.timestamp_shapes(text.where(rest))
        if date_only.any():
            rows = _rows(s.index[date_only])
            raise DataError([Problem(source, name, f"{schema.DATE_ONLY_RULE}; for an export of "
                                     "dates give the date format where the importer takes "
                                     "one (--date-format '%Y-%m-%d')",
                                     int(date_only.sum()), rows, location)])
        rest &= ~no_time
    has_tz = (text.str.contains(r"(?:[Zz]|[+-]\d{2}:?\d{2})$", regex=True)
              .fillna(False).to_numpy(dtype=bool)) & (date_format is None)
    aware, naive = rest & has_tz, rest & ~has_tz
    if aware.any():
        parsed = pd.to_datetime(text[aware], errors="coerce", format="ISO8601", utc=True)
        outside[aware] = _limits.out_of_range(parsed)
        out[aware] = parsed.mask(outside[aware]).astype("datetime64[ns, UTC]")
    if naive.any():
        if date_format is not None:
            local = pd.to_datetime(text[naive], errors="coerce", format=date_format)
        else:
            local = pd.to_datetime(text[naive], errors="coerce", format="ISO8601")
        outside[naive] = _limits.out_of_range(local)
        local = local.mask(outside[naive])
        if isinstance(local.dtype, pd.DatetimeTZDtype):  # the format carried an offset
            out[naive] = local.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
        else:
            utc, gap, repeat = schema._localize(local, timezone)
            out[naive] = utc
            if local.notna().any() and timezone:
                seen = _NAIVE.get()
                if seen is not None:
                    seen[name] = None
            for mask, rule in zip((gap, repeat), schema.dst_rules(timezone), strict=True):
                if mask.any():
                    rows = _rows(text[naive].index[mask])
                    warnings.warn(str(Problem(source, name, rule, int(mask.sum()), rows,
                                              location)), DataWarning, stacklevel=2)
    if outside.any():
        raise DataError([Problem(source, name, _limits.OUT_OF_RANGE_RULE, int(outside.sum()),
                                 _rows(s.index[outside]), location)])
    bad = text.notna().to_numpy() & out.isna().to_numpy()
    if bad.any():
        rows = _rows(s.index[bad])
        hint = f" with the date format {shown(date_format)}" if date_format is not None else ""
        raise DataError([Problem(source, name, f"not parseable as timestamps{hint}",
                                 int(bad.sum()), rows, location)])
    return out


def latest(df: pd.DataFrame, key: str, order: tuple[str, ...]) -> pd.DataFrame:
    """One row per ``key``: the last by ``order`` (history tables keep every version)."""
    present = [c for c in order if c in df.columns]
    sort_keys = {c: pd.to_datetime(df[c], errors="coerce", format="ISO8601") for c in present}
    tmp = df.assign(**{f"__o{i}": v for i, v in enumerate(sort_keys.values())})
    by = [f"__o{i}" for i in range(len(present))]
    tmp = tmp.sort_values(by, kind="stable", na_position="first") if by else tmp
    return tmp.drop_duplicates(key, keep="last").drop(columns=by).sort_index()


# ----------------------------------------------------------------------------- output
def conversations_frame(**cols: pd.Series) -> pd.DataFrame:
    """Assemble and validate a canonical conversations table from its columns."""
    frame = pd.DataFrame({name: cols[name].reset_index(drop=True) for name in cols})
    order = [c for c in schema.CONVERSATIONS.names if c in frame.columns]
    return frame[order]


def finish(
    conversations: pd.DataFrame,
    *,
    source: str,
    notes: tuple[str, ...],
    origin: str | None = None,
    billing: str | Path | pd.DataFrame | None,
    billing_key: str,
    people: pd.DataFrame | None,
) -> ImportResult:
    """Validate the conversations, join billing, cross-check, and wrap the result.

    ``origin`` (the export's file or directory name) is named in the problems of the imported
    tables, whose rows are counted from 0 in the order imported.
    """
    if billing_key not in BILLING_KEYS:
        raise ValueError(f"billing_key must be one of {', '.join(BILLING_KEYS)}, "
                         f"got {billing_key!r}")
    conversations = _business_above_calendar(conversations)
    customers = None
    if billing is not None:
        bill = _read_billing(billing)
        if billing_key == "email":
            bill[schema.CUSTOMER_ID] = bill[schema.CUSTOMER_ID].str.strip().str.lower()
        if billing_key != "id":
            conversations = _rekey(conversations, people, billing_key)
        customers = _customers(conversations, bill)
    label = f" imported from {shorten(origin)}" if origin else ""
    names = {"conversations": f"conversations{label}", "customers": f"customers{label}"}
    conv = schema.validate_conversations(conversations, source=names["conversations"])
    if customers is not None:
        customers = schema.validate_customers(customers, source=names["customers"])
        problems = schema.check_tables(customers, conv, names=names)
        if problems:
            raise DataError(problems)
    return ImportResult(conv.reset_index(drop=True), customers, source, notes)


#: Slack for helpdesks that round their first reply time to whole minutes (Zendesk).
_ROUNDING_SECONDS = 60.0


def _business_above_calendar(conv: pd.DataFrame) -> pd.DataFrame:
    """Business-hours FRT cannot exceed the calendar FRT (first_response_at - created_at):
    where it does (by more than a minute's rounding), the helpdesk's business figure measures
    something else (a reopen, a reassignment); it is emptied, with a warning naming the
    conversations."""
    col = schema.FIRST_RESPONSE_BUSINESS_SECONDS
    if col not in conv.columns:
        return conv
    calendar = (conv[schema.FIRST_RESPONSE_AT] - conv[schema.CREATED_AT]).dt.total_seconds()
    above = (conv[col].astype("float64") > calendar + _ROUNDING_SECONDS).fillna(False)
    above = above.to_numpy(dtype=bool)
    if not above.any():
        return conv
    who = conv.loc[above, schema.CONVERSATION_ID].astype(str)
    shown = ", ".join(who.head(5)) + (", ..." if len(who) > 5 else "")
    message = (f"{_count(len(who), 'conversation')} {'has' if len(who) == 1 else 'have'} a "
               f"business-hours first response time above the calendar one "
               f"(first_response_at - created_at): {col} emptied there "
               f"(conversation_id {shown})")
    warnings.warn(message, DataWarning, stacklevel=3)
    out = conv.copy()
    out.loc[above, col] = np.nan
    return out


def _read_billing(billing: str | Path | pd.DataFrame) -> pd.DataFrame:
    if isinstance(billing, pd.DataFrame):
        bill, name = billing.copy(), "billing"
    else:
        p = Path(billing)
        bill, name = read_export_csv(p, (schema.CUSTOMER_ID, *_BILLING_COLUMNS),
                                     what="billing file"), p.name
    check_columns(bill, (schema.CUSTOMER_ID, *_BILLING_COLUMNS), name)
    keep = [schema.CUSTOMER_ID, *_BILLING_COLUMNS,
            *(c for c in _BILLING_OPTIONAL if c in bill.columns)]
    bill = bill[keep].copy()
    bill[schema.CUSTOMER_ID] = ids(bill[schema.CUSTOMER_ID])
    # Validate the billing file itself first, so its problems name it and its lines.
    csv = name.endswith(".csv")
    return schema.validate_customers(bill, source=name, csv_lines=csv)


def _rekey(conversations: pd.DataFrame, people: pd.DataFrame | None,
           billing_key: str) -> pd.DataFrame:
    """Replace helpdesk customer ids by their email or external id (the billing key)."""
    if people is None or billing_key not in people.columns:
        raise ValueError(f"billing_key={billing_key!r}: this export has no {billing_key} of "
                         "its customers (give the users/contacts file, or use billing_key='id')")
    lookup = (people.dropna(subset=[billing_key]).drop_duplicates(PERSON_ID)
              .set_index(PERSON_ID)[billing_key])
    key = conversations[schema.CUSTOMER_ID].map(lookup)
    if billing_key == "email":
        key = key.str.strip().str.lower()
    missing = key.isna()
    if missing.any():
        who = conversations.loc[missing, schema.CUSTOMER_ID].drop_duplicates()
        shown = ", ".join(who.head(5).astype(str)) + (", ..." if len(who) > 5 else "")
        raise DataError([Problem("conversations", schema.CUSTOMER_ID,
                                 f"{_count(len(who), 'customer')} "
                                 f"{'has' if len(who) == 1 else 'have'} no {billing_key} in "
                                 "the export "
                                 f"to match the billing file ({shown})")])
    return conversations.assign(**{schema.CUSTOMER_ID: key.to_numpy()})


def _customers(conversations: pd.DataFrame, bill: pd.DataFrame) -> pd.DataFrame:
    """Billing rows of every customer; customers with conversations but no billing are errors."""
    bill = bill.copy()
    have = set(bill[schema.CUSTOMER_ID].dropna())
    seen = conversations[schema.CUSTOMER_ID].drop_duplicates()
    lacking = seen[~seen.isin(have)]
    if len(lacking):
        shown = ", ".join(lacking.head(5).astype(str)) + (", ..." if len(lacking) > 5 else "")
        raise DataError([Problem("billing", schema.CUSTOMER_ID,
                                 f"{len(lacking)} customers with conversations have no billing "
                                 f"row ({shown}); every customer in the helpdesk export needs "
                                 "monthly_spend, revenue_start and revenue_end")])
    return bill.reset_index(drop=True)


def lookup(keys: pd.Series, mapping: pd.Series) -> pd.Series:
    """``mapping[key]`` for each key (missing keys give NA), keeping the dtype of ``mapping``.

    Unlike ``Series.map`` this also works when ``mapping`` is empty and holds timestamps.
    """
    mapping = mapping[~mapping.index.duplicated(keep="last")]
    return pd.Series(mapping.reindex(keys.to_numpy()).to_numpy(), index=keys.index,
                     dtype=mapping.dtype)


def _count(n: int, noun: str) -> str:
    """``1 customer``, ``2 customers``, ``1,234 customers``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
