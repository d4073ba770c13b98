"""Shared pieces of the helpdesk importers: reading exports, timestamps, billing, results."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from frt_experiments import schema
from frt_experiments.errors import DataError, Problem

__all__ = ["BILLING_KEYS", "ImportResult"]

#: How a billing file's ``customer_id`` is matched to the helpdesk's customer.
BILLING_KEYS = ("id", "email", "external_id")
_BILLING_COLUMNS = (schema.MONTHLY_SPEND, schema.REVENUE_START, schema.REVENUE_END)
_BILLING_OPTIONAL = (schema.SEGMENT, schema.COUNTRY, schema.TIMEZONE)
#: Column names of the helpdesk people lookup (helpdesk id -> email, external id).
PERSON_ID, PERSON_EMAIL, PERSON_EXTERNAL_ID = "id", "email", "external_id"


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
        lines = [
            f"{self.source}: {_count(len(conv), 'conversation')} of "
            f"{_count(conv[schema.CUSTOMER_ID].nunique(), 'customer')}; {replied:,} with a "
            f"first response, {rated:,} rated",
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
        """Write ``conversations.csv`` (and ``customers.csv`` with billing) atomically."""
        out = Path(out_dir)
        paths = [schema.write_table(self.conversations, out / "conversations.csv")]
        if self.customers is not None:
            paths.append(schema.write_table(self.customers, out / "customers.csv"))
        return paths


# ----------------------------------------------------------------------------- reading
def missing_file(path: Path, what: str) -> DataError:
    return DataError([Problem(path.name, None, f"{what} not found ({path})")])


def read_export_csv(path: Path, required: tuple[str, ...], *, what: str) -> pd.DataFrame:
    """Read one CSV of an export as text, indexed by file line; DataError naming the file and
    missing columns."""
    if not path.is_file():
        raise missing_file(path, what)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError([Problem(path.name, None, f"cannot be read: {msg}")]) from exc
    df.columns = [c.strip() for c in df.columns]
    # Index rows by their line in the file (header = line 1), so messages can name lines.
    df.index = pd.RangeIndex(2, len(df) + 2)
    check_columns(df, required, path.name)
    return df


def check_columns(df: pd.DataFrame, required: tuple[str, ...], source: str) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataError([Problem(source, c, "missing: the export must have this column")
                         for c in missing])


def read_json_records(path: Path, keys: tuple[str, ...], *, what: str) -> list[dict[str, Any]]:
    """Records of a JSON file: a list, or the list under the first of ``keys`` present.

    A single object that has none of the keys is taken as one record.
    """
    if not path.is_file():
        raise missing_file(path, what)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise DataError([Problem(path.name, None, f"is not valid JSON: {exc}")]) from exc
    if isinstance(data, list):
        records = data
    elif isinstance(data, dict):
        found = [k for k in keys if k in data]
        other = [k for k, v in data.items() if isinstance(v, list) and v
                 and all(isinstance(r, dict) for r in v)]
        if not found and other:
            raise DataError([Problem(path.name, None, f"holds {other[0]!r}, expected "
                                     f"{' or '.join(repr(k) for k in keys)} (is it the "
                                     f"right helpdesk's {what}?)")])
        records = data[found[0]] if found else [data]
    else:
        records = None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise DataError([Problem(path.name, None, f"must hold a list of objects under "
                                 f"{' or '.join(repr(k) for k in keys)}")])
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
    """Ids as strings; numbers read from JSON lose any ``.0``."""
    num = pd.to_numeric(s, errors="coerce")
    whole = num.notna() & np.isfinite(num) & (num == num.round())
    text = s.astype("string")
    as_int = num.where(whole).astype("Int64").astype("string")
    return as_int.where(whole, text).str.strip().replace("", pd.NA)


def timestamps(s: pd.Series, *, source: str, name: str, timezone: str = "UTC") -> pd.Series:
    """Parse export timestamps to UTC: ISO strings (naive ones in ``timezone``) or epoch seconds.

    Raises:
        DataError: values that are present but cannot be parsed, naming the file and column.
    """
    raw = s.astype("object").where(s.notna(), None)
    text = pd.Series(raw, index=s.index, dtype="string").str.strip().replace("", pd.NA)
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns, UTC]")
    num = pd.to_numeric(text, errors="coerce")
    epoch = num.notna().to_numpy()
    if epoch.any():
        out[epoch] = pd.to_datetime(num[epoch], unit="s", utc=True)
    rest = text.notna().to_numpy() & ~epoch
    has_tz = (text.str.contains(r"(?:[Zz]|[+-]\d{2}:?\d{2})$", regex=True)
              .fillna(False).to_numpy(dtype=bool))
    aware, naive = rest & has_tz, rest & ~has_tz
    if aware.any():
        out[aware] = pd.to_datetime(text[aware], errors="coerce", format="ISO8601", utc=True)
    if naive.any():
        local = pd.to_datetime(text[naive], errors="coerce", format="ISO8601")
        out[naive] = (local.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
                      .dt.tz_convert("UTC"))
    bad = text.notna().to_numpy() & out.isna().to_numpy()
    if bad.any():
        rows = tuple(int(i) for i in s.index[bad][:5])
        raise DataError([Problem(source, name, "not parseable as timestamps", int(bad.sum()),
                                 rows, "lines" if source.endswith(".csv") else "rows")])
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
    billing: str | Path | pd.DataFrame | None,
    billing_key: str,
    people: pd.DataFrame | None,
) -> ImportResult:
    """Validate the conversations, join billing, cross-check, and wrap the result."""
    if billing_key not in BILLING_KEYS:
        raise ValueError(f"billing_key must be one of {', '.join(BILLING_KEYS)}, "
                         f"got {billing_key!r}")
    customers = None
    if billing is not None:
        bill = _read_billing(billing)
        if billing_key == "email":
            bill[schema.CUSTOMER_ID] = bill[schema.CUSTOMER_ID].str.strip().str.lower()
        if billing_key != "id":
            conversations = _rekey(conversations, people, billing_key)
        customers = _customers(conversations, bill)
    conv = schema.validate_conversations(conversations, source="conversations")
    if customers is not None:
        customers = schema.validate_customers(customers, source="customers")
        problems = schema.check_tables(customers, conv)
        if problems:
            raise DataError(problems)
    return ImportResult(conv.reset_index(drop=True), customers, source, notes)


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
